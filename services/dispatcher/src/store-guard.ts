import { isStoreError, type StoreError } from '@outbound/core';

/**
 * Wraps a store object (queue or registry) so every store failure is reported once, here:
 * each backend has already classified what its driver threw into a StoreError (Redis:
 * classifyRedisError, PostgreSQL: classifyPostgresError), so this layer needs only its
 * `backend` and `kind`. A failure counts once per store call: a thrown StoreError, or the
 * StoreErrors in an answer of per-item results (an enqueue batch answers OUTCOME_UNKNOWN per
 * command, each naming the one failed call as its `cause`). Errors pass through unchanged.
 */
export function guardStore<T extends object>(target: T, onStoreError: (operation: string, error: StoreError) => void): T {
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
          report(operation, error, onStoreError);
          throw error;
        }
        if (!(result instanceof Promise)) return result;
        return result.then(
          (answer: unknown) => {
            if (Array.isArray(answer)) report(operation, answer, onStoreError);
            return answer;
          },
          (error: unknown) => {
            report(operation, error, onStoreError);
            throw error;
          },
        );
      };
    },
  });
}

function report(operation: string, failure: unknown, onStoreError: (operation: string, error: StoreError) => void): void {
  const failed = new Set<StoreError>();
  for (const item of Array.isArray(failure) ? failure : [failure]) {
    if (!isStoreError(item)) continue;
    failed.add(isStoreError(item.cause) ? item.cause : item);
  }
  for (const error of failed) onStoreError(operation, error);
}
