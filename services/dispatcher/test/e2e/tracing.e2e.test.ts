import { SimulatedDevice, type ReceivedCommand } from '@outbound/cli';
import { createTestDatabase, testRedisUrl, uniquePrefix, waitFor, type TestDatabase } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from '../../../ingress/test/support/ingress-process';
import { INTERNAL_TOKEN, SEND_KEY, as } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { startOtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { BACKENDS, DEVICE_SECRET } from './support/stack';

/**
 * Both services run as built processes (the OTLP exporter sends with Node's own http module,
 * which it loads in a way jest's module sandbox does not support), configured through the
 * standard OpenTelemetry variables, exporting JSON over HTTP to a real receiver in this test.
 */
describe.each(BACKENDS)('one trace per command across both services (%s)', (backend) => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let database: TestDatabase | null = null;
  let ingress: IngressProcess | undefined;
  let dispatcher: DispatcherProcess | undefined;
  let device: SimulatedDevice | undefined;
  const stopServices = async () => {
    await device?.close();
    if (dispatcher && dispatcher.child.exitCode === null && dispatcher.child.signalCode === null) {
      dispatcher.child.kill('SIGTERM');
      await dispatcher.exited;
    }
    await ingress?.stop();
  };

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const prefix = uniquePrefix('otel');
    let store: Record<string, string> = { QUEUE_BACKEND: 'redis' };
    if (backend === 'postgres') {
      database = await createTestDatabase('otel');
      store = { QUEUE_BACKEND: 'postgres', DATABASE_URL: database.url };
    }
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
    ingress = await startIngressProcess({ ...store, ...otel, REGISTRY_PREFIX: prefix, INGRESS_REPLICA_ID: 'replica-0', DEVICE_AUTH_SECRETS: DEVICE_SECRET, INTERNAL_TOKEN });
    dispatcher = await spawnDispatcher(testRedisUrl(), prefix, { ...store, ...otel, LOG_LEVEL: 'info', QUEUE_BACKOFF_BASE_MS: '100' });
  }, 60_000);
  afterAll(async () => {
    await stopServices();
    await receiver.close();
    await database?.drop();
  });

  it('joins the request, the enqueue, each attempt, the internal hop, the device write and ACK, and each recorded outcome', async () => {
    device = new SimulatedDevice({ host: '127.0.0.1', port: ingress!.tcpPort, phyId: 'OTEL-1', secret: DEVICE_SECRET, busyRate: 1 });
    // BUSY once: the first COMMAND is answered BUSY, every later one OK, so the command takes two attempts.
    device.once('command', (_c: ReceivedCommand) => device!.setBehaviour({ busyRate: 0 }));
    await device.connect();

    const res = await fetch(`${dispatcher!.url}/v1/commands?waitMs=15000`, {
      method: 'POST',
      headers: { ...as(SEND_KEY), 'content-type': 'application/json', 'x-request-id': 'otel-req-1' },
      body: JSON.stringify({ phyId: 'OTEL-1', payload: Buffer.from('x').toString('base64'), maxAttempts: 3 }),
    });
    const body = (await res.json()) as { id: string; status: string; attempts: number };
    // Status and body in one assertion: a failure shows the error code and message too.
    expect({ httpStatus: res.status, body }).toMatchObject({ httpStatus: 200, body: { status: 'acked', attempts: 2 } });
    const id = body.id;

    // Stopping (SIGTERM) flushes each service's buffered spans to the receiver.
    await stopServices();

    // The transition lines name the trace: from the request id to the trace id; every attempt's line carries it.
    const lines = dispatcher!.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const accepted = lines.find((l) => l.msg === 'command accepted' && l.requestId === 'otel-req-1');
    const traceId = accepted?.traceId as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const attemptLines = lines.filter((l) => (l.msg === 'attempt failed' || l.msg === 'command delivered') && l.commandId === id);
    expect(attemptLines.map((l) => [l.attempt, l.traceId])).toEqual([[1, traceId], [2, traceId]]);

    const inTrace = (): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId);
    const named = (name: string) => inTrace().filter((s) => s.name === name);
    await waitFor(() => named('outbound.device.deliver').length === 2 && named('outbound.record').length === 2, { what: 'both services\' spans at the receiver' });

    const spans = inTrace();
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['outbound-dispatcher', 'outbound-ingress']));
    const [server] = named('POST /v1/commands');
    expect(server).toMatchObject({ service: 'outbound-dispatcher', parentSpanId: '', attributes: expect.objectContaining({ 'outbound.request_id': 'otel-req-1', 'http.response.status_code': 200 }) });
    const [enqueue] = named('outbound.enqueue');
    expect(enqueue).toMatchObject({ parentSpanId: server!.spanId, attributes: expect.objectContaining({ 'outbound.command_id': id }) });

    const attempts = named('outbound.attempt').sort((a, b) => Number(a.attributes['outbound.attempt']) - Number(b.attributes['outbound.attempt']));
    expect(attempts.map((a) => [a.attributes['outbound.attempt'], a.attributes['outbound.outcome'], a.attributes['outbound.replica_id'], a.attributes['outbound.command_id'], a.parentSpanId])).toEqual([
      [1, 'busy', 'replica-0', id, enqueue!.spanId],
      [2, 'ok', 'replica-0', id, enqueue!.spanId],
    ]);
    for (const [i, attempt] of attempts.entries()) {
      const children = spans.filter((s) => s.parentSpanId === attempt.spanId);
      expect(children.map((s) => `${s.service} ${s.name}`).sort()).toEqual(['outbound-dispatcher outbound.claim', 'outbound-dispatcher outbound.record', 'outbound-ingress outbound.device.deliver']);
      const hop = children.find((s) => s.name === 'outbound.device.deliver')!;
      expect(hop.attributes).toMatchObject({ 'outbound.command_id': id, 'outbound.replica_id': 'replica-0', 'outbound.outcome': i === 0 ? 'busy' : 'ok' });
      expect(hop.events).toEqual(['command written to the device socket', 'ack received']);
    }
  });
});
