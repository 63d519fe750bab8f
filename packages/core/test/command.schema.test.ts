import { checkEnqueueInput, COMMAND_DEFAULTS, COMMAND_LIMITS, OutboundError, parseEnqueueBody, parseEnqueueRequest, toCommandView } from '@outbound/core';

function validationDetails(body: unknown): Array<{ path: string; message: string }> {
  try {
    parseEnqueueRequest(body);
  } catch (error) {
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).code).toBe('VALIDATION_FAILED');
    return (error as OutboundError).details as Array<{ path: string; message: string }>;
  }
  throw new Error('expected a validation error');
}

describe('enqueue request schema', () => {
  it('applies the design defaults and decodes the payload', () => {
    const input = parseEnqueueRequest({ phyId: 'DEV001', payload: Buffer.from('hi').toString('base64') });
    expect(input).toEqual({
      phyId: 'DEV001',
      payload: Buffer.from('hi'),
      priority: COMMAND_DEFAULTS.priority,
      ttlMs: COMMAND_DEFAULTS.ttlMs,
      ackTimeoutMs: COMMAND_DEFAULTS.ackTimeoutMs,
      maxAttempts: COMMAND_DEFAULTS.maxAttempts,
    });
  });

  it('names every failing field', () => {
    const details = validationDetails({ phyId: 'bad id!', payload: '***', priority: 10, maxAttempts: 0 });
    expect(details.map((d) => d.path).sort()).toEqual(['maxAttempts', 'payload', 'phyId', 'priority']);
  });

  it('prefixes paths for batch items and rejects unknown fields', () => {
    let error: OutboundError | undefined;
    try {
      parseEnqueueRequest({ phyId: 'D1', payload: '', colour: 'red' }, ['commands', 3]);
    } catch (e) {
      error = e as OutboundError;
    }
    expect(error?.status).toBe(400);
    expect(error?.message).toContain('commands.3');
  });

  it('accepts deliverAt as ISO time or epoch ms', () => {
    const at = Date.now() + 60_000;
    expect(parseEnqueueRequest({ phyId: 'D1', payload: '', deliverAt: new Date(at).toISOString() }).deliverAt).toBe(at);
    expect(parseEnqueueRequest({ phyId: 'D1', payload: '', deliverAt: at }).deliverAt).toBe(at);
  });

  it('refuses a deliverAt after the command expires, or past any date, naming deliverAt', () => {
    expect(validationDetails({ phyId: 'D1', payload: '', ttlMs: 60_000, deliverAt: Date.now() + 120_000 }).map((d) => d.path)).toEqual(['deliverAt']);
    expect(validationDetails({ phyId: 'D1', payload: '', deliverAt: 9007199254740991 }).map((d) => d.path)).toEqual(['deliverAt']);
    expect(validationDetails({ phyId: 'D1', payload: '', deliverAt: '2999-01-01T00:00:00Z' }).map((d) => d.path)).toEqual(['deliverAt']);
  });

  it('answers only inputs the queue\'s own check accepts, at every bound (the queue does not check them again)', () => {
    const L = COMMAND_LIMITS;
    const payload = Buffer.alloc(L.payloadMaxBytes, 1).toString('base64');
    const bodies = [
      { phyId: 'D1', payload: '' },
      { phyId: 'D'.repeat(64), payload, priority: L.priorityMin, ttlMs: L.ttlMsMin, ackTimeoutMs: L.ackTimeoutMsMin, maxAttempts: L.maxAttemptsMin, idempotencyKey: 'k' },
      { phyId: 'D1', payload, priority: L.priorityMax, ttlMs: L.ttlMsMax, ackTimeoutMs: L.ackTimeoutMsMax, maxAttempts: L.maxAttemptsMax, idempotencyKey: 'k'.repeat(L.idempotencyKeyMaxLength) },
      { phyId: 'D1', payload: '', deliverAt: 0, offline: 'reject' },
      { phyId: 'D1', payload: '', ttlMs: 60_000, deliverAt: new Date(Date.now() + 30_000).toISOString() },
    ];
    for (const body of bodies) expect(checkEnqueueInput(parseEnqueueBody(body).input)).toBeNull();
  });

  it('refuses an ISO deliverAt before 1970 naming deliverAt, as the queue would', () => {
    expect(validationDetails({ phyId: 'D1', payload: '', deliverAt: '1969-12-31T23:59:59Z' })).toEqual([{ path: 'deliverAt', message: 'must not be negative' }]);
  });

  it('refuses an oversized payload on its length, before looking at its content', () => {
    // Text that is not base64 at all: a check of the content would name that; the length check
    // comes first, so the answer is about size whatever the text holds.
    for (const payload of ['A'.repeat(7_000_000), 'A'.repeat(4 * 1024 * 1024), '!'.repeat(4 * 1024 * 1024)]) {
      expect(validationDetails({ phyId: 'D1', payload })).toEqual([{ path: 'payload', message: expect.stringContaining('at most') }]);
    }
  });

  it('refuses text that is not base64 and takes a payload at the limit', () => {
    expect(validationDetails({ phyId: 'D1', payload: 'QQ=' }).map((d) => d.path)).toEqual(['payload']);
    expect(validationDetails({ phyId: 'D1', payload: `${'A'.repeat(80)}!` }).map((d) => d.path)).toEqual(['payload']);
    const limit = Buffer.alloc(COMMAND_LIMITS.payloadMaxBytes, 7);
    expect(parseEnqueueRequest({ phyId: 'D1', payload: limit.toString('base64') }).payload).toEqual(limit);
    const over = Buffer.alloc(COMMAND_LIMITS.payloadMaxBytes + 1).toString('base64');
    expect(validationDetails({ phyId: 'D1', payload: over }).map((d) => d.path)).toEqual(['payload']);
  });

  it('shows a stored command with ISO times and base64 result', () => {
    const view = toCommandView({
      id: '0b7d4c58-9d0e-4f3c-8a39-61c0cf4d7a10', phyId: 'D1', payload: Buffer.from('x'), priority: 5, attempts: 1, maxAttempts: 5,
      ackTimeoutMs: 1000, createdAt: 0, updatedAt: 1000, expiresAt: 2000, deliverAt: null, idempotencyKey: null,
      status: 'acked', waitingFor: null, lastError: null, result: Buffer.from('ok'),
    });
    expect(view.result).toBe(Buffer.from('ok').toString('base64'));
    expect(view.updatedAt).toBe('1970-01-01T00:00:01.000Z');
  });
});
