import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query, type Command as CommandView, type OutboundEvent, type Page } from '../api';
import { Card, CommandTable, ErrorNote, Status, StreamBadge, Timeline } from '../components';
import { ConfirmButton } from '../confirm';
import { formatDateTime } from '../format';
import { useEvents, useInterval, useLoad } from '../hooks';
import { Link, navigate } from '../router';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const STATUSES: Array<CommandView['status'] | ''> = ['', 'queued', 'inflight', 'acked', 'rejected', 'dead', 'expired', 'cancelled'];

/** Look a command up by id, or browse the latest (history within retention, newest first). */
export function CommandLookup(): JSX.Element {
  const [id, setId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const recent = useLoad((signal) => api<Page<CommandView>>(`/v1/commands${query({ status, limit: 25 })}`, { signal }), [status]);
  const historyMissing = recent.error instanceof ApiError && (recent.error.status === 404 || recent.error.status === 405);
  const submit = (event: Event) => {
    event.preventDefault();
    const value = id.trim();
    if (!UUID.test(value)) {
      setError('A command id is a UUID, e.g. 0b6f2c1e-3f5d-4c4a-9a53-2f0e8f0f7a11.');
      return;
    }
    navigate(`/commands/${value.toLowerCase()}`);
  };
  return (
    <>
      <h1>Commands</h1>
      <form class="toolbar" onSubmit={submit} role="search">
        <label for="command-id">Command id</label>
        <input id="command-id" value={id} onInput={(e) => setId(e.currentTarget.value)} spellcheck={false} required aria-invalid={error ? true : undefined} />
        <button type="submit">Open</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <Card title="Latest commands" wide>
        <div class="toolbar">
          <label for="history-status">Status</label>
          <select id="history-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </div>
        {historyMissing ? <p class="muted">Command history is not offered by this dispatcher.</p> : <ErrorNote error={recent.error} />}
        {recent.data && <CommandTable items={recent.data.items} empty="No commands within retention." showDevice showError />}
      </Card>
    </>
  );
}

const TERMINAL = new Set(['acked', 'rejected', 'dead', 'expired', 'cancelled']);

/** One command: its state and its timeline, which fills in live from the device's event stream. */
export function Command({ id }: { id: string }): JSX.Element {
  const command = useLoad((signal) => api<CommandView>(`/v1/commands/${id}`, { signal }), [id]);
  const timeline = useLoad((signal) => api<{ items: OutboundEvent[] }>(`/v1/commands/${id}/events`, { signal }), [id]);
  const [live, setLive] = useState<OutboundEvent[]>([]);
  const [failure, setFailure] = useState<Error | null>(null);
  const phyId = command.data?.phyId;
  const stream = useEvents({ phyId, enabled: phyId !== undefined }, (event) => {
    if (event.commandId !== id) return;
    setLive((events) => (events.some((e) => e.id === event.id) ? events : [...events, event]));
    command.reload();
  });

  // Events written between the first fetch and the stream's start are in the log: fetch again once live.
  useEffect(() => {
    if (stream.state === 'live') timeline.reload();
  }, [stream.state, timeline.reload]);

  // Without the live stream, poll until the command is finished.
  useInterval(() => {
    if (stream.state === 'live' || (command.data && TERMINAL.has(command.data.status))) return;
    command.reload();
    timeline.reload();
  }, 5_000);

  // The fetched timeline, then what the stream brought since (each event once).
  const fetched = timeline.data?.items ?? [];
  const seen = new Set(fetched.map((e) => e.id));
  const events = [...fetched, ...live.filter((e) => !seen.has(e.id))];
  const c = command.data;
  const notFound = command.error instanceof ApiError && command.error.status === 404;

  return (
    <>
      <div class="page-head">
        <h1>
          Command <span class="mono">{id}</span>
        </h1>
        {phyId !== undefined && <StreamBadge state={stream.state} detail={stream.detail} />}
      </div>
      {notFound ? (
        <p class="error" role="alert">
          No command {id}: it never existed or its retention ran out.
        </p>
      ) : (
        <ErrorNote error={command.error} />
      )}
      <ErrorNote error={failure} />
      {c && (
        <div class="grid">
          <Card title="State">
            <dl class="facts">
              <dt>Status</dt>
              <dd data-testid="command-status">
                <Status status={c.status} />
                {c.waitingFor ? <span class="muted"> ({c.waitingFor})</span> : null}
              </dd>
              <dt>Device</dt>
              <dd class="mono">
                <Link href={`/devices/${encodeURIComponent(c.phyId)}`}>{c.phyId}</Link>
              </dd>
              <dt>Priority</dt>
              <dd class="num-inline">{c.priority}</dd>
              <dt>Attempts</dt>
              <dd class="num-inline">
                {c.attempts} of {c.maxAttempts}
              </dd>
              <dt>Created</dt>
              <dd>{formatDateTime(c.createdAt)}</dd>
              <dt>Updated</dt>
              <dd>{formatDateTime(c.updatedAt)}</dd>
              <dt>Expires</dt>
              <dd>{formatDateTime(c.expiresAt)}</dd>
              {c.deliverAt && (
                <>
                  <dt>Deliver at</dt>
                  <dd>{formatDateTime(c.deliverAt)}</dd>
                </>
              )}
              <dt>Last error</dt>
              <dd class="wrap">{c.lastError ?? '—'}</dd>
            </dl>
          </Card>
          <Card title="Actions">
            <div class="actions">
              <ConfirmButton
                label="Cancel command"
                confirm="Confirm: cancel it"
                danger
                disabled={c.status !== 'queued'}
                onConfirm={async () => {
                  setFailure(null);
                  try {
                    await api(`/v1/commands/${id}`, { method: 'DELETE' });
                  } catch (reason) {
                    setFailure(reason instanceof Error ? reason : new Error(String(reason)));
                  }
                  command.reload();
                  timeline.reload();
                }}
              />
            </div>
            {c.status !== 'queued' && <p class="muted">{TERMINAL.has(c.status) ? 'Finished: nothing to cancel.' : 'Only a queued command can be cancelled.'}</p>}
          </Card>
        </div>
      )}
      {!notFound && (
        <Card title="Timeline" wide>
          <ErrorNote error={timeline.error} />
          <Timeline events={events} empty={timeline.loading ? 'Loading…' : 'No events yet.'} timings />
        </Card>
      )}
    </>
  );
}
