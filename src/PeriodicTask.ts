/**
 * A periodic task is an immutable value: a name, the `Effect` to run and its timing, which is
 * a `Schedule`. It is nova's `@periodic_task(spacing=N, run_immediately=…)` without the
 * decorator and the hidden state: a `PeriodicRunner` owns the state of every task it runs.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { Pipeable } from "effect/Pipeable"
import type * as Schedule from "effect/Schedule"
import type { InvalidPeriodicTask } from "./internal/periodicTask.ts"
import type { InvalidOption } from "./internal/options.ts"
import * as internal from "./internal/periodicTask.ts"
import * as preview from "./internal/preview.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link PeriodicTask}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const audit = PeriodicTask.spaced("audit", "10 seconds", Effect.log("audit"))
 * const marked = PeriodicTask.TypeId in audit // true
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * When a task runs.
 *
 * - `Spaced`: the next run starts `every` after the previous one ended.
 * - `Fixed`: runs on a grid of `every`; a late run starts at once, missed slots are skipped
 *   and the grid keeps its phase (oslo's `_nearest_boundary`).
 * - `Schedule`: any `Schedule`, stepped after each run ends, as `Effect.repeat` does.
 * - `Cron`: a cron expression in a time zone.
 *
 * @since 0.1.0
 * @category models
 */
export type Timing =
  | { readonly _tag: "Spaced"; readonly every: Duration.DurationInput }
  | { readonly _tag: "Fixed"; readonly every: Duration.DurationInput }
  | { readonly _tag: "Schedule"; readonly schedule: Schedule.Schedule<unknown, unknown> }
  | {
    readonly _tag: "Cron"
    readonly expression: string
    readonly timeZone: DateTime.TimeZone | string
  }

/**
 * What happens when a run fails: `"log"` records the failure, logs it with the task's name and
 * goes on (oslo's default); `"fail"` stops the runner and fails it (oslo's `raise_on_error`).
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorPolicy = "log" | "fail"

/**
 * What happens to an occurrence that comes due while the task's previous run is still going (a
 * fixed task's slot, a cron instant, a trigger): `"skip"` records it as `Skipped` (oslo's
 * behaviour, the default); `"queue"` keeps the latest such occurrence waiting and starts it as
 * soon as the run ends (one at most: an older waiting one is recorded as `Skipped`).
 *
 * @since 0.1.0
 * @category models
 */
export type OverlapPolicy = "skip" | "queue"

/**
 * Where a task runs when its runner is one of a cluster (a `Cluster` in the runner's context,
 * see `effect-manager/Cluster`):
 * - `"local"` (the default): in every runner, as oslo's periodic tasks do.
 * - `"leader"`: in exactly one runner of the cluster at a time (`@effect/cluster`'s `Singleton`,
 *   named after the task). It moves when the cluster's membership changes: interrupted where it
 *   was on the old runner before it starts on the new one (no overlap), timed from the takeover
 *   as if just added (a missed period is not caught up, unless the task keeps its own last run).
 * - `"cron"` (a task made by {@link cron} only): each instant of its cron expression runs once
 *   across the cluster (`@effect/cluster`'s `ClusterCron`), in whichever runner the cluster hands it
 *   to, and at least once across a crash: an instant whose runner dies mid-run is run again.
 *
 * Without a `Cluster` in the context, a leader or cluster cron task runs in its runner like a local
 * one: one process is a cluster of one.
 *
 * @example
 * ```ts
 * import type * as PeriodicTask from "effect-manager/PeriodicTask"
 * const mode: PeriodicTask.ClusterMode = "leader"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ClusterMode = "local" | "leader" | "cron"

/**
 * A periodic task. Build one with {@link spaced}, {@link fixed}, {@link make}, {@link cron},
 * {@link fromSpacing} or {@link fromConfig}, adjust it with the combinators ({@link withTimeout},
 * {@link withRunImmediately}, …); run it with a `PeriodicRunner`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const audit: PeriodicTask.PeriodicTask = PeriodicTask.spaced("audit", "10 seconds", Effect.log("audit"))
 * console.log(audit.name, audit.runImmediately) // "audit" false
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface PeriodicTask<out E = never, out R = never> extends Pipeable {
  /** Marks the value as a periodic task; see {@link isPeriodicTask}. */
  readonly [TypeId]: TypeId
  /** Unique within one runner; used in outcomes, logs and `trigger`. */
  readonly name: string
  /** The work. Its success value is ignored (and fed to a custom `Schedule` as input). */
  readonly run: Effect.Effect<unknown, E, R>
  /** When the task runs: spaced, on a fixed grid, by a cron expression or by a `Schedule`. */
  readonly timing: Timing
  /** Run at the runner's first pass instead of one period after the runner starts. */
  readonly runImmediately: boolean
  /** A disabled task is never run; the runner logs once why it skips it. */
  readonly enabled: boolean
  /** Why the task is disabled, in oslo's words ("it is disabled", "its interval is negative"). */
  readonly disabledReason: string | undefined
  /** A run taking longer is interrupted and recorded as timed out. */
  readonly timeout: Duration.DurationInput | undefined
  /** Shifts the first run, and for spaced and fixed tasks the whole grid, by this much. */
  readonly offset: Duration.DurationInput | undefined
  /** oslo-style jitter for spaced and fixed tasks: whole seconds, 0–5 % of the spacing, none up to 20 s. */
  readonly jitter: boolean
  /** What a failed run does: logged and the task goes on, or the runner fails. */
  readonly onError: ErrorPolicy
  /** What an occurrence due while the previous run goes on does. */
  readonly overlap: OverlapPolicy
  /** In every runner, or in one runner of the cluster; see {@link ClusterMode}. */
  readonly cluster: ClusterMode
}

/**
 * Options shared by every constructor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `false`: the first run comes one period after the runner starts. */
  readonly runImmediately?: boolean | undefined
  /** Default `true`. */
  readonly enabled?: boolean | undefined
  /**
   * Per-run time limit; a run over it is interrupted and recorded as timed out once it has ended.
   * Work that ignores its interruption gets 1 s more, then is left running, detached, with a
   * warning, and the run is recorded as timed out then.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** Shifts the first run (and a spaced or fixed task's grid). Default 0. */
  readonly offset?: Duration.DurationInput | undefined
  /** Default `false`. See {@link PeriodicTask.jitter}. */
  readonly jitter?: boolean | undefined
  /** Default `"log"`. */
  readonly onError?: ErrorPolicy | undefined
  /** Default `"skip"`. See {@link OverlapPolicy}. */
  readonly overlap?: OverlapPolicy | undefined
  /** Default `"local"`. See {@link ClusterMode}. */
  readonly cluster?: ClusterMode | undefined
}

/**
 * Options of {@link make}: jitter there is the schedule's own business (`Schedule.jittered`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScheduleOptions extends Omit<Options, "jitter" | "offset"> {
  /** Times the task: stepped after each run ends, with the run's success value as input. */
  readonly schedule: Schedule.Schedule<unknown, unknown>
}

/**
 * Options of {@link cron}. The time zone is required: without one a cron expression silently
 * follows the host's zone.
 *
 * @since 0.1.0
 * @category models
 */
export interface CronOptions extends Omit<Options, "jitter" | "offset"> {
  /** The zone the expression is read in: a `DateTime.TimeZone`, or a name (`"Europe/Paris"`). */
  readonly timeZone: DateTime.TimeZone | string
}

/**
 * A task whose next run starts `every` after the previous run ended.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const heal = PeriodicTask.spaced("heal_instance_info_cache", "60 seconds", Effect.log("healing"), {
 *   runImmediately: true,
 *   timeout: "30 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const spaced: <E, R>(
  name: string,
  every: Duration.DurationInput,
  run: Effect.Effect<unknown, E, R>,
  options?: Options,
) => PeriodicTask<E, R> = internal.spaced

/**
 * A task on a grid of `every`: a late run starts at once, missed slots are skipped (never
 * piled up) and the grid keeps its phase.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const poll = PeriodicTask.fixed("poll_volume_usage", "10 minutes", Effect.log("polling"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fixed: <E, R>(
  name: string,
  every: Duration.DurationInput,
  run: Effect.Effect<unknown, E, R>,
  options?: Options,
) => PeriodicTask<E, R> = internal.fixed

/**
 * A task timed by any `Schedule`, stepped after each run ends (as `Effect.repeat` does); it
 * stops when the schedule is done.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Schedule from "effect/Schedule"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const backoff = PeriodicTask.make("reconnect", Effect.log("trying"), {
 *   schedule: Schedule.exponential("1 second").pipe(Schedule.upTo("1 minute"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <E, R>(
  name: string,
  run: Effect.Effect<unknown, E, R>,
  options: ScheduleOptions,
) => PeriodicTask<E, R> = internal.make

/**
 * A task timed by a cron expression (`Schedule.cron`) in the given time zone. Vixie cron's
 * nicknames are expressions too: `@yearly` (or `@annually`), `@monthly`, `@weekly`, `@daily` (or
 * `@midnight`) and `@hourly`. An expression that does not parse, or a time zone the runtime does
 * not know (reported as the zone, not as the expression), fails when the runner is created,
 * naming the task.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const nightly = PeriodicTask.cron("archive", "0 3 * * *", Effect.log("archiving"), { timeZone: "UTC" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cron: <E, R>(
  name: string,
  expression: string,
  run: Effect.Effect<unknown, E, R>,
  options: CronOptions,
) => PeriodicTask<E, R> = internal.cron

/**
 * oslo's `@periodic_task(spacing=N)`: a fixed task whose spacing is given in seconds, where 0
 * means the 60 s default and a negative spacing disables the task (the runner logs
 * "Skipping periodic task … because its interval is negative" once).
 *
 * The spacing is counted in whole milliseconds, `Math.round(seconds * 1000)`: 4.03 is 4,030 ms
 * (the product in floating point is 4030.0000000000005) and 1.0005 is 1,001 ms, where oslo adds
 * float seconds. A spacing above 0 that rounds to 0 ms is 1 ms, the runner's shortest step: only
 * an exact 0 means 60 s.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const task = PeriodicTask.fromSpacing("sync_power_states", 600, Effect.log("sync"))
 * const off = PeriodicTask.fromSpacing("reclaim", -1, Effect.log("never"))
 * console.log(off.enabled) // false
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSpacing: <E, R>(
  name: string,
  spacingSeconds: number,
  run: Effect.Effect<unknown, E, R>,
  options?: Options,
) => PeriodicTask<E, R> = internal.fromSpacing

/**
 * {@link fromSpacing} with the spacing read from a `Config` (seconds), as nova reads
 * `CONF.sync_power_state_interval`. A value that is not a number fails with a `ConfigError`
 * naming the key.
 *
 * @example
 * ```ts
 * import * as Config from "effect/Config"
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const task = PeriodicTask.fromConfig(
 *   "sync_power_states",
 *   Config.number("SYNC_POWER_STATE_INTERVAL").pipe(Config.withDefault(600)),
 *   Effect.log("sync")
 * )
 * // task: Effect<PeriodicTask, ConfigError>
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig: <E, R>(
  name: string,
  spacingSeconds: Config.Config<number>,
  run: Effect.Effect<unknown, E, R>,
  options?: Options,
) => Effect.Effect<PeriodicTask<E, R>, ConfigError.ConfigError> = internal.fromConfig

/**
 * A copy of the task with a per-run time limit, as the `timeout` option sets it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const heal = PeriodicTask.spaced("heal", "60 seconds", Effect.log("healing")).pipe(
 *   PeriodicTask.withTimeout("30 seconds")
 * )
 * console.log(heal.timeout) // "30 seconds"
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTimeout: {
  (timeout: Duration.DurationInput): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, timeout: Duration.DurationInput): PeriodicTask<E, R>
} = internal.withTimeout

/**
 * A copy of the task whose first run, and for a spaced or fixed task the whole grid, is shifted
 * by `offset`, as the `offset` option sets it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * // Runs at 13 s, 23 s, 33 s, … after the runner starts.
 * const poll = PeriodicTask.fixed("poll", "10 seconds", Effect.log("polling")).pipe(
 *   PeriodicTask.withOffset("3 seconds")
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOffset: {
  (offset: Duration.DurationInput): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, offset: Duration.DurationInput): PeriodicTask<E, R>
} = internal.withOffset

/**
 * A copy of the task that runs at the runner's first pass (`true`, the default) or one period
 * after the runner starts (`false`), as the `runImmediately` option sets it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const audit = PeriodicTask.fixed("audit", "1 minute", Effect.log("audit")).pipe(
 *   PeriodicTask.withRunImmediately()
 * )
 * console.log(audit.runImmediately) // true
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRunImmediately: {
  (runImmediately?: boolean): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, runImmediately?: boolean): PeriodicTask<E, R>
} = internal.withRunImmediately

/**
 * A copy of the task with oslo's jitter on (`true`, the default) or off, as the `jitter` option
 * sets it; see {@link PeriodicTask.jitter}. A task timed by a `Schedule` or a cron expression
 * ignores it (use `Schedule.jittered`).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const sync = PeriodicTask.spaced("sync", "10 minutes", Effect.log("sync")).pipe(
 *   PeriodicTask.withJitter()
 * )
 * console.log(sync.jitter) // true
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withJitter: {
  (jitter?: boolean): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, jitter?: boolean): PeriodicTask<E, R>
} = internal.withJitter

/**
 * A copy of the task with the given {@link ErrorPolicy}, as the `onError` option sets it.
 * (Not named `onError`: in Effect, `onError` runs an effect when another fails.)
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const strict = PeriodicTask.fixed("reconcile", "1 minute", Effect.fail("drift")).pipe(
 *   PeriodicTask.withErrorPolicy("fail")
 * )
 * console.log(strict.onError) // "fail"
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withErrorPolicy: {
  (onError: ErrorPolicy): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, onError: ErrorPolicy): PeriodicTask<E, R>
} = internal.withErrorPolicy

/**
 * A copy of the task with the given {@link OverlapPolicy}, as the `overlap` option sets it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const sync = PeriodicTask.fixed("sync", "1 minute", Effect.log("sync")).pipe(
 *   PeriodicTask.withOverlap("queue")
 * )
 * console.log(sync.overlap) // "queue"
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOverlap: {
  (overlap: OverlapPolicy): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, overlap: OverlapPolicy): PeriodicTask<E, R>
} = internal.withOverlap

/**
 * A copy of the task that runs in every runner (`"local"`), in one runner of the cluster
 * (`"leader"`), or each of its cron instants once across the cluster (`"cron"`); see
 * {@link ClusterMode}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const archive = PeriodicTask.spaced("archive_deleted_rows", "1 minute", Effect.log("archiving")).pipe(
 *   PeriodicTask.withCluster("leader")
 * )
 * console.log(archive.cluster) // "leader"
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withCluster: {
  (cluster: ClusterMode): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, cluster: ClusterMode): PeriodicTask<E, R>
} = internal.withCluster

/**
 * A copy of the task switched on or off, as the `enabled` option sets it; handy with a flag
 * read from configuration. A task that {@link fromSpacing} disabled for its negative spacing
 * stays disabled, as with the option.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const auditEnabled = false
 * const audit = PeriodicTask.spaced("audit", "10 seconds", Effect.log("audit")).pipe(
 *   PeriodicTask.withEnabled(auditEnabled)
 * )
 * console.log(audit.enabled, audit.disabledReason) // false "it is disabled"
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withEnabled: {
  (enabled: boolean): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, enabled: boolean): PeriodicTask<E, R>
} = internal.withEnabled

/**
 * A disabled copy of the task. The reason (default "it is disabled") ends the line the runner
 * logs once: "Skipping periodic task <name> because <reason>". A task that {@link fromSpacing}
 * disabled for its negative spacing keeps that reason.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const archive = PeriodicTask.fixed("archive", "1 hour", Effect.log("archiving")).pipe(
 *   PeriodicTask.disabled("the archive is being migrated")
 * )
 * console.log(archive.enabled) // false
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const disabled: {
  (reason?: string): <E, R>(self: PeriodicTask<E, R>) => PeriodicTask<E, R>
  <E, R>(self: PeriodicTask<E, R>, reason?: string): PeriodicTask<E, R>
} = internal.disabled

/**
 * The `Schedule` a task runs on (jitter included). With it a task can run alone:
 * `Effect.schedule(task.run, PeriodicTask.schedule(task))`, or `Effect.repeat` for a task that
 * runs immediately. An invalid task's schedule dies with {@link InvalidPeriodicTask} on its
 * first step; check with {@link validate} first.
 *
 * A spaced or fixed task's schedule steps with the runner's own timing (a fixed task that overruns
 * waits for its next grid point; jitter is carried by the grid). Run alone, a task has no runner
 * around it, so the slots an overrun misses are not recorded as `Skipped`; and `Effect.repeat`
 * runs a task that runs immediately at once (its `offset` is the runner's alone) and anchors a
 * fixed grid at the end of the first run, where the runner anchors it at its start.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const task = PeriodicTask.spaced("tick", "1 second", Effect.log("tick"))
 * const standalone = Effect.schedule(task.run, PeriodicTask.schedule(task))
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const schedule: <E, R>(task: PeriodicTask<E, R>) => Schedule.Schedule<unknown> =
  internal.schedule

/**
 * What {@link nextRuns} previews: how many instants, and from which instant (epoch ms of the
 * `Clock`; default: now).
 *
 * @since 0.1.0
 * @category models
 */
export interface NextRunsOptions {
  /** How many instants, from 1 to 10,000. */
  readonly count: number
  /** The instant the runner would be created at (epoch ms). Default: the `Clock`'s now. */
  readonly from?: number | undefined
}

/**
 * The next `count` instants at which a runner created at `from` would start the task, if every
 * run took no time, stepped by the runner's own timing functions: the task's offset, oslo's
 * initial `last_run`, a fixed task's grid, a spaced task's spacing after each run, a cron
 * expression or `Schedule`, and jitter drawn from Effect's `Random` (seed it for a repeatable
 * preview). A disabled task has none; a schedule that ends gives fewer. A spaced or
 * schedule-timed task waits for its runs to end, so a run that takes time moves its later
 * instants. A bad task fails with {@link InvalidPeriodicTask}; a `count` that is not an integer
 * from 1 to 10,000, or a `from` that is not finite, with `InvalidOption`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const nightly = PeriodicTask.cron("archive", "@daily", Effect.log("archiving"), { timeZone: "UTC" })
 * const preview = PeriodicTask.nextRuns(nightly, { count: 3, from: Date.UTC(2026, 11, 4, 12) })
 * // [Date.UTC(2026, 11, 5), Date.UTC(2026, 11, 6), Date.UTC(2026, 11, 7)]
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const nextRuns: {
  (
    options: NextRunsOptions,
  ): <E, R>(
    self: PeriodicTask<E, R>,
  ) => Effect.Effect<ReadonlyArray<number>, InvalidPeriodicTask | InvalidOption>
  <E, R>(
    self: PeriodicTask<E, R>,
    options: NextRunsOptions,
  ): Effect.Effect<ReadonlyArray<number>, InvalidPeriodicTask | InvalidOption>
} = preview.nextRuns

/**
 * Checks a task's name and durations: an empty name, a NaN, negative or infinite duration,
 * a zero period, a value that is not a `Schedule` or a cron expression that does not parse.
 * `PeriodicRunner.make` runs the same check on every task.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Either from "effect/Either"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const result = PeriodicTask.validate(PeriodicTask.spaced("audit", Number.NaN, Effect.void))
 * if (Either.isLeft(result)) console.log(result.left.message)
 * // Periodic task "audit": every must be a finite duration > 0, got NaN
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: <E, R>(
  task: PeriodicTask<E, R>,
) => Either.Either<PeriodicTask<E, R>, InvalidPeriodicTask> = internal.validate

/**
 * Returns `true` for a {@link PeriodicTask}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * console.log(PeriodicTask.isPeriodicTask(PeriodicTask.fixed("a", "1 second", Effect.void))) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isPeriodicTask: (u: unknown) => u is PeriodicTask<unknown, unknown> =
  internal.isPeriodicTask

/**
 * A task input that cannot work: names the task, the field, the value and the rule.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as PeriodicRunner from "effect-manager/PeriodicRunner"
 * import * as PeriodicTask from "effect-manager/PeriodicTask"
 *
 * const program = PeriodicRunner.make([PeriodicTask.cron("bad", "not cron", Effect.void, { timeZone: "UTC" })]).pipe(
 *   Effect.catchTag("InvalidPeriodicTask", (error) => Effect.logError(error.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export { InvalidPeriodicTask } from "./internal/periodicTask.ts"
