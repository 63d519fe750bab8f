import { randomBytes } from 'node:crypto';
import { decodeError, encodeHello2, FrameType, WireErrorCode } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { createTestDatabase, uniquePrefix, waitFor, type TestDatabase } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, startTestIngress } from './support/test-ingress';

/** Sends HELLO2 and answers what came back first: CHALLENGE, or the ERROR's code and reason. */
async function hello(port: number, phyId: string, localAddress: string): Promise<{ challenged: boolean; code?: number; reason?: string }> {
  const device = await RawDevice.connect(port, { localAddress });
  try {
    device.send(encodeHello2(phyId, randomBytes(16)));
    const frame = await waitFor(() => device.frames.find((f) => f.type === FrameType.CHALLENGE || f.type === FrameType.ERROR), { what: `an answer to ${phyId}'s HELLO2` });
    if (frame.type === FrameType.CHALLENGE) return { challenged: true };
    const error = decodeError(frame.body);
    await device.waitClosed();
    return { challenged: false, code: error.code, reason: error.reason };
  } finally {
    device.close();
  }
}

async function rateLimited(ingress: IngressHandle, scope: string): Promise<number> {
  return (await ingress.metrics.rateLimitedHandshakes.get()).values.find((v) => v.labels.scope === scope)?.value ?? 0;
}

// The counters live in the registry's store, so a flood spread over replicas is counted once.
describe.each(['redis', 'postgres'] as const)('handshake rate limits shared by two replicas (%s)', (backend) => {
  let a: IngressHandle;
  let b: IngressHandle;
  let database: TestDatabase | undefined;
  const started: IngressHandle[] = [];
  const limits = {
    handshakesPerIp: 20, handshakesPerIpWindowSeconds: 60,
    handshakesPerPhyId: 10, handshakesPerPhyIdWindowSeconds: 60,
    supersedeStormCount: 3, supersedeStormWindowSeconds: 60, supersedeLockoutSeconds: 3,
  };

  /** Two replicas on one fresh registry prefix. */
  async function pair(overrides: Partial<typeof limits> = {}): Promise<[IngressHandle, IngressHandle]> {
    const prefix = uniquePrefix('ingress-limits');
    const store = database ? { registry: { backend }, postgres: { url: database.url } } : {};
    const x = await startTestIngress(prefix, { replicaId: 'replica-a', limits: { ...limits, ...overrides }, ...store });
    const y = await startTestIngress(prefix, { replicaId: 'replica-b', limits: { ...limits, ...overrides }, ...store });
    started.push(x, y);
    return [x, y];
  }

  beforeAll(async () => {
    if (backend === 'postgres') database = await createTestDatabase('ingress-limits');
    [a, b] = await pair();
  });

  afterAll(async () => {
    await Promise.all(started.map((i) => i.stop()));
    await database?.drop();
  });

  it('answers a handshake flood from one address with RATE_LIMITED on both replicas, while other devices connect normally', async () => {
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await hello((i % 2 ? a : b).tcpPort, `FLOOD-${i}`, '127.0.0.2'));
    expect(answers.filter((x) => x.challenged)).toHaveLength(20);
    const refused = answers.filter((x) => !x.challenged);
    expect(refused).toHaveLength(20);
    expect(new Set(refused.map((x) => x.code))).toEqual(new Set([WireErrorCode.RATE_LIMITED]));
    expect(refused[0]!.reason).toMatch(/from this address; retry in \d+ s/);
    expect((await rateLimited(a, 'ip')) + (await rateLimited(b, 'ip'))).toBe(20);
    // Another address is not affected, on either replica.
    (await RawDevice.handshake(a.tcpPort, 'DEV-NORMAL-A', SECRET, { localAddress: '127.0.0.3' })).close();
    (await RawDevice.handshake(b.tcpPort, 'DEV-NORMAL-B', SECRET, { localAddress: '127.0.0.3' })).close();
  });

  it('answers a flood of handshakes for one phyId with RATE_LIMITED, from whatever address, and other phyIds get in', async () => {
    const answers = [];
    for (let i = 0; i < 15; i++) answers.push(await hello((i % 2 ? a : b).tcpPort, 'DEV-TARGET', `127.0.1.${i + 1}`));
    expect(answers.filter((x) => x.challenged)).toHaveLength(10);
    expect(answers.slice(10).map((x) => x.code)).toEqual(Array(5).fill(WireErrorCode.RATE_LIMITED));
    expect(answers[14]!.reason).toMatch(/for this device/);
    (await RawDevice.handshake(b.tcpPort, 'DEV-OTHER', SECRET, { localAddress: '127.0.1.1' })).close();
  });

  it('locks a phyId in a supersede storm out for a while, then lets it back', async () => {
    // A per-phyId limit high enough not to be what refuses the device here.
    const [a, b] = await pair({ handshakesPerPhyId: 1_000 });
    const held: RawDevice[] = [];
    try {
      // The first connection supersedes nothing; the next four each supersede one: the fourth is one too many.
      for (let i = 0; i < 5; i++) {
        held.push(await RawDevice.handshake((i % 2 ? a : b).tcpPort, 'DEV-STORM', SECRET, { localAddress: '127.0.2.1' }));
        await waitFor(async () => (await (i % 2 ? a : b).registry.lookup('DEV-STORM'))?.replicaId === (i % 2 ? 'replica-a' : 'replica-b'), { what: `connection ${i} registered` });
      }
      const answer = await waitFor(async () => {
        const x = await hello(a.tcpPort, 'DEV-STORM', '127.0.2.1');
        return x.challenged ? null : x;
      }, { what: 'the storm lockout' });
      expect(answer).toMatchObject({ code: WireErrorCode.RATE_LIMITED, reason: expect.stringMatching(/locked out, retry in [1-3] s/) });
      expect((await rateLimited(a, 'supersede_storm')) + (await rateLimited(b, 'supersede_storm'))).toBeGreaterThanOrEqual(1);
      // Everyone else connects meanwhile.
      (await RawDevice.handshake(b.tcpPort, 'DEV-CALM', SECRET, { localAddress: '127.0.2.2' })).close();
      // After the lockout the device gets in again.
      await waitFor(async () => (await hello(b.tcpPort, 'DEV-STORM', '127.0.2.1')).challenged, { timeoutMs: 8_000, intervalMs: 500, what: 'the lockout to end' });
    } finally {
      for (const d of held) d.close();
    }
  });
});
