/**
 * Runs in every test file's environment before its modules load (jest `setupFiles`).
 *
 * ioredis' reply parser (redis-parser) grows a module-wide buffer pool for a bulk reply that
 * arrives in more than one read, and starts a 50 ms interval that shrinks the pool again over the
 * next seconds. The interval is private to the module, so no client's quit() or disconnect() can
 * stop it, and it is not unref'd: a test file that read one large reply near its end kept its jest
 * worker alive past the moment jest ends it, and jest force-exited the worker ("A worker process
 * has failed to exit gracefully"). The interval only gives memory back; it must not keep a process
 * alive, so it is unref'd here. Every other timer is left as it is, so a real leak still shows.
 */
const setIntervalAsLoaded = globalThis.setInterval;
const setIntervalUnrefingPoolShrink = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const interval = setIntervalAsLoaded(callback, ms, ...args);
  if (callback?.name === 'decreaseBufferPool') interval.unref();
  return interval;
}) as typeof setInterval;
globalThis.setInterval = Object.assign(setIntervalUnrefingPoolShrink, setIntervalAsLoaded);
