import { isDeepStrictEqual } from 'node:util';
import {
  COMMAND_LIMITS, OutboundError, PAYLOAD_MAX_BASE64_CHARS, checkEnqueueInput, checkEnqueueInputWithSchema, fastEnqueueBody, fastEnqueueInputOk, parseEnqueueBody, parseEnqueueBodyWithSchema,
  type EnqueueInput,
} from '@outbound/core';

const L = COMMAND_LIMITS;

/** Deterministic, so a failing body is the same on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const ABSENT = Symbol('absent');

/** Per field: values the schema takes, values it refuses, and "absent". */
const POOLS: Record<string, unknown[]> = {
  phyId: ['D1', 'D'.repeat(64), 'a.b_c:d-9', ABSENT, '', 'D'.repeat(65), 'bad id', 'DÉV', 5, null, ['D1'], undefined],
  payload: [
    '', 'QQ==', Buffer.alloc(32, 7).toString('base64'), Buffer.alloc(L.payloadMaxBytes, 1).toString('base64'), ABSENT,
    'QQ=', 'QR==', '!!!!', 'QUJD\n', Buffer.alloc(L.payloadMaxBytes + 1).toString('base64'), 'A'.repeat(PAYLOAD_MAX_BASE64_CHARS + 4), 12, null, undefined,
  ],
  priority: [ABSENT, ABSENT, 0, 5, 9, -0, -1, 10, 4.5, '5', Number.NaN, Number.POSITIVE_INFINITY, null, undefined],
  ttlMs: [ABSENT, ABSENT, L.ttlMsMin, 60_000, L.ttlMsMax, 0, L.ttlMsMax + 1, 1.5, '60000', undefined],
  ackTimeoutMs: [ABSENT, ABSENT, L.ackTimeoutMsMin, L.ackTimeoutMsMax, L.ackTimeoutMsMin - 1, L.ackTimeoutMsMax + 1, 2 ** 53, undefined],
  maxAttempts: [ABSENT, ABSENT, L.maxAttemptsMin, L.maxAttemptsMax, 0, L.maxAttemptsMax + 1, true],
  idempotencyKey: [ABSENT, ABSENT, 'k', 'k'.repeat(L.idempotencyKeyMaxLength), '€'.repeat(L.idempotencyKeyMaxLength), '', 'k'.repeat(L.idempotencyKeyMaxLength + 1), 5, null, undefined],
  offline: [ABSENT, ABSENT, 'queue', 'reject', 'QUEUE', 1, null, undefined],
  deliverAt: [ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, 0, 'now', -1, undefined],
  colour: [ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, 'red'],
};

/**
 * `count` values built from `pools` after the `specials`: a third take every field from its first
 * `valid(field)` values, a third all but one (each fault alone, so it decides the answer), a third
 * any value anywhere. `viaJson`: half go through JSON where it changes nothing, as the API receives
 * them; the others stay as built (undefined values).
 */
function generateFrom(pools: Record<string, unknown[]>, options: { seed: number; count: number; specials: unknown[]; valid: (field: string) => number; viaJson: boolean }): unknown[] {
  const next = lcg(options.seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!;
  const values = [...options.specials];
  const fields = Object.keys(pools);
  for (let i = 0; i < options.count; i++) {
    const value: Record<string, unknown> = {};
    const mode = next();
    const faulty = mode < 1 / 3 ? '' : mode < 2 / 3 ? pick(fields) : '*';
    for (const [field, pool] of Object.entries(pools)) {
      const wild = faulty === '*' || faulty === field;
      const chosen = pick(wild ? pool : pool.slice(0, options.valid(field)));
      if (chosen !== ABSENT) value[field] = chosen;
    }
    values.push(options.viaJson && next() >= 0.5 ? JSON.parse(JSON.stringify(value)) : value);
  }
  return values;
}

function generate(count: number): unknown[] {
  const bodies: unknown[] = [null, [], 'text', 5, true, [{ phyId: 'D1', payload: '' }], JSON.parse('{"phyId":"D1","payload":"","__proto__":{"x":1}}')];
  const bare = Object.create(null) as Record<string, unknown>;
  bare.phyId = 'D1';
  bare.payload = '';
  bodies.push(bare, new (class Body { phyId = 'D1'; payload = ''; })());
  return generateFrom(POOLS, { seed: 16, count, specials: bodies, valid: (field) => (field === 'phyId' ? 3 : field === 'payload' ? 4 : 3), viaJson: true });
}

type Outcome = { ok: true; value: unknown } | { ok: false; message: string; details: unknown };

function outcome(parse: () => unknown): Outcome {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (!(error instanceof OutboundError)) throw error;
    return { ok: false, message: error.message, details: error.details };
  }
}

/** The body in a failure message, long strings cut short (payloads at the limit are 87,000 characters). */
function describeBody(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'string' && value.length > 80 ? `${value.slice(0, 40)}… (${value.length} chars)` : value));
}

/** null when equal, else the body that tells them apart; compared natively, as a deep jest equality walks 64 KB payloads byte by byte. */
function differs(body: unknown, actual: unknown, expected: unknown): string | null {
  return isDeepStrictEqual(actual, expected) ? null : describeBody(body);
}

describe('the fast check of plain enqueue bodies', () => {
  const bodies = generate(4000);

  it('accepts only what the schema accepts, with the same parsed value', () => {
    let fast = 0;
    for (const body of bodies) {
      const answer = fastEnqueueBody(body);
      if (answer === undefined) continue;
      fast++;
      expect(differs(body, outcome(() => parseEnqueueBodyWithSchema(body)), { ok: true, value: answer })).toBeNull();
    }
    expect(fast).toBeGreaterThan(500);
  });

  it('takes every body of the common shape the schema accepts (no unknown key, no deliverAt, a plain object)', () => {
    let declined = 0;
    for (const body of bodies) {
      const schema = outcome(() => parseEnqueueBodyWithSchema(body));
      const plain = typeof body === 'object' && body !== null && Object.getPrototypeOf(body) === Object.prototype;
      const common = plain && Object.keys(body).every((key) => key !== 'deliverAt' && key !== 'colour');
      if (!common) continue;
      if (!schema.ok) declined++;
      expect(differs(body, fastEnqueueBody(body) !== undefined, schema.ok)).toBeNull();
    }
    expect(declined).toBeGreaterThan(500);
  });

  it('answers through parseEnqueueBody exactly as the schema alone does, refusals and their messages included', () => {
    let refused = 0;
    for (const body of bodies) {
      const expected = outcome(() => parseEnqueueBodyWithSchema(body, ['commands', 7]));
      if (!expected.ok) refused++;
      expect(differs(body, outcome(() => parseEnqueueBody(body, ['commands', 7])), expected)).toBeNull();
    }
    expect(refused).toBeGreaterThan(1000);
    expect(bodies.length - refused).toBeGreaterThan(1000);
  });
});

/** Per field of a queue input (EnqueueInput, as a caller other than the API hands it over): values the schema takes, values it refuses, and "absent". */
const INPUT_POOLS: Record<string, unknown[]> = {
  phyId: ['D1', 'D'.repeat(64), 'a.b_c:d-9', ABSENT, '', 'D'.repeat(65), 'bad id', 'DÉV', 5, null, undefined],
  payload: [Buffer.alloc(0), Buffer.alloc(64, 1), Buffer.alloc(L.payloadMaxBytes, 2), ABSENT, Buffer.alloc(L.payloadMaxBytes + 1), new Uint8Array(4), 'QQ==', null, undefined],
  priority: [0, 5, 9, ABSENT, -0, -1, 10, 4.5, '5', Number.NaN, Number.POSITIVE_INFINITY, null, undefined],
  ttlMs: [L.ttlMsMin, 60_000, L.ttlMsMax, ABSENT, 0, L.ttlMsMax + 1, 1.5, '60000', undefined],
  ackTimeoutMs: [L.ackTimeoutMsMin, 10_000, L.ackTimeoutMsMax, ABSENT, L.ackTimeoutMsMin - 1, L.ackTimeoutMsMax + 1, 2 ** 53, undefined],
  maxAttempts: [L.maxAttemptsMin, 5, L.maxAttemptsMax, ABSENT, 0, L.maxAttemptsMax + 1, true],
  idempotencyKey: [ABSENT, undefined, 'k', 'k'.repeat(L.idempotencyKeyMaxLength), '€'.repeat(L.idempotencyKeyMaxLength), '', 'k'.repeat(L.idempotencyKeyMaxLength + 1), 5, null],
  deliverAt: [ABSENT, undefined, ABSENT, Date.now() + 1_000, 0, -1, 1.5, Date.now() + L.ttlMsMax + 60_000, 'now'],
  traceContext: [ABSENT, undefined, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 't'.repeat(256), 't'.repeat(257), 5, null],
  colour: [ABSENT, ABSENT, ABSENT, 'red'],
};

function generateInputs(count: number): unknown[] {
  const inputs: unknown[] = [null, [], 'text', 5, Object.assign(Object.create(null) as object, { phyId: 'D1', payload: Buffer.alloc(1), priority: 1, ttlMs: 1, ackTimeoutMs: 100, maxAttempts: 1 })];
  inputs.push(new (class Input { phyId = 'D1'; payload = Buffer.alloc(1); priority = 1; ttlMs = 1; ackTimeoutMs = 100; maxAttempts = 1; })());
  return generateFrom(INPUT_POOLS, { seed: 61, count, specials: inputs, valid: () => 3, viaJson: false });
}

/** The check's answer, the clock reading a deliverAt refusal names (now + ttlMs) masked: two checks a millisecond apart name different times. */
function checkOutcome(check: () => OutboundError | null): { ok: true } | { ok: false; message: string; details: unknown } {
  const error = check();
  const masked = (text: string) => text.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>');
  return error === null ? { ok: true } : { ok: false, message: masked(error.message), details: JSON.parse(masked(JSON.stringify(error.details))) as unknown };
}

describe('the fast check of plain queue inputs', () => {
  const inputs = generateInputs(4000);

  it('accepts only what the schema accepts, and every input of the common shape the schema accepts (no deliverAt, a plain object)', () => {
    let fast = 0;
    let declined = 0;
    for (const input of inputs) {
      const schemaOk = checkEnqueueInputWithSchema(input as EnqueueInput) === null;
      const ok = fastEnqueueInputOk(input);
      if (ok) fast++;
      if (ok) expect(differs(input, schemaOk, true)).toBeNull();
      const plain = typeof input === 'object' && input !== null && Object.getPrototypeOf(input) === Object.prototype;
      if (!plain || (input as { deliverAt?: unknown }).deliverAt !== undefined) continue;
      if (!schemaOk) declined++;
      expect(differs(input, ok, schemaOk)).toBeNull();
    }
    expect(fast).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(500);
  });

  it('answers through checkEnqueueInput exactly as the schema alone does, refusals and their messages included', () => {
    let refused = 0;
    for (const input of inputs) {
      const expected = checkOutcome(() => checkEnqueueInputWithSchema(input as EnqueueInput, ['commands', 3]));
      if (!expected.ok) refused++;
      expect(differs(input, checkOutcome(() => checkEnqueueInput(input as EnqueueInput, ['commands', 3])), expected)).toBeNull();
    }
    expect(refused).toBeGreaterThan(1000);
    expect(inputs.length - refused).toBeGreaterThan(1000);
  });
});
