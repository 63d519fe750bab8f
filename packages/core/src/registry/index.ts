export * from './route-registry';
export * from './credential-store';
export * from './redis-route-registry';
export * from './postgres-route-registry';
