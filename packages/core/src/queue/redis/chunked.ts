/**
 * Calls `step` (a script that handles at most `chunk` items per call, answering how many it
 * handled) until a call handles fewer than `chunk`; answers the total. Each call is atomic on
 * its own, so a long job never holds Redis for more than one chunk.
 */
export async function repeatUntilShort(chunk: number, step: (chunk: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step(chunk);
    total += n;
    if (n < chunk) return total;
  }
}
