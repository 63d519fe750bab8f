import type { Command } from '@outbound/client';

/** Shows a result as text when it is printable, else as hex. */
export function showResult(base64: string | null): string {
  if (base64 === null) return '-';
  const bytes = Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  return /^[\x20-\x7e\t\r\n]*$/.test(text) ? JSON.stringify(text) : `0x${bytes.toString('hex')}`;
}

/** One command as a few aligned lines. */
export function formatCommand(c: Command): string {
  const rows: Array<[string, string]> = [
    ['id', c.id],
    ['device', c.phyId],
    ['status', c.waitingFor ? `${c.status} (waiting for ${c.waitingFor})` : c.status],
    ['priority', String(c.priority)],
    ['attempts', `${c.attempts}/${c.maxAttempts}`],
    ['created', c.createdAt],
    ['updated', c.updatedAt],
    ['expires', c.expiresAt],
    ['last error', c.lastError ?? '-'],
    ['result', showResult(c.result)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n');
}

/** One command on one line (lists). */
export function commandLine(c: Command): string {
  return [c.id, c.phyId, c.status.padEnd(9), `${c.attempts}/${c.maxAttempts}`, c.createdAt, c.lastError ?? ''].join('  ').trimEnd();
}
