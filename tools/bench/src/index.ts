/**
 * @outbound/bench: the benchmark harness (src/bench, bench/README.md) and the chaos runner
 * (src/chaos). It lives beside the runtime packages, not in them, so the CLI image carries
 * neither BullMQ nor bench code; `outbound bench` loads this package when it runs.
 */
export { register } from './bench-command';
