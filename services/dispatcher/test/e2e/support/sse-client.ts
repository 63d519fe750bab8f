export interface StreamedEvent {
  id: string;
  event: string;
  data: { id: string; type: string; commandId?: string; phyId: string; attempt?: number; details: Record<string, unknown> };
}

/**
 * A live-stream client over fetch: it parses `text/event-stream` frames as they arrive into
 * `events` and counts keepalive comments, until `close()` (a hang-up mid-stream, as a client
 * that loses its connection).
 */
export class SseClient {
  readonly events: StreamedEvent[] = [];
  keepalives = 0;
  status = 0;
  /** The `id:` of the `position` event the stream starts with (where it starts). */
  position: string | undefined;
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: client.abort.signal });
    client.status = res.status;
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      return client;
    }
    client.done = client.read(res.body).catch(() => undefined);
    return client;
  }

  get lastId(): string | undefined {
    return this.events.at(-1)?.id ?? this.position;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.parse(frame);
      }
    }
  }

  private parse(frame: string): void {
    const fields: Record<string, string> = {};
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) {
        if (line.includes('keepalive')) this.keepalives += 1;
        continue;
      }
      const colon = line.indexOf(':');
      if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
    }
    if (fields.event === 'position') {
      this.position = fields.id;
      return;
    }
    if (fields.data !== undefined && fields.id !== undefined) {
      this.events.push({ id: fields.id, event: fields.event ?? 'message', data: JSON.parse(fields.data) as StreamedEvent['data'] });
    }
  }
}
