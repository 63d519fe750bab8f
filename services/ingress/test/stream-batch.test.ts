import { checkDeliveryItem, checkStreamBatch, encodeStreamBatch, type DeliveryItem } from '@outbound/core/delivery';
import { readCanonicalBatch, type CheckedStreamBatch } from '../src/stream-batch';

const MAX_PAYLOAD = 100;

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the general path makes of a line: JSON.parse, checkStreamBatch, checkDeliveryItem per item; undefined when any of it fails. */
function general(line: string): CheckedStreamBatch | undefined {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return undefined;
  }
  const batch = checkStreamBatch(body);
  if ('issues' in batch) return undefined;
  const items: DeliveryItem[] = [];
  for (const raw of batch.items) {
    const checked = checkDeliveryItem(raw, MAX_PAYLOAD);
    if ('issues' in checked) return undefined;
    // The general path answers with the id as sent; the canonical reader takes only lowercase ones.
    if ((raw as { id: string }).id !== checked.item.id) return undefined;
    items.push(checked.item);
  }
  return { s: batch.s, timing: batch.timing, items };
}

/** A batch as comparable text (payloads in hex): jest's deep equality on Buffers is slow for tens of thousands of lines. */
function text(batch: CheckedStreamBatch | undefined): string {
  return JSON.stringify(batch ?? null, (key, value: unknown) => (key === 'payload' && value && typeof value === 'object' ? Buffer.from(value as Uint8Array).toString('hex') : value));
}

function read(line: string): CheckedStreamBatch | undefined {
  // The line inside a larger chunk, as the stream hands it over (the next line's bytes after it).
  const chunk = Buffer.from(`xx${line}\n{"s":1,`, 'utf8');
  return readCanonicalBatch(chunk, 2, chunk.length - 8, MAX_PAYLOAD);
}

function hex(random: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += '0123456789abcdef'[Math.floor(random() * 16)];
  return out;
}

function randomItem(random: () => number): DeliveryItem {
  const chars = 'ABCXYZabcxyz0189._:-';
  const phyId = Array.from({ length: 1 + Math.floor(random() * (random() < 0.1 ? 64 : 12)) }, () => chars[Math.floor(random() * chars.length)]).join('');
  const version = '12345678'[Math.floor(random() * 8)];
  const variant = '89ab'[Math.floor(random() * 4)];
  const id = random() < 0.02
    ? (random() < 0.5 ? '00000000-0000-0000-0000-000000000000' : 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    : `${hex(random, 8)}-${hex(random, 4)}-${version}${hex(random, 3)}-${variant}${hex(random, 3)}-${hex(random, 12)}`;
  const payload = Buffer.from(Array.from({ length: Math.floor(random() * (MAX_PAYLOAD + 1)) }, () => Math.floor(random() * 256)));
  const item: DeliveryItem = { phyId, id, payload, ackTimeoutMs: 1 + Math.floor(random() * 300_000) };
  if (random() < 0.5) item.epoch = 1 + Math.floor(random() * 2 ** 40);
  if (random() < 0.3) item.traceparent = `00-${hex(random, 32)}-${hex(random, 16)}-01`;
  return item;
}

function randomLine(random: () => number): string {
  const items = Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomItem(random));
  return encodeStreamBatch(Math.floor(random() * 1e6), items, random() < 0.3).slice(0, -1);
}

/** What a field or a byte may be swapped for: the characters that move a line across the grammar's edges. */
const SWAPS = ['"', '\\', ' ', '0', '9', '1', 'A', 'F', 'f', 'g', '=', ',', '}', ']', '{', '[', ':', '-', '+', '/', '.', 'e', '\u00e9', '\u0000', '\r', 'null', 'true', '""', '-1', '1e3', '01'];

function mutate(line: string, random: () => number): string {
  const at = Math.floor(random() * line.length);
  const swap = SWAPS[Math.floor(random() * SWAPS.length)];
  switch (Math.floor(random() * 4)) {
    case 0:
      return line.slice(0, at) + swap + line.slice(at + 1);
    case 1:
      return line.slice(0, at) + swap + line.slice(at);
    case 2:
      return line.slice(0, at) + line.slice(at + 1 + Math.floor(random() * 3));
    default: {
      const from = Math.floor(random() * line.length);
      return line.slice(0, at) + line.slice(from, from + 1 + Math.floor(random() * 20)) + line.slice(at);
    }
  }
}

describe('readCanonicalBatch: delivery stream batch lines read straight from their bytes', () => {
  it('reads every line the dispatcher writes to the same items as JSON.parse and the checks', () => {
    const random = rng(20261203);
    for (let n = 0; n < 1_500; n++) {
      const line = randomLine(random);
      const want = text(general(line));
      const got = text(read(line));
      if (got !== want || want === 'null') expect({ line, got }).toEqual({ line, got: want });
    }
  });

  it('never takes a line the general path would refuse or read otherwise (mutated lines)', () => {
    const random = rng(7);
    let taken = 0;
    let refusedByBoth = 0;
    for (let n = 0; n < 10_000; n++) {
      let line = randomLine(random);
      for (let k = 1 + Math.floor(random() * 2); k > 0; k--) line = mutate(line, random);
      const got = read(line);
      const want = general(line);
      if (got === undefined) {
        if (want === undefined) refusedByBoth++;
        continue;
      }
      taken++;
      if (text(got) !== text(want)) expect({ line, got: text(got) }).toEqual({ line, got: text(want) });
    }
    // The mutations reach both sides of the grammar's edges.
    expect(taken).toBeGreaterThan(250);
    expect(refusedByBoth).toBeGreaterThan(2_500);
  });

  it('leaves to the general path what it does not read: other forms, and values at and past the limits', () => {
    const id = '0f8e4c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b';
    const item = (fields: string) => `{"s":5,"deliveries":[{"phyId":"d-1","id":"${id}",${fields}}]}`;
    const accepted = [
      item('"payload":"","ackTimeoutMs":1'),
      item('"payload":"QQ==","ackTimeoutMs":300000'),
      item(`"payload":"${Buffer.alloc(MAX_PAYLOAD, 1).toString('base64')}","ackTimeoutMs":9,"epoch":1,"traceparent":""`),
      `{"s":0,"timing":true,"deliveries":[{"phyId":"${'x'.repeat(64)}","id":"${id}","payload":"QUJD","ackTimeoutMs":9}]}`,
    ];
    for (const line of accepted) {
      expect(general(line)).toBeDefined();
      expect(text(read(line))).toBe(text(general(line)));
    }
    const declined = [
      item('"payload":"QQ==","ackTimeoutMs":300001'),
      item('"payload":"QQ==","ackTimeoutMs":0'),
      item('"payload":"QQ==","ackTimeoutMs":1e3'),
      item('"payload":"QQ=","ackTimeoutMs":9'),
      item('"payload":"Q===","ackTimeoutMs":9'),
      item('"payload":"QQ==QQ==","ackTimeoutMs":9'),
      item(`"payload":"${Buffer.alloc(MAX_PAYLOAD + 1, 1).toString('base64')}","ackTimeoutMs":9`),
      item('"payload":"QQ==","ackTimeoutMs":9,"epoch":0'),
      item(`"payload":"QQ==","ackTimeoutMs":9,"traceparent":"${'t'.repeat(257)}"`),
      item('"payload":"QQ==","ackTimeoutMs":9,"traceparent":"a\\"b"'),
      item('"payload":"QQ==","ackTimeoutMs":9,"other":1'),
      item('"ackTimeoutMs":9,"payload":"QQ=="'),
      `{"s":5,"deliveries":[{"phyId":"d-1","id":"${id.toUpperCase()}","payload":"QQ==","ackTimeoutMs":9}]}`,
      `{"s":5,"deliveries":[{"phyId":"d-1","id":"${id.slice(0, 14)}9${id.slice(15)}","payload":"QQ==","ackTimeoutMs":9}]}`,
      `{"s":5,"deliveries":[{"phyId":"${'x'.repeat(65)}","id":"${id}","payload":"QQ==","ackTimeoutMs":9}]}`,
      `{"s":05,"deliveries":[{"phyId":"d","id":"${id}","payload":"QQ==","ackTimeoutMs":9}]}`,
      `{"s":5,"timing":false,"deliveries":[{"phyId":"d","id":"${id}","payload":"QQ==","ackTimeoutMs":9}]}`,
      `{"s":5, "deliveries":[{"phyId":"d","id":"${id}","payload":"QQ==","ackTimeoutMs":9}]}`,
      `{"s":5,"deliveries":[{"phyId":"d","id":"${id}","payload":"QQ==","ackTimeoutMs":9}]} `,
      `{"s":5,"deliveries":[]}`,
      `{"s":5,"deliveries":[${Array.from({ length: 1001 }, () => `{"phyId":"d","id":"${id}","payload":"","ackTimeoutMs":9}`).join(',')}]}`,
    ];
    for (const line of declined) expect({ line, got: read(line) }).toEqual({ line, got: undefined });
    // The last of the limit is still read.
    const thousand = `{"s":5,"deliveries":[${Array.from({ length: 1000 }, () => `{"phyId":"d","id":"${id}","payload":"","ackTimeoutMs":9}`).join(',')}]}`;
    expect(read(thousand)?.items).toHaveLength(1000);
  });
});
