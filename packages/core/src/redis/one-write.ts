import Redis from 'ioredis';
import type { RedisClient } from './connection';

/**
 * Runs `send`, which issues several Redis calls in one synchronous stretch (one script per
 * shard of a batch), with the client's socket corked, so the calls leave in one `writev`
 * system call instead of one `write` each; the answers and their order are unchanged. ioredis
 * writes every command to the socket on its own, and on a busy dispatcher those writes were
 * about a tenth of its CPU time (most of their cost is the kernel's loopback delivery, paid
 * once per call). Calls `send` issues after an `await` are written as usual.
 *
 * A Cluster spreads calls over several node connections: `send` runs unchanged there. So it does
 * while the client has no writable socket (connecting: its commands wait in ioredis's queue).
 */
export function inOneWrite<T>(client: RedisClient, send: () => T): T {
  const socket = client instanceof Redis ? client.stream : undefined;
  if (!socket?.writable) return send();
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}
