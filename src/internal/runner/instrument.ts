/**
 * A runner's runs as an operator sees them: each run in a span of its own (a root, linked or not
 * to the span the runner was made in), and its outcome counted in the task's metrics. A run's own
 * log lines are not annotated with its task here: a `FiberRef` change per run measured 20 % of a
 * concurrent run's cost and 3× a sequential one's; a task that wants it says
 * `Effect.annotateLogs("periodicTask", name)` itself.
 *
 * The runner is made once and lives as long as the process: the span current then must not
 * become the parent of every run, or one trace would stay open for the life of the process. So
 * the runner's runtime leaves that span out, and a run's span is a root.
 *
 * A span per run costs more than the rest of a run's bookkeeping (two random ids, a context,
 * a clock read in nanoseconds), so runs get spans only when somebody can see them: a tracer
 * other than Effect's built-in one (whose spans go nowhere), with tracing enabled.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import type * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Tracer from "effect/Tracer"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import {
  Attribute,
  linkTo,
  outcomeOf,
  type RunOutcome,
  TaskMeters,
  tracerInstalled,
} from "../telemetry.ts"
import { TaskTimedOut } from "./errors.ts"
import type { RunnerTask } from "./task.ts"

/** @internal What a runner's runs report besides their outcomes. */
export interface RunnerTelemetry {
  /** `"off"` too when the runner was made with Effect's built-in tracer or tracing disabled. */
  readonly runSpans: PeriodicRunner.RunSpans
  /** The span current when the runner was made, which `"linked"` runs link to. */
  readonly creator: Tracer.AnySpan | undefined
  /** The metric labels current when the runner was made (`Effect.tagMetrics`). */
  readonly metricLabels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly metrics: boolean
}

/**
 * @internal The runtime runs are forked on, without the creator's span, and what the runs
 * report: read once from the runtime the runner was made in.
 */
export const telemetryOf = <R>(
  made: Runtime.Runtime<R>,
  options: { readonly runSpans: PeriodicRunner.RunSpans; readonly metrics: boolean },
): { readonly runtime: Runtime.Runtime<R>; readonly telemetry: RunnerTelemetry } => {
  const creator = Option.getOrUndefined(Context.getOption(made.context, Tracer.ParentSpan))
  const runtime = creator === undefined ? made : Runtime.make({
    context: Context.omit(Tracer.ParentSpan)(made.context) as Context.Context<R>,
    fiberRefs: made.fiberRefs,
    runtimeFlags: made.runtimeFlags,
  })
  const refs = made.fiberRefs
  const seen = tracerInstalled(refs)
  const metricLabels = FiberRefs.getOrDefault(refs, FiberRef.currentMetricLabels)
  return {
    runtime,
    telemetry: {
      runSpans: seen ? options.runSpans : "off",
      metrics: options.metrics,
      creator,
      metricLabels,
    },
  }
}

const isTimeout = (error: unknown): boolean => error instanceof TaskTimedOut

/**
 * @internal A task's run in a root span `run <task>` that says when the run was scheduled, how
 * late it started and how it ended (a failure ends the span with its cause, as Effect ends every
 * span); the run as it is when spans are off. A run detached at a stop (it ignored its
 * interruption) is counted `interrupted` then, but its span ends with the run, as it ends.
 */
export const instrumentRun = <A, E, R>(
  telemetry: RunnerTelemetry,
  wallOffset: () => number,
  task: RunnerTask<R>,
  run: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> => {
  if (telemetry.runSpans === "off") return run
  const name = `run ${task.name}`
  const links = linkTo(telemetry.runSpans === "linked" ? telemetry.creator : undefined)
  return Effect.suspend(() =>
    Effect.useSpan(name, {
      root: true,
      links,
      captureStackTrace: false,
      attributes: {
        [Attribute.task]: task.name,
        [Attribute.scheduledAt]: task.scheduledAt + wallOffset(),
        [Attribute.lateness]: task.startedAt - task.scheduledAt,
      },
    }, (span) =>
      Effect.onExit(Effect.withParentSpan(run, span), (exit) => {
        span.attribute(Attribute.outcome, outcomeOf(exit, isTimeout))
        return Effect.void
      }))
  )
}

/** @internal A task's metrics, unless the runner records none. */
export const metersOf = (telemetry: RunnerTelemetry, name: string): TaskMeters | undefined =>
  telemetry.metrics ? new TaskMeters(name, telemetry.metricLabels) : undefined

/** @internal The outcome tag of an outcome that is a run's, as metrics have it. */
export const runOutcome: Record<
  Exclude<PeriodicRunner.TaskOutcome["_tag"], "Skipped">,
  RunOutcome
> = {
  Succeeded: "succeeded",
  Failed: "failed",
  TimedOut: "timed_out",
  Interrupted: "interrupted",
}
