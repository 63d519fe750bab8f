import { median } from '../../src/bench/stats';

describe('median', () => {
  it('takes the middle value of an odd count, whatever the order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });

  it('takes the mean of the two middle values of an even count, not the upper one', () => {
    expect(median([10, 2, 4, 100])).toBe(7);
    expect(median([3, 1])).toBe(2);
  });

  it('answers NaN for no values, and leaves its input unsorted', () => {
    expect(median([])).toBeNaN();
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});
