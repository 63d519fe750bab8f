import { testRedisUrl, waitFor } from '@outbound/test-support';
import { OutboundClient, type StreamedEvent } from '@outbound/client';
import { SEND_KEY } from '../../../services/dispatcher/test/support/harness';
import { startStack, type Stack } from '../../../services/dispatcher/test/e2e/support/stack';

describe('@outbound/client event stream against a running stack', () => {
  let stack: Stack;
  let client: OutboundClient;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'client-events' });
    client = new OutboundClient({ baseUrl: stack.api.url, apiKey: SEND_KEY });
  });
  afterAll(() => stack.stop());

  it('follows the stream and, after the connection drops, resumes after the last event: none missed, none repeated', async () => {
    await stack.device('CLIENT-EVENTS');
    const lastEventIds: Array<string | null> = [];
    const counting = new OutboundClient({
      baseUrl: stack.api.url,
      apiKey: SEND_KEY,
      fetch: (input, init) => {
        lastEventIds.push(new Headers(init?.headers).get('last-event-id'));
        return fetch(input, init);
      },
    });
    const seen: StreamedEvent[] = [];
    const consumer = (async () => {
      for await (const event of counting.events({ phyId: 'CLIENT-EVENTS', types: ['command.acked'], after: 'oldest', reconnectDelayMs: 300 })) {
        seen.push(event);
        if (seen.length === 6) break;
      }
    })();
    const sent: string[] = [];
    // Sent in-process (supertest), so dropping the server's connections below cannot touch them.
    const enqueue = (i: number) => stack.enqueue({ phyId: 'CLIENT-EVENTS', payload: Buffer.from([i]).toString('base64') });
    for (let i = 0; i < 3; i += 1) sent.push(await enqueue(i));
    await waitFor(() => seen.length === 3, { timeoutMs: 15_000, what: 'the first three acks on the stream' });

    stack.api.server.closeAllConnections();
    // One command while the stream is down (it waits reconnectDelayMs), two after it is back: the resumed stream has all three.
    sent.push(await enqueue(3));
    await waitFor(() => lastEventIds.length >= 2, { timeoutMs: 10_000, what: 'the stream to reconnect' });
    for (let i = 4; i < 6; i += 1) sent.push(await enqueue(i));
    await consumer;

    expect(seen.map((e) => e.type)).toEqual(Array(6).fill('command.acked'));
    expect(seen.map((e) => e.commandId).sort()).toEqual([...sent].sort());
    expect(lastEventIds.length).toBeGreaterThanOrEqual(2);
    expect(lastEventIds[0]).toBeNull();
    expect(lastEventIds[1]).toBe(seen[2]!.cursor);
  });

  it('started at the head and dropped before its first event, resumes from where it started: an event logged meanwhile arrives', async () => {
    await stack.device('CLIENT-EVENTS-HEAD');
    const lastEventIds: Array<string | null> = [];
    let bodyText = '';
    const watching = new OutboundClient({
      baseUrl: stack.api.url,
      apiKey: SEND_KEY,
      fetch: async (input, init) => {
        lastEventIds.push(new Headers(init?.headers).get('last-event-id'));
        const response = await fetch(input, init);
        if (!response.body) return response;
        // What the client is handed, seen on the way through.
        const seenText = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            bodyText += Buffer.from(chunk).toString();
            controller.enqueue(chunk);
          },
        });
        return new Response(response.body.pipeThrough(seenText), { status: response.status, headers: response.headers });
      },
    });
    const seen: StreamedEvent[] = [];
    const consumer = (async () => {
      for await (const event of watching.events({ phyId: 'CLIENT-EVENTS-HEAD', types: ['command.acked'], reconnectDelayMs: 300 })) {
        seen.push(event);
        break;
      }
    })();
    await waitFor(() => bodyText.includes('event: position'), { what: 'the stream to say where it starts' });
    stack.api.server.closeAllConnections();
    const id = await stack.enqueue({ phyId: 'CLIENT-EVENTS-HEAD', payload: 'AQ==' });
    await consumer;
    expect(seen.map((e) => e.commandId)).toEqual([id]);
    expect(lastEventIds[1]).not.toBeNull();
  });

  it('throws OutboundApiError for a stream the API refuses', async () => {
    const stream = client.events({ after: 'not a cursor' });
    await expect(stream.next()).rejects.toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });
});
