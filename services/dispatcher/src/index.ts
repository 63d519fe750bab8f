export { startDispatcher, type RunningDispatcher } from './dispatcher';
export { loadDispatcherConfig, dispatcherConfigSchema, parseApiKeys, type DispatcherConfig, type ApiRole } from './config';
export { createBackend, type Backend } from './backend';
export { createApp, type AppDeps } from './app';
export { openApiDocument, buildOpenApiDocument, DEFAULT_API_LIMITS, type OpenApiDocument } from './openapi';
export { DispatchLoop, verdictFor, type DispatchLoopState } from './dispatch-loop';
export { DeliveryClient, type Delivery, type DeliveryAnswer } from './delivery-client';
