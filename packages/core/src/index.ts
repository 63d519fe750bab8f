/**
 * Everything at once. A service that needs only part should import its subpath instead
 * (`@outbound/core/protocol`, `/command`, `/queue`, `/registry`, `/service`, `/postgres`):
 * this barrel loads ioredis, pg, express and convict whatever the caller uses.
 */
export * from './errors';
export * from './command';
export * from './delivery';
export * from './queue';
export * from './registry';
export * from './service';
export * from './protocol';
export * from './postgres';
