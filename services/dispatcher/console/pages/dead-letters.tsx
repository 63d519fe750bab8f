import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, query, type Command, type Page } from '../api';
import { CommandTable, ErrorNote } from '../components';
import { ConfirmButton } from '../confirm';
import { localInputToEpoch, timeZone } from '../format';
import { useLoad } from '../hooks';
import { navigate, useLocation } from '../router';

interface Filter {
  phyId?: string;
  reason?: string;
  since?: number;
  until?: number;
}

const PAGE = 50;

function filterOf(search: URLSearchParams): Filter {
  const number = (name: string) => {
    const value = Number(search.get(name));
    return search.get(name) && Number.isFinite(value) ? value : undefined;
  };
  return { phyId: search.get('phyId') || undefined, reason: search.get('reason') || undefined, since: number('since'), until: number('until') };
}

/** epoch ms → a datetime-local value in the viewer's zone. */
function toLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Dead letters: filter, select, replay or purge, or replay/purge everything a filter matches. */
export function DeadLetters(): JSX.Element {
  const { search } = useLocation();
  const filter = filterOf(search);
  const filterKey = query({ ...filter });
  const [form, setForm] = useState({ phyId: filter.phyId ?? '', reason: filter.reason ?? '', since: toLocalInput(filter.since), until: toLocalInput(filter.until) });
  const [pages, setPages] = useState<Command[][]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const first = useLoad(
    async (signal) => {
      const page = await api<Page<Command>>(`/v1/dead-letters${query({ ...filter, limit: PAGE })}`, { signal });
      setPages([]);
      setSelected(new Set());
      return page;
    },
    [filterKey],
  );
  const [nextCursor, setNextCursor] = useState<string | null | undefined>(undefined);
  const cursor = nextCursor === undefined ? first.data?.nextCursor ?? null : nextCursor;
  const items = [...(first.data?.items ?? []), ...pages.flat()];

  const apply = (event: Event) => {
    event.preventDefault();
    setNotice(null);
    setNextCursor(undefined);
    navigate(`/dead-letters${query({ phyId: form.phyId.trim(), reason: form.reason.trim(), since: localInputToEpoch(form.since), until: localInputToEpoch(form.until) })}`);
  };
  const more = async () => {
    if (!cursor) return;
    try {
      const page = await api<Page<Command>>(`/v1/dead-letters${query({ ...filter, limit: PAGE, cursor })}`);
      setPages((p) => [...p, page.items]);
      setNextCursor(page.nextCursor ?? null);
    } catch (reason) {
      setFailure(reason instanceof Error ? reason : new Error(String(reason)));
    }
  };
  const run = async (action: 'replay' | 'purge', body: unknown) => {
    setFailure(null);
    try {
      const answer = await api<{ replayed?: number; purged?: number }>(`/v1/dead-letters/${action}`, { method: 'POST', body });
      setNotice(action === 'replay' ? `Replayed ${answer.replayed ?? 0} dead letter(s): they are queued again.` : `Purged ${answer.purged ?? 0} dead letter(s).`);
    } catch (reason) {
      setFailure(reason instanceof Error ? reason : new Error(String(reason)));
    }
    setNextCursor(undefined);
    first.reload();
  };
  const hasFilter = Object.values(filter).some((v) => v !== undefined);
  const wholeFilter = hasFilter ? { filter } : { all: true };
  const scope = hasFilter ? 'every match of the filter' : 'every dead letter';

  return (
    <>
      <h1>Dead letters</h1>
      <form class="filters" onSubmit={apply} aria-label="Filter dead letters">
        <div>
          <label for="dl-phy">Device (phyId)</label>
          <input id="dl-phy" value={form.phyId} onInput={(e) => setForm({ ...form, phyId: e.currentTarget.value })} spellcheck={false} />
        </div>
        <div>
          <label for="dl-reason">Reason</label>
          <input id="dl-reason" value={form.reason} onInput={(e) => setForm({ ...form, reason: e.currentTarget.value })} />
        </div>
        <div>
          <label for="dl-since">Since ({timeZone})</label>
          <input id="dl-since" type="datetime-local" value={form.since} onInput={(e) => setForm({ ...form, since: e.currentTarget.value })} />
        </div>
        <div>
          <label for="dl-until">Until ({timeZone})</label>
          <input id="dl-until" type="datetime-local" value={form.until} onInput={(e) => setForm({ ...form, until: e.currentTarget.value })} />
        </div>
        <div class="filter-buttons">
          <button type="submit">Apply filter</button>
        </div>
      </form>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorNote error={failure ?? first.error} />
      <div class="actions bar">
        <ConfirmButton label={`Replay ${selected.size} selected`} confirm={`Confirm: replay ${selected.size}`} disabled={selected.size === 0} onConfirm={() => run('replay', { ids: [...selected] })} />
        <ConfirmButton label={`Purge ${selected.size} selected`} confirm={`Confirm: purge ${selected.size}`} danger disabled={selected.size === 0} onConfirm={() => run('purge', { ids: [...selected] })} />
        <ConfirmButton label="Replay all matching" confirm={`Confirm: replay ${scope}`} disabled={items.length === 0} onConfirm={() => run('replay', wholeFilter)} />
        <ConfirmButton label="Purge all matching" confirm={`Confirm: purge ${scope}`} danger disabled={items.length === 0} onConfirm={() => run('purge', wholeFilter)} />
      </div>
      {first.data && (
        <CommandTable
          items={items}
          empty={hasFilter ? 'No dead letter matches the filter.' : 'No dead letters.'}
          showDevice
          showError
          select={{
            selected,
            toggle: (id) =>
              setSelected((s) => {
                const next = new Set(s);
                if (next.has(id)) next.delete(id);
                else next.add(id);
                return next;
              }),
            toggleAll: (on) => setSelected(on ? new Set(items.map((c) => c.id)) : new Set()),
          }}
        />
      )}
      {cursor && (
        <button type="button" class="secondary" onClick={more}>
          Load more
        </button>
      )}
    </>
  );
}
