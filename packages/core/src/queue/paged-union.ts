import { OutboundError } from '../errors';

/** One page of a listing and where the next starts (null: none). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

/**
 * Pages through two listings as one: every page of `first`, then every page of `second`.
 * The cursor says which listing it continues, `first:<its cursor>` or `second:<its cursor>`
 * (`second:` alone starts the second from its beginning), so each listing keeps its own cursor
 * format. A cursor of another form is refused (VALIDATION_FAILED naming `cursor`).
 */
export async function pageUnion<T>(
  request: PageRequest,
  first: (page: PageRequest) => Promise<Page<T>>,
  second: (page: PageRequest) => Promise<Page<T>>,
  names: { first: string; second: string } = { first: 'first', second: 'second' },
): Promise<Page<T>> {
  const { cursor, limit } = request;
  const at = cursor === undefined ? null : new RegExp(`^(${names.first}|${names.second}):(.*)$`, 's').exec(cursor);
  if (cursor !== undefined && !at) throw new OutboundError('VALIDATION_FAILED', `cursor ${cursor} is not one this listing answered`, { details: { field: 'cursor' } });
  const inSecond = at?.[1] === names.second;
  const inner = at?.[2] || undefined;
  const items: T[] = [];
  if (!inSecond) {
    const page = await first(pageOf(inner, limit));
    items.push(...page.items);
    if (page.nextCursor !== null) return { items, nextCursor: `${names.first}:${page.nextCursor}` };
    if (limit !== undefined && items.length >= limit) return { items, nextCursor: `${names.second}:` };
  }
  const page = await second(pageOf(inSecond ? inner : undefined, limit === undefined ? undefined : limit - items.length));
  items.push(...page.items);
  return { items, nextCursor: page.nextCursor === null ? null : `${names.second}:${page.nextCursor}` };
}

function pageOf(cursor: string | undefined, limit: number | undefined): PageRequest {
  return { ...(limit === undefined ? {} : { limit }), ...(cursor === undefined ? {} : { cursor }) };
}
