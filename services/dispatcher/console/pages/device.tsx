import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, query, type Command, type Page } from '../api';
import { Card, CommandTable, ErrorNote, StreamBadge } from '../components';
import { ConfirmButton } from '../confirm';
import { formatCount, formatDateTime } from '../format';
import { useEvents, useInterval, useLoad } from '../hooks';

interface DeviceView {
  phyId: string;
  online: boolean;
  replicaId: string | null;
  epoch: number | null;
  connectedSince: string | null;
  pending: number;
  credentials: { key: 'provisioned' | 'derived'; revoked: boolean };
}

/** One device: its connection, its queue in delivery order, recent history and the admin actions, kept current by the live stream. */
export function Device({ phyId }: { phyId: string }): JSX.Element {
  const device = useLoad((signal) => api<DeviceView>(`/v1/devices/${encodeURIComponent(phyId)}`, { signal }), [phyId]);
  const queue = useLoad((signal) => api<Page<Command>>(`/v1/devices/${encodeURIComponent(phyId)}/commands${query({ limit: 100 })}`, { signal }), [phyId]);
  const history = useLoad((signal) => api<Page<Command>>(`/v1/commands${query({ phyId, limit: 20 })}`, { signal }), [phyId]);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);

  // Events arrive in bursts: one reload per burst.
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const reloadAll = () => {
    device.reload();
    queue.reload();
    history.reload();
  };
  const stream = useEvents({ phyId }, () => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      reloadAll();
    }, 300);
  });

  // What happened before the stream started is in the answers fetched after it did: reload once live.
  useEffect(() => {
    if (stream.state === 'live') reloadAll();
  }, [stream.state]);

  // Without the live stream, poll instead. With it, still refresh the connection every 5 s: the
  // event log has device.online/offline only for devices with commands waiting for them, and a
  // revocation's disconnect lands on the replica a moment after the API answered.
  useInterval(() => {
    if (stream.state !== 'live') reloadAll();
    else device.reload();
  }, 5_000);

  const act = async (work: () => Promise<string>) => {
    setFailure(null);
    try {
      setNotice(await work());
    } catch (reason) {
      setFailure(reason instanceof Error ? reason : new Error(String(reason)));
    }
    reloadAll();
  };
  const path = `/v1/devices/${encodeURIComponent(phyId)}`;
  const d = device.data;
  const historyMissing = history.error instanceof ApiError && (history.error.status === 404 || history.error.status === 405);

  return (
    <>
      <div class="page-head">
        <h1>
          Device <span class="mono">{phyId}</span>
        </h1>
        <StreamBadge state={stream.state} detail={stream.detail} />
      </div>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorNote error={failure} />
      <div class="grid">
        <Card title="Connection">
          <ErrorNote error={device.error} />
          <dl class="facts">
            <dt>State</dt>
            <dd data-testid="device-state">{d ? <span class={d.online ? 'status status-online' : 'status status-offline'}>{d.online ? 'online' : 'offline'}</span> : '—'}</dd>
            <dt>Replica</dt>
            <dd class="mono" data-testid="device-replica">{d?.replicaId ?? '—'}</dd>
            <dt>Connected since</dt>
            <dd data-testid="connected-since">{formatDateTime(d?.connectedSince)}</dd>
            <dt>Connection epoch</dt>
            <dd class="num-inline">{d?.epoch ?? '—'}</dd>
            <dt>Pending commands</dt>
            <dd class="num-inline">{formatCount(d?.pending)}</dd>
            <dt>Credentials</dt>
            <dd data-testid="credentials">{d ? `${d.credentials.key} key${d.credentials.revoked ? ', revoked' : ''}` : '—'}</dd>
          </dl>
        </Card>
        <Card title="Actions">
          <div class="actions">
            <ConfirmButton
              label="Cancel all queued"
              confirm="Confirm: cancel every queued command"
              danger
              onConfirm={() => act(async () => `Cancelled ${(await api<{ cancelled: number }>(`${path}/commands`, { method: 'DELETE' })).cancelled} queued command(s).`)}
            />
            {d?.credentials.revoked ? (
              <ConfirmButton label="Lift revocation" confirm="Confirm: let the device connect again" onConfirm={() => act(async () => (await api(`${path}/revocation`, { method: 'DELETE' }), 'Revocation lifted: the device may connect again.'))} />
            ) : (
              <ConfirmButton
                label="Revoke credentials"
                confirm="Confirm: disconnect and refuse this device"
                danger
                disabled={!d}
                onConfirm={() => act(async () => (await api(`${path}/revocation`, { method: 'PUT' }), 'Revoked: every replica disconnects the device and refuses its handshakes.'))}
              />
            )}
          </div>
        </Card>
      </div>
      <Card title="Queue (delivery order)" wide>
        <ErrorNote error={queue.error} />
        {queue.data && <CommandTable items={queue.data.items} empty="Nothing queued or in flight." />}
      </Card>
      <Card title="Recent history" wide>
        {historyMissing ? <p class="muted">Command history is not offered by this dispatcher.</p> : <ErrorNote error={history.error} />}
        {history.data && <CommandTable items={history.data.items} empty="No commands within retention." showError />}
      </Card>
    </>
  );
}
