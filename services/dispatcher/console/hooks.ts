import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { followEvents, type EventType, type OutboundEvent, type StreamState } from './api';

export interface Loaded<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` now, whenever `deps` change and on reload(); keeps the last data while reloading (no layout jump). */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    load(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (reason: unknown) => {
        if (controller.signal.aborted) return;
        setError(reason instanceof Error ? reason : new Error(String(reason)));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Calls `tick` every `ms` while mounted. */
export function useInterval(tick: () => void, ms: number): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    const timer = setInterval(() => saved.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/** Follows the live event stream while mounted; answers the stream's state for display. */
export function useEvents(params: { types?: EventType[]; phyId?: string; enabled?: boolean }, onEvent: (event: OutboundEvent) => void): { state: StreamState; detail?: string } {
  const [status, setStatus] = useState<{ state: StreamState; detail?: string }>({ state: 'connecting' });
  const saved = useRef(onEvent);
  saved.current = onEvent;
  const types = params.types?.join(',');
  useEffect(() => {
    if (params.enabled === false) return;
    const controller = new AbortController();
    void followEvents(
      { types: params.types, phyId: params.phyId },
      (event) => saved.current(event),
      (state, detail) => setStatus({ state, detail }),
      controller.signal,
    );
    return () => controller.abort();
  }, [types, params.phyId, params.enabled]);
  return status;
}
