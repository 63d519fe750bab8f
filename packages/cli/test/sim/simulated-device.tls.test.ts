import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedDevice } from '@outbound/cli';
import { TestPeer } from './test-peer';

describe('SimulatedDevice over TLS', () => {
  let dir: string;
  let cert: Buffer;
  let peer: TestPeer;
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    peer = await TestPeer.start({ secrets: ['tls-secret'], tls: { key: readFileSync(join(dir, 'key.pem')), cert } });
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function device(phyId: string, tls: { ca?: Buffer; rejectUnauthorized?: boolean }): SimulatedDevice {
    const d = new SimulatedDevice({ host: '127.0.0.1', port: peer.port, phyId, secret: 'tls-secret', tls });
    devices.push(d);
    return d;
  }

  it('handshakes over TLS when it trusts the server certificate', async () => {
    const d = device('TLS-1', { ca: cert });
    await d.connect();
    expect(d.connected).toBe(true);
    expect((await peer.waitForDevice('TLS-1')).welcomed).toBe(true);
  });

  it('refuses a server certificate it does not trust', async () => {
    await expect(device('TLS-2', {}).connect()).rejects.toThrow(/self.signed/i);
  });
});
