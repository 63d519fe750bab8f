import type { StoredCommand } from '../command';
import type { OutboundEvent } from './events';
import { ackThenClaim } from './queue';
import type {
  AckAndClaimResult, AckItem, ClaimedCommand, ClaimOptions, CommandStore, DeadSelector, FailItem, ListCommandsOptions, ListDeadOptions, QueueStats, ReleaseItem, TransitionResult,
} from './queue';

/**
 * The operations a queue layer in front of a store (ValidatedQueue, AutoDrainingQueue) hands
 * to that store unchanged: claims, outcomes, reads, dead letters, events. `target` is the store
 * they go to, read on every call (AutoDrainingQueue changes it when a drain begins).
 */
export abstract class ForwardingStore {
  protected abstract get target(): CommandStore;

  claim(options: ClaimOptions): Promise<ClaimedCommand[]> {
    return this.target.claim(options);
  }

  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.target.ack(items);
  }

  /**
   * The target's one-step ack that claims, forwarded, and undefined when the target has none:
   * a caller that claims with its acks only where that saves a call (the dispatcher) reads its
   * presence, so a layer in front of a store without one must not seem to have it. Read on each
   * access, as `target` is; a call made after the target changed to one without it is an ack,
   * then a claim (ackThenClaim).
   */
  get ackAndClaim(): ((items: AckItem[], next: ClaimOptions) => Promise<AckAndClaimResult>) | undefined {
    return typeof this.target.ackAndClaim === 'function' ? this.forwardAckAndClaim : undefined;
  }

  private readonly forwardAckAndClaim = (items: AckItem[], next: ClaimOptions): Promise<AckAndClaimResult> => ackThenClaim(this.target, items, next);

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    return this.target.fail(items);
  }

  release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    return this.target.release(items);
  }

  markDeviceOffline(phyId: string): Promise<void> {
    return this.target.markDeviceOffline(phyId);
  }

  markDeviceOnline(phyId: string): Promise<void> {
    return this.target.markDeviceOnline(phyId);
  }

  listParkedDevices(options?: { limit?: number; cursor?: string }): Promise<{ phyIds: string[]; nextCursor: string | null }> {
    return this.target.listParkedDevices(options);
  }

  reclaimExpired(options?: { limit?: number }): Promise<number> {
    return this.target.reclaimExpired(options);
  }

  expireDue(options?: { limit?: number }): Promise<number> {
    return this.target.expireDue(options);
  }

  cancel(id: string): Promise<StoredCommand> {
    return this.target.cancel(id);
  }

  get(id: string): Promise<StoredCommand | null> {
    return this.target.get(id);
  }

  listDevice(phyId: string, options?: { limit?: number }): Promise<StoredCommand[]> {
    return this.target.listDevice(phyId, options);
  }

  countDevice(phyId: string): Promise<number> {
    return this.target.countDevice(phyId);
  }

  cancelDevice(phyId: string): Promise<number> {
    return this.target.cancelDevice(phyId);
  }

  listDead(options?: ListDeadOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return this.target.listDead(options);
  }

  replayDead(selector: DeadSelector): Promise<number> {
    return this.target.replayDead(selector);
  }

  purgeDead(selector: DeadSelector): Promise<number> {
    return this.target.purgeDead(selector);
  }

  listCommands(options?: ListCommandsOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return this.target.listCommands(options);
  }

  stats(): Promise<QueueStats> {
    return this.target.stats();
  }

  waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.target.waitForWork(timeoutMs, signal);
  }

  eventsHead(): Promise<string> {
    return this.target.eventsHead();
  }

  commandEvents(id: string): Promise<OutboundEvent[] | null> {
    return this.target.commandEvents(id);
  }
}
