/**
 * A deadline one waiter holds in AckDeadlines: linked into the list of its timeout length, so
 * adding and removing it allocate nothing beyond the waiter itself.
 */
export interface Deadline {
  /** Date.now() at which `expire` runs. */
  at: number;
  /** The timeout length it was added with (the list it is in); negative when in none. */
  ms: number;
  prev: Deadline | null;
  next: Deadline | null;
  expire(): void;
}

/** `ms` of a deadline unlinked by a firing and about to run; removing it then still stops it. */
const DUE = -2;

interface DeadlineList {
  head: Deadline | null;
  tail: Deadline | null;
}

/**
 * The ACK deadlines of every delivery an ingress waits for, behind one timer: instead of a
 * setTimeout per delivery (a Timeout object, a libuv clock read and a timer-list insert, then
 * a clearTimeout at its ACK), each waiter links itself into the list of its timeout length.
 * Deadlines of one length are added in time order, so each list is sorted and only its head can
 * be due; the one timer is armed for the earliest head. Removing a waiter (its ACK came) unlinks
 * it and leaves the timer alone: a timer whose head left fires, finds nothing due, and re-arms.
 * Expired waiters run in deadline order per length, at most a few ms late, like setTimeout.
 */
export class AckDeadlines {
  private readonly lists = new Map<number, DeadlineList>();
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (Infinity: not armed). */
  private armedAt = Infinity;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Deadlines waiting. */
  get size(): number {
    let n = 0;
    for (const list of this.lists.values()) for (let d = list.head; d; d = d.next) n++;
    return n;
  }

  /** Runs `deadline.expire` `ms` from `now` (a Date.now() the caller already read) unless removed first. */
  add(deadline: Deadline, ms: number, now = this.now()): void {
    deadline.at = now + ms;
    deadline.ms = ms;
    deadline.next = null;
    let list = this.lists.get(ms);
    if (!list) {
      list = { head: null, tail: null };
      this.lists.set(ms, list);
    }
    deadline.prev = list.tail;
    if (list.tail) list.tail.next = deadline;
    else list.head = deadline;
    list.tail = deadline;
    if (deadline.at < this.armedAt) this.arm(deadline.at, now);
  }

  /** Takes `deadline` out: it will not run (a no-op when it ran or was removed already). */
  remove(deadline: Deadline): void {
    if (deadline.ms === DUE) deadline.ms = -1;
    if (deadline.ms < 0) return;
    const list = this.lists.get(deadline.ms)!;
    if (deadline.prev) deadline.prev.next = deadline.next;
    else list.head = deadline.next;
    if (deadline.next) deadline.next.prev = deadline.prev;
    else list.tail = deadline.prev;
    deadline.prev = null;
    deadline.next = null;
    deadline.ms = -1;
    // An empty list is dropped at the next firing, not here: a steady stream of deliveries of
    // one length would otherwise make and drop it once per delivery.
  }

  private arm(at: number, now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    // Unref'd: a waiter lives only while its connection is open, and the socket holds the process.
    this.timer = setTimeout(() => this.fire(), Math.max(1, at - now)).unref();
  }

  private fire(): void {
    this.timer = null;
    this.armedAt = Infinity;
    const now = this.now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const [ms, list] of this.lists) {
      // Unlinked before any runs: an expire may add or remove deadlines.
      while (list.head && list.head.at <= now) {
        const d = list.head;
        this.remove(d);
        d.ms = DUE;
        due.push(d);
      }
      if (!list.head) this.lists.delete(ms);
      else if (list.head.at < next) next = list.head.at;
    }
    if (next < Infinity) this.arm(next, now);
    for (const d of due) {
      // One that an earlier expire of this firing removed does not run.
      if (d.ms !== DUE) continue;
      d.ms = -1;
      d.expire();
    }
  }
}
