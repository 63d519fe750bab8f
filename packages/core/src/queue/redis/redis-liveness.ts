import type { RedisClient } from '../../redis/connection';

export interface RedisLivenessOptions {
  /** How often a PING goes out (only when none is outstanding). Default 250 ms. */
  intervalMs?: number;
  /** Nothing answered this long while a PING waits means the server is not answering. Default 1000 ms. */
  stallMs?: number;
}

/**
 * Tells, without sending anything, whether Redis is answering: a PING goes out every
 * `intervalMs` on the same connection as the queue's commands, and one left unanswered for
 * `stallMs` with no other answer arriving meanwhile (or one that failed) means the server is
 * stalled (SIGSTOP, a long script, a frozen VM): Redis answers in order, so nothing sent now
 * would be answered either. A PING queued behind a long pipeline (a large batch under load)
 * waits as long as the pipeline takes, but the answers ahead of it keep arriving: that is a busy
 * server, not a stalled one, and refusing requests then would answer "unavailable" untruly.
 * The connection being
 * lost after it was up means the same. The queue then refuses requests up front (not sent:
 * STORE_UNAVAILABLE) instead of letting each wait out the command timeout and answer that its
 * outcome is unknown. The first answered PING clears it.
 */
export class RedisLiveness {
  private sentAt: number | null = null;
  /** When a request on this connection last got an answer (RedisGate reports each). */
  private answeredAt = 0;
  private failed = false;
  private wasReady = false;
  private readonly timer: NodeJS.Timeout;
  private readonly stallMs: number;

  constructor(private readonly client: RedisClient, options: RedisLivenessOptions = {}) {
    this.stallMs = options.stallMs ?? 1_000;
    this.timer = setInterval(() => this.probe(), options.intervalMs ?? 250);
    this.timer.unref();
  }

  /** Why a request must not be sent now, or null when Redis is answering (or not yet known). */
  notAnswering(): string | null {
    const status = this.client.status;
    if (status === 'ready') this.wasReady = true;
    else if (this.wasReady) return `the connection to redis is ${status}`;
    if (this.failed) return 'redis did not answer the last liveness ping';
    if (this.sentAt !== null) {
      const now = Date.now();
      const quiet = now - Math.max(this.sentAt, this.answeredAt);
      if (quiet > this.stallMs) return `redis has answered nothing for ${quiet} ms (a ping has waited ${now - this.sentAt} ms)`;
    }
    return null;
  }

  /** A request sent on this connection was answered (a reply or a reply error): Redis is answering. */
  answered(): void {
    this.answeredAt = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private probe(): void {
    if (this.sentAt !== null || this.client.status !== 'ready') return;
    this.wasReady = true;
    this.sentAt = Date.now();
    this.client.ping().then(
      () => {
        this.failed = false;
        this.sentAt = null;
      },
      () => {
        this.failed = true;
        this.sentAt = null;
      },
    );
  }
}
