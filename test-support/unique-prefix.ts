import { randomBytes } from 'node:crypto';

/** A key prefix no other test file (or run) uses, e.g. `t-claim-3f9a1c`. */
export function uniquePrefix(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 40);
  return `t-${safe}-${randomBytes(4).toString('hex')}`;
}
