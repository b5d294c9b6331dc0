/**
 * The periodic-task engine. One driver fiber per runner keeps every task's next due instant and
 * sleeps until the earliest; it never parks a sleeping fiber per task. Every occurrence of a
 * task ends in exactly one {@link TaskOutcome}.
 *
 * Two modes:
 * - `"concurrent"` (default): each due run starts in its own fiber; a task never overlaps
 *   itself (a fixed-grid slot that finds the previous run still going is recorded as skipped).
 * - `"sequential"`: oslo.service's `run_periodic_tasks` loop: due tasks run one after another in
 *   definition order within a pass, and the loop sleeps for the pass's idle time.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidOption } from "./internal/options.ts"
import * as errors from "./internal/runner/errors.ts"
import type {
  CannotTrigger,
  NoSuchTask,
  PeriodicTaskFailed,
  RunnerStopped,
} from "./internal/runner/errors.ts"
import * as internal from "./internal/runner/runner.ts"
import type { InvalidPeriodicTask, PeriodicTask } from "./PeriodicTask.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link PeriodicRunner}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { PeriodicRunner } from "effect-manager"
 *
 * const marked = Effect.scoped(
 *   Effect.map(PeriodicRunner.make([]), (runner) => PeriodicRunner.TypeId in runner), // true
 * )
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * Whether a value is a {@link PeriodicRunner}.
 *
 * @example
 * ```ts
 * import { PeriodicRunner } from "effect-manager"
 *
 * PeriodicRunner.isPeriodicRunner({ tasks: [] }) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isPeriodicRunner: (u: unknown) => u is PeriodicRunner<unknown> =
  internal.isPeriodicRunner

/**
 * How a pass runs its due tasks: `"concurrent"` (the default) starts each in a fiber of its
 * own; `"sequential"` runs them one after another in definition order, as oslo does.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "concurrent" | "sequential"

/**
 * How a runner traces its runs. Every run is the root of a trace of its own, never a child of
 * the span current when the runner was made (that span would hold one trace open for the life
 * of the process); spans the run makes are children of its span.
 *
 * - `"linked"` (the default): a span `run <task>` per run, linked to the span the runner was
 *   made in (when there is one), so a trace viewer can go from the run to the service start.
 * - `"root"`: the same span, without the link.
 * - `"off"`: no span of the runner's; spans the run makes are roots.
 *
 * A run's span has the attributes `effect_manager.task`, `effect_manager.task.scheduled_at`
 * (epoch milliseconds), `effect_manager.task.lateness_ms` and `effect_manager.task.outcome`
 * (`succeeded`, `failed`, `timed_out`, `interrupted`); a failure ends it with its cause.
 *
 * @since 0.1.0
 * @category models
 */
export type RunSpans = "linked" | "root" | "off"

/**
 * Options of {@link make}; an option out of its range fails `make` with {@link InvalidOption}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `"concurrent"`. */
  readonly mode?: Mode | undefined
  /** Wait before the first pass (nova's `periodic_fuzzy_delay`). Default 0. */
  readonly initialDelay?: Duration.DurationInput | undefined
  /** Caps every sleep of the driver (oslo's `periodic_interval_max`). Default 60 s. */
  readonly maxSleep?: Duration.DurationInput | undefined
  /** How long running tasks may go on when the runner stops, before they are interrupted. Default 60 s. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** `false`: no driver fiber; the runner only runs on {@link PeriodicRunner.tick} (edge cron triggers). Default `true`. */
  readonly start?: boolean | undefined
  /**
   * When tasks are next due, by name (epoch ms of the runner's `Clock`), instead of one period
   * after the runner starts: the state an edge cron trigger keeps between invocations (see
   * {@link RunnerStatus}'s `nextRunAt`). A fixed task keeps the grid the instant implies; a
   * `Schedule`-timed task starts its schedule afresh. Names the runner does not have are ignored.
   * A record's own entries count, and nothing it inherits: any string is a task name.
   */
  readonly resume?: ReadonlyMap<string, number> | Readonly<Record<string, number>> | undefined
  /** Concurrent mode: runs started in one batch before the driver yields to the event loop. Default 1024. */
  readonly maxBatch?: number | undefined
  /**
   * Concurrent mode: whether each run's fiber counts in Effect's built-in fiber metrics
   * (`effect_fiber_started`, `effect_fiber_active`, `effect_fiber_successes`,
   * `effect_fiber_failures`, `effect_fiber_lifetimes`), as it does when the runtime has
   * `RuntimeFlags.RuntimeMetrics` on (Effect's default). Default `false`: a runner starts a fiber
   * per run, and those five metric updates are a tenth of what a run costs, for counts that
   * {@link PeriodicRunner.status} and {@link PeriodicRunner.outcomes} keep per task. Fibers a
   * run forks take its flags, so they are left out too; `true` counts them, and one batch fiber
   * per pass that starts the runs.
   */
  readonly fiberMetrics?: boolean | undefined
  /**
   * How each run is traced (see {@link RunSpans}). Default `"linked"`.
   */
  readonly runSpans?: RunSpans | undefined
  /**
   * Whether runs update the metrics `effect_manager.task.runs`, `.skipped`, `.duration` and
   * `.lateness`, tagged with the task's name (see `Telemetry`). Default `true`: three metric
   * updates per run. `false` for a runner of very many tasks whose names would make too many
   * series, or where a run's cost matters more than its figures.
   */
  readonly metrics?: boolean | undefined
  /**
   * How many outcomes {@link PeriodicRunner.outcomes} keeps for a subscriber that has not read
   * them yet. A subscriber that falls further behind loses the oldest (a sliding buffer), so a
   * subscriber that stops reading holds at most this many. Default 16,384.
   */
  readonly outcomeBuffer?: number | undefined
}

/**
 * When an occurrence was due and what happened to it. Instants are epoch milliseconds of the
 * runner's `Clock`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Occurrence {
  /** The task's name. */
  readonly task: string
  /** The instant the occurrence was due. */
  readonly scheduledAt: number
  /** The instant it started (or was skipped). */
  readonly startedAt: number
  /** How long the run took; 0 for an occurrence that was skipped. */
  readonly durationMillis: number
  /** `startedAt - scheduledAt`. */
  readonly latenessMillis: number
}

/**
 * The one result of every occurrence of a task.
 *
 * @example
 * ```ts
 * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
 *
 * const describe = PeriodicRunner.TaskOutcome.$match({
 *   Succeeded: (o) => `${o.task} ok in ${o.durationMillis} ms`,
 *   Failed: (o) => `${o.task} failed`,
 *   TimedOut: (o) => `${o.task} timed out after ${o.timeoutMillis} ms`,
 *   Skipped: (o) => `${o.task} skipped: still running`,
 *   Interrupted: (o) => `${o.task} interrupted`
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type TaskOutcome = Data.TaggedEnum<{
  Succeeded: Occurrence
  Failed: Occurrence & { readonly cause: Cause.Cause<unknown> }
  TimedOut: Occurrence & { readonly timeoutMillis: number }
  Skipped: Occurrence
  Interrupted: Occurrence
}>

/**
 * Constructors, guards (`$is`) and `$match` for {@link TaskOutcome}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
 *
 * const skipped = PeriodicRunner.TaskOutcome.Skipped({
 *   task: "audit",
 *   scheduledAt: 0,
 *   startedAt: 5,
 *   durationMillis: 0,
 *   latenessMillis: 5,
 * })
 * const isSkipped = PeriodicRunner.TaskOutcome.$is("Skipped")(skipped) // true
 *
 * const logFailures = (runner: PeriodicRunner.PeriodicRunner) =>
 *   runner.outcomes.pipe(
 *     Stream.filter(PeriodicRunner.TaskOutcome.$is("Failed")),
 *     Stream.runForEach((outcome) => Effect.logError(`${outcome.task} failed`, outcome.cause)),
 *   )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const TaskOutcome: Data.TaggedEnum.Constructor<TaskOutcome> = errors.TaskOutcome

/**
 * A snapshot of one task.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskStatus {
  /** The task's name. */
  readonly name: string
  /** `"done"`: a `Schedule`-timed task whose schedule is over; it does not run again. */
  readonly state: "scheduled" | "running" | "paused" | "disabled" | "done"
  /** When it is next due (epoch ms); none for a disabled, finished or running spaced task. */
  readonly nextRunAt: Option.Option<number>
  /**
   * The outcome recorded last; none before the first. After a run, the run's own: the instants a
   * cron task's run missed are recorded as `Skipped` before it.
   */
  readonly lastOutcome: Option.Option<TaskOutcome>
  /** Occurrences recorded as `Succeeded` since the runner started. */
  readonly succeeded: number
  /** Occurrences recorded as `Failed` since the runner started. */
  readonly failed: number
  /** Occurrences recorded as `TimedOut` since the runner started. */
  readonly timedOut: number
  /** Occurrences recorded as `Skipped` since the runner started. */
  readonly skipped: number
  /** Occurrences recorded as `Interrupted` since the runner started. */
  readonly interrupted: number
}

/**
 * Where a runner is in its life: `"idle"` (made with `start: false`, driven by `tick`),
 * `"running"`, `"stopping"`, `"stopped"`, or `"failed"` (a task with error policy `"fail"`
 * failed).
 *
 * @since 0.1.0
 * @category models
 */
export type RunnerState = "idle" | "running" | "stopping" | "stopped" | "failed"

/**
 * A snapshot of the runner.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerStatus {
  /** The mode the runner was made with. */
  readonly mode: Mode
  /** `"idle"`: created with `start: false`. */
  readonly state: RunnerState
  /** How often the driver fiber woke up. */
  readonly wakeups: number
  /** Passes run, by the driver or by `tick`. */
  readonly passes: number
  /** One snapshot per task, in definition order. */
  readonly tasks: ReadonlyArray<TaskStatus>
}

/**
 * What {@link PeriodicRunner.remove} does with a run of the task still in progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoveOptions {
  /**
   * `true`: wait until the run in progress ends (in sequential mode, its pass). Do not wait from
   * the task's own run or from a fiber it waits for: the run would wait for itself.
   */
  readonly wait?: boolean | undefined
  /**
   * `true`: interrupt the run in progress, recorded as `Interrupted` (concurrent mode; in
   * sequential mode the run, inline in its pass, goes on).
   */
  readonly interrupt?: boolean | undefined
}

/**
 * A running set of periodic tasks.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeriodicRunner<out E = never> {
  /** Marks the value as a runner; see {@link isPeriodicRunner}. */
  readonly [TypeId]: TypeId
  /** The mode the runner was made with. */
  readonly mode: Mode
  /** Task names, in definition order (added tasks after, or in the place of removed ones). */
  readonly tasks: ReadonlyArray<string>
  /**
   * Runs one pass now: every due task (in sequential mode in definition order, inline) and
   * returns how long until the next one is due. Sequential mode returns oslo's idle time
   * (at most 60 s, and a task that ran counts with its full spacing).
   */
  readonly tick: Effect.Effect<Duration.Duration, PeriodicTaskFailed<E>>
  /** Waits until the runner stops; fails if a task with error policy `"fail"` failed. */
  readonly join: Effect.Effect<void, PeriodicTaskFailed<E>>
  /** Every outcome from the moment of subscription on. */
  readonly outcomes: Stream.Stream<TaskOutcome>
  /** A snapshot of the runner and of each task. */
  readonly status: Effect.Effect<RunnerStatus>
  /**
   * Pauses one task, or all of them. A run in progress goes on. A paused task does not run, and
   * what comes due meanwhile (a fixed task's slot, a cron instant) is not recorded as `Skipped`:
   * a pause misses nothing.
   */
  readonly pause: (name?: string) => Effect.Effect<void, NoSuchTask>
  /**
   * Resumes one task, or all of them; an overdue task runs at once (when the driver is in a
   * sleep of 1 ms or less, a timer's resolution, at the end of that sleep).
   */
  readonly resume: (name?: string) => Effect.Effect<void, NoSuchTask>
  /**
   * Makes a task due now (a fixed task keeps its grid). Like `resume`, it wakes the driver, or
   * takes effect at the end of a sleep of 1 ms or less. A paused task triggered runs when it is
   * resumed; a task still running is recorded as skipped (a fixed one keeps its next slot).
   * Fails with {@link CannotTrigger} for a disabled task, a `Schedule`-timed task whose schedule
   * is over, or a runner that has stopped.
   */
  readonly trigger: (name: string) => Effect.Effect<void, NoSuchTask | CannotTrigger>
  /**
   * Adds a task while the runner runs, checked as the tasks given at creation (a bad field, or a
   * name another task of the runner has, fails with `InvalidPeriodicTask`), and timed from now, as
   * if the runner had been created now. A runner that has stopped refuses it with
   * {@link RunnerStopped}. The task's requirements must be met already (`Effect.provide` its
   * run): the runner's context was fixed when it was made. In sequential mode an added task is
   * examined after the tasks given at creation, or in the place of a removed one.
   */
  add(task: PeriodicTask<E>): Effect.Effect<void, InvalidPeriodicTask | RunnerStopped>
  /**
   * Removes a task: no occurrence of it starts from now on (one waiting under the `"queue"`
   * overlap policy is dropped), and it leaves `tasks` and `status`. A run still in progress goes
   * on and records its outcome, unless `{ interrupt: true }`; `{ wait: true }` returns once it
   * has ended. The name is free for `add` at once.
   */
  remove(name: string, options?: RemoveOptions): Effect.Effect<void, NoSuchTask>
  /**
   * Stops the driver, lets running tasks finish within the timeout (default: the runner's
   * `shutdownTimeout`), then interrupts them. Closing the runner's scope does the same. A run
   * that ignores its interruption for a second is recorded as `Interrupted` (its one outcome),
   * logged and left detached: the stop does not wait for it. A timeout that is not a finite
   * duration ≥ 0 fails with {@link InvalidOption} and leaves the runner as it was.
   */
  readonly shutdown: {
    (): Effect.Effect<void>
    (timeout: Duration.DurationInput): Effect.Effect<void, InvalidOption>
  }
}

/**
 * The error type of the tasks in a list.
 *
 * @since 0.1.0
 * @category type-level
 */
export type TaskError<T> = T extends PeriodicTask<infer E, infer _R> ? E : never

/**
 * The requirements of the tasks in a list.
 *
 * @since 0.1.0
 * @category type-level
 */
export type TaskContext<T> = T extends PeriodicTask<infer _E, infer R> ? R : never

/**
 * Checks the tasks (a bad duration, an empty or duplicate name, a cron expression that does not
 * parse fail here with {@link InvalidPeriodicTask}; an option out of its range with
 * {@link InvalidOption}) and starts a runner in the current scope.
 * Closing the scope stops it gracefully.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const runner = yield* PeriodicRunner.make([
 *       PeriodicTask.spaced("audit", "1 second", Effect.log("audit"), { runImmediately: true }),
 *       PeriodicTask.fixed("report", "500 millis", Effect.log("report"))
 *     ])
 *     yield* runner.outcomes.pipe(Stream.take(5), Stream.runForEach(Effect.log))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <const Tasks extends ReadonlyArray<PeriodicTask<any, any>>>(
  tasks: Tasks,
  options?: Options,
) => Effect.Effect<
  PeriodicRunner<TaskError<Tasks[number]>>,
  InvalidPeriodicTask | InvalidOption,
  TaskContext<Tasks[number]> | Scope.Scope
> = internal.make

/**
 * Runs the tasks until interrupted (then stops gracefully); fails if a task with error policy
 * `"fail"` fails.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const fiber = PeriodicRunner.run([PeriodicTask.spaced("audit", "1 second", Effect.log("audit"))]).pipe(
 *   Effect.fork
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <const Tasks extends ReadonlyArray<PeriodicTask<any, any>>>(
  tasks: Tasks,
  options?: Options,
): Effect.Effect<
  void,
  InvalidPeriodicTask | InvalidOption | PeriodicTaskFailed<TaskError<Tasks[number]>>,
  TaskContext<Tasks[number]>
> => internal.run(tasks, options)

export {
  /**
   * `trigger` named a task that cannot run: disabled, its schedule over, or its runner stopped.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
   *
   * const auditNow = (runner: PeriodicRunner.PeriodicRunner) =>
   *   runner.trigger("audit").pipe(
   *     Effect.catchTag("CannotTrigger", (error) =>
   *       Effect.logWarning(`audit not run: ${error.reason}`)),
   *   )
   * // audit not run: it is disabled
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  CannotTrigger,
  /**
   * A trigger, pause or resume named a task the runner does not have; lists the known ones.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
   *
   * const pauseAudit = (runner: PeriodicRunner.PeriodicRunner) =>
   *   runner.pause("audit").pipe(
   *     Effect.catchTag("NoSuchTask", (error) => Effect.logError(error.message)),
   *   )
   * // No periodic task named "audit"; known tasks: "report"
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  NoSuchTask,
  /**
   * A task with error policy `"fail"` failed (or timed out): the runner stopped.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
   * import * as PeriodicTask from "effect-manager/PeriodicTask"
   *
   * const reconcile = PeriodicTask.fixed("reconcile", "1 minute", Effect.fail("drift"), {
   *   onError: "fail",
   * })
   *
   * const program = PeriodicRunner.run([reconcile]).pipe(
   *   Effect.catchTag("PeriodicTaskFailed", (error) =>
   *     Effect.logError(`${error.task} stopped the runner`, error.cause)),
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  PeriodicTaskFailed,
  /**
   * `add` on a runner that has stopped.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { PeriodicRunner, PeriodicTask } from "effect-manager"
   *
   * const late = Effect.scoped(Effect.gen(function*() {
   *   const runner = yield* PeriodicRunner.make([])
   *   yield* runner.shutdown()
   *   yield* runner.add(PeriodicTask.spaced("audit", "1 second", Effect.void))
   * })).pipe(Effect.catchTag("RunnerStopped", (error) => Effect.logWarning(error.message)))
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  RunnerStopped,
  /**
   * The failure a run gets when it exceeds its task's `timeout`.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
   * import * as PeriodicTask from "effect-manager/PeriodicTask"
   *
   * const sync = PeriodicTask.spaced("sync", "1 minute", Effect.never, {
   *   timeout: "10 seconds",
   *   onError: "fail",
   * })
   *
   * const program = PeriodicRunner.run([sync]).pipe(
   *   Effect.catchTag("PeriodicTaskFailed", (error) => Effect.failCause(error.cause)),
   *   Effect.catchTag("TaskTimedOut", (error) => Effect.logError(error.message)),
   * )
   * // Periodic task "sync" timed out after 10s
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  TaskTimedOut,
} from "./internal/runner/errors.ts"

export {
  /**
   * A runner option that makes no sense — a `maxSleep` that is not a finite duration ≥ 0, a
   * `maxBatch` that is not a positive integer, an unknown `mode`, a `resume` instant that is not
   * finite, a bad `shutdown` timeout — names the module, the option, the value and the rule;
   * {@link make} fails with it before any task runs. The same error as every other module's
   * options.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
   *
   * const program = Effect.scoped(PeriodicRunner.make([], { maxBatch: 0 })).pipe(
   *   Effect.catchTag("InvalidOption", (error) => Effect.logError(error.message)),
   * )
   * // Invalid option maxBatch of PeriodicRunner: 0 must be a positive integer
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
} from "./internal/options.ts"
