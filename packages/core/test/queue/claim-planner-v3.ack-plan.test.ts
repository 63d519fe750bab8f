import { ClaimPlannerV3 } from '../../src/queue/redis-v3/claim-planner-v3';

/** planWithAcks: the claims an ack may carry, from what the shards last answered (no store involved). */
describe('ClaimPlannerV3.planWithAcks', () => {
  /** A planner of four shards that heard from each: its best scores, answered with `depth`. */
  function planner(scores: number[][], depth = 3): ClaimPlannerV3 {
    const p = new ClaimPlannerV3(scores.length);
    scores.forEach((s, shard) => p.remember(shard, s, depth));
    return p;
  }

  it('with as many acks as places, lets an acked shard claim only up to the best score known elsewhere', () => {
    const p = planner([[10, 11], [5], [], [20]]);
    // one ack on shard 0: shard 1 holds 5, better than shard 0's 10: shard 0 claims nothing in
    // its ack, shard 1 claims its 5 in the same write
    expect(p.planWithAcks(1, new Map([[0, 1]]))).toEqual(new Map([[1, { count: 1, bound: Infinity }]]));
    // two acks on shards 0 and 3, both worse than shard 1's 5: shard 1's one known score is claimed
    expect(planner([[10], [5], [], [20]]).planWithAcks(2, new Map([[0, 1], [3, 1]]))).toEqual(new Map([[1, { count: 1, bound: Infinity }]]));
    // unless shard 1 may hold better than it answered (asked for one, it answered one): the caller claims
    expect(planner([[10], [5], [], [20]], 1).planWithAcks(2, new Map([[0, 1], [3, 1]]))).toEqual(new Map());
    // one ack on shard 1: its 5 beats everything elsewhere (10)
    expect(p.planWithAcks(1, new Map([[1, 1]]))).toEqual(new Map([[1, { count: 1, bound: 10 }]]));
    // an acked shard with nothing ready may claim what its ack frees, up to the best elsewhere
    expect(p.planWithAcks(1, new Map([[2, 1]]))).toEqual(new Map([[2, { count: 1, bound: 5 }]]));
  });

  it('gives the places beyond the acks to the best known scores, in the acked shard or in the same write elsewhere', () => {
    const p = planner([[10, 11], [5], [], [20]]);
    // max 3, one ack on shard 0: 2 spare places go to 5 (shard 1) and 10 (shard 0), cut 10
    expect(p.planWithAcks(3, new Map([[0, 1]]))).toEqual(new Map([[1, { count: 1, bound: Infinity }], [0, { count: 2, bound: 10 }]]));
  });

  it('has no plan when a shard was not heard from, or may hold more of the best than it answered, or the acks outnumber the places', () => {
    const unheard = new ClaimPlannerV3(2);
    unheard.remember(0, [1], 3);
    expect(unheard.planWithAcks(1, new Map([[0, 1]]))).toBeNull();
    // shard 1 answered all 3 it was asked for and all made the cut of 4 spare places
    expect(planner([[1], [2, 3, 4], [], []]).planWithAcks(5, new Map([[0, 1]]))).toBeNull();
    expect(planner([[1], [2], [], []]).planWithAcks(1, new Map([[0, 1], [1, 1]]))).toBeNull();
  });

  it('with one shard, claims the whole batch in the ack script', () => {
    expect(new ClaimPlannerV3(1).planWithAcks(64, new Map([[0, 10]]))).toEqual(new Map([[0, { count: 64, bound: Infinity }]]));
  });
});

/** A wake message and an answer race on two connections: the newer news wins. */
describe('ClaimPlannerV3: an answer older than a wake message', () => {
  it('does not undo the forget of a shard whose wake message was read before the answer of a call sent earlier', () => {
    const p = new ClaimPlannerV3(2);
    p.remember(0, [], 3);
    const sentAt = p.mark(); // a call to shard 1 leaves
    p.forget(1); // another process' wake message for shard 1 is read first
    p.remember(1, [], 3, sentAt); // then the call's answer: shard 1 empty, as it was when the call ran
    expect(p.planWithAcks(1, new Map([[0, 1]]))).toBeNull(); // shard 1 must be asked again
    p.remember(1, [7], 3, p.mark()); // an answer sent after the message counts: shard 0's ack may claim up to its 7
    expect(p.planWithAcks(1, new Map([[0, 1]]))).toEqual(new Map([[0, { count: 1, bound: 7 }]]));
  });

  it('does not undo a forget of every shard either', () => {
    const p = new ClaimPlannerV3(2);
    const sentAt = p.mark();
    p.forget();
    p.remember(0, [], 3, sentAt);
    p.remember(1, [], 3, sentAt);
    expect(p.planWithAcks(1, new Map([[0, 1]]))).toBeNull();
  });
});
