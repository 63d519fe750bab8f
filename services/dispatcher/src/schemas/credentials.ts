/** Schemas of the credential routes (credential-routes.ts validates with them) and their operations. */
import { z } from 'zod';
import { DEVICE_KEY_BYTES } from '@outbound/core/protocol';
import { phyIdSchema } from '@outbound/core/command';
import { errorResponses, json, jsonBody, phyIdParams, SECURITY, type RouteDoc } from './common';

const base64 = z.base64();
export const deviceKeyBodySchema = z
  .strictObject({
    key: z
      .string({ error: (issue) => (issue.input === undefined ? `is required: base64 of ${DEVICE_KEY_BYTES} bytes` : 'must be a base64 string') })
      .refine((s) => base64.safeParse(s).success, { message: 'must be base64', abort: true })
      .refine((s) => Buffer.byteLength(s, 'base64') === DEVICE_KEY_BYTES, { message: `must decode to exactly ${DEVICE_KEY_BYTES} bytes` })
      .meta({ contentEncoding: 'base64', description: `${DEVICE_KEY_BYTES} bytes, base64` }),
  })
  .meta({ id: 'DeviceKey' });

export const credentialStateSchema = z
  .object({ key: z.enum(['provisioned', 'derived']), revoked: z.boolean() })
  .meta({ id: 'CredentialState', description: 'Which handshake key is in force for the device (never the key itself), and whether it is revoked' });

/** Per-device handshake keys and revocations: the `admin` role. */
export function credentialRouteDocs(): RouteDoc[] {
  const answer = <T extends z.ZodRawShape>(shape: T) => z.object({ phyId: phyIdSchema, ...shape });
  return [
    {
      method: 'put', path: '/v1/devices/{phyId}/credentials', operationId: 'provisionDeviceKey', security: SECURITY.admin,
      summary: "Provision (or replace) the device's own handshake key; the key is stored, never logged or answered",
      request: { params: phyIdParams, body: jsonBody(deviceKeyBodySchema) },
      responses: { 200: json(answer({ key: z.literal('provisioned') }), 'provisioned'), ...errorResponses(400, 403, 413) },
    },
    {
      method: 'delete', path: '/v1/devices/{phyId}/credentials', operationId: 'revertDeviceKey', security: SECURITY.admin,
      summary: 'Revert the device to the key derived from the fleet secret',
      request: { params: phyIdParams },
      responses: { 200: json(answer({ key: z.literal('derived'), removed: z.boolean() }), 'derived key in force; removed says whether a key was provisioned'), ...errorResponses(400, 403) },
    },
    {
      method: 'put', path: '/v1/devices/{phyId}/revocation', operationId: 'revokeDevice', security: SECURITY.admin,
      summary: 'Revoke the device: every ingress replica disconnects it and refuses its handshakes until lifted',
      request: { params: phyIdParams },
      responses: { 200: json(answer({ revoked: z.literal(true) }), 'revoked'), ...errorResponses(400, 403) },
    },
    {
      method: 'delete', path: '/v1/devices/{phyId}/revocation', operationId: 'liftRevocation', security: SECURITY.admin,
      summary: 'Lift a revocation',
      request: { params: phyIdParams },
      responses: { 200: json(answer({ revoked: z.literal(false), lifted: z.boolean() }), 'not revoked; lifted says whether a revocation was in place'), ...errorResponses(400, 403) },
    },
  ];
}
