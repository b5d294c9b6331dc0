/**
 * What effect-manager tells an operator besides its log lines: spans through the context's
 * `Tracer`, metrics in `effect/Metric`'s registry. Any exporter of either sees them: the
 * OpenTelemetry one of `@effect/opentelemetry`, a Prometheus scrape of `Metric.snapshot`, a
 * test's own tracer.
 *
 * Spans ("{operation} {target}", attributes under `effect_manager.`):
 * - `run <task>`: one per run of a periodic task, the root of its own trace (see
 *   `PeriodicRunner.RunSpans`), made only when a tracer other than Effect's built-in one is
 *   installed.
 * - `start <topic>` with a child per hook (`init <manager>`, `preStart <manager>`,
 *   `postStart <manager>`); `stop <topic>` with a child per phase (`stop periodic_tasks`,
 *   `stop capabilities`, `stop heartbeat`, `stop cleanup` with `cleanup <manager>`,
 *   `stop mark_down`); `reset <manager>`.
 * - `heartbeat <topic>`: one per state report to the registry, with its report count.
 * - `select`: one per placement, with the host chosen or how many hosts were considered.
 *
 * Metrics (below): a task's and a manager's figures are tagged with their names, a service's
 * with its `host` and `topic` too; every metric also carries the labels of the fiber that made
 * the runner, service or scheduler (`Effect.tagMetrics`). A metric's key compares its tags in
 * order, which is Effect's: the metric's own (`time_unit`), then the ones named here in the order
 * given, then the fiber's. So `Metric.value(Telemetry.taskRuns.pipe(Metric.tagged("task", t),
 * Metric.tagged("outcome", o)))` reads a runner's series when run under the same fiber labels.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import { Attribute, Keys } from "./internal/telemetry.ts"

/**
 * The attribute names of the library's spans.
 *
 * @example
 * ```ts
 * import { Telemetry } from "effect-manager"
 *
 * Telemetry.SpanAttribute.outcome // "effect_manager.task.outcome"
 * ```
 *
 * @since 0.1.0
 * @category spans
 */
export const SpanAttribute: {
  /** A periodic task's name. */
  readonly task: "effect_manager.task"
  /** The instant a run was scheduled for, in epoch milliseconds. */
  readonly scheduledAt: "effect_manager.task.scheduled_at"
  /** How long after its scheduled instant a run started, in milliseconds. */
  readonly lateness: "effect_manager.task.lateness_ms"
  /** How a run ended: `succeeded`, `failed`, `timed_out` or `interrupted`. */
  readonly outcome: "effect_manager.task.outcome"
  /** A service's host. */
  readonly host: "effect_manager.host"
  /** A service's topic. */
  readonly topic: "effect_manager.topic"
  /** A manager's name. */
  readonly manager: "effect_manager.manager"
  /** A lifecycle hook: `init`, `preStart`, `postStart`, `cleanup` or `reset`. */
  readonly hook: "effect_manager.hook"
  /** A phase of a service's stop. */
  readonly stopPhase: "effect_manager.stop_phase"
  /** The report count a heartbeat left in the registry. */
  readonly reportCount: "effect_manager.report_count"
  /** How many up hosts a `select` that found no valid host considered. */
  readonly hostsConsidered: "effect_manager.scheduler.hosts_considered"
  /** The host a `select` chose. */
  readonly chosenHost: "effect_manager.scheduler.chosen_host"
} = Attribute

/**
 * `effect_manager.task.runs`: runs of periodic tasks, tagged `task` and `outcome`
 * (`succeeded`, `failed`, `timed_out`, `interrupted`).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const failures = Metric.value(
 *   Telemetry.taskRuns.pipe(Metric.tagged("task", "audit"), Metric.tagged("outcome", "failed")),
 * )
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const taskRuns: Metric.Metric.Counter<number> = Metric.fromMetricKey(Keys.taskRuns)

/**
 * `effect_manager.task.skipped`: occurrences skipped, tagged `task` (a fixed slot that found
 * the task still running, missed cron instants).
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const skipped = Metric.value(Telemetry.taskSkipped.pipe(Metric.tagged("task", "audit")))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const taskSkipped: Metric.Metric.Counter<number> = Metric.fromMetricKey(Keys.taskSkipped)

/**
 * `effect_manager.task.duration`: how long runs took, in milliseconds, tagged
 * `time_unit: milliseconds` and `task`.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const durations = Metric.value(Telemetry.taskDuration.pipe(Metric.tagged("task", "audit")))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const taskDuration: Metric.Metric.Histogram<number> = Metric.fromMetricKey(
  Keys.taskDuration,
)

/**
 * `effect_manager.task.lateness`: how long after their scheduled instant runs started, in
 * milliseconds, tagged `time_unit: milliseconds` and `task`.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const lateness = Metric.value(Telemetry.taskLateness.pipe(Metric.tagged("task", "audit")))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const taskLateness: Metric.Metric.Histogram<number> = Metric.fromMetricKey(
  Keys.taskLateness,
)

/**
 * `effect_manager.hook.duration`: how long managers' lifecycle hooks took, in milliseconds,
 * tagged `time_unit: milliseconds`, `manager` and `hook`.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const inits = Metric.value(
 *   Telemetry.hookDuration.pipe(Metric.tagged("manager", "Compute"), Metric.tagged("hook", "init")),
 * )
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const hookDuration: Metric.Metric.Histogram<number> = Metric.fromMetricKey(
  Keys.hookDuration,
)

/**
 * `effect_manager.registry.heartbeat_failures`: state reports to the registry that failed or
 * timed out, tagged `host` and `topic`.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const failed = Metric.value(
 *   Telemetry.heartbeatFailures.pipe(Metric.tagged("host", "node-1"), Metric.tagged("topic", "compute")),
 * )
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const heartbeatFailures: Metric.Metric.Counter<number> = Metric.fromMetricKey(
  Keys.heartbeatFailures,
)

/**
 * `effect_manager.scheduler.hosts_up`: the host states (one per host, service and manager) the
 * schedulers of the process list as up, summed over them; a scheduler whose scope closed counts
 * none.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const up = Metric.value(Telemetry.hostsUp)
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const hostsUp: Metric.Metric.Gauge<number> = Metric.fromMetricKey(Keys.hostsUp)

/**
 * `effect_manager.scheduler.reports`: capability reports a scheduler received, tagged
 * `result`: `applied`, `out_of_order` or `refused`.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const refused = Metric.value(Telemetry.reports.pipe(Metric.tagged("result", "refused")))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const reports: Metric.Metric.Counter<number> = Metric.fromMetricKey(Keys.reports)

/**
 * `effect_manager.scheduler.placements`: hosts a scheduler's `select` chose.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const placed = Metric.value(Telemetry.placements)
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const placements: Metric.Metric.Counter<number> = Metric.fromMetricKey(Keys.placements)

/**
 * `effect_manager.scheduler.no_valid_host`: `select`s that found no valid host.
 *
 * @example
 * ```ts
 * import * as Metric from "effect/Metric"
 * import { Telemetry } from "effect-manager"
 *
 * const unplaced = Metric.value(Telemetry.noValidHost)
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const noValidHost: Metric.Metric.Counter<number> = Metric.fromMetricKey(Keys.noValidHost)
