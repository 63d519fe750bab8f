/* Generated from the dispatcher's OpenAPI document by `node scripts/openapi.js types`; do not edit. */
export interface paths {
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Each dependency's status and latency */
        get: operations["getHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Alive */
        get: operations["getLiveness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["getOpenApi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Ready for traffic */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The ingress replicas alive now (current heartbeat) and the devices on each, and the dispatchers alive now */
        get: operations["getCluster"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/commands": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Command history: queued, in-flight and finished commands within retention, newest enqueue first */
        get: operations["listCommands"];
        put?: never;
        /** Enqueue one command */
        post: operations["enqueueCommand"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/commands/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read a command (long-poll with waitMs) */
        get: operations["getCommand"];
        put?: never;
        post?: never;
        /** Cancel a command that is still queued */
        delete: operations["cancelCommand"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/commands/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A command's events in order: queued, each delivery (with its replica), retries, the outcome */
        get: operations["getCommandEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/commands/batch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Enqueue up to 1000 commands; each item answers on its own (with waitMs: once every one is terminal or the wait passes) */
        post: operations["enqueueCommands"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/dead-letters": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Dead letters, oldest death first, filtered and paged */
        get: operations["listDeadLetters"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/dead-letters/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete one dead letter */
        delete: operations["deleteDeadLetter"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/dead-letters/purge": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Delete dead letters for good: these ids, all, or those a filter selects */
        post: operations["purgeDeadLetters"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/dead-letters/replay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Requeue dead letters (attempts reset): these ids, all, or those a filter selects */
        post: operations["replayDeadLetters"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/devices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Online devices whose phyId starts with a prefix, by phyId (a bounded search, not an inventory) */
        get: operations["searchDevices"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/devices/{phyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Is the device online, on which replica, since when, and how many commands it has pending */
        get: operations["getDevice"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/devices/{phyId}/commands": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Without status or cursor: the device's pending commands in delivery order (nextCursor null). With either: its history, newest enqueue first, paged */
        get: operations["listDeviceCommands"];
        put?: never;
        post?: never;
        /** Cancel every queued command of the device (not those in flight) */
        delete: operations["cancelDeviceCommands"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/devices/{phyId}/credentials": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Provision (or replace) the device's own handshake key; the key is stored, never logged or answered */
        put: operations["provisionDeviceKey"];
        post?: never;
        /** Revert the device to the key derived from the fleet secret */
        delete: operations["revertDeviceKey"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/devices/{phyId}/revocation": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Revoke the device: every ingress replica disconnects it and refuses its handshakes until lifted */
        put: operations["revokeDevice"];
        post?: never;
        /** Lift a revocation */
        delete: operations["liftRevocation"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The live event stream (Server-Sent Events), resumable with Last-Event-ID */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Queue counts in total and per shard */
        get: operations["getStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every webhook (without secrets) */
        get: operations["listWebhooks"];
        put?: never;
        /** Create a webhook: signed POSTs (Standard Webhooks) of the events it names, from now on */
        post: operations["createWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One webhook (without its secret) */
        get: operations["getWebhook"];
        put?: never;
        post?: never;
        /** Delete a webhook (no more POSTs) */
        delete: operations["deleteWebhook"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The webhook's last 100 POSTs, newest first */
        get: operations["listWebhookDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        BatchAccepted: {
            /** @description true when an earlier command with the same idempotency key answers */
            duplicate: boolean;
            /** Format: uuid */
            id: string;
            index: number;
            /** @enum {string} */
            status: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
        };
        /** @description the problem details of this item */
        BatchFailed: {
            /**
             * @description the error code (docs/errors.md)
             * @enum {string}
             */
            code: "VALIDATION_FAILED" | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "UNSUPPORTED_MEDIA_TYPE" | "RATE_LIMITED" | "COMMAND_NOT_FOUND" | "WEBHOOK_NOT_FOUND" | "DEVICE_NOT_CONNECTED" | "STALE_EPOCH" | "LEASE_LOST" | "INVALID_STATE" | "IDEMPOTENCY_CONFLICT" | "PAYLOAD_TOO_LARGE" | "QUEUE_FULL" | "DEVICE_OFFLINE" | "INTERNAL" | "ACK_TIMEOUT" | "STORE_UNAVAILABLE" | "STORE_FULL" | "OUTCOME_UNKNOWN" | "NOT_READY";
            /** @description what went wrong this time */
            detail: string;
            errors?: {
                message: string;
                /** @description dotted path of the field (`commands.3.priority`) */
                path: string;
            }[];
            /** @description the command this error is about (IDEMPOTENCY_CONFLICT: the first command of the key; OUTCOME_UNKNOWN: the id to look up) */
            id?: string;
            index: number;
            status: number;
            /** @description the same for every answer of this code */
            title: string;
            /**
             * Format: uri-reference
             * @description urn:outbound:error:<code>
             */
            type: string;
        } & {
            [key: string]: unknown;
        };
        BatchResult: {
            accepted: number;
            failed: number;
            /** @description one per command, in request order */
            results: (components["schemas"]["BatchAccepted"] | components["schemas"]["BatchWaited"] | components["schemas"]["BatchFailed"])[];
        };
        /** @description with waitMs: the whole command as the wait left it */
        BatchWaited: {
            attempts: number;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            deliverAt: string | null;
            duplicate: boolean;
            /** Format: date-time */
            expiresAt: string;
            /** Format: uuid */
            id: string;
            index: number;
            lastError: string | null;
            maxAttempts: number;
            phyId: string;
            priority: number;
            /** @description the device's ACK bytes */
            result: string | null;
            /** @enum {string} */
            status: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
            /** Format: date-time */
            updatedAt: string;
            /**
             * @description why a queued command is not being delivered now (null: ready, or not queued)
             * @enum {string|null}
             */
            waitingFor: "device" | "backoff" | "schedule" | null;
        };
        Cluster: {
            /** @description dispatchers whose heartbeat has not lapsed, by id */
            dispatchers: {
                /** @description DISPATCHER_ID, or hostname-pid */
                id: string;
                /**
                 * Format: date-time
                 * @description its latest heartbeat (store clock)
                 */
                lastSeenAt: string;
                /** Format: date-time */
                startedAt: string;
            }[];
            replicas: {
                /** @description its internal delivery address */
                address: string;
                /** @description devices connected to it */
                devices: number;
                /** Format: date-time */
                heartbeatAt: string;
                replicaId: string;
            }[];
        };
        Command: {
            attempts: number;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            deliverAt: string | null;
            /** Format: date-time */
            expiresAt: string;
            /** Format: uuid */
            id: string;
            lastError: string | null;
            maxAttempts: number;
            phyId: string;
            priority: number;
            /** @description the device's ACK bytes */
            result: string | null;
            /** @enum {string} */
            status: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
            /** Format: date-time */
            updatedAt: string;
            /**
             * @description why a queued command is not being delivered now (null: ready, or not queued)
             * @enum {string|null}
             */
            waitingFor: "device" | "backoff" | "schedule" | null;
        };
        CommandPage: {
            items: components["schemas"]["Command"][];
            /** @description null on the last page */
            nextCursor: string | null;
        };
        CreatedWebhook: {
            /** Format: date-time */
            createdAt: string;
            /** @description why it stopped (the receiver answered 410); null while enabled */
            disabledReason: string | null;
            enabled: boolean;
            events: ("command.queued" | "command.delivered" | "command.retrying" | "command.acked" | "command.rejected" | "command.dead" | "command.expired" | "command.cancelled" | "device.online" | "device.offline")[];
            /** Format: uuid */
            id: string;
            phyIdPrefix: string | null;
            /** @description whsec_<base64>: the signing secret, answered only here */
            secret: string;
            url: string;
        };
        /** @description Which handshake key is in force for the device (never the key itself), and whether it is revoked */
        CredentialState: {
            /** @enum {string} */
            key: "provisioned" | "derived";
            revoked: boolean;
        };
        DeadLetterFilter: {
            /** @description one device */
            phyId?: string;
            /** @description a prefix of the dead letter's lastError (case-sensitive): ACK_TIMEOUT finds every ack timeout */
            reason?: string;
            /** @description died at or after this time: ISO-8601 with an offset, or epoch ms */
            since?: number | string;
            /** @description died before this time: ISO-8601 with an offset, or epoch ms */
            until?: number | string;
        };
        /** @description these ids, every dead letter, or those the filter selects */
        DeadLetterSelector: {
            ids: string[];
        } | {
            /** @enum {boolean} */
            all: true;
        } | {
            filter: components["schemas"]["DeadLetterFilter"];
        };
        Device: {
            /** Format: date-time */
            connectedSince: string | null;
            credentials: components["schemas"]["CredentialState"];
            epoch: number | null;
            online: boolean;
            pending: number;
            phyId: string;
            /** @description the ingress replica holding its connection */
            replicaId: string | null;
        };
        DeviceKey: {
            /** @description 32 bytes, base64 */
            key: string;
        };
        EnqueueRequest: {
            /**
             * @description how long one delivery waits for the device to answer
             * @default 10000
             */
            ackTimeoutMs?: number;
            /** @description when to deliver (ISO-8601 or epoch ms); not after the command expires (now + ttlMs) */
            deliverAt?: string | number;
            /** @description scoped to the device; a repeat with the same payload and parameters answers the first command, with others 409 */
            idempotencyKey?: string;
            /** @default 5 */
            maxAttempts?: number;
            /**
             * @description when the device has no live connection: `queue` stores the command to wait for it, `reject` refuses it at once (409 DEVICE_OFFLINE) and stores nothing
             * @default queue
             * @enum {string}
             */
            offline?: "queue" | "reject";
            /** @description at most 65520 bytes once decoded */
            payload: string;
            phyId: string;
            /**
             * @description 9 is delivered first
             * @default 5
             */
            priority?: number;
            /**
             * @description expires this long after it is accepted
             * @default 3600000
             */
            ttlMs?: number;
        };
        EnqueueResult: {
            /** @description true when an earlier command with the same idempotency key answers */
            duplicate: boolean;
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            status: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
        };
        Event: {
            /** @description the attempt it belongs to (1-based) */
            attempt?: number;
            /** @description absent on device events */
            commandId?: string;
            details: {
                /** @description command.queued: the command's priority */
                priority?: number;
                /** @description command.retrying, command.dead, command.rejected: why */
                reason?: string;
                /** @description command.delivered: the ingress replica that wrote it to the device */
                replica?: string;
                /** @description command.retrying: when the next attempt may go (epoch ms) */
                retryAt?: number;
            };
            /** @description unique and stable; webhooks send it as webhook-id */
            id: string;
            phyId: string;
            /** @description store clock, epoch ms */
            time: number;
            /** @enum {string} */
            type: "command.queued" | "command.delivered" | "command.retrying" | "command.acked" | "command.rejected" | "command.dead" | "command.expired" | "command.cancelled" | "device.online" | "device.offline";
        };
        Health: {
            checks: {
                [key: string]: {
                    latencyMs?: number | null;
                    /** @enum {string} */
                    status: "ok" | "degraded" | "down";
                } & {
                    [key: string]: unknown;
                };
            };
            ready: boolean;
            /** @enum {string} */
            status: "ok" | "degraded" | "down";
        };
        /** @description RFC 9457 problem details; docs/errors.md lists every code and what it means for a retry */
        Problem: {
            /**
             * @description the error code (docs/errors.md)
             * @enum {string}
             */
            code: "VALIDATION_FAILED" | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "UNSUPPORTED_MEDIA_TYPE" | "RATE_LIMITED" | "COMMAND_NOT_FOUND" | "WEBHOOK_NOT_FOUND" | "DEVICE_NOT_CONNECTED" | "STALE_EPOCH" | "LEASE_LOST" | "INVALID_STATE" | "IDEMPOTENCY_CONFLICT" | "PAYLOAD_TOO_LARGE" | "QUEUE_FULL" | "DEVICE_OFFLINE" | "INTERNAL" | "ACK_TIMEOUT" | "STORE_UNAVAILABLE" | "STORE_FULL" | "OUTCOME_UNKNOWN" | "NOT_READY";
            /** @description what went wrong this time */
            detail: string;
            /** @description field errors (400) */
            errors?: {
                message: string;
                /** @description dotted path of the field (`commands.3.priority`) */
                path: string;
            }[];
            /** @description the command this error is about (IDEMPOTENCY_CONFLICT: the first command of the key; OUTCOME_UNKNOWN: the id to look up) */
            id?: string;
            status: number;
            /** @description the same for every answer of this code */
            title: string;
            /**
             * Format: uri-reference
             * @description urn:outbound:error:<code>
             */
            type: string;
        } & {
            [key: string]: unknown;
        };
        Readiness: {
            degraded?: string[];
            down?: string[];
            /** @enum {string} */
            status: "ready" | "not_ready";
        };
        Stats: {
            shards: {
                dead: number;
                /** @description queued, waiting for backoff or deliverAt */
                delayed: number;
                inflight: number;
                pending: number;
                shard: number;
                /** @description queued, device offline */
                waitingForDevice: number;
            }[];
            total: {
                dead: number;
                /** @description queued, waiting for backoff or deliverAt */
                delayed: number;
                inflight: number;
                pending: number;
                /** @description queued, device offline */
                waitingForDevice: number;
            };
        };
        /** @description the command as the wait left it */
        WaitedCommand: {
            attempts: number;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            deliverAt: string | null;
            duplicate: boolean;
            /** Format: date-time */
            expiresAt: string;
            /** Format: uuid */
            id: string;
            lastError: string | null;
            maxAttempts: number;
            phyId: string;
            priority: number;
            /** @description the device's ACK bytes */
            result: string | null;
            /** @enum {string} */
            status: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
            /** Format: date-time */
            updatedAt: string;
            /**
             * @description why a queued command is not being delivered now (null: ready, or not queued)
             * @enum {string|null}
             */
            waitingFor: "device" | "backoff" | "schedule" | null;
        };
        Webhook: {
            /** Format: date-time */
            createdAt: string;
            /** @description why it stopped (the receiver answered 410); null while enabled */
            disabledReason: string | null;
            enabled: boolean;
            events: ("command.queued" | "command.delivered" | "command.retrying" | "command.acked" | "command.rejected" | "command.dead" | "command.expired" | "command.cancelled" | "device.online" | "device.offline")[];
            /** Format: uuid */
            id: string;
            phyIdPrefix: string | null;
            url: string;
        };
        WebhookDelivery: {
            /**
             * Format: date-time
             * @description when the POST started
             */
            at: string;
            /** @description 1 for the first POST of this event, counting up per retry */
            attempt: number;
            durationMs: number;
            error: string | null;
            eventId: string;
            /** @description the receiver's status; null when no answer came (timeout, refused) */
            statusCode: number | null;
        };
        WebhookRequest: {
            events: ("command.queued" | "command.delivered" | "command.retrying" | "command.acked" | "command.rejected" | "command.dead" | "command.expired" | "command.cancelled" | "device.online" | "device.offline")[];
            /** @description only devices whose phyId starts with this */
            phyIdPrefix?: string;
            /** Format: uri */
            url: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description ok or degraded */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description a dependency is down */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    getLiveness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description alive */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description text exposition format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
        };
    };
    getOpenApi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OpenAPI 3.1 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        openapi: string;
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            /** @description starting, draining or a dependency is down */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
    getCluster: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description live replicas and dispatchers */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Cluster"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listCommands: {
        parameters: {
            query?: {
                /** @description the nextCursor of the previous page */
                cursor?: string;
                limit?: number;
                /** @description one device */
                phyId?: string;
                /** @description enqueued at or after this time: ISO-8601 with an offset, or epoch ms */
                since?: number | string;
                status?: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
                /** @description enqueued before this time: ISO-8601 with an offset, or epoch ms */
                until?: number | string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page (it may hold fewer than limit and still have a nextCursor) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CommandPage"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    enqueueCommand: {
        parameters: {
            query?: {
                /** @description hold the answer until the command is terminal or this many ms pass */
                waitMs?: number;
            };
            header?: {
                /** @description the same as the body's idempotencyKey (either may carry it; both, differing, is a 400) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EnqueueRequest"];
            };
        };
        responses: {
            /** @description with waitMs: the command reached a terminal state */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WaitedCommand"];
                };
            };
            /** @description accepted ({id, status, duplicate}; with waitMs the full command, not yet terminal) */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnqueueResult"] | components["schemas"]["WaitedCommand"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description conflict (state, an idempotency key used for another payload, or DEVICE_OFFLINE with offline: "reject") */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getCommand: {
        parameters: {
            query?: {
                /** @description hold the answer until the command is terminal or this many ms pass */
                waitMs?: number;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the command */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Command"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    cancelCommand: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the cancelled command */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Command"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description conflict (state, an idempotency key used for another payload, or DEVICE_OFFLINE with offline: "reject") */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getCommandEvents: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the timeline */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Event"][];
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    enqueueCommands: {
        parameters: {
            query?: {
                /** @description hold the answer until the command is terminal or this many ms pass */
                waitMs?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    commands: components["schemas"]["EnqueueRequest"][];
                };
            };
        };
        responses: {
            /** @description per-item results in request order */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BatchResult"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listDeadLetters: {
        parameters: {
            query?: {
                /** @description the nextCursor of the previous page */
                cursor?: string;
                limit?: number;
                /** @description one device */
                phyId?: string;
                /** @description a prefix of the dead letter's lastError (case-sensitive): ACK_TIMEOUT finds every ack timeout */
                reason?: string;
                /** @description died at or after this time: ISO-8601 with an offset, or epoch ms */
                since?: number | string;
                /** @description died before this time: ISO-8601 with an offset, or epoch ms */
                until?: number | string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page (with a filter it may hold fewer than limit and still have a nextCursor) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CommandPage"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteDeadLetter: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        deleted: number;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    purgeDeadLetters: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeadLetterSelector"];
            };
        };
        responses: {
            /** @description how many went */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        purged: number;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    replayDeadLetters: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeadLetterSelector"];
            };
        };
        responses: {
            /** @description how many moved */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        replayed: number;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchDevices: {
        parameters: {
            query: {
                limit?: number;
                /** @description the start of the phyIds to find */
                prefix: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description matching online devices */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            /** Format: date-time */
                            connectedSince: string;
                            /** @enum {boolean} */
                            online: true;
                            phyId: string;
                            replicaId: string;
                        }[];
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description device view */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listDeviceCommands: {
        parameters: {
            query?: {
                /** @description the nextCursor of the previous page */
                cursor?: string;
                limit?: number;
                /** @description with status or cursor: the device's history (every state, newest first) instead of its pending commands */
                status?: "queued" | "inflight" | "acked" | "rejected" | "dead" | "expired" | "cancelled";
            };
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description commands */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Command"][];
                        /** @description null on the last page */
                        nextCursor: string | null;
                        phyId: string;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    cancelDeviceCommands: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description how many were cancelled */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        cancelled: number;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    provisionDeviceKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeviceKey"];
            };
        };
        responses: {
            /** @description provisioned */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        key: "provisioned";
                        phyId: string;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    revertDeviceKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description derived key in force; removed says whether a key was provisioned */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        key: "derived";
                        phyId: string;
                        removed: boolean;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    revokeDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description revoked */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        phyId: string;
                        /** @enum {boolean} */
                        revoked: true;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    liftRevocation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the device id */
                phyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description not revoked; lifted says whether a revocation was in place */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        lifted: boolean;
                        phyId: string;
                        /** @enum {boolean} */
                        revoked: false;
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    streamEvents: {
        parameters: {
            query?: {
                /** @description resume after this event id (for clients that cannot send Last-Event-ID) */
                after?: string;
                /** @description without a cursor: start at the oldest event retained instead of the head */
                from?: "oldest";
                /** @description only this device's events */
                phyId?: string;
                /** @description comma-separated event types (command.queued, command.delivered, command.retrying, command.acked, command.rejected, command.dead, command.expired, command.cancelled, device.online, device.offline); default all */
                types?: string;
            };
            header?: {
                /** @description resume right after this event (the last `id:` read) */
                "last-event-id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description text/event-stream: per event `id: <cursor>`, `event: <type>`, `data: <Event as JSON>`; a `: keepalive` comment every 15 s */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getStats: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description counts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Stats"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listWebhooks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the webhooks */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Webhook"][];
                    };
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["WebhookRequest"];
            };
        };
        responses: {
            /** @description created; the only answer that carries the secret */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedWebhook"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the webhook */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listWebhookDeliveries: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description recent attempts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["WebhookDelivery"][];
                    };
                };
            };
            /** @description invalid request (`errors` names each field) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing or unknown API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key lacks the role */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description this path does not take this method (Allow) */
            405: {
                headers: {
                    /** @description the methods this path takes */
                    Allow?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry */
            429: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After) */
            503: {
                headers: {
                    /** @description seconds to wait before retrying */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}
