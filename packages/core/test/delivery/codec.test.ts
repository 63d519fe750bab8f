import { randomUUID } from 'node:crypto';
import {
  DELIVERY_BATCH_MAX, DeliveryLineError, LineSplitter, checkDeliveryBatch, checkDeliveryItem, checkStreamBatch, encodeAnswerLine, encodeDeliveryBatch,
  encodeStreamAnswerLine, encodeStreamBatch, parseAnswerLine, parseStreamAnswerLine,
  type DeliveryItem,
} from '@outbound/core/delivery';

const MAX = 16;
const id = randomUUID();
const good = { phyId: 'DEV-1', id, payload: Buffer.from('hello').toString('base64'), ackTimeoutMs: 5_000 };

describe('checkDeliveryItem: one delivery, checked by hand', () => {
  it('decodes a good item (id lower-cased, payload decoded, epoch kept)', () => {
    expect(checkDeliveryItem({ ...good, id: id.toUpperCase(), epoch: 3 }, MAX)).toEqual({
      item: { phyId: 'DEV-1', id, payload: Buffer.from('hello'), ackTimeoutMs: 5_000, epoch: 3 },
    });
    expect(checkDeliveryItem(good, MAX)).toEqual({ item: { phyId: 'DEV-1', id, payload: Buffer.from('hello'), ackTimeoutMs: 5_000 } });
  });

  const cases: Array<[string, unknown, string]> = [
    ['phyId with a space', { ...good, phyId: 'bad id' }, 'deliveries.2.phyId'],
    ['phyId missing', { ...good, phyId: undefined }, 'deliveries.2.phyId'],
    ['phyId too long', { ...good, phyId: 'x'.repeat(65) }, 'deliveries.2.phyId'],
    ['id not a UUID', { ...good, id: 'not-a-uuid' }, 'deliveries.2.id'],
    ['id a number', { ...good, id: 7 }, 'deliveries.2.id'],
    ['payload not base64', { ...good, payload: '***' }, 'deliveries.2.payload'],
    ['payload over the frame limit', { ...good, payload: Buffer.alloc(MAX + 1).toString('base64') }, 'deliveries.2.payload'],
    ['payload far over the limit', { ...good, payload: 'A'.repeat(10_000) }, 'deliveries.2.payload'],
    ['ackTimeoutMs 0', { ...good, ackTimeoutMs: 0 }, 'deliveries.2.ackTimeoutMs'],
    ['ackTimeoutMs over 300 s', { ...good, ackTimeoutMs: 300_001 }, 'deliveries.2.ackTimeoutMs'],
    ['ackTimeoutMs a string', { ...good, ackTimeoutMs: '10' }, 'deliveries.2.ackTimeoutMs'],
    ['ackTimeoutMs missing', { ...good, ackTimeoutMs: undefined }, 'deliveries.2.ackTimeoutMs'],
    ['epoch fractional', { ...good, epoch: 1.5 }, 'deliveries.2.epoch'],
    ['epoch 0', { ...good, epoch: 0 }, 'deliveries.2.epoch'],
    ['an unknown key', { ...good, extra: 1 }, 'deliveries.2'],
    ['not an object', 'text', 'deliveries.2'],
    ['null', null, 'deliveries.2'],
    ['an array', [good], 'deliveries.2'],
  ];
  it.each(cases)('names the field: %s', (_what, raw, path) => {
    const checked = checkDeliveryItem(raw, MAX, ['deliveries', 2]);
    expect('issues' in checked && checked.issues.map((i) => i.path)).toContain(path);
  });

  it('takes phyId from the path on the single endpoint, and refuses one in the body there', () => {
    const { phyId: _drop, ...body } = good;
    expect(checkDeliveryItem(body, MAX, [], 'DEV-9')).toMatchObject({ item: { phyId: 'DEV-9' } });
    expect(checkDeliveryItem(good, MAX, [], 'DEV-9')).toEqual({ issues: [{ path: '(body)', message: 'Unrecognized key: "phyId"' }] });
    expect(checkDeliveryItem(body, MAX, [], 'bad id')).toMatchObject({ issues: [{ path: 'phyId' }] });
  });

  it('accepts a payload of exactly the limit', () => {
    expect(checkDeliveryItem({ ...good, payload: Buffer.alloc(MAX).toString('base64') }, MAX)).toMatchObject({ item: { payload: Buffer.alloc(MAX) } });
  });
});

describe('checkDeliveryBatch: the envelope', () => {
  it('answers the items of { deliveries: [...] }', () => {
    expect(checkDeliveryBatch({ deliveries: [good, 'x'] })).toEqual({ items: [good, 'x'] });
  });

  it.each([
    ['no body object', 'text', '(body)'],
    ['deliveries missing', {}, 'deliveries'],
    ['deliveries not an array', { deliveries: {} }, 'deliveries'],
    ['empty', { deliveries: [] }, 'deliveries'],
    ['over the batch limit', { deliveries: Array.from({ length: DELIVERY_BATCH_MAX + 1 }, () => ({})) }, 'deliveries'],
    ['an unknown key', { deliveries: [good], nonsense: true }, '(body)'],
  ])('refuses %s', (_what, body, path) => {
    const checked = checkDeliveryBatch(body);
    expect('issues' in checked && checked.issues[0]!.path).toBe(path);
  });
});

describe('request and answer codecs', () => {
  it('encodes a batch as the JSON the ingress checks back into the same items', () => {
    const items: DeliveryItem[] = [
      { phyId: 'DEV-1', id, payload: Buffer.from([0, 255, 10]), ackTimeoutMs: 1_000, epoch: 2 },
      { phyId: 'a.b:c_d-e', id: randomUUID(), payload: Buffer.alloc(0), ackTimeoutMs: 300_000 },
    ];
    const body = encodeDeliveryBatch(items);
    const parsed = JSON.parse(body) as unknown;
    expect(parsed).toEqual(JSON.parse(JSON.stringify({ deliveries: items.map((d) => ({ ...d, payload: d.payload.toString('base64') })) })));
    const envelope = checkDeliveryBatch(parsed);
    if (!('items' in envelope)) throw new Error('envelope refused');
    expect(envelope.items.map((raw) => checkDeliveryItem(raw, MAX))).toEqual(items.map((item) => ({ item })));
  });

  it('round-trips an ACK answer line, its result and the hop stamps', () => {
    const t = { received: 1.5, written: 2.25, acked: 3, answered: 3.5 };
    const line = encodeAnswerLine(id, 'DEV-1', { status: 200, outcome: 'rejected', result: Buffer.from('no'), latencyMs: 4, t });
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({ id, phyId: 'DEV-1', status: 200, outcome: 'rejected', result: Buffer.from('no').toString('base64'), latencyMs: 4, t });
    expect(parseAnswerLine(line.trim())).toEqual({ id, phyId: 'DEV-1', status: 200, outcome: 'rejected', result: Buffer.from('no'), latencyMs: 4, t });
  });

  it('writes the same delivered line for an item the caller checked as for one it matches itself', () => {
    const answer = { status: 200, outcome: 'ok', result: Buffer.from([1, 2, 3]), latencyMs: 7 } as const;
    const line = encodeAnswerLine(id, 'DEV-1', answer, true);
    expect(line).toBe(encodeAnswerLine(id, 'DEV-1', answer));
    expect(JSON.parse(line)).toEqual({ id, phyId: 'DEV-1', status: 200, outcome: 'ok', result: 'AQID', latencyMs: 7 });
    // Unchecked, a phyId that needs escaping goes through JSON.stringify.
    expect(JSON.parse(encodeAnswerLine(id, 'a"b', answer))).toMatchObject({ phyId: 'a"b' });
  });

  it('round-trips an error line, and writes null for an id or phyId that was not a string', () => {
    const line = encodeAnswerLine(42, undefined, { status: 404, error: { code: 'DEVICE_NOT_CONNECTED', message: 'gone' } });
    expect(JSON.parse(line)).toEqual({ id: null, phyId: null, status: 404, error: { code: 'DEVICE_NOT_CONNECTED', message: 'gone' } });
    expect(parseAnswerLine(line)).toEqual({ id: null, phyId: null, status: 404, error: { code: 'DEVICE_NOT_CONNECTED', message: 'gone' } });
  });

  it('decodes an empty result as an empty buffer', () => {
    expect(parseAnswerLine(JSON.stringify({ id, phyId: 'D', status: 200, outcome: 'busy', result: '', latencyMs: 1 }))).toMatchObject({ outcome: 'busy', result: Buffer.alloc(0) });
  });

  it.each([
    ['not JSON', '{"id":'],
    ['no status', JSON.stringify({ id, phyId: 'D' })],
    ['an id that is a number', JSON.stringify({ id: 5, phyId: 'D', status: 200, outcome: 'ok' })],
    ['status 200 without a known outcome', JSON.stringify({ id, phyId: 'D', status: 200, outcome: 'maybe' })],
    ['a JSON array', '[1,2]'],
  ])('refuses a line that is %s', (_what, line) => {
    expect(() => parseAnswerLine(line)).toThrow(DeliveryLineError);
  });
});

describe('delivery stream lines', () => {
  const item: DeliveryItem = { phyId: 'DEV-1', id, payload: Buffer.from('hi'), ackTimeoutMs: 5_000, epoch: 2 };

  it('encodes a numbered batch line the stream check reads back into the same items', () => {
    const line = encodeStreamBatch(12, [item], true);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1).includes('\n')).toBe(false);
    const checked = checkStreamBatch(JSON.parse(line));
    if (!('items' in checked)) throw new Error(JSON.stringify(checked.issues));
    expect(checked).toMatchObject({ s: 12, timing: true });
    expect(checkDeliveryItem(checked.items[0], MAX)).toEqual({ item });
    expect(checkStreamBatch(JSON.parse(encodeStreamBatch(0, [item])))).toMatchObject({ s: 0, timing: false });
  });

  it.each([
    ['not an object', [1], null, '(line)'],
    ['no batch number', { deliveries: [good] }, null, 's'],
    ['a negative batch number', { s: -1, deliveries: [good] }, null, 's'],
    ['timing not a boolean', { s: 3, timing: 1, deliveries: [good] }, 3, 'timing'],
    ['no deliveries', { s: 3, deliveries: [] }, 3, 'deliveries'],
    ['too many deliveries', { s: 3, deliveries: new Array(DELIVERY_BATCH_MAX + 1).fill(good) }, 3, 'deliveries'],
    ['an unknown key', { s: 3, deliveries: [good], other: true }, 3, '(line)'],
  ])('refuses a batch line with %s, naming the field and the batch when it has one', (_what, body, s, path) => {
    const checked = checkStreamBatch(body);
    expect('issues' in checked && checked.s === s && checked.issues.some((i) => i.path === path)).toBe(true);
  });

  it('round-trips answer lines tagged with their batch, and the fatal line that names none', () => {
    const ok = parseStreamAnswerLine(encodeStreamAnswerLine(4, id, 'DEV-1', { status: 200, outcome: 'ok', result: Buffer.from('r'), latencyMs: 3 }, true));
    expect(ok).toEqual({ s: 4, id, phyId: 'DEV-1', status: 200, outcome: 'ok', result: Buffer.from('r'), latencyMs: 3 });
    const fatal = parseStreamAnswerLine(encodeStreamAnswerLine(null, null, null, { status: 400, error: { code: 'VALIDATION_FAILED', message: 'bad' } }));
    expect(fatal).toEqual({ s: null, id: null, phyId: null, status: 400, error: { code: 'VALIDATION_FAILED', message: 'bad' } });
  });

  it('refuses an answer line without its batch number', () => {
    expect(() => parseStreamAnswerLine(encodeAnswerLine(id, 'DEV-1', { status: 200, outcome: 'ok', result: Buffer.alloc(0), latencyMs: 1 }))).toThrow(DeliveryLineError);
    expect(() => parseStreamAnswerLine('{"s":"1","id":null,"phyId":null,"status":400}')).toThrow(DeliveryLineError);
  });
});

describe('LineSplitter', () => {
  function split(chunks: Array<string | Buffer>): string[] {
    const lines: string[] = [];
    const splitter = new LineSplitter();
    for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, (l) => lines.push(l));
    splitter.end((l) => lines.push(l));
    return lines;
  }

  it('answers each line once, whatever the chunk boundaries', () => {
    const text = '{"a":1}\n{"b":2}\r\n\n{"c":"é"}\n';
    const whole = split([text]);
    expect(whole).toEqual(['{"a":1}', '{"b":2}', '{"c":"é"}']);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) expect(split([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    expect(split([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
  });

  it('answers a last line without its newline at the end', () => {
    expect(split(['{"a":1}\n{"b"', ':2}'])).toEqual(['{"a":1}', '{"b":2}']);
  });
});
