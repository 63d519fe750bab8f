import { AckDeadlines, type Deadline } from '../src/ack-deadlines';

/** The ACK deadlines behind one timer, on jest's fake clock (setTimeout and Date.now move together). */
describe('AckDeadlines', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  const fired: string[] = [];
  beforeEach(() => (fired.length = 0));

  function deadline(name: string, then?: () => void): Deadline {
    return { at: 0, ms: -1, prev: null, next: null, expire: () => { fired.push(name); then?.(); } };
  }

  it('runs each deadline once when its time comes, in deadline order across lengths', () => {
    const deadlines = new AckDeadlines();
    deadlines.add(deadline('a300'), 300);
    deadlines.add(deadline('b100'), 100);
    jest.advanceTimersByTime(50);
    deadlines.add(deadline('c100'), 100); // due at 150
    deadlines.add(deadline('d500'), 500); // due at 550
    expect(deadlines.size).toBe(4);
    jest.advanceTimersByTime(49);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fired).toEqual(['b100']);
    jest.advanceTimersByTime(50);
    expect(fired).toEqual(['b100', 'c100']);
    jest.advanceTimersByTime(150);
    expect(fired).toEqual(['b100', 'c100', 'a300']);
    jest.advanceTimersByTime(250);
    expect(fired).toEqual(['b100', 'c100', 'a300', 'd500']);
    expect(deadlines.size).toBe(0);
    jest.advanceTimersByTime(10_000);
    expect(fired).toHaveLength(4);
  });

  it('never runs a removed deadline, wherever it sat in its list, and keeps the others', () => {
    const deadlines = new AckDeadlines();
    const [head, middle, tail] = [deadline('head'), deadline('middle'), deadline('tail')];
    deadlines.add(head, 100);
    jest.advanceTimersByTime(10);
    deadlines.add(middle, 100);
    jest.advanceTimersByTime(10);
    deadlines.add(tail, 100);
    deadlines.add(deadline('other'), 115);
    deadlines.remove(head);
    deadlines.remove(middle);
    deadlines.remove(middle); // twice: a no-op
    expect(deadlines.size).toBe(2);
    // The timer was armed for the removed head: it fires, finds nothing due, and waits for the rest.
    jest.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fired).toEqual(['tail']);
    jest.advanceTimersByTime(15);
    expect(fired).toEqual(['tail', 'other']);
    deadlines.remove(tail); // already expired: a no-op
    expect(deadlines.size).toBe(0);
  });

  it('takes deadlines added by an expiring one, and an earlier deadline re-arms the timer', () => {
    const deadlines = new AckDeadlines();
    deadlines.add(deadline('first', () => deadlines.add(deadline('added'), 10)), 100);
    deadlines.add(deadline('late'), 1_000);
    jest.advanceTimersByTime(100);
    expect(fired).toEqual(['first']);
    jest.advanceTimersByTime(10);
    expect(fired).toEqual(['first', 'added']);
    deadlines.add(deadline('early'), 5); // before 'late': armed for it
    jest.advanceTimersByTime(5);
    expect(fired).toEqual(['first', 'added', 'early']);
    jest.advanceTimersByTime(885);
    expect(fired).toEqual(['first', 'added', 'early', 'late']);
  });

  it('a deadline removed by another expire of the same firing does not run', () => {
    const deadlines = new AckDeadlines();
    const second = deadline('second');
    deadlines.add(deadline('first', () => deadlines.remove(second)), 100);
    jest.advanceTimersByTime(50);
    deadlines.add(second, 50); // due at the same moment, in another list
    jest.advanceTimersByTime(50);
    expect(fired).toEqual(['first']);
    jest.advanceTimersByTime(1_000);
    expect(fired).toEqual(['first']);
    expect(deadlines.size).toBe(0);
  });
});
