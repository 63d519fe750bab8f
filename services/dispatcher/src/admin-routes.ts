import type { Express, RequestHandler } from 'express';
import { OutboundError, parseOrThrow, toCommandView, type CommandQueue, type CredentialStore, type RouteRegistry } from '@outbound/core';
import { deadLetterQuery, deadSelectorSchema, deviceCommandsQuery, deviceSearchQuery } from './schemas/admin';
import { commandIdParams, phyIdParams } from './schemas/common';

export interface AdminRoutesDeps {
  queue: CommandQueue;
  registry: RouteRegistry;
  credentials: CredentialStore;
  /** Runs before each route (authentication with the `admin` role). */
  guard: RequestHandler;
}

/** GET /v1/devices(/:phyId(/commands)), DELETE /v1/devices/:phyId/commands, GET /v1/stats, GET /v1/cluster and the dead-letter routes: the `admin` role. */
export function registerAdminRoutes(app: Express, deps: AdminRoutesDeps): void {
  const { queue, registry } = deps;

  // Online devices by phyId prefix, bounded: an operator's search, not an inventory.
  app.get('/v1/devices', deps.guard, async (req, res) => {
    const { prefix, limit } = parseOrThrow(deviceSearchQuery, req.query, ['query']);
    const routes = await registry.findRoutes(prefix, limit);
    res.json({
      items: routes.map((route) => ({ phyId: route.phyId, online: true, replicaId: route.replicaId, connectedSince: new Date(route.connectedAt).toISOString() })),
    });
  });

  // The ingress replicas whose heartbeat is current (the ones devices can be routed to) and the
  // devices on each, and the dispatchers whose heartbeat is current.
  app.get('/v1/cluster', deps.guard, async (_req, res) => {
    const [replicas, devices, dispatchers] = await Promise.all([registry.listReplicas(), registry.countRoutes(), registry.listDispatchers()]);
    const iso = (ms: number) => new Date(ms).toISOString();
    res.json({
      replicas: replicas.map((r) => ({ replicaId: r.replicaId, address: r.address, heartbeatAt: iso(r.heartbeatAt), devices: devices.get(r.replicaId) ?? 0 })),
      dispatchers: dispatchers.map((d) => ({ id: d.id, startedAt: iso(d.startedAt), lastSeenAt: iso(d.lastSeenAt) })),
    });
  });

  app.get('/v1/devices/:phyId', deps.guard, async (req, res) => {
    const { phyId } = parseOrThrow(phyIdParams, req.params);
    const [route, pending, credential] = await Promise.all([registry.lookup(phyId), queue.countDevice(phyId), deps.credentials.get(phyId)]);
    res.json({
      phyId,
      online: route !== null,
      replicaId: route?.replicaId ?? null,
      epoch: route?.epoch ?? null,
      connectedSince: route ? new Date(route.connectedAt).toISOString() : null,
      pending,
      // Which key is in force, never the key itself.
      credentials: { key: credential.key ? 'provisioned' : 'derived', revoked: credential.revoked },
    });
  });

  // Without status or cursor: the device's pending commands in delivery order (one page). With
  // either: its history, every state within retention, newest enqueue first, cursor-paged.
  app.get('/v1/devices/:phyId/commands', deps.guard, async (req, res) => {
    const { phyId } = parseOrThrow(phyIdParams, req.params);
    const { limit, cursor, status } = parseOrThrow(deviceCommandsQuery, req.query, ['query']);
    if (status === undefined && cursor === undefined) {
      const items = await queue.listDevice(phyId, { limit });
      res.json({ phyId, items: items.map(toCommandView), nextCursor: null });
      return;
    }
    const page = await queue.listCommands({ phyId, limit, ...(status === undefined ? {} : { status }), ...(cursor === undefined ? {} : { cursor }) });
    res.json({ phyId, items: page.items.map(toCommandView), nextCursor: page.nextCursor });
  });

  app.delete('/v1/devices/:phyId/commands', deps.guard, async (req, res) => {
    const { phyId } = parseOrThrow(phyIdParams, req.params);
    res.json({ cancelled: await queue.cancelDevice(phyId) });
  });

  app.get('/v1/stats', deps.guard, async (_req, res) => {
    res.json(await queue.stats());
  });

  app.get('/v1/dead-letters', deps.guard, async (req, res) => {
    const { limit, cursor, ...filter } = parseOrThrow(deadLetterQuery, req.query, ['query']);
    const page = await queue.listDead({ limit, ...(cursor === undefined ? {} : { cursor }), filter });
    res.json({ items: page.items.map(toCommandView), nextCursor: page.nextCursor });
  });

  app.post('/v1/dead-letters/replay', deps.guard, async (req, res) => {
    const selector = parseOrThrow(deadSelectorSchema, req.body);
    res.json({ replayed: await queue.replayDead(selector) });
  });

  app.post('/v1/dead-letters/purge', deps.guard, async (req, res) => {
    const selector = parseOrThrow(deadSelectorSchema, req.body);
    res.json({ purged: await queue.purgeDead(selector) });
  });

  app.delete('/v1/dead-letters/:id', deps.guard, async (req, res) => {
    const { id } = parseOrThrow(commandIdParams, req.params);
    const deleted = await queue.purgeDead({ ids: [id] });
    if (deleted === 0) throw new OutboundError('COMMAND_NOT_FOUND', `no dead letter ${id}`);
    res.json({ deleted });
  });
}
