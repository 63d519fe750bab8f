import { DeviceFleet, type FleetOptions, type FleetSummary } from './device-fleet';
import { formatSummary } from './format-summary';

export interface RunSimulatorOptions {
  /** Print a summary this often while running (0: only at the end). */
  summaryIntervalMs: number;
  /** Stop by itself after this long (undefined: run until SIGINT/SIGTERM). */
  durationMs?: number;
  /** Print summaries as JSON lines instead of text. */
  json: boolean;
  /** Where lines go (stdout in the CLI). */
  write: (line: string) => void;
}

/**
 * Runs a fleet until SIGINT, SIGTERM or the duration, printing summaries on the way and
 * once more on exit. Resolves with the final summary after every device is closed.
 */
export async function runSimulator(fleetOptions: FleetOptions, run: RunSimulatorOptions): Promise<FleetSummary> {
  const fleet = new DeviceFleet(fleetOptions);
  const print = (label: string): void => {
    const summary = fleet.summary();
    run.write(run.json ? JSON.stringify({ event: label, at: new Date().toISOString(), ...summary }) : `[sim] ${label}: ${formatSummary(summary)}`);
  };

  let finish: (reason: string) => void = () => undefined;
  const finished = new Promise<string>((resolve) => (finish = resolve));
  const onSignal = (signal: NodeJS.Signals): void => finish(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const durationTimer = run.durationMs === undefined ? undefined : setTimeout(() => finish('duration'), run.durationMs);
  const summaryTimer = run.summaryIntervalMs > 0 ? setInterval(() => print('summary'), run.summaryIntervalMs) : undefined;

  fleet
    .start()
    .then(() => print('all devices connected'))
    .catch((error: unknown) => {
      if (error instanceof Error && error.name === 'AbortError') return; // stopped while connecting
      run.write(`[sim] start failed: ${error instanceof Error ? error.message : String(error)}`);
      finish('error');
    });

  const reason = await finished;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  clearTimeout(durationTimer);
  clearInterval(summaryTimer);
  await fleet.stop();
  print(`final (${reason})`);
  return fleet.summary();
}
