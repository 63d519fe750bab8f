export { startIngress, type IngressHandle } from './ingress';
export { loadIngressConfig, ingressConfigSchema, idleTimeoutMs, type IngressConfig } from './config';
export { createIngressApp, type IngressAppOptions } from './app';
export { IngressMetrics } from './metrics';
export type { DeliveryRequest } from './delivery-tracker';
export type { DeliveryAnswer } from '@outbound/core/delivery';
