import type { DeviceRoute, RouteRegistry } from '@outbound/core';

/**
 * Routes the dispatch loop looked up recently, so a claim of commands for devices it delivered
 * to a moment ago does not ask the registry again (one store round trip per claimed batch).
 *
 * A cached route can only be stale in ways the delivery already handles: the ingress fences
 * every delivery by epoch, answering 409 (the device reconnected) or 404 (it left), and the
 * loop then forgets the route and releases or parks the command without spending an attempt,
 * after a fresh lookup. Entries are also dropped on the registry's device-online signal (every
 * handshake). Absent routes are never cached: an offline device is looked up again on every claim.
 *
 * What the cache does not see is a replica the registry stops counting as live (its heartbeat
 * lapsed: it hangs without closing its connections). So a route is used only while its
 * replica was judged live by the registry at most `ttlMs` ago: by the lookup that read the
 * route, or later by a read of the live replicas (one call for every device, `listReplicas`).
 * A route younger than `ttlMs` is used as read; an older one, up to `maxAgeMs`, while its
 * replica's judgement is that fresh. At low rates over many devices a device's next command
 * comes long after its route was read: it then costs no lookup of its own, only (once per
 * `ttlMs / 2` or so, for every device) a read of the replicas, taken before the judgement expires.
 */
export class RouteCache {
  private readonly routes = new Map<string, { route: DeviceRoute; readAt: number }>();
  /** Lookups on their way (prefetch), which a lookup of the same devices waits for instead of asking again. */
  private readonly inFlight = new Map<string, Promise<Map<string, DeviceRoute>>>();
  /** Replicas the registry last judged live, with their address and when that read was sent. */
  private readonly liveReplicas = new Map<string, { address: string; at: number }>();
  /** A read of the live replicas on its way. */
  private replicasReading: Promise<void> | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private readonly maxAgeMs: number;

  constructor(
    private readonly registry: Pick<RouteRegistry, 'lookupMany' | 'onDeviceOnline' | 'listReplicas'>,
    private readonly options: { ttlMs: number; maxEntries: number; maxAgeMs?: number },
  ) {
    this.maxAgeMs = Math.max(options.ttlMs, options.maxAgeMs ?? options.ttlMs);
  }

  /** Drops a device's entry on its online signal from here on. */
  async start(): Promise<void> {
    this.unsubscribe ??= await this.registry.onDeviceOnline((phyId) => this.forget(phyId));
  }

  async lookupMany(phyIds: string[]): Promise<Map<string, DeviceRoute>> {
    const found = new Map<string, DeviceRoute>();
    if (this.options.ttlMs <= 0) return this.registry.lookupMany(phyIds);
    const now = Date.now();
    let missing: string[] = [];
    /** Entries past ttlMs, usable once their replica's liveness is judged afresh. */
    let aged: string[] | null = null;
    for (const phyId of phyIds) {
      const entry = this.routes.get(phyId);
      const state = entry ? this.usable(entry, now) : 'no';
      if (state === 'yes') found.set(phyId, entry!.route);
      else if (state === 'replica') (aged ??= []).push(phyId);
      else missing.push(phyId);
    }
    if (aged) {
      // One read for every device: its answer judges each aged entry's replica. When it fails,
      // they are looked up as if not cached (that lookup answers only live replicas' routes).
      const judged = await this.readReplicas().then(() => true, () => false);
      const at = Date.now();
      for (const phyId of aged) {
        const entry = this.routes.get(phyId);
        if (entry && this.usable(entry, at) === 'yes') found.set(phyId, entry.route);
        else {
          // Its replica is not live (or moved): the entry is no use any more.
          if (judged && entry && at - entry.readAt >= this.options.ttlMs) this.routes.delete(phyId);
          missing.push(phyId);
        }
      }
    }
    if (missing.length === 0) return found;
    missing = [...new Set(missing)];
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
   * For devices cached longer than `ttlMs` it starts the read of the live replicas instead.
   */
  prefetch(phyIds: string[]): void {
    if (this.options.ttlMs <= 0) return;
    const now = Date.now();
    const ask: string[] = [];
    let replicas = false;
    for (const phyId of phyIds) {
      if (this.inFlight.has(phyId)) continue;
      const entry = this.routes.get(phyId);
      const state = entry ? this.usable(entry, now) : 'no';
      if (state === 'no') ask.push(phyId);
      else if (state === 'replica') replicas = true;
    }
    if (replicas) this.readReplicas().catch(() => undefined); // the lookup reads again
    if (ask.length > 0) this.fetch(ask).catch(() => undefined); // the lookup that needs the routes asks again
  }

  /**
   * Whether a cached route may be used now: 'yes'; 'replica' when it may be once the replicas'
   * liveness is read again; 'no' when the route must be read again. A judgement of its replica
   * older than ttlMs / 2 is renewed in the background, so steady traffic never waits for it.
   */
  private usable(entry: { route: DeviceRoute; readAt: number }, now: number): 'yes' | 'replica' | 'no' {
    const age = now - entry.readAt;
    if (age < this.options.ttlMs) return 'yes';
    if (age >= this.maxAgeMs) return 'no';
    const live = this.liveReplicas.get(entry.route.replicaId);
    if (!live) return 'replica';
    if (live.address !== entry.route.address) return 'no';
    const judged = now - live.at;
    if (judged >= this.options.ttlMs) return 'replica';
    if (judged >= this.options.ttlMs / 2) this.readReplicas().catch(() => undefined);
    return 'yes';
  }

  /** Reads which replicas are live (one read at a time; callers share it). */
  private readReplicas(): Promise<void> {
    this.replicasReading ??= (async () => {
      const sentAt = Date.now();
      try {
        const live = await this.registry.listReplicas();
        const ids = new Set<string>();
        for (const { replicaId, address } of live) {
          ids.add(replicaId);
          this.markLive(replicaId, address, sentAt);
        }
        for (const replicaId of this.liveReplicas.keys()) if (!ids.has(replicaId)) this.liveReplicas.delete(replicaId);
      } finally {
        this.replicasReading = null;
      }
    })();
    return this.replicasReading;
  }

  private markLive(replicaId: string, address: string, at: number): void {
    const known = this.liveReplicas.get(replicaId);
    if (!known || known.address !== address || known.at < at) this.liveReplicas.set(replicaId, { address, at });
  }

  private fetch(phyIds: string[]): Promise<Map<string, DeviceRoute>> {
    const sentAt = Date.now();
    const lookup = this.registry.lookupMany(phyIds).then((looked) => {
      for (const [phyId, route] of looked) {
        this.routes.delete(phyId); // re-inserted last: the Map's order is the eviction order
        // Judged from when the lookup was sent: the registry answered only routes of live replicas.
        this.routes.set(phyId, { route, readAt: sentAt });
        this.markLive(route.replicaId, route.address, sentAt);
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
    for (const [replicaId, live] of this.liveReplicas) if (live.address === address) this.liveReplicas.delete(replicaId);
  }

  get size(): number {
    return this.routes.size;
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    this.routes.clear();
    this.liveReplicas.clear();
    await unsubscribe?.();
  }
}
