import type { Express, RequestHandler } from 'express';
import { z } from 'zod';
import {
  COMMAND_STATUSES, OutboundError, parseOrThrow, phyIdSchema, timeInputSchema, toCommandView, type CommandQueue, type CredentialStore, type RouteRegistry,
} from '@outbound/core';

export interface AdminRoutesDeps {
  queue: CommandQueue;
  registry: RouteRegistry;
  credentials: CredentialStore;
  /** Runs before each route (authentication with the `admin` role). */
  guard: RequestHandler;
}

const pageQuery = (maxLimit: number, defaultLimit: number) =>
  z.strictObject({
    limit: z.coerce.number().int('must be an integer').min(1).max(maxLimit, `must be at most ${maxLimit}`).default(defaultLimit),
    cursor: z.string().min(1).max(200).optional(),
  });

/** Which dead letters a filter selects: reason matches a prefix of the dead letter's lastError. */
export const deadFilterSchema = z.strictObject({
  phyId: phyIdSchema.optional(),
  reason: z.string().min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional(),
  since: timeInputSchema.optional(),
  until: timeInputSchema.optional(),
});

/** The body of POST /v1/dead-letters/replay and /purge: these ids, every dead letter, or those a filter selects. */
export const deadSelectorSchema = z.union([
  z.strictObject({ ids: z.array(z.uuid('must be a command id (UUID)')).min(1).max(1000) }),
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({ filter: deadFilterSchema }),
]);

export const deadListQuery = pageQuery(1000, 100).extend(deadFilterSchema.shape);

export const deviceCommandsQuery = pageQuery(1000, 100).extend({ status: z.enum(COMMAND_STATUSES).optional() });

/** GET /v1/devices/:phyId(/commands), DELETE /v1/devices/:phyId/commands, GET /v1/stats and the dead-letter routes: the `admin` role. */
export function registerAdminRoutes(app: Express, deps: AdminRoutesDeps): void {
  const { queue, registry } = deps;

  app.get('/v1/devices/:phyId', deps.guard, async (req, res) => {
    const phyId = parseOrThrow(phyIdSchema, req.params.phyId, ['phyId']);
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
    const phyId = parseOrThrow(phyIdSchema, req.params.phyId, ['phyId']);
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
    const phyId = parseOrThrow(phyIdSchema, req.params.phyId, ['phyId']);
    res.json({ cancelled: await queue.cancelDevice(phyId) });
  });

  app.get('/v1/stats', deps.guard, async (_req, res) => {
    res.json(await queue.stats());
  });

  app.get('/v1/dead-letters', deps.guard, async (req, res) => {
    const { limit, cursor, ...filter } = parseOrThrow(deadListQuery, req.query, ['query']);
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

  const commandId = z.uuid('must be a command id (UUID)');
  app.delete('/v1/dead-letters/:id', deps.guard, async (req, res) => {
    const id = parseOrThrow(commandId, req.params.id, ['id']);
    const deleted = await queue.purgeDead({ ids: [id] });
    if (deleted === 0) throw new OutboundError('COMMAND_NOT_FOUND', `no dead letter ${id}`);
    res.json({ deleted });
  });
}

