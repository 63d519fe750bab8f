import { OutboundError, idempotencyConflict } from '../../errors';

/** The integer codes the Lua scripts answer (lua/includes/shard.lua defines the same). */
export enum ScriptCode {
  OK = 0,
  DUPLICATE = 1,
  NOT_FOUND = -1,
  LEASE_LOST = -2,
  DEVICE_FULL = -3,
  QUEUE_FULL = -4,
  INVALID_STATE = -5,
  IDEMPOTENCY_CONFLICT = -6,
}

/** Turns a script's error code into the typed error callers see. */
export function scriptCodeToError(code: number, context: { id?: string; phyId?: string; status?: string; cap?: number }): OutboundError {
  const details = Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined && v !== ''));
  switch (code) {
    case ScriptCode.NOT_FOUND:
      return new OutboundError('COMMAND_NOT_FOUND', `command ${context.id} not found`, { details });
    case ScriptCode.LEASE_LOST:
      return new OutboundError(
        'LEASE_LOST',
        `the lease on command ${context.id} is no longer held by this token (status now ${context.status || 'unknown'})`,
        { details },
      );
    case ScriptCode.DEVICE_FULL:
      return new OutboundError('QUEUE_FULL', `device ${context.phyId} already has ${context.cap} pending commands (per-device cap)`, {
        details: { ...details, scope: 'device' },
      });
    case ScriptCode.QUEUE_FULL:
      return new OutboundError('QUEUE_FULL', 'the queue holds as many pending commands as its global cap allows', {
        details: { ...details, scope: 'global' },
      });
    case ScriptCode.INVALID_STATE:
      return new OutboundError('INVALID_STATE', `command ${context.id} is ${context.status}; only queued commands can be cancelled`, {
        details,
      });
    case ScriptCode.IDEMPOTENCY_CONFLICT:
      return idempotencyConflict(context.phyId ?? '', context.id ?? '');
    default:
      return new OutboundError('INTERNAL', `queue script answered unknown code ${code}`, { details });
  }
}
