import type { DeviceRoute, RouteRegistry } from '@outbound/core';

/**
 * Routes the dispatch loop looked up recently, so a claim of commands for devices it delivered
 * to a moment ago does not ask the registry again (one store round trip per claimed batch).
 *
 * A cached route can only be stale in ways the delivery already handles: the ingress fences
 * every delivery by epoch, answering 409 (the device reconnected) or 404 (it left), and the
 * loop then forgets the route and releases or parks the command without spending an attempt,
 * after a fresh lookup. Entries are also dropped on the registry's device-online signal (every
 * handshake), and live at most `ttlMs`, which bounds a lost signal. Absent routes are never
 * cached: an offline device is looked up again on every claim.
 */
export class RouteCache {
  private readonly routes = new Map<string, { route: DeviceRoute; until: number }>();
  /** Lookups on their way (prefetch), which a lookup of the same devices waits for instead of asking again. */
  private readonly inFlight = new Map<string, Promise<Map<string, DeviceRoute>>>();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly registry: Pick<RouteRegistry, 'lookupMany' | 'onDeviceOnline'>,
    private readonly options: { ttlMs: number; maxEntries: number },
  ) {}

  /** Drops a device's entry on its online signal from here on. */
  async start(): Promise<void> {
    this.unsubscribe ??= await this.registry.onDeviceOnline((phyId) => this.forget(phyId));
  }

  async lookupMany(phyIds: string[]): Promise<Map<string, DeviceRoute>> {
    const found = new Map<string, DeviceRoute>();
    if (this.options.ttlMs <= 0) return this.registry.lookupMany(phyIds);
    const now = Date.now();
    const missing: string[] = [];
    for (const phyId of phyIds) {
      const entry = this.routes.get(phyId);
      if (entry && entry.until > now) found.set(phyId, entry.route);
      else missing.push(phyId);
    }
    if (missing.length === 0) return found;
    const waits = new Set<Promise<Map<string, DeviceRoute>>>();
    const ask: string[] = [];
    for (const phyId of missing) {
      const pending = this.inFlight.get(phyId);
      if (pending) waits.add(pending.catch(() => this.fetch([phyId]))); // a failed prefetch: ask again
      else ask.push(phyId);
    }
    if (ask.length > 0) waits.add(this.fetch(ask));
    for (const looked of await Promise.all(waits)) {
      for (const phyId of missing) {
        const route = looked.get(phyId);
        if (route) found.set(phyId, route);
      }
    }
    return found;
  }

  /**
   * Starts looking up the devices not cached, for a lookup expected soon (commands being
   * claimed for them): that lookup then waits for this one instead of making its own round trip.
   */
  prefetch(phyIds: string[]): void {
    if (this.options.ttlMs <= 0) return;
    const now = Date.now();
    const ask = phyIds.filter((phyId) => !this.inFlight.has(phyId) && !((this.routes.get(phyId)?.until ?? 0) > now));
    if (ask.length > 0) this.fetch(ask).catch(() => undefined); // the lookup that needs the routes asks again
  }

  private fetch(phyIds: string[]): Promise<Map<string, DeviceRoute>> {
    const lookup = this.registry.lookupMany(phyIds).then((looked) => {
      const until = Date.now() + this.options.ttlMs;
      for (const [phyId, route] of looked) {
        this.routes.delete(phyId); // re-inserted last: the Map's order is the eviction order
        this.routes.set(phyId, { route, until });
      }
      for (const phyId of this.routes.keys()) {
        if (this.routes.size <= this.options.maxEntries) break;
        this.routes.delete(phyId);
      }
      return looked;
    });
    for (const phyId of phyIds) this.inFlight.set(phyId, lookup);
    const done = (): void => {
      for (const phyId of phyIds) if (this.inFlight.get(phyId) === lookup) this.inFlight.delete(phyId);
    };
    lookup.then(done, done);
    return lookup;
  }

  forget(phyId: string): void {
    this.routes.delete(phyId);
  }

  /** Forgets every route to one replica address (its connections were refused). */
  forgetAddress(address: string): void {
    for (const [phyId, entry] of this.routes) if (entry.route.address === address) this.routes.delete(phyId);
  }

  get size(): number {
    return this.routes.size;
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    this.routes.clear();
    await unsubscribe?.();
  }
}
