import type { E2eResult } from './end-to-end';

/**
 * Latency against throughput per backend (p50 and p99 of enqueue-to-ACK at each offered rate),
 * as an SVG drawn by vega-lite. vega/vega-lite are dev dependencies of the bench only, loaded here
 * so the `outbound` CLI starts without them.
 */
export async function renderLatencyChart(results: E2eResult[], title: string): Promise<string> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const vega = require('vega') as typeof import('vega');
  const vegaLite = require('vega-lite') as typeof import('vega-lite');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const values = results.flatMap((r) =>
    r.steps.filter((s) => !s.overCapacity && s.latencyMs.count > 0).flatMap((s) => [
      { backend: r.backend, percentile: 'p50', series: `${r.backend} p50`, offered: s.offeredPerSec, latency: Math.max(0.1, s.latencyMs.p50) },
      { backend: r.backend, percentile: 'p99', series: `${r.backend} p99`, offered: s.offeredPerSec, latency: Math.max(0.1, s.latencyMs.p99) },
    ]),
  );
  const spec = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 360,
    background: 'white',
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'offered', type: 'quantitative', title: 'offered load (commands/s, open loop)', scale: { type: 'log' } },
      y: { field: 'latency', type: 'quantitative', title: 'enqueue-to-ACK latency (ms)', scale: { type: 'log' } },
      color: { field: 'backend', type: 'nominal', title: 'backend' },
      strokeDash: { field: 'percentile', type: 'nominal', title: 'percentile' },
      detail: { field: 'series', type: 'nominal' },
    },
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  return view.toSVG();
}
