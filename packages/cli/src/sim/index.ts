export { SimulatedDevice, DeviceHandshakeError, type SimulatedDeviceOptions, type DeviceStats, type ReceivedCommand } from './simulated-device';
export { DeviceFleet, type FleetOptions, type FleetSummary } from './device-fleet';
export { type DeviceBehaviour, parseLatency } from './behaviour';
export { type ReconnectPolicy } from './backoff';
export { LatencyRecorder, type LatencySummary } from './latency-recorder';
export { formatSummary } from './format-summary';
