import { readFileSync } from 'node:fs';

/**
 * File descriptors kept back from device connections: the process's own (stdio, epoll,
 * libuv), the registry store's connections, the internal HTTP server's (dispatchers hold
 * keep-alive connections) and logs. 10 % of the limit, at least 128.
 */
export function reservedDescriptors(openFileLimit: number): number {
  return Math.max(128, Math.ceil(openFileLimit * 0.1));
}

/**
 * The soft RLIMIT_NOFILE of this process ("Max open files" in /proc/self/limits), or null when
 * it cannot be read (not Linux) or is unlimited. Node has no getrlimit; procfs is the kernel's
 * own answer, so no native module is needed.
 */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (!soft || soft === 'unlimited') return null;
  const value = Number(soft);
  return Number.isInteger(value) && value > 0 ? value : null;
}

/**
 * The connection limit in force: the configured one, clamped so that every device socket
 * (TLS handshakes included) plus the reserve fits under the file limit. Past the file limit
 * accept() fails with EMFILE and the whole replica (health checks, store connections) fails
 * with it; past this limit a device gets ERROR BUSY and everything else keeps working.
 */
export function effectiveMaxConnections(configured: number, fileLimit: number | null): { maxConnections: number; clampedFrom?: number; fileLimit: number | null } {
  if (fileLimit === null) return { maxConnections: configured, fileLimit };
  const ceiling = Math.max(1, fileLimit - reservedDescriptors(fileLimit));
  return configured > ceiling ? { maxConnections: ceiling, clampedFrom: configured, fileLimit } : { maxConnections: configured, fileLimit };
}
