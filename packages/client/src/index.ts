/**
 * @outbound/client: a typed client of the Outbound dispatcher API. The request and answer types
 * are generated from the dispatcher's OpenAPI document (src/generated/openapi.ts).
 */
export {
  OutboundClient, isTerminal, COMMAND_STATUSES, TERMINAL_STATUSES,
  type OutboundClientOptions, type ListOptions, type SendCommand, type Command, type CommandStatus, type EnqueueRequest, type EnqueueResult,
  type WaitedCommand, type BatchResult, type BatchAccepted, type BatchWaited, type BatchFailed, type Device, type Stats, type CommandPage, type DeadLetterSelector,
} from './client';
export { OutboundApiError, type ApiErrorCode, type ClientErrorCode, type FieldError, type Problem } from './errors';
export { EVENT_TYPES, type EventType, type OutboundEvent, type StreamedEvent, type EventsOptions } from './events';
export { verifyWebhook, WebhookVerificationError, type WebhookHeaders, type WebhookPayload } from './webhooks';
export type { components, paths, operations } from './generated/openapi';
