-- 0007: the W3C traceparent of the request that enqueued a command (written only while tracing
-- is on), so the dispatcher's claim and delivery join the request's trace.
ALTER TABLE commands ADD COLUMN trace_context text;
