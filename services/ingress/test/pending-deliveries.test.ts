import { randomUUID } from 'node:crypto';
import { PendingDeliveries, type DeliveryOutcome } from '../src/pending-deliveries';

/** One connection's waiting deliveries, on jest's fake clock (their ACK deadlines are timers). */
describe('PendingDeliveries', () => {
  beforeEach(() => jest.useFakeTimers({ now: 2_000_000 }));
  afterEach(() => jest.useRealTimers());

  function collect(): { outcomes: DeliveryOutcome[]; done: (o: DeliveryOutcome) => void } {
    const outcomes: DeliveryOutcome[] = [];
    return { outcomes, done: (o) => outcomes.push(o) };
  }

  it('answers each of several commands in flight at its own ACK, with the latency since it waited', () => {
    const pending = new PendingDeliveries();
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const waits = ids.map(() => collect());
    ids.forEach((id, i) => {
      expect(pending.wait(id, 5_000, waits[i]!.done)).toBe(false);
      jest.advanceTimersByTime(10);
    });
    expect(pending.size).toBe(3);
    // Settled out of order: the one held in a field and the ones in the map alike.
    expect(pending.settle(ids[1]!, 0, Buffer.from('b'))).toBe(20);
    expect(pending.settle(ids[0]!, 1, Buffer.alloc(0))).toBe(30);
    expect(pending.size).toBe(1);
    expect(pending.has(ids[2]!)).toBe(true);
    expect(pending.settle(ids[2]!, 2, Buffer.alloc(0))).toBe(10);
    expect(waits.map((w) => w.outcomes)).toEqual([
      [{ kind: 'ack', status: 1, result: Buffer.alloc(0), latencyMs: 30 }],
      [{ kind: 'ack', status: 0, result: Buffer.from('b'), latencyMs: 20 }],
      [{ kind: 'ack', status: 2, result: Buffer.alloc(0), latencyMs: 10 }],
    ]);
    expect(pending.size).toBe(0);
    // A late or duplicate ACK finds nobody, and no deadline fires afterwards.
    expect(pending.settle(ids[0]!, 0, Buffer.alloc(0))).toBeNull();
    jest.advanceTimersByTime(10_000);
    expect(waits.map((w) => w.outcomes.length)).toEqual([1, 1, 1]);
  });

  it('joins a caller to the command already in flight: one ACK answers both, each times out on its own', () => {
    const pending = new PendingDeliveries();
    const id = randomUUID();
    const [first, second] = [collect(), collect()];
    expect(pending.wait(id, 100, first.done)).toBe(false);
    expect(pending.wait(id, 300, second.done)).toBe(true);
    expect(pending.waitersFor(id)).toBe(2);
    jest.advanceTimersByTime(100);
    expect(first.outcomes).toEqual([{ kind: 'timeout' }]);
    expect(second.outcomes).toEqual([]);
    expect(pending.waitersFor(id)).toBe(1);
    pending.settle(id, 0, Buffer.alloc(0));
    expect(second.outcomes).toEqual([{ kind: 'ack', status: 0, result: Buffer.alloc(0), latencyMs: 100 }]);
    jest.advanceTimersByTime(1_000);
    expect(first.outcomes).toHaveLength(1);
    expect(second.outcomes).toHaveLength(1);
  });

  it('times out a command nobody ACKs and forgets it: its late ACK finds nobody', () => {
    const pending = new PendingDeliveries();
    const [a, b] = [randomUUID(), randomUUID()];
    const [wa, wb] = [collect(), collect()];
    pending.wait(a, 50, wa.done);
    pending.wait(b, 80, wb.done);
    jest.advanceTimersByTime(50);
    expect(wa.outcomes).toEqual([{ kind: 'timeout' }]);
    expect(pending.has(a)).toBe(false);
    expect(pending.settle(a, 0, Buffer.alloc(0))).toBeNull();
    jest.advanceTimersByTime(30);
    expect(wb.outcomes).toEqual([{ kind: 'timeout' }]);
    expect(pending.size).toBe(0);
  });

  it('answers every waiter at the close, and none of their deadlines fires later', () => {
    const pending = new PendingDeliveries();
    const waits = [collect(), collect(), collect()];
    const shared = randomUUID();
    pending.wait(shared, 1_000, waits[0]!.done);
    pending.wait(shared, 1_000, waits[1]!.done);
    pending.wait(randomUUID(), 1_000, waits[2]!.done);
    pending.closeAll('superseded');
    expect(waits.map((w) => w.outcomes)).toEqual([[{ kind: 'closed', reason: 'superseded' }], [{ kind: 'closed', reason: 'superseded' }], [{ kind: 'closed', reason: 'superseded' }]]);
    expect(pending.size).toBe(0);
    jest.advanceTimersByTime(5_000);
    expect(waits.map((w) => w.outcomes.length)).toEqual([1, 1, 1]);
  });
});
