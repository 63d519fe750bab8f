import { isOutboundError, type CommandQueue, type EnqueueInput, type EnqueueOptions, type EnqueueResult, type OutboundError } from '@outbound/core';

type Answer = EnqueueResult | OutboundError;

interface Waiting {
  inputs: EnqueueInput[];
  checked: boolean;
  resolve: (answers: Answer[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Enqueues of concurrent API requests share store calls (group commit). A request goes to the
 * store at once while fewer than `concurrency` enqueue calls are in flight; otherwise it waits
 * for the next one to finish and goes with everything else that arrived meanwhile, as one
 * `enqueueBatch` of up to `maxBatch` commands. At low load nothing waits; under load each store
 * call carries many requests instead of each request paying its own transaction (PostgreSQL:
 * five round trips and a WAL flush; Redis: one script per shard).
 *
 * Per-request answers are unchanged: each command is decided alone inside the batch (caps,
 * idempotency keys, validation), in arrival order. A store error fails every request of that call.
 * A call is `checked` (the queue does not check its inputs again) when every request in it was.
 */
export class EnqueueCoalescer {
  private readonly waiting: Waiting[] = [];
  private waitingCommands = 0;
  private inFlight = 0;

  constructor(
    private readonly queue: Pick<CommandQueue, 'enqueueBatch'>,
    private readonly options: { concurrency: number; maxBatch: number },
  ) {}

  /** Answers one result or coded error per input, in input order (as `CommandQueue.enqueueBatch`). */
  enqueueBatch(inputs: EnqueueInput[], options?: EnqueueOptions): Promise<Answer[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise<Answer[]>((resolve, reject) => {
      this.waiting.push({ inputs, checked: options?.checked === true, resolve, reject });
      this.waitingCommands += inputs.length;
      this.pump();
    });
  }

  /** One command: the result, or its coded error thrown (as `CommandQueue.enqueue`). */
  async enqueue(input: EnqueueInput, options?: EnqueueOptions): Promise<EnqueueResult> {
    const [answer] = await this.enqueueBatch([input], options);
    if (isOutboundError(answer)) throw answer;
    return answer!;
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.inFlight < this.options.concurrency) {
      const group: Waiting[] = [];
      let size = 0;
      // A request is never split: one bigger than maxBatch goes alone.
      while (this.waiting.length > 0 && (group.length === 0 || size + this.waiting[0]!.inputs.length <= this.options.maxBatch)) {
        const next = this.waiting.shift()!;
        group.push(next);
        size += next.inputs.length;
      }
      this.waitingCommands -= size;
      this.inFlight += 1;
      void this.send(group).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async send(group: Waiting[]): Promise<void> {
    try {
      const inputs = group.length === 1 ? group[0]!.inputs : group.flatMap((w) => w.inputs);
      const answers = await this.queue.enqueueBatch(inputs, { checked: group.every((w) => w.checked) });
      if (group.length === 1) {
        group[0]!.resolve(answers);
        return;
      }
      let at = 0;
      for (const waiting of group) {
        waiting.resolve(answers.slice(at, at + waiting.inputs.length));
        at += waiting.inputs.length;
      }
    } catch (error) {
      for (const waiting of group) waiting.reject(error);
    }
  }

  /** Commands waiting for a free store call (for tests and metrics). */
  get queued(): number {
    return this.waitingCommands;
  }
}
