/**
 * Keeps, of an included Lua file, only the top-level `local` definitions a script uses (and
 * those they use in turn), in their order. Every v3 script inlines lua/includes/v3.lua, and
 * Redis runs a script's whole body on every call: each `local function` is a closure made and
 * collected per call, for nothing when the script never calls it.
 *
 * A unit starts at a line beginning `local ` (with the `--` comment lines just above it) and
 * runs to the next unit; it defines the names after `local function`, or before its `=` (or
 * the line's end: `local a, b`). Names
 * are matched as whole words outside comment lines and `--[[ ]]` blocks, so one only mentioned
 * in a string or after code on its line keeps its unit: pruning can keep too much, never too
 * little. What comes before the first unit (the file's header comment) is kept.
 */
export function pruneInclude(include: string, script: string): string {
  const lines = include.split('\n');
  const starts: Array<{ at: number; names: string[] }> = [];
  lines.forEach((line, i) => {
    const definition = /^local\s+(?:function\s+([A-Za-z_]\w*)|([A-Za-z_][\w\s,]*?)\s*(?:=|$))/.exec(line);
    if (!definition) return;
    let at = i;
    while (at > 0 && lines[at - 1]!.startsWith('--') && !lines[at - 1]!.startsWith('--[[')) at -= 1;
    starts.push({ at, names: definition[1] ? [definition[1]] : definition[2]!.split(',').map((name) => name.trim()) });
  });
  if (starts.length === 0) return include;
  const units = starts.map((start, i) => ({ names: start.names, text: lines.slice(start.at, starts[i + 1]?.at ?? lines.length).join('\n') }));
  const byName = new Map<string, number>();
  units.forEach((unit, i) => unit.names.forEach((name) => byName.set(name, i)));
  // A helper named only in a comment (readMeta's mentions promoteDue) would keep it, and what it calls, in every script.
  const words = (text: string): string[] => text.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/^\s*--.*$/gm, '').match(/[A-Za-z_]\w*/g) ?? [];
  const keep = new Set<number>();
  const seen = new Set<string>();
  const todo = words(script);
  while (todo.length > 0) {
    const word = todo.pop()!;
    if (seen.has(word)) continue;
    seen.add(word);
    const i = byName.get(word);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    todo.push(...words(units[i]!.text));
  }
  return [lines.slice(0, starts[0]!.at).join('\n'), ...units.filter((_, i) => keep.has(i)).map((unit) => unit.text)].join('\n');
}
