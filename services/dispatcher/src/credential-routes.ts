import type { Express, RequestHandler } from 'express';
import { parseOrThrow, type CredentialStore } from '@outbound/core';
import { phyIdParams } from './schemas/common';
import { deviceKeyBodySchema } from './schemas/credentials';

export interface CredentialRoutesDeps {
  credentials: CredentialStore;
  /** Runs before each route (authentication with the `admin` role). */
  guard: RequestHandler;
}

/**
 * Per-device credentials for the challenge-response handshake (`admin` role):
 * PUT/DELETE /v1/devices/:phyId/credentials provisions a device's own key or reverts it to
 * the key derived from the fleet secret; PUT/DELETE /v1/devices/:phyId/revocation revokes
 * the device (every ingress replica disconnects it and refuses its handshakes) or lifts that.
 * Answers say what is in force, never the key: it is neither logged nor returned.
 */
export function registerCredentialRoutes(app: Express, deps: CredentialRoutesDeps): void {
  const { credentials } = deps;
  const phyIdOf = (params: Record<string, unknown>) => parseOrThrow(phyIdParams, params).phyId;

  app.put('/v1/devices/:phyId/credentials', deps.guard, async (req, res) => {
    const phyId = phyIdOf(req.params);
    const { key } = parseOrThrow(deviceKeyBodySchema, req.body);
    await credentials.setKey(phyId, Buffer.from(key, 'base64'));
    res.json({ phyId, key: 'provisioned' });
  });

  app.delete('/v1/devices/:phyId/credentials', deps.guard, async (req, res) => {
    const phyId = phyIdOf(req.params);
    const removed = await credentials.deleteKey(phyId);
    res.json({ phyId, key: 'derived', removed });
  });

  app.put('/v1/devices/:phyId/revocation', deps.guard, async (req, res) => {
    const phyId = phyIdOf(req.params);
    await credentials.revoke(phyId);
    res.json({ phyId, revoked: true });
  });

  app.delete('/v1/devices/:phyId/revocation', deps.guard, async (req, res) => {
    const phyId = phyIdOf(req.params);
    const lifted = await credentials.unrevoke(phyId);
    res.json({ phyId, revoked: false, lifted });
  });
}
