import { Client, escapeIdentifier, type Pool } from 'pg';

type Handler = (payload: string) => void;

/** Longest wait between two reconnect attempts. */
const RECONNECT_MAX_MS = 2_000;

/**
 * One dedicated connection (outside the pool) that LISTENs on channels and fans NOTIFY
 * payloads out to handlers. When the connection drops (server killed, restarted, failed over)
 * it reconnects with jittered backoff (at most RECONNECT_MAX_MS apart, so it is back within
 * about that long of the server) and LISTENs again; signals sent while it was down are lost,
 * which is why every waiter also has a fallback timer and `onReconnect` handlers re-check state
 * (the queue wakes its claimers).
 */
export class PgListener {
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;

  constructor(private readonly pool: Pool) {}

  /** Starts listening on `channel`; resolves once LISTEN is active. Returns the unsubscribe function. */
  async subscribe(channel: string, handler: Handler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    try {
      const client = await this.connect();
      if (first) await client.query(`LISTEN ${escapeIdentifier(channel)}`);
    } catch (error) {
      // Not subscribed: forget the handler, so a later subscribe starts afresh.
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) this.handlers.delete(channel);
      throw error;
    }
    return async () => {
      const current = this.handlers.get(channel);
      if (!current) return;
      current.delete(handler);
      if (current.size > 0) return;
      this.handlers.delete(channel);
      if (this.client) await this.client.query(`UNLISTEN ${escapeIdentifier(channel)}`).catch(() => undefined);
    };
  }

  /** Called after a dropped connection is back (signals may have been missed meanwhile). */
  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  /** True while the LISTEN connection is up. */
  get connected(): boolean {
    return this.client !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.handlers.clear();
    const client = this.client ?? (this.connecting ? await this.connecting.catch(() => null) : null);
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.reject(new Error('listener is closed'));
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const client = new Client({ ...this.pool.options, application_name: 'outbound-listener' });
    client.on('notification', (msg) => {
      for (const handler of this.handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
    });
    const lost = (): void => this.lost(client);
    // Always heard: an 'error' event without a listener would end the process.
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      if (this.closed) throw new Error('listener is closed');
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${escapeIdentifier(channel)}`);
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    this.failures = 0;
    return client;
  }

  private lost(client: Client): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.handlers.size === 0) return;
    const delay = Math.min(RECONNECT_MAX_MS, 100 * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        () => this.reconnectHandlers.forEach((h) => h()),
        () => {
          this.failures++;
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }
}
