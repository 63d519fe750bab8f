import { OutboundError } from '../../errors';
import type { ListCommandsOptions } from '../queue';
import type { StoredCommand } from '../../command';

/**
 * Command history on Redis (both layouts). Finished commands have no index by time or device
 * on Redis, and scanning the keyspace is not an option: the history will be read from the
 * event log's per-shard streams (`command.queued` entries, newest first) once the stores write
 * them. Until then the listing answers NOT_IMPLEMENTED.
 */
export function listCommandHistory(_options: ListCommandsOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
  return Promise.reject(
    new OutboundError('NOT_IMPLEMENTED', 'command history is not available on the Redis store yet; read one command with GET /v1/commands/{id} or a device\'s pending ones with GET /v1/devices/{phyId}/commands'),
  );
}
