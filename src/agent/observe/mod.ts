/**
 * What the agent shows of itself: the metrics registry, /healthz /readyz
 * /metrics over HTTP, and the `status` report; the logger is the one of
 * src/system/log.ts, re-exported here so agent folders find it in one place.
 *
 * Owns: log lines (stderr, never stdout), metric names, the health listener.
 * Must not: change the node; status reads what the other folders report.
 * @module
 */
export {
  handleHealth,
  type HealthServer,
  type HealthSource,
  parseHostPort,
  serveHealth,
} from "./health.ts";
export {
  createLogger,
  type Fields,
  type Level,
  type Logger,
  type LoggerOptions,
  memoryLogger,
} from "../../system/log.ts";
export { DURATION_BUCKETS, M, Metrics } from "./metrics.ts";
export {
  podFeatureLines,
  type PodFeatureStatus,
  podRecordDir,
  readPodFeatures,
  setPodFeatureMetrics,
} from "./pod_features.ts";
export {
  buildStatus,
  countIpsInUse,
  type PeerStatus,
  renderStatus,
  type StatusInput,
  type StatusReport,
} from "./status.ts";
