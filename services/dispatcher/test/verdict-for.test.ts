import type { DeliveryAnswerLine } from '@outbound/core';
import { verdictFor } from '../src/dispatch-loop';

const head = { id: '6f1c2a4e-9a55-4f0e-8c1e-3b2d1a0f9e77', phyId: 'DEV-1' };
const ack = (outcome: 'ok' | 'rejected' | 'busy', result = Buffer.from('r')): DeliveryAnswerLine => ({ ...head, status: 200, outcome, result, latencyMs: 3 });
const error = (status: number, code: string): DeliveryAnswerLine => ({ ...head, status, error: { code, message: 'why' } });

/** The dispatcher's outcome policy: what each ingress answer does to the command (docs/architecture.md, "Outcomes"). */
describe('verdictFor', () => {
  it.each<[string, DeliveryAnswerLine, ReturnType<typeof verdictFor>]>([
    ['ok ACK: acked with the result', ack('ok'), { kind: 'ack', outcome: 'ok', result: Buffer.from('r'), metric: 'ok' }],
    ['rejected ACK: acked as rejected (final, no retry)', ack('rejected'), { kind: 'ack', outcome: 'rejected', result: Buffer.from('r'), metric: 'rejected' }],
    ['busy ACK: a failed attempt, retried', ack('busy'), { kind: 'fail', retryable: true, error: 'BUSY: the device asked to retry later', metric: 'busy' }],
    ['404 not connected: parked until the device is back, no attempt spent', error(404, 'DEVICE_NOT_CONNECTED'), { kind: 'release', park: true, reason: 'DEVICE_NOT_CONNECTED: why', metric: 'device_offline' }],
    ['409 stale epoch: given back at once for the new route', error(409, 'STALE_EPOCH'), { kind: 'release', park: false, reason: 'STALE_EPOCH: why', metric: 'stale_route' }],
    ['504 ACK timeout: a failed attempt, retried', error(504, 'ACK_TIMEOUT'), { kind: 'fail', retryable: true, error: 'ACK_TIMEOUT: why', metric: 'ack_timeout' }],
    ['400 invalid delivery: failed for good', error(400, 'VALIDATION_FAILED'), { kind: 'fail', retryable: false, error: 'VALIDATION_FAILED: why', metric: 'error' }],
    ['500 from the ingress: a failed attempt, retried', error(500, 'INTERNAL'), { kind: 'fail', retryable: true, error: 'INTERNAL: why', metric: 'error' }],
    ['503 from the ingress: a failed attempt, retried', error(503, 'DRAINING'), { kind: 'fail', retryable: true, error: 'DRAINING: why', metric: 'error' }],
  ])('%s', (_what, answer, verdict) => {
    expect(verdictFor(answer)).toEqual(verdict);
  });
});
