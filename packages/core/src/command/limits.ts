/**
 * Every default and bound of a command, in one place: the API schema, the queue layer and the
 * docs (docs/api.md) all read these; the stores enforce none of their own.
 */

/** Defaults from the public API: what an enqueue gets for a field it leaves out. */
export const COMMAND_DEFAULTS = {
  priority: 5,
  ackTimeoutMs: 10_000,
  maxAttempts: 5,
  ttlMs: 3_600_000,
} as const;

/** Bounds on what a caller may ask for; anything outside is a 400 naming the field. */
export const COMMAND_LIMITS = {
  priorityMin: 0,
  priorityMax: 9,
  ackTimeoutMsMin: 100,
  ackTimeoutMsMax: 300_000,
  maxAttemptsMin: 1,
  maxAttemptsMax: 100,
  ttlMsMin: 1,
  ttlMsMax: 7 * 24 * 3_600_000,
  idempotencyKeyMaxLength: 200,
  /** Matches the wire protocol's default maxFrameBytes less the 16-byte command id. */
  payloadMaxBytes: 65_536 - 16,
} as const;

/**
 * The longest base64 text that can decode to payloadMaxBytes: a payload field longer than this
 * is refused on its length alone, before its content is looked at (a multi-megabyte string
 * never reaches the base64 check).
 */
export const PAYLOAD_MAX_BASE64_CHARS = Math.ceil(COMMAND_LIMITS.payloadMaxBytes / 3) * 4;

/** phyId as the wire protocol allows it: 1–64 bytes of `[A-Za-z0-9._:-]`. */
export const PHY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const PHY_ID_MESSAGE = 'must be 1-64 characters of A-Z a-z 0-9 . _ : -';
