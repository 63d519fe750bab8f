import { randomUUID } from 'node:crypto';
import { AckStatus } from '@outbound/core';
import { DeviceFleet } from '@outbound/cli';
import { waitFor } from '@outbound/test-support';
import { TestPeer } from './test-peer';

describe('DeviceFleet against a real TCP peer', () => {
  let peer: TestPeer;
  let fleet: DeviceFleet | undefined;

  beforeEach(async () => {
    peer = await TestPeer.start({ secrets: ['fleet-secret'] });
  });

  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
    await peer.stop();
  });

  it('connects every device under its numbered phyId and sums what they did', async () => {
    fleet = new DeviceFleet({ host: '127.0.0.1', port: peer.port, secret: 'fleet-secret', count: 12, idPrefix: 'FLT', connectConcurrency: 4, ackLatencyMs: { min: 5, max: 15 } });
    await fleet.start();
    expect(fleet.devices.map((d) => d.phyId).slice(0, 2)).toEqual(['FLT00001', 'FLT00002']);
    expect(fleet.summary()).toMatchObject({ devices: 12, connected: 12, connects: 12 });

    const sent: Array<[string, string]> = [];
    for (const device of fleet.devices) {
      const conn = await peer.waitForDevice(device.phyId);
      const id = randomUUID();
      conn.sendCommand(id);
      conn.sendCommand(id); // each device also sees one duplicate
      sent.push([device.phyId, id]);
    }
    for (const [phyId, id] of sent) {
      const acks = await (await peer.waitForDevice(phyId)).waitForAck(id, 2);
      expect(acks.every((a) => a.status === AckStatus.OK)).toBe(true);
    }
    const summary = fleet.summary();
    expect(summary).toMatchObject({ received: 24, applied: 12, duplicates: 12, acked: 24, rejected: 0, busy: 0, noAck: 0 });
    expect(summary.latencyMs.count).toBe(24);
    expect(summary.latencyMs.p50).toBeGreaterThanOrEqual(4);
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(summary.latencyMs.p99);

    // counters(): the same sums, kept as the devices count rather than summed per read.
    const { latencyMs: _latency, ...sums } = summary;
    expect(fleet.counters()).toEqual(sums);
    await Promise.all([fleet.devices[0].close(), fleet.devices[1].close()]);
    expect(fleet.counters().connected).toBe(10);
    expect(fleet.summary().connected).toBe(10);

    await fleet.stop();
    expect(fleet.summary().connected).toBe(0);
    expect(fleet.counters().connected).toBe(0);
    await waitFor(() => peer.connections.every((c) => c.closed), { what: 'peer sees every connection closed' });
  });

  it('churns: drops a share of the connections every interval and the devices come back', async () => {
    fleet = new DeviceFleet({
      host: '127.0.0.1',
      port: peer.port,
      secret: 'fleet-secret',
      count: 6,
      churn: { intervalMs: 50, fraction: 0.5 },
      reconnect: { minMs: 10, maxMs: 40 },
    });
    await fleet.start();
    await waitFor(() => fleet!.summary().churned >= 6 && fleet!.summary().connects >= 12, { what: 'churned devices reconnecting' });
    expect(peer.connections.length).toBeGreaterThanOrEqual(12);
  });

  it('start() rejects when a device cannot connect and reconnect is off', async () => {
    fleet = new DeviceFleet({ host: '127.0.0.1', port: peer.port, secret: 'not-configured', count: 2, reconnect: false });
    await expect(fleet.start()).rejects.toThrow(/AUTH_FAILED/);
  });
});
