/**
 * What the library tells an operator besides its log lines: spans through the context's
 * `Tracer` and metrics in `effect/Metric`'s global registry, so that any exporter of either
 * sees them (`@effect/opentelemetry`, Prometheus, a test's snapshot). Every name and attribute
 * is here, in one place; the public module `Telemetry` documents them.
 *
 * Names follow OpenTelemetry's habits: span names are "{operation} {target}" of low
 * cardinality (a task's or a manager's name, never an instant), attributes and metrics are
 * lowercase dotted names under `effect_manager.`. Durations are milliseconds, tagged
 * `time_unit: milliseconds` as `Metric.timer` tags its own.
 *
 * Tags are in Effect's order, which a reader must follow (a metric's key compares its tags in
 * order): the metric's own (`time_unit`), then ours (`task`, `outcome`, …), then the labels of
 * the fiber that made the runner, service or scheduler, as `Metric.update` puts a fiber's last.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Tracer from "effect/Tracer"

/** @internal Span attributes. */
export const Attribute = {
  task: "effect_manager.task",
  scheduledAt: "effect_manager.task.scheduled_at",
  lateness: "effect_manager.task.lateness_ms",
  outcome: "effect_manager.task.outcome",
  host: "effect_manager.host",
  topic: "effect_manager.topic",
  manager: "effect_manager.manager",
  hook: "effect_manager.hook",
  stopPhase: "effect_manager.stop_phase",
  reportCount: "effect_manager.report_count",
  hostsConsidered: "effect_manager.scheduler.hosts_considered",
  chosenHost: "effect_manager.scheduler.chosen_host",
} as const

/** How a run ended, as the `outcome` tag and attribute have it. */
export type RunOutcome = "succeeded" | "failed" | "timed_out" | "interrupted"

/** Milliseconds, from a fraction of one to five minutes (OpenTelemetry's defaults, extended). */
const millisBoundaries = MetricBoundaries.fromIterable([
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
  10_000,
  30_000,
  60_000,
  300_000,
])

const milliseconds = [MetricLabel.make("time_unit", "milliseconds")]

const millisHistogram = (name: string, description: string) =>
  MetricKey.taggedWithLabels(MetricKey.histogram(name, millisBoundaries, description), milliseconds)

/** @internal The metrics' keys; `Telemetry` makes its metrics from them. */
export const Keys = {
  taskRuns: MetricKey.counter("effect_manager.task.runs", {
    description: "Runs of periodic tasks, by task and outcome",
  }),
  taskSkipped: MetricKey.counter("effect_manager.task.skipped", {
    description: "Occurrences of periodic tasks skipped (the task still running, missed slots)",
  }),
  taskDuration: millisHistogram(
    "effect_manager.task.duration",
    "How long runs of periodic tasks took, by task",
  ),
  taskLateness: millisHistogram(
    "effect_manager.task.lateness",
    "How long after their scheduled instant runs of periodic tasks started, by task",
  ),
  hookDuration: millisHistogram(
    "effect_manager.hook.duration",
    "How long managers' lifecycle hooks took, by manager and hook",
  ),
  heartbeatFailures: MetricKey.counter("effect_manager.registry.heartbeat_failures", {
    description: "Heartbeats (service state reports) that failed or timed out, by host and topic",
  }),
  hostsUp: MetricKey.gauge("effect_manager.scheduler.hosts_up", {
    description: "Host states (host, service, manager) the process's schedulers list as up",
  }),
  reports: MetricKey.counter("effect_manager.scheduler.reports", {
    description:
      "Capability reports a scheduler received, by result (applied, out_of_order, refused)",
  }),
  placements: MetricKey.counter("effect_manager.scheduler.placements", {
    description: "Hosts a scheduler's select chose",
  }),
  noValidHost: MetricKey.counter("effect_manager.scheduler.no_valid_host", {
    description: "Selects that found no valid host",
  }),
} as const

/** A metric made from `key` with `labels` added: its registry entry is looked up once. */
const meter = <Type extends MetricKey.MetricKey<any>>(
  key: Type,
  labels: ReadonlyArray<MetricLabel.MetricLabel>,
) =>
  Metric.fromMetricKey(
    labels.length === 0 ? key : MetricKey.taggedWithLabels(key, labels),
  ) as Metric.Metric<Type["keyType"], number, unknown>

const noLabels: Array<MetricLabel.MetricLabel> = []

/**
 * @internal An update of the metric of `key` tagged with `labels` (adds to a counter, sets a
 * gauge, records in a histogram); the update function looks its registry entry up on its first
 * call only, so it is made once and kept.
 */
export const updater = (
  key: MetricKey.MetricKey<any>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>,
): (value: number) => void => {
  let metric: Metric.Metric<any, number, unknown> | undefined
  return (value) => (metric ??= meter(key, labels)).unsafeUpdate(value, noLabels)
}

/**
 * @internal This holder's share of the gauge of `key` tagged with `labels`: each call sets the
 * share to `value` by adding the difference, so holders of one gauge (two schedulers in one
 * process) add up instead of overwriting each other; a holder that ends sets its share to 0.
 */
export const gaugeShare = (
  key: MetricKey.MetricKey<any>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>,
): (value: number) => void => {
  let metric: Metric.Metric<any, number, unknown> | undefined
  let share = 0
  return (value) => {
    if (value === share) return
    ;(metric ??= meter(key, labels)).unsafeModify(value - share, noLabels)
    share = value
  }
}

/** @internal `[key, value]` pairs as metric labels, then the fiber's (`fiber`). */
export const labels = (
  pairs: Record<string, string>,
  fiber: ReadonlyArray<MetricLabel.MetricLabel>,
): Array<MetricLabel.MetricLabel> => [
  ...Object.entries(pairs).map(([key, value]) => MetricLabel.make(key, value)),
  ...fiber,
]

/** The task metrics, made once and shared by every task (each with its own tags). */
let taskMetrics:
  | {
    readonly runs: Metric.Metric<any, number, unknown>
    readonly skipped: Metric.Metric<any, number, unknown>
    readonly duration: Metric.Metric<any, number, unknown>
    readonly lateness: Metric.Metric<any, number, unknown>
  }
  | undefined

/**
 * @internal One task's metrics: its tags, made once. Every task updates the same four metrics,
 * each keeping the registry entry of a tags array it was given in a `WeakMap`: a run's updates
 * look up nothing else and allocate nothing, and a task costs its registry entries and its
 * arrays, not a metric object of its own.
 */
export class TaskMeters {
  private readonly tags: ReadonlyArray<MetricLabel.MetricLabel>
  private readonly outcomeTags = new Map<RunOutcome, ReadonlyArray<MetricLabel.MetricLabel>>()
  private readonly task: MetricLabel.MetricLabel
  private readonly metrics = taskMetrics ??= {
    runs: Metric.fromMetricKey(Keys.taskRuns),
    skipped: Metric.fromMetricKey(Keys.taskSkipped),
    duration: Metric.fromMetricKey(Keys.taskDuration),
    lateness: Metric.fromMetricKey(Keys.taskLateness),
  }

  constructor(task: string, private readonly fiber: ReadonlyArray<MetricLabel.MetricLabel>) {
    this.task = MetricLabel.make("task", task)
    this.tags = [this.task, ...fiber]
  }

  /** A run ended. */
  ran(outcome: RunOutcome, durationMillis: number, latenessMillis: number): void {
    let tags = this.outcomeTags.get(outcome)
    if (tags === undefined) {
      tags = [this.task, MetricLabel.make("outcome", outcome), ...this.fiber]
      this.outcomeTags.set(outcome, tags)
    }
    const metrics = this.metrics
    metrics.runs.unsafeUpdate(1, tags)
    metrics.duration.unsafeUpdate(durationMillis, this.tags)
    metrics.lateness.unsafeUpdate(latenessMillis, this.tags)
  }

  /** An occurrence was skipped. */
  skipped(): void {
    this.metrics.skipped.unsafeUpdate(1, this.tags)
  }
}

/** @internal How an exit reads as an outcome; `timedOut` tells a time limit's failure. */
export const outcomeOf = (
  exit: Exit.Exit<unknown, unknown>,
  timedOut: (error: unknown) => boolean,
): RunOutcome => {
  if (Exit.isSuccess(exit)) return "succeeded"
  if (Cause.isInterruptedOnly(exit.cause)) return "interrupted"
  const failure = Cause.failureOption(exit.cause)
  return failure._tag === "Some" && timedOut(failure.value) ? "timed_out" : "failed"
}

/**
 * @internal `effect` in a span named `name` with `attributes`, a child of the current span, and
 * without the stack trace Effect captures by default (one `Error` per span).
 */
export const span: {
  (
    name: string,
    attributes: Record<string, unknown>,
  ): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    name: string,
    attributes: Record<string, unknown>,
  ): Effect.Effect<A, E, R>
} = dual(3, <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  attributes: Record<string, unknown>,
): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, name, { attributes, captureStackTrace: false }))

/**
 * @internal `effect` timed in milliseconds by `record`, however it ends. On the fiber's `Clock`
 * in nanoseconds, which Effect's own clock reads from a monotonic source (a step of the wall
 * clock does not make a duration negative) and a `TestClock` moves too.
 */
export const timed = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  record: (millis: number) => void,
): Effect.Effect<A, E, R> =>
  Effect.clockWith((clock) => {
    const start = clock.unsafeCurrentTimeNanos()
    return Effect.ensuring(
      effect,
      Effect.sync(() => record(Number(clock.unsafeCurrentTimeNanos() - start) / 1e6)),
    )
  })

/** @internal A span's link to `span`, for a run's root span. */
export const linkTo = (span: Tracer.AnySpan | undefined): ReadonlyArray<Tracer.SpanLink> =>
  span === undefined ? [] : [{ _tag: "SpanLink", span, attributes: {} }]

/**
 * @internal Whether spans made with `refs` go anywhere: tracing is enabled and a tracer other than
 * Effect's built-in one is installed. With that one, spans go nowhere, and their random ids and
 * contexts are not free (two spans cost an RPC call about 35 µs of its 80–110: bench:rpc), so
 * runs and calls make none.
 */
export const tracerInstalled = (refs: FiberRefs.FiberRefs): boolean =>
  FiberRefs.getOrDefault(refs, FiberRef.currentTracerEnabled) &&
  Context.get(FiberRefs.getOrDefault(refs, DefaultServices.currentServices), Tracer.Tracer) !==
    Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** @internal `tracerInstalled` for the current fiber. */
export const isTracing: Effect.Effect<boolean> = Effect.map(Effect.getFiberRefs, tracerInstalled)
