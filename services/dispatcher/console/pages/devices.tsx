import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ErrorNote } from '../components';
import { formatDateTime } from '../format';
import { useLoad } from '../hooks';
import { Link, navigate, useLocation } from '../router';

interface Found {
  items: Array<{ phyId: string; replicaId: string; connectedSince: string }>;
}

const LIMIT = 50;

/** Online devices by phyId prefix; any phyId (online or not) can be opened directly. */
export function Devices(): JSX.Element {
  const { search } = useLocation();
  const prefix = search.get('prefix') ?? '';
  const [text, setText] = useState(prefix);
  const found = useLoad((signal) => (prefix ? api<Found>(`/v1/devices${query({ prefix, limit: LIMIT })}`, { signal }) : Promise.resolve(null)), [prefix]);
  const submit = (event: Event) => {
    event.preventDefault();
    const value = text.trim();
    if (value) navigate(`/devices${query({ prefix: value })}`);
  };
  const items = found.data?.items ?? [];
  return (
    <>
      <h1>Devices</h1>
      <form class="toolbar" onSubmit={submit} role="search">
        <label for="prefix">phyId or its start</label>
        <input id="prefix" value={text} onInput={(e) => setText(e.currentTarget.value)} pattern="[A-Za-z0-9._:\-]{1,64}" required spellcheck={false} />
        <button type="submit">Search online devices</button>
        {text.trim() && (
          <Link class="button secondary" href={`/devices/${encodeURIComponent(text.trim())}`}>
            Open {text.trim()}
          </Link>
        )}
      </form>
      <ErrorNote error={found.error} />
      {prefix && found.data && (
        <>
          <p class="muted" aria-live="polite">
            {items.length === 0 ? `No online device starts with “${prefix}”.` : `${items.length}${items.length === LIMIT ? '+' : ''} online device(s) starting with “${prefix}”.`}
          </p>
          {items.length > 0 && (
            <div class="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Device</th>
                    <th scope="col">Replica</th>
                    <th scope="col">Connected since</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((d) => (
                    <tr key={d.phyId}>
                      <td class="mono">
                        <Link href={`/devices/${encodeURIComponent(d.phyId)}`}>{d.phyId}</Link>
                      </td>
                      <td class="mono">{d.replicaId}</td>
                      <td class="nowrap">{formatDateTime(d.connectedSince)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  );
}
