import { COMMAND_ID_BYTES } from './constants';

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True for UUID text (any version, either case), the form command ids take outside the wire. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Writes the 16 bytes of UUID text `id` into `target` at `offset`; RangeError if `id` is not a UUID. */
export function writeCommandId(id: string, target: Buffer, offset: number): void {
  if (!UUID_PATTERN.test(id)) throw new RangeError(`command id must be UUID text, got ${JSON.stringify(id)}`);
  // Buffer.write('hex') stops at the first non-hex character, so write the five groups.
  target.write(id.slice(0, 8), offset, 'hex');
  target.write(id.slice(9, 13), offset + 4, 'hex');
  target.write(id.slice(14, 18), offset + 6, 'hex');
  target.write(id.slice(19, 23), offset + 8, 'hex');
  target.write(id.slice(24, 36), offset + 10, 'hex');
}

/** Reads 16 bytes at `offset` as lowercase UUID text. */
export function readCommandId(source: Buffer, offset: number): string {
  const hex = source.toString('hex', offset, offset + COMMAND_ID_BYTES);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
