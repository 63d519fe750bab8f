export { startIngress, type IngressHandle } from './ingress';
export { loadIngressConfig, ingressConfigSchema, idleTimeoutMs, type IngressConfig } from './config';
export { createIngressApp, type IngressAppOptions } from './app';
export { IngressMetrics } from './metrics';
export type { DeliveryAnswer, DeliveryRequest } from './delivery-tracker';
