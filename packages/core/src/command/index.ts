/** The command schema and its limits, with the coded errors they raise. */
export * from '../errors';
export * from './limits';
export * from './types';
export * from './schema';
export { enqueueFingerprint } from './idempotency';
