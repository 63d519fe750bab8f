import type { ComponentChildren, JSX } from 'preact';
import type { Command, OutboundEvent, StreamState } from './api';
import { formatDateTime, formatDuration, formatTime } from './format';
import { Link } from './router';

/** A message the page shows in place of content that failed; role=alert so a screen reader says it. */
export function ErrorNote({ error }: { error: Error | null | undefined }): JSX.Element | null {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
    </p>
  );
}

export function StreamBadge({ state, detail }: { state: StreamState; detail?: string }): JSX.Element {
  const label = { connecting: 'connecting…', live: 'live', retrying: 'reconnecting…', unavailable: 'live stream unavailable' }[state];
  return (
    <span class={`badge stream-${state}`} title={detail} data-stream={state}>
      {label}
    </span>
  );
}

/** Two series over the same time axis, drawn as SVG polylines; the box size never changes. */
export function Sparkline({ series, label }: { series: Array<{ name: string; values: number[]; className: string }>; label: string }): JSX.Element {
  const width = 600;
  const height = 80;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const points = (values: number[]) =>
    values.map((v, i) => `${((i / Math.max(1, values.length - 1)) * width).toFixed(1)},${(height - (v / max) * (height - 4) - 2).toFixed(1)}`).join(' ');
  return (
    <figure class="sparkline">
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label}>
        {series.map((s) => (
          <polyline key={s.name} class={s.className} points={points(s.values)} fill="none" vector-effect="non-scaling-stroke" />
        ))}
      </svg>
      <figcaption>
        {series.map((s) => (
          <span key={s.name} class={`legend ${s.className}`}>
            {s.name}
          </span>
        ))}
        <span class="legend-scale">peak {max}/s</span>
      </figcaption>
    </figure>
  );
}

export function Status({ status }: { status: string }): JSX.Element {
  return <span class={`status status-${status}`}>{status}</span>;
}

/** Commands as a table; `select` adds a checkbox column. Wide tables scroll inside their box on a phone. */
export function CommandTable(props: {
  items: Command[];
  empty: string;
  select?: { selected: Set<string>; toggle: (id: string) => void; toggleAll: (on: boolean) => void };
  showDevice?: boolean;
  showError?: boolean;
}): JSX.Element {
  const { items, select } = props;
  if (items.length === 0) return <p class="empty">{props.empty}</p>;
  const allOn = select !== undefined && items.every((c) => select.selected.has(c.id));
  return (
    <div class="table-scroll">
      <table>
        <thead>
          <tr>
            {select && (
              <th scope="col" class="check">
                <input type="checkbox" aria-label="Select all shown" checked={allOn} onChange={(e) => select.toggleAll(e.currentTarget.checked)} />
              </th>
            )}
            <th scope="col">Command</th>
            {props.showDevice && <th scope="col">Device</th>}
            <th scope="col">Status</th>
            <th scope="col" class="num">Prio</th>
            <th scope="col" class="num">Attempts</th>
            <th scope="col">Created</th>
            {props.showError && <th scope="col">Last error</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id}>
              {select && (
                <td class="check">
                  <input type="checkbox" aria-label={`Select ${c.id}`} checked={select.selected.has(c.id)} onChange={() => select.toggle(c.id)} />
                </td>
              )}
              <td class="mono">
                <Link href={`/commands/${c.id}`}>{c.id.slice(0, 8)}</Link>
              </td>
              {props.showDevice && (
                <td class="mono">
                  <Link href={`/devices/${encodeURIComponent(c.phyId)}`}>{c.phyId}</Link>
                </td>
              )}
              <td>
                <Status status={c.status} />
                {c.waitingFor ? <span class="muted"> ({c.waitingFor})</span> : null}
              </td>
              <td class="num">{c.priority}</td>
              <td class="num">
                {c.attempts}/{c.maxAttempts}
              </td>
              <td class="nowrap">{formatDateTime(c.createdAt)}</td>
              {props.showError && <td class="wrap">{c.lastError ?? '—'}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function eventDetail(event: OutboundEvent): string {
  const parts: string[] = [];
  if (event.attempt !== undefined) parts.push(`attempt ${event.attempt}`);
  if (event.details.replica) parts.push(`via ${event.details.replica}`);
  if (event.details.reason) parts.push(event.details.reason);
  if (event.details.retryAt !== undefined) parts.push(`next try ${formatTime(event.details.retryAt)}`);
  if (event.details.priority !== undefined) parts.push(`priority ${event.details.priority}`);
  return parts.join(' · ');
}

/**
 * A command's (or device's) events in order. With `timings`, each event after the first also
 * shows how long after the one before it came (queued → delivered is the wait for the device,
 * delivered → acked its answer), and on hover how long after the first.
 * A `feed` lists the newest first: its rows stay where they are and take new content (keyed by
 * position), so an event arriving on top moves nothing on the page; it announces nothing itself
 * (every row's text changes), the page says what is new instead.
 */
export function Timeline({ events, empty, timings, feed }: { events: OutboundEvent[]; empty: string; timings?: boolean; feed?: boolean }): JSX.Element {
  if (events.length === 0) return <p class="empty">{empty}</p>;
  const first = events[0]!.time;
  return (
    <ol class={timings ? 'timeline timed' : 'timeline'} aria-live={feed ? 'off' : 'polite'}>
      {events.map((event, i) => (
        <li key={feed ? i : event.id} class={`event event-${event.type.replace('.', '-')}`} data-type={event.type}>
          <time dateTime={new Date(event.time).toISOString()} title={formatDateTime(event.time)}>
            {formatTime(event.time)}
          </time>
          {timings && (
            <span class="event-elapsed" title={i === 0 ? undefined : `${formatDuration(event.time - first)} after the first event`}>
              {i === 0 ? '' : `+${formatDuration(event.time - events[i - 1]!.time)}`}
            </span>
          )}
          <span class="event-type">{event.type}</span>
          <span class="event-detail">{eventDetail(event)}</span>
        </li>
      ))}
    </ol>
  );
}

export function Card({ title, children, wide }: { title: string; children: ComponentChildren; wide?: boolean }): JSX.Element {
  return (
    <section class={wide ? 'card wide' : 'card'} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}
