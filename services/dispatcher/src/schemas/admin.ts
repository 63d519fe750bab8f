/** Schemas of the admin routes (admin-routes.ts validates with them) and their operations. */
import { z } from 'zod';
import {
  commandIdParams, commandPageSchema, errorResponses, json, jsonBody, pageQuery, phyIdParams, SECURITY, timeInput, type RouteDoc,
} from './common';
import { credentialStateSchema } from './credentials';
import { COMMAND_STATUSES, phyIdSchema } from '@outbound/core/command';

/** Which dead letters a filter selects (every condition given must hold). */
export const deadFilterSchema = z
  .strictObject({
    phyId: phyIdSchema.optional().meta({ description: 'one device' }),
    reason: z.string().min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional()
      .meta({ description: "a prefix of the dead letter's lastError (case-sensitive): ACK_TIMEOUT finds every ack timeout" }),
    since: timeInput('died at or after this time').optional(),
    until: timeInput('died before this time').optional(),
  })
  .meta({ id: 'DeadLetterFilter' });

export const deadLetterQuery = pageQuery(1000, 100).extend(deadFilterSchema.shape);
export const deviceSearchQuery = z.strictObject({
  prefix: phyIdSchema.meta({ description: 'the start of the phyIds to find' }),
  limit: pageQuery(100, 20).shape.limit,
});
export const deviceCommandsQuery = pageQuery(1000, 100).extend({
  status: z.enum(COMMAND_STATUSES).optional().meta({ description: 'with status or cursor: the device\'s history (every state, newest first) instead of its pending commands' }),
});

export const deadSelectorSchema = z
  .union([
    z.strictObject({ ids: z.array(commandIdParams.shape.id).min(1).max(1000) }),
    z.strictObject({ all: z.literal(true) }),
    z.strictObject({ filter: deadFilterSchema }),
  ])
  .meta({ id: 'DeadLetterSelector', description: 'these ids, every dead letter, or those the filter selects' });

const counts = {
  pending: z.number().int(),
  inflight: z.number().int(),
  delayed: z.number().int().meta({ description: 'queued, waiting for backoff or deliverAt' }),
  waitingForDevice: z.number().int().meta({ description: 'queued, device offline' }),
  dead: z.number().int(),
};
export const statsSchema = z
  .object({ total: z.object(counts), shards: z.array(z.object({ ...counts, shard: z.number().int() })) })
  .meta({ id: 'Stats' });

export const deviceSchema = z
  .object({
    phyId: phyIdSchema,
    online: z.boolean(),
    replicaId: z.string().nullable().meta({ description: 'the ingress replica holding its connection' }),
    epoch: z.number().int().nullable(),
    connectedSince: z.iso.datetime().nullable(),
    pending: z.number().int(),
    credentials: credentialStateSchema,
  })
  .meta({ id: 'Device' });

export const deviceSearchSchema = z.object({
  items: z.array(z.object({ phyId: phyIdSchema, online: z.literal(true), replicaId: z.string(), connectedSince: z.iso.datetime() })),
});

export const clusterSchema = z
  .object({
    replicas: z.array(
      z.object({
        replicaId: z.string(),
        address: z.string().meta({ description: 'its internal delivery address' }),
        heartbeatAt: z.iso.datetime(),
        devices: z.number().int().meta({ description: 'devices connected to it' }),
      }),
    ),
    dispatchers: z.array(
      z.object({
        id: z.string().meta({ description: 'DISPATCHER_ID, or hostname-pid' }),
        startedAt: z.iso.datetime(),
        lastSeenAt: z.iso.datetime().meta({ description: 'its latest heartbeat (store clock)' }),
      }),
    ).meta({ description: 'dispatchers whose heartbeat has not lapsed, by id' }),
  })
  .meta({ id: 'Cluster' });

/** Devices, their pending commands, stats, the cluster and dead letters: the `admin` role. */
export function adminRouteDocs(): RouteDoc[] {
  return [
    {
      method: 'get', path: '/v1/devices', operationId: 'searchDevices', security: SECURITY.admin,
      summary: 'Online devices whose phyId starts with a prefix, by phyId (a bounded search, not an inventory)',
      request: { query: deviceSearchQuery },
      responses: { 200: json(deviceSearchSchema, 'matching online devices'), ...errorResponses(400, 403) },
    },
    {
      method: 'get', path: '/v1/cluster', operationId: 'getCluster', summary: 'The ingress replicas alive now (current heartbeat) and the devices on each, and the dispatchers alive now', security: SECURITY.admin,
      responses: { 200: json(clusterSchema, 'live replicas and dispatchers'), ...errorResponses(403) },
    },
    {
      method: 'get', path: '/v1/devices/{phyId}', operationId: 'getDevice', security: SECURITY.admin,
      summary: 'Is the device online, on which replica, since when, and how many commands it has pending',
      request: { params: phyIdParams },
      responses: { 200: json(deviceSchema, 'device view'), ...errorResponses(400, 403) },
    },
    {
      method: 'get', path: '/v1/devices/{phyId}/commands', operationId: 'listDeviceCommands', security: SECURITY.admin,
      summary: "Without status or cursor: the device's pending commands in delivery order (nextCursor null). With either: its history, newest enqueue first, paged",
      request: { params: phyIdParams, query: deviceCommandsQuery },
      responses: {
        200: json(commandPageSchema.extend({ phyId: phyIdSchema }), 'commands'),
        ...errorResponses(400, 403),
      },
    },
    {
      method: 'delete', path: '/v1/devices/{phyId}/commands', operationId: 'cancelDeviceCommands', summary: 'Cancel every queued command of the device (not those in flight)', security: SECURITY.admin,
      request: { params: phyIdParams },
      responses: { 200: json(z.object({ cancelled: z.number().int() }), 'how many were cancelled'), ...errorResponses(400, 403) },
    },
    {
      method: 'get', path: '/v1/stats', operationId: 'getStats', summary: 'Queue counts in total and per shard', security: SECURITY.admin,
      responses: { 200: json(statsSchema, 'counts'), ...errorResponses(403) },
    },
    {
      method: 'get', path: '/v1/dead-letters', operationId: 'listDeadLetters', summary: 'Dead letters, oldest death first, filtered and paged', security: SECURITY.admin,
      request: { query: deadLetterQuery },
      responses: { 200: json(commandPageSchema, 'a page (with a filter it may hold fewer than limit and still have a nextCursor)'), ...errorResponses(400, 403) },
    },
    {
      method: 'post', path: '/v1/dead-letters/replay', operationId: 'replayDeadLetters', summary: 'Requeue dead letters (attempts reset): these ids, all, or those a filter selects', security: SECURITY.admin,
      request: { body: jsonBody(deadSelectorSchema) },
      responses: { 200: json(z.object({ replayed: z.number().int() }), 'how many moved'), ...errorResponses(400, 403) },
    },
    {
      method: 'post', path: '/v1/dead-letters/purge', operationId: 'purgeDeadLetters', summary: 'Delete dead letters for good: these ids, all, or those a filter selects', security: SECURITY.admin,
      request: { body: jsonBody(deadSelectorSchema) },
      responses: { 200: json(z.object({ purged: z.number().int() }), 'how many went'), ...errorResponses(400, 403) },
    },
    {
      method: 'delete', path: '/v1/dead-letters/{id}', operationId: 'deleteDeadLetter', summary: 'Delete one dead letter', security: SECURITY.admin,
      request: { params: commandIdParams },
      responses: { 200: json(z.object({ deleted: z.number().int() }), 'deleted'), ...errorResponses(400, 403, 404) },
    },
  ];
}
