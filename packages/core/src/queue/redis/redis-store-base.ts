import type { StoredCommand } from '../../command';
import type { RedisClient } from '../../redis/connection';
import type { EventPage, OutboundEvent, ReadEventsOptions } from '../events';
import type { DeadSelector, ListCommandsOptions, ListDeadOptions } from '../queue';
import { listCommandHistory, type HistoryShards } from './command-history';
import { actOnDeadLetters, listDeadLetters, type DeadLetterShards } from './dead-letter-pages';
import { RedisEventLog, type RedisEventLogOptions } from './event-log';
import { RedisGate, type RedisGateOptions } from './redis-gate';
import type { RedisMemorySample } from './redis-memory';
import type { Arg } from './scripts';
import { redisNowMs } from './shard-reads';

/** What a Redis layout tells the parts its stores share: its shards, keys, scripts and records. */
export interface RedisStoreLayout {
  shards: number;
  shardOfId(id: string): number | null;
  shardOf(phyId: string): number;
  /** The event stream of one shard. */
  streamKey(shard: number): string;
  /** Runs list-dead on one shard (bulk strings as Buffers). */
  listDead(shard: number, args: Arg[]): Promise<unknown>;
  /** A record list-dead answered, as the layout decodes it. */
  decode(record: Buffer[]): StoredCommand;
  /** Runs replay-dead or purge-dead on one shard. */
  runDeadScript(script: 'replay-dead' | 'purge-dead', shard: number, args: Arg[]): Promise<unknown>;
  /** What replay-dead takes before the selector's mode and arguments: maxInFlightPerDevice, the wake argument. */
  replayArgs: Arg[];
  commandEntryIds: RedisEventLogOptions['commandEntryIds'];
  idPrefix?: string;
}

/**
 * What the v2 and v3 Redis stores share: the gate every call goes through (redis-gate.ts),
 * dead letters across shards, and the event log and command history read over the shards'
 * streams. A store wires its layout in once, at the end of its constructor (wireLayout).
 */
export abstract class RedisStoreBase {
  protected readonly gate: RedisGate;
  private layout!: RedisStoreLayout;
  private deadLetters!: DeadLetterShards<StoredCommand>;
  private events!: RedisEventLog;

  protected constructor(
    readonly client: RedisClient,
    options: RedisGateOptions,
  ) {
    this.gate = new RedisGate(client, options);
  }

  protected wireLayout(layout: RedisStoreLayout): void {
    this.layout = layout;
    this.deadLetters = {
      shards: layout.shards,
      shardOfId: (id) => layout.shardOfId(id),
      list: (shard, args) => this.call('list-dead', () => layout.listDead(shard, args)),
      decode: (record) => layout.decode(record),
      now: () => redisNowMs(this.client, (op, issue) => this.call(op, issue)),
    };
    this.events = new RedisEventLog({
      client: this.client,
      call: (operation, issue) => this.call(operation, issue),
      shards: layout.shards,
      streamKey: (shard) => layout.streamKey(shard),
      commandEntryIds: (id) => layout.commandEntryIds(id),
      ...(layout.idPrefix === undefined ? {} : { idPrefix: layout.idPrefix }),
    });
  }

  abstract get(id: string): Promise<StoredCommand | null>;

  /** Oldest death first; cursor `<deadAt>:<id>` of the last item (or entry) examined. */
  listDead(options: ListDeadOptions = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return listDeadLetters(this.deadLetters, options);
  }

  replayDead(selector: DeadSelector): Promise<number> {
    return actOnDeadLetters(this.deadLetters, selector, (shard, mode, args) => this.layout.runDeadScript('replay-dead', shard, [...this.layout.replayArgs, mode, ...args]));
  }

  purgeDead(selector: DeadSelector): Promise<number> {
    return actOnDeadLetters(this.deadLetters, selector, (shard, mode, args) => this.layout.runDeadScript('purge-dead', shard, [mode, ...args]));
  }

  listCommands(options: ListCommandsOptions = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    const history: HistoryShards = {
      client: this.client,
      call: (operation, issue) => this.call(operation, issue),
      shards: this.layout.shards,
      streamKey: (shard) => this.layout.streamKey(shard),
      shardOf: (phyId) => this.layout.shardOf(phyId),
      get: (id) => this.get(id),
    };
    return listCommandHistory(history, options);
  }

  readEvents(options: ReadEventsOptions): Promise<EventPage> {
    return this.events.readEvents(options);
  }

  eventsHead(): Promise<string> {
    return this.events.eventsHead();
  }

  commandEvents(id: string): Promise<OutboundEvent[] | null> {
    return this.events.commandEvents(id);
  }

  /** Redis memory (INFO memory, sampled at most once a second) for health and metrics. */
  memory(): Promise<RedisMemorySample | null> {
    return this.gate.memory();
  }

  /** The enqueue high-water mark as a share of maxmemory (0: admission off). */
  get admissionMaxMemoryRatio(): number {
    return this.gate.admissionMaxMemoryRatio;
  }

  /**
   * Sends one request unless Redis is known not to be answering (then it is refused unsent,
   * STORE_UNAVAILABLE), and classifies what failed (redis-errors.ts).
   */
  protected call<T>(operation: string, issue: () => Promise<T>): Promise<T> {
    return this.gate.call(operation, issue);
  }

  /**
   * Enqueue admission: refuses a whole enqueue unsent while Redis is not answering, or while
   * its memory is at the high-water mark (STORE_FULL), so what room is left goes to draining.
   */
  protected admit(): Promise<void> {
    return this.gate.admit();
  }
}
