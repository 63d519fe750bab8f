/**
 * Runs one call of a batch operation at a time; calls made while one runs wait and then go
 * together, as one call, in the order they were made (group commit inside one process).
 *
 * Why, for enqueue on PostgreSQL: enqueue_commands() locks the rows of the batch's devices, so
 * concurrent enqueues of one fleet queue behind each other's locks, and each pays a transaction,
 * a WAL flush and the statement's fixed cost (about 0.6 ms of server CPU per call, against about
 * 45 µs per command) for a handful of commands. Measured (32 concurrent requests of one command
 * through the dispatcher's enqueue coalescer, 1,000 devices, loaded 2-core host, server CPU per
 * command, bench/README.md): 196–229 µs with four enqueue statements in flight, 114–137 µs with
 * one, at the same or a higher rate.
 *
 * At low load nothing waits (a call made while nothing runs goes at once). Every call resolves
 * with exactly its own slice of the results, in its own order; when the shared call throws, every
 * call in it rejects with that error, as each would alone. A call is never split: one larger than
 * `maxItems` goes alone, and calls are added to a shared one only while it stays within `maxItems`.
 */
export class SerialBatcher<I, R> {
  private running = false;
  private readonly waiting: Array<{ items: I[]; resolve: (results: R[]) => void; reject: (error: unknown) => void }> = [];

  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly maxItems: number,
  ) {}

  submit(items: I[]): Promise<R[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.running || this.waiting.length === 0) return;
    const group = [this.waiting.shift()!];
    let size = group[0]!.items.length;
    while (this.waiting.length > 0 && size + this.waiting[0]!.items.length <= this.maxItems) {
      const call = this.waiting.shift()!;
      group.push(call);
      size += call.items.length;
    }
    this.running = true;
    const items = group.length === 1 ? group[0]!.items : group.flatMap((call) => call.items);
    let ran: Promise<R[]>;
    try {
      ran = this.run(items);
    } catch (error) {
      ran = Promise.reject(error);
    }
    void ran
      .then(
        (results) => {
          let at = 0;
          for (const call of group) {
            call.resolve(results.slice(at, at + call.items.length));
            at += call.items.length;
          }
        },
        (error: unknown) => {
          for (const call of group) call.reject(error);
        },
      )
      .finally(() => {
        this.running = false;
        this.next();
      });
  }
}
