import { escapeIdentifier } from 'pg';
import { OutboundError } from '../../errors';

/**
 * A validated schema name (QueueOptions.prefix) and the quoted forms SQL needs. Test prefixes
 * like `t-claim-3f9a1c` contain dashes, so the name is always quoted, never interpolated raw.
 */
export interface SchemaName {
  name: string;
  /** `"t-claim-3f9a1c"`, for table references. */
  quoted: string;
  /** NOTIFY channel for "work may be ready". */
  workChannel: string;
  /** NOTIFY channel for "events were logged" (readers waiting at the log's end). */
  eventsChannel: string;
}

export function schemaName(name: string): SchemaName {
  // 63 bytes is PostgreSQL's identifier limit; channel names add a suffix, so keep room.
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,47}$/.test(name)) {
    throw new OutboundError('VALIDATION_FAILED', `schema/prefix "${name}" must be 1-48 characters of A-Z a-z 0-9 _ - and start with a letter or _`);
  }
  return { name, quoted: escapeIdentifier(name), workChannel: `${name}:work`, eventsChannel: `${name}:events` };
}
