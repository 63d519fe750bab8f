import { OutboundError, isOutboundError, toError } from '@outbound/core';

/** Error names, codes and messages that mean "the store is unreachable", not "the request is wrong". */
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const UNAVAILABLE_MESSAGE = /Connection is closed|Command timed out|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|max retries per request|^LOADING|^READONLY|^CLUSTERDOWN|^MASTERDOWN|^TRYAGAIN|Connection terminated|connect ECONN/i;

/** True when `error` says the queue store (Redis or PostgreSQL) could not be reached. */
export function isStoreUnavailable(error: unknown): boolean {
  if (isOutboundError(error)) return error.code === 'STORE_UNAVAILABLE';
  const e = error as { name?: string; code?: string; message?: string } | null;
  if (!e) return false;
  if (e.name && UNAVAILABLE_NAMES.has(e.name)) return true;
  // PostgreSQL: class 08 is connection exceptions, 57P0x is admin/crash shutdown.
  if (typeof e.code === 'string' && (/^08/.test(e.code) || /^57P0/.test(e.code) || /^E[A-Z]+$/.test(e.code))) return true;
  return typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message);
}

/**
 * Wraps a store object (queue or registry) so every method that fails because the store is
 * unreachable rejects with STORE_UNAVAILABLE (503 + Retry-After at the API) and is counted.
 * Coded errors (QUEUE_FULL, COMMAND_NOT_FOUND, ...) and programming errors pass unchanged.
 */
export function guardStore<T extends object>(target: T, onUnavailable: (operation: string, error: Error) => void): T {
  return new Proxy(target, {
    get(obj, property, receiver) {
      const value = Reflect.get(obj, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const operation = String(property);
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (error) {
          throw translate(operation, error, onUnavailable);
        }
        if (result instanceof Promise) return result.catch((error: unknown) => { throw translate(operation, error, onUnavailable); });
        return result;
      };
    },
  });
}

function translate(operation: string, error: unknown, onUnavailable: (operation: string, error: Error) => void): unknown {
  if (!isStoreUnavailable(error)) return error;
  onUnavailable(operation, toError(error));
  if (isOutboundError(error)) return error;
  return new OutboundError('STORE_UNAVAILABLE', `the queue store is unreachable (${operation}): ${toError(error).message}`, { cause: error });
}
