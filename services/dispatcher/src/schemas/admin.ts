/** Schemas of the admin routes (admin-routes.ts validates with them) and their operations. */
import { z } from 'zod';
import {
  commandIdParams, commandPageSchema, commandSchema, errorResponses, json, jsonBody, pageQuery, phyIdParams, SECURITY, type RouteDoc,
} from './common';
import { credentialStateSchema } from './credentials';
import { phyIdSchema } from '@outbound/core/command';

export const deadLetterQuery = pageQuery(1000, 100);
export const deviceCommandsQuery = z.strictObject({ limit: deadLetterQuery.shape.limit });

export const replayBodySchema = z
  .union([
    z.strictObject({ ids: z.array(commandIdParams.shape.id).min(1).max(1000) }),
    z.strictObject({ all: z.literal(true) }),
  ])
  .meta({ id: 'DeadLetterSelector' });

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

/** Devices, their pending commands, stats and dead letters: the `admin` role. */
export function adminRouteDocs(): RouteDoc[] {
  return [
    {
      method: 'get', path: '/v1/devices/{phyId}', operationId: 'getDevice', security: SECURITY.admin,
      summary: 'Is the device online, on which replica, since when, and how many commands it has pending',
      request: { params: phyIdParams },
      responses: { 200: json(deviceSchema, 'device view'), ...errorResponses(400, 403) },
    },
    {
      method: 'get', path: '/v1/devices/{phyId}/commands', operationId: 'listDeviceCommands', summary: "The device's pending commands in delivery order", security: SECURITY.admin,
      request: { params: phyIdParams, query: deviceCommandsQuery },
      responses: { 200: json(z.object({ phyId: phyIdSchema, items: z.array(commandSchema) }), 'commands'), ...errorResponses(400, 403) },
    },
    {
      method: 'get', path: '/v1/stats', operationId: 'getStats', summary: 'Queue counts in total and per shard', security: SECURITY.admin,
      responses: { 200: json(statsSchema, 'counts'), ...errorResponses(403) },
    },
    {
      method: 'get', path: '/v1/dead-letters', operationId: 'listDeadLetters', summary: 'Dead letters, paged', security: SECURITY.admin,
      request: { query: deadLetterQuery },
      responses: { 200: json(commandPageSchema, 'a page'), ...errorResponses(400, 403) },
    },
    {
      method: 'post', path: '/v1/dead-letters/replay', operationId: 'replayDeadLetters', summary: 'Requeue dead letters (attempts reset)', security: SECURITY.admin,
      request: { body: jsonBody(replayBodySchema) },
      responses: { 200: json(z.object({ replayed: z.number().int() }), 'how many moved'), ...errorResponses(400, 403) },
    },
    {
      method: 'delete', path: '/v1/dead-letters/{id}', operationId: 'deleteDeadLetter', summary: 'Delete one dead letter', security: SECURITY.admin,
      request: { params: commandIdParams },
      responses: { 200: json(z.object({ deleted: z.number().int() }), 'deleted'), ...errorResponses(400, 403, 404) },
    },
  ];
}
