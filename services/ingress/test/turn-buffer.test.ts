import { TurnBuffer } from '../src/turn-buffer';

/** Waits for the check phase after the current one (setImmediate callbacks queued before this run first). */
const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A buffer and the strings its write was called with, in order. */
function recorded(): { buffer: TurnBuffer; writes: string[] } {
  const writes: string[] = [];
  return { buffer: new TurnBuffer((text) => writes.push(text)), writes };
}

describe('TurnBuffer', () => {
  it('hands the lines added in one turn to write as one string, once, in the check phase', async () => {
    const { buffer, writes } = recorded();
    buffer.add('a\n');
    buffer.add('b\n');
    buffer.add('c\n');
    expect(writes).toEqual([]);
    await nextCheckPhase();
    expect(writes).toEqual(['a\nb\nc\n']);
  });

  it('writes each later turn separately', async () => {
    const { buffer, writes } = recorded();
    buffer.add('1\n');
    await nextCheckPhase();
    buffer.add('2\n');
    buffer.add('3\n');
    await nextCheckPhase();
    expect(writes).toEqual(['1\n', '2\n3\n']);
  });

  it('flushes at once when asked, and the scheduled flush then hands on nothing', async () => {
    const { buffer, writes } = recorded();
    buffer.add('x\n');
    buffer.flush();
    expect(writes).toEqual(['x\n']);
    await nextCheckPhase();
    expect(writes).toEqual(['x\n', '']);
  });

  it('schedules again after an early flush', async () => {
    const { buffer, writes } = recorded();
    buffer.add('x\n');
    buffer.flush();
    buffer.add('y\n');
    await nextCheckPhase();
    expect(writes.filter(Boolean)).toEqual(['x\n', 'y\n']);
  });
});
