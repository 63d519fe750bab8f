import { SerialBatcher } from '../../src/queue/postgres/serial-batcher';

/** A run whose calls are held until the test lets each one finish, recording what each carried. */
function heldRun(): { run: (items: string[]) => Promise<string[]>; calls: string[][]; finish: (i: number, error?: Error) => void } {
  const calls: string[][] = [];
  const ends: Array<{ resolve: (r: string[]) => void; reject: (e: Error) => void }> = [];
  return {
    calls,
    run: (items) => {
      calls.push(items);
      return new Promise((resolve, reject) => ends.push({ resolve, reject }));
    },
    finish: (i, error) => (error ? ends[i]!.reject(error) : ends[i]!.resolve(calls[i]!.map((x) => `r:${x}`))),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SerialBatcher (one call at a time, calls made meanwhile shared)', () => {
  it('runs a call at once when nothing runs, and the calls made meanwhile together next, each answered with its own slice', async () => {
    const held = heldRun();
    const batcher = new SerialBatcher(held.run, 10);
    const first = batcher.submit(['a']);
    const second = batcher.submit(['b', 'c']);
    const third = batcher.submit(['d']);
    expect(held.calls).toEqual([['a']]);
    held.finish(0);
    expect(await first).toEqual(['r:a']);
    await settle();
    expect(held.calls).toEqual([['a'], ['b', 'c', 'd']]);
    held.finish(1);
    expect(await second).toEqual(['r:b', 'r:c']);
    expect(await third).toEqual(['r:d']);
  });

  it('never splits a call: a shared call stops before maxItems, and a larger call goes alone', async () => {
    const held = heldRun();
    const batcher = new SerialBatcher(held.run, 3);
    const answers = [batcher.submit(['a']), batcher.submit(['b', 'c']), batcher.submit(['d', 'e']), batcher.submit(['f', 'g', 'h', 'i'])];
    for (let i = 0; i < 4; i++) {
      await settle();
      held.finish(i);
    }
    await Promise.all(answers);
    expect(held.calls).toEqual([['a'], ['b', 'c'], ['d', 'e'], ['f', 'g', 'h', 'i']]);
    expect(await answers[3]).toEqual(['r:f', 'r:g', 'r:h', 'r:i']);
  });

  it('fails every call of a shared run with its error, and goes on with the next', async () => {
    const held = heldRun();
    const batcher = new SerialBatcher(held.run, 10);
    const first = batcher.submit(['a']);
    const second = batcher.submit(['b']);
    const third = batcher.submit(['c']);
    held.finish(0, new Error('store down'));
    await expect(first).rejects.toThrow('store down');
    await settle();
    held.finish(1, new Error('still down'));
    await expect(second).rejects.toThrow('still down');
    await expect(third).rejects.toThrow('still down');
    const fourth = batcher.submit(['d']);
    expect(held.calls).toEqual([['a'], ['b', 'c'], ['d']]);
    held.finish(2);
    expect(await fourth).toEqual(['r:d']);
  });

  it('fails the calls of a run that throws before it returns a promise', async () => {
    const batcher = new SerialBatcher<string, string>(() => {
      throw new Error('bad arguments');
    }, 10);
    await expect(batcher.submit(['a'])).rejects.toThrow('bad arguments');
    await expect(batcher.submit(['b'])).rejects.toThrow('bad arguments');
  });
});
