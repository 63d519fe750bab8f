/**
 * The payload the fault suite's load driver sends: `chaos:<seq>:<priority>`. The device
 * process reads the enqueue sequence back from the COMMAND bytes, so the order check needs
 * nothing from the stores.
 */
export function chaosPayload(seq: number, priority: number): string {
  return Buffer.from(`chaos:${seq}:${priority}`).toString('base64');
}

/** seq and priority of a COMMAND payload; -1 for both when it is not one the driver sent. */
export function parseChaosPayload(payload: Buffer): { seq: number; priority: number } {
  const match = /^chaos:(\d+):(\d+)$/.exec(payload.toString('utf8'));
  return match ? { seq: Number(match[1]), priority: Number(match[2]) } : { seq: -1, priority: -1 };
}
