import { countCase } from '../../src/chaos/chaos-verdict';
import type { DeviceLogLine } from '../../src/chaos/device-process';
import type { EnqueueRecord } from '../../src/chaos/load-driver';

const rec = (seq: number, extra: Partial<EnqueueRecord>): EnqueueRecord => ({ phyId: 'D1', seq, priority: 5, sentAt: 0, answer: 'accepted', status: 202, id: `id-${seq}`, ...extra });
const line = (seq: number, id = `id-${seq}`, priority = 5): DeviceLogLine => ({ at: 0, phyId: 'D1', id, seq, priority, port: 1 });

describe('fault suite counting', () => {
  it('counts an accepted command the device never received as lost, even when the store says acked', () => {
    const counts = countCase({
      records: [rec(1, {}), rec(2, {})],
      log: [line(1)],
      statuses: new Map([['id-1', 'acked'], ['id-2', 'acked']]),
    });
    expect(counts).toMatchObject({ accepted: 2, final: 2, lost: 1, outOfOrder: 0 });
  });

  it('counts a command that is not terminal at the end, or missing from the store, as lost', () => {
    const counts = countCase({
      records: [rec(1, {}), rec(2, {})],
      log: [line(1), line(2)],
      statuses: new Map([['id-1', 'queued'], ['id-2', 'missing']]),
    });
    expect(counts).toMatchObject({ accepted: 2, final: 0, lost: 2 });
  });

  it('allows a re-delivery but counts it, and calls a new id behind a newer one out of order', () => {
    const counts = countCase({
      records: [rec(1, {}), rec(2, {}), rec(3, {})],
      log: [line(1), line(2), line(1), line(3)],
      statuses: new Map([['id-1', 'acked'], ['id-2', 'acked'], ['id-3', 'acked']]),
    });
    expect(counts).toMatchObject({ lost: 0, deliveredTwice: 1, staleRedeliveries: 1, outOfOrder: 0 });

    const swapped = countCase({
      records: [rec(1, {}), rec(2, {})],
      log: [line(2), line(1)],
      statuses: new Map([['id-1', 'acked'], ['id-2', 'acked']]),
    });
    expect(swapped.outOfOrder).toBe(1);
  });

  it('checks order per priority: a priority 9 command may pass priority 5 ones', () => {
    const counts = countCase({
      records: [rec(1, {}), rec(2, {}), rec(4, { priority: 9 })],
      log: [line(4, 'id-4', 9), line(1), line(2)],
      statuses: new Map([['id-1', 'acked'], ['id-2', 'acked'], ['id-4', 'acked']]),
    });
    expect(counts.outOfOrder).toBe(0);
  });

  it('calls a refusal that reached the device untruthful, and an unknown outcome without id too', () => {
    const counts = countCase({
      records: [rec(1, { answer: 'refused', status: 503, code: 'STORE_UNAVAILABLE', id: undefined }), rec(2, { answer: 'unknown', status: 503, code: 'OUTCOME_UNKNOWN', id: undefined }), rec(3, {})],
      log: [line(1, 'id-x'), line(3)],
      statuses: new Map([['id-3', 'acked']]),
    });
    expect(counts).toMatchObject({ accepted: 1, lost: 0, untruthful: 2, fiveXx: { STORE_UNAVAILABLE: 1, OUTCOME_UNKNOWN: 1 } });
  });

  it('counts an unknown outcome found in the store as accepted, and one not found but delivered as untruthful', () => {
    const counts = countCase({
      records: [rec(1, { answer: 'unknown', status: 503, code: 'OUTCOME_UNKNOWN' }), rec(2, { answer: 'unknown', status: 503, code: 'OUTCOME_UNKNOWN' })],
      log: [line(1), line(2)],
      statuses: new Map([['id-1', 'acked'], ['id-2', 'missing']]),
    });
    expect(counts).toMatchObject({ accepted: 1, lost: 0, untruthful: 1 });
  });
});
