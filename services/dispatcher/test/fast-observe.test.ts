import { Histogram, Registry } from 'prom-client';
import { seriesObserver } from '../src/fast-observe';

/** Two registries, one histogram each, the same name and buckets: one fed by observe, one by seriesObserver. */
function pair(labelNames: string[] = []) {
  const make = () => {
    const registry = new Registry();
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames, buckets: [0.001, 0.005, 0.01, 0.5, 2], registers: [registry] });
    return { registry, histogram };
  };
  return { plain: make(), fast: make() };
}

// On a bound, between bounds, above the last (+Inf only), zero, and not finite (refused alike).
const VALUES = [0, 0.001, 0.0011, 0.004, 0.005, 0.007, 0.01, 0.3, 0.5, 1.9, 2, 2.0001, 17, 0.001, 0.001];

describe('seriesObserver', () => {
  it('leaves a label-less histogram as observe does, value for value', async () => {
    const { plain, fast } = pair();
    const observe = seriesObserver(fast.histogram);
    for (const v of VALUES) {
      plain.histogram.observe(v);
      observe(v);
      expect(await fast.registry.metrics()).toBe(await plain.registry.metrics());
    }
  });

  it('feeds its own series of a labelled histogram and leaves the others alone', async () => {
    const { plain, fast } = pair(['kind']);
    const item = seriesObserver(fast.histogram, { kind: 'item' });
    for (const v of VALUES) {
      plain.histogram.observe({ kind: 'item' }, v);
      item(v);
      plain.histogram.observe({ kind: 'batch' }, v * 3);
      fast.histogram.observe({ kind: 'batch' }, v * 3);
    }
    expect(await fast.registry.metrics()).toBe(await plain.registry.metrics());
    expect(await fast.registry.metrics()).toContain('h_seconds_count{kind="item"} 15');
  });

  it('starts over after a reset as observe does', async () => {
    const { plain, fast } = pair(['kind']);
    const item = seriesObserver(fast.histogram, { kind: 'item' });
    for (const v of VALUES) item(v);
    fast.registry.resetMetrics();
    for (const v of [0.003, 1, 3]) {
      plain.histogram.observe({ kind: 'item' }, v);
      item(v);
    }
    expect(await fast.registry.metrics()).toBe(await plain.registry.metrics());
  });

  it('refuses a value that is not finite as observe does', () => {
    const { fast } = pair();
    const observe = seriesObserver(fast.histogram);
    observe(0.2);
    expect(() => observe(Number.NaN)).toThrow(TypeError);
    expect(() => fast.histogram.observe(Number.NaN)).toThrow(TypeError);
  });
});
