/**
 * Answer lines of one event-loop turn, handed on as one string: every device socket is read in
 * the poll phase, and the check phase (setImmediate) writes what those reads answered at once. A
 * write per line cost a syscall and a wake-up of the dispatcher each (~1 ms per batch of one on
 * 2 shared cores). Both internal delivery transports (the batch call's NDJSON body and the
 * delivery stream) answer through one.
 */
export class TurnBuffer {
  private text = '';
  private queued = false;

  /** `write` gets the turn's lines (possibly none, when `flush` was called early). */
  constructor(private readonly write: (text: string) => void) {}

  /** Adds a line; the first of a turn schedules the flush. */
  add(line: string): void {
    this.text += line;
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.flush);
    }
  }

  /** Hands on what is buffered now (a scheduled flush then finds nothing, and still calls `write`). */
  readonly flush = (): void => {
    this.queued = false;
    const text = this.text;
    this.text = '';
    this.write(text);
  };
}
