import { WireErrorCode } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { createTestDatabase, uniquePrefix, waitFor, type TestDatabase } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, startTestIngress } from './support/test-ingress';

// The revocation travels over Redis pub/sub or PostgreSQL NOTIFY; every replica must act on it.
describe.each(['redis', 'postgres'] as const)('revocation across two ingress replicas (%s)', (backend) => {
  let a: IngressHandle;
  let b: IngressHandle;
  let database: TestDatabase | undefined;
  const devices: RawDevice[] = [];

  beforeAll(async () => {
    const prefix = uniquePrefix('ingress-revoke');
    let store: Record<string, unknown> = {};
    if (backend === 'postgres') {
      database = await createTestDatabase('ingress-revoke');
      store = { registry: { backend }, postgres: { url: database.url } };
    }
    a = await startTestIngress(prefix, { replicaId: 'replica-a', ...store });
    b = await startTestIngress(prefix, { replicaId: 'replica-b', ...store });
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('disconnects the revoked device with AUTH_FAILED on whichever replica holds it, and refuses it after', async () => {
    const onA = await RawDevice.handshake(a.tcpPort, 'DEV-RV-A', SECRET);
    const onB = await RawDevice.handshake(b.tcpPort, 'DEV-RV-B', SECRET);
    const bystander = await RawDevice.handshake(b.tcpPort, 'DEV-RV-OK', SECRET);
    devices.push(onA, onB, bystander);
    await waitFor(() => a.devices.deliverable('DEV-RV-A') && b.devices.deliverable('DEV-RV-B'), { what: 'both devices registered' });

    // Revoked through replica a's store: the device on replica b must hear of it too.
    const started = Date.now();
    await a.credentials.revoke('DEV-RV-B');
    // Nothing but the revocation's message closes the connection (no periodic recheck), so a bound far above
    // its usual milliseconds still fails a replica that never hears of it, and a loaded host does not.
    const error = await onB.errorAndClose(10_000);
    expect(error.code).toBe(WireErrorCode.AUTH_FAILED);
    expect(Date.now() - started).toBeLessThan(10_000);

    const again = Date.now();
    await b.credentials.revoke('DEV-RV-A');
    expect((await onA.errorAndClose(10_000)).code).toBe(WireErrorCode.AUTH_FAILED);
    expect(Date.now() - again).toBeLessThan(10_000);

    expect(bystander.closed).toBe(false);
    await waitFor(async () => (await a.registry.lookup('DEV-RV-B')) === null, { what: 'the revoked route to go' });
    // Neither replica lets it back in.
    await expect(RawDevice.handshake(a.tcpPort, 'DEV-RV-B', SECRET)).rejects.toThrow(/AUTH_FAILED/);
    await expect(RawDevice.handshake(b.tcpPort, 'DEV-RV-B', SECRET)).rejects.toThrow(/AUTH_FAILED/);
    const counted = (await b.metrics.authFailures.get()).values.find((v) => v.labels.reason === 'revoked_while_connected');
    expect(counted?.value).toBe(1);
  });
});
