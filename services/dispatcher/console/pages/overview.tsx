import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { api, type EventType, type OutboundEvent } from '../api';
import { Card, ErrorNote, Sparkline, StreamBadge, Timeline } from '../components';
import { formatCount, formatDateTime, formatRate } from '../format';
import { useEvents, useInterval, useLoad } from '../hooks';

interface Counts {
  pending: number;
  inflight: number;
  delayed: number;
  waitingForDevice: number;
  dead: number;
}

interface Cluster {
  replicas: Array<{ replicaId: string; address: string; heartbeatAt: string; devices?: number }>;
  /** Absent from a dispatcher of an older release (during a rolling upgrade). */
  dispatchers?: Array<{ id: string; startedAt: string; lastSeenAt: string }>;
}

/** Seconds of history the chart keeps, and the window the "per second" rates average over. */
const HISTORY_S = 180;
const RATE_WINDOW_S = 10;

const zeros = () => new Array<number>(HISTORY_S).fill(0);

/** Counted for the rates, and shown in the feed of notable events. */
const NOTABLE: EventType[] = ['command.dead', 'command.rejected', 'command.expired', 'device.online', 'device.offline'];
const STREAMED: EventType[] = ['command.queued', 'command.acked', ...NOTABLE];
const FEED_LENGTH = 12;

/** Enqueued and acked per second (counted from the live stream), queue depth, dead letters, replicas and dispatchers. */
export function Overview(): JSX.Element {
  const stats = useLoad((signal) => api<{ total: Counts }>('/v1/stats', { signal }), []);
  const cluster = useLoad((signal) => api<Cluster>('/v1/cluster', { signal }), []);
  useInterval(stats.reload, 5_000);
  useInterval(cluster.reload, 10_000);

  // Counts of the current second, folded into the history once a second.
  const current = useRef({ queued: 0, acked: 0 });
  const [history, setHistory] = useState({ queued: zeros(), acked: zeros() });
  const [feed, setFeed] = useState<OutboundEvent[]>([]);
  const stream = useEvents({ types: STREAMED }, (event) => {
    if (event.type === 'command.queued') current.current.queued += 1;
    else if (event.type === 'command.acked') current.current.acked += 1;
    else setFeed((events) => [event, ...events].slice(0, FEED_LENGTH));
  });
  useInterval(() => {
    const { queued, acked } = current.current;
    current.current = { queued: 0, acked: 0 };
    setHistory((h) => ({ queued: [...h.queued.slice(1), queued], acked: [...h.acked.slice(1), acked] }));
  }, 1_000);
  const rate = (values: number[]) => values.slice(-RATE_WINDOW_S).reduce((a, b) => a + b, 0) / RATE_WINDOW_S;

  const total = stats.data?.total;
  const depth = total ? total.pending + total.inflight + total.delayed + total.waitingForDevice : null;
  const replicas = cluster.data?.replicas ?? [];
  const devicesOnline = replicas.length > 0 && replicas.every((r) => r.devices !== undefined) ? replicas.reduce((sum, r) => sum + (r.devices ?? 0), 0) : null;

  return (
    <>
      <div class="page-head">
        <h1>Overview</h1>
        <StreamBadge state={stream.state} detail={stream.detail} />
      </div>
      <div class="grid">
        <Card title="Throughput">
          <dl class="figures">
            <div>
              <dt>Enqueued /s</dt>
              <dd data-testid="rate-queued">{formatRate(rate(history.queued))}</dd>
            </div>
            <div>
              <dt>Acked /s</dt>
              <dd data-testid="rate-acked">{formatRate(rate(history.acked))}</dd>
            </div>
          </dl>
          <Sparkline
            label={`Commands enqueued and acked per second over the last ${HISTORY_S / 60} minutes`}
            series={[
              { name: 'enqueued', values: history.queued, className: 'series-a' },
              { name: 'acked', values: history.acked, className: 'series-b' },
            ]}
          />
        </Card>
        <Card title="Queue">
          <ErrorNote error={stats.error} />
          <dl class="figures">
            <div>
              <dt>In the queue</dt>
              <dd data-testid="depth">{formatCount(depth)}</dd>
            </div>
            <div>
              <dt>Ready</dt>
              <dd>{formatCount(total?.pending)}</dd>
            </div>
            <div>
              <dt>In flight</dt>
              <dd>{formatCount(total?.inflight)}</dd>
            </div>
            <div>
              <dt>Delayed</dt>
              <dd>{formatCount(total?.delayed)}</dd>
            </div>
            <div>
              <dt>Device offline</dt>
              <dd>{formatCount(total?.waitingForDevice)}</dd>
            </div>
            <div>
              <dt>Dead letters</dt>
              <dd data-testid="dead">{formatCount(total?.dead)}</dd>
            </div>
          </dl>
        </Card>
        <Card title="Cluster">
          <ErrorNote error={cluster.error} />
          <dl class="figures">
            <div>
              <dt>Ingress replicas alive</dt>
              <dd data-testid="replicas">{cluster.data ? formatCount(replicas.length) : '—'}</dd>
            </div>
            <div>
              <dt>Dispatchers alive</dt>
              <dd data-testid="dispatchers">{formatCount(cluster.data?.dispatchers?.length)}</dd>
            </div>
            <div>
              <dt>Devices online</dt>
              <dd data-testid="devices-online">{formatCount(devicesOnline)}</dd>
            </div>
          </dl>
          {replicas.length > 0 && (
            <div class="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Replica</th>
                    <th scope="col" class="num">Devices</th>
                    <th scope="col">Last heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {replicas.map((r) => (
                    <tr key={r.replicaId}>
                      <td class="mono">{r.replicaId}</td>
                      <td class="num">{formatCount(r.devices)}</td>
                      <td class="nowrap">{formatDateTime(r.heartbeatAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
      <Card title="Notable events (dead, rejected, expired, devices on and off), newest first" wide>
        <Timeline events={feed} empty="None since this page opened." feed />
        <p class="visually-hidden" role="status">
          {feed[0] ? `${feed[0].type}, ${feed[0].phyId}` : ''}
        </p>
      </Card>
    </>
  );
}
