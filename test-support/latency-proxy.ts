import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP relay in front of a real server whose answers can be held back. */
export interface LatencyProxyHandle {
  port: number;
  /** `url` (redis://, postgres://) with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  /** Every byte the server sends reaches the client this much later (0: at once); bytes keep their order. */
  replyDelayMs: number;
  /** From now on nothing the server sends reaches its client, whatever its delay, until releaseReplies(). */
  holdReplies(): void;
  /** Hands over everything held or delayed at once, and lets answers through without delay from now on. */
  releaseReplies(): void;
  close(): Promise<void>;
}

/**
 * Relays 127.0.0.1:<port> to `target`. What clients send goes through at once; what the server
 * answers can be delayed or held: a slow network or a slow reader of the answers, with the
 * server itself untouched (a write it commits is visible to its other clients at once).
 */
export async function startLatencyProxy(target: string): Promise<LatencyProxyHandle> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  /** Each relayed connection's "hand over what is due" step. */
  const flushes = new Set<(all: boolean) => void>();
  let held = false;
  const server: Server = createServer((client) => {
    const remote = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(remote);
    const queue: Array<{ due: number; chunk: Buffer | null }> = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (all: boolean): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (held) return;
      const now = Date.now();
      while (queue.length > 0 && (all || queue[0]!.due <= now)) {
        const { chunk } = queue.shift()!;
        if (chunk) client.write(chunk);
        else client.end();
      }
      if (queue.length > 0) timer = setTimeout(() => flush(false), queue[0]!.due - now);
    };
    flushes.add(flush);
    const relay = (chunk: Buffer | null): void => {
      queue.push({ due: Date.now() + handle.replyDelayMs, chunk });
      if (!timer) flush(false);
    };
    client.on('data', (chunk: Buffer) => remote.write(chunk));
    client.on('end', () => remote.end());
    remote.on('data', (chunk: Buffer) => relay(chunk));
    remote.on('end', () => relay(null));
    const destroy = (): void => {
      client.destroy();
      remote.destroy();
    };
    client.on('error', destroy);
    remote.on('error', destroy);
    client.on('close', () => {
      if (timer) clearTimeout(timer);
      flushes.delete(flush);
      sockets.delete(client);
      remote.destroy();
    });
    remote.on('close', () => sockets.delete(remote));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const handle: LatencyProxyHandle = {
    port,
    replyDelayMs: 0,
    urlFor(url: string): string {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    holdReplies(): void {
      held = true;
    },
    releaseReplies(): void {
      held = false;
      handle.replyDelayMs = 0;
      for (const flush of flushes) flush(true);
    },
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return handle;
}
