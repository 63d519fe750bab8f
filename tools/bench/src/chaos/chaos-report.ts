import type { CaseResult } from './chaos-case';

function fiveXxText(r: CaseResult): string {
  const entries = Object.entries(r.counts.fiveXx);
  if (entries.length === 0) return '0';
  const list = entries.map(([code, n]) => `${n} ${code}`).join(', ');
  return `${list} (${r.counts.untruthful === 0 ? 'truthful' : `${r.counts.untruthful} untruthful`})`;
}

function twice(r: CaseResult): string {
  const { deliveredTwice, staleRedeliveries } = r.counts;
  return staleRedeliveries ? `${deliveredTwice} (${staleRedeliveries} after a newer one)` : String(deliveredTwice);
}

/** One case's outcome in a few lines: verdict, what it proved, the counts, notes and failures. */
export function formatResult(r: CaseResult): string {
  const c = r.counts;
  const lines = [
    `  ${r.passed ? 'PASS' : 'FAIL'} ${r.backend} ${r.name} (${r.seconds} s): accepted ${c.accepted}, final ${c.final}, lost ${c.lost}, ` +
      `delivered twice ${twice(r)}, out of order ${c.outOfOrder}, 5xx ${fiveXxText(r)}`,
  ];
  if (r.passed) lines.push(`  proved: ${r.proves}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  for (const failure of r.failures) lines.push(`  failed: ${failure}`);
  return lines.join('\n');
}

/** The results as the markdown table docs/operations.md keeps ("What survives what"). */
export function renderTable(results: CaseResult[]): string {
  const rows = [
    '| case | backend | result | accepted | final | lost | delivered twice | out of order | 5xx answers | duration | failed because |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const c = r.counts;
    rows.push(`| ${r.name} | ${r.backend} | ${r.passed ? 'pass' : 'FAIL'} | ${c.accepted} | ${c.final} | ${c.lost} | ${twice(r)} | ${c.outOfOrder} | ${fiveXxText(r)} | ${r.seconds} s | ${r.failures.join('; ').replace(/\|/g, '/')} |`);
  }
  return rows.join('\n');
}
