import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../src/errors';

/** Rows of docs/errors.md's table: | `CODE` | status | ... */
function documented(): Record<string, number> {
  const text = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8');
  const rows: Record<string, number> = {};
  for (const match of text.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) rows[match[1]!] = Number(match[2]);
  return rows;
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of ERROR_CODES with the same HTTP status', () => {
    const fromCode = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]));
    expect(documented()).toEqual(fromCode);
  });
});
