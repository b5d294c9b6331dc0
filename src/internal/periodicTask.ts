import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Cron from "effect/Cron"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Interval from "effect/ScheduleInterval"
import type * as PeriodicTask from "../PeriodicTask.ts"
import * as Timing from "./runner/timing.ts"
import { decodeMillis, show } from "./validate.ts"

/** @internal */
export const TypeId: PeriodicTask.TypeId = Symbol.for(
  "effect-manager/PeriodicTask",
) as PeriodicTask.TypeId

/** oslo's `DEFAULT_INTERVAL`: a spacing of 0 means this. */
const DEFAULT_SPACING_SECONDS = 60

/**
 * oslo's reason for a negative spacing. It comes from the timing, not from the switch, so it
 * wins over `enabled` in the options and in the combinators alike.
 */
const NEGATIVE_INTERVAL = "its interval is negative"

/** Only `false` disables; a value that is no boolean is kept for `resolve` to reject. */
const disabledReasonOf = (enabled: unknown, reason: string | undefined): string | undefined =>
  enabled !== false ? undefined : reason ?? "it is disabled"

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
}

/** @internal */
export const isPeriodicTask = (u: unknown): u is PeriodicTask.PeriodicTask<unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

const makeTask = <E, R>(
  name: string,
  run: Effect.Effect<unknown, E, R>,
  timing: PeriodicTask.Timing,
  options: PeriodicTask.Options | undefined,
  disabledReason?: string,
): PeriodicTask.PeriodicTask<E, R> => {
  const enabled = disabledReason === undefined ? options?.enabled ?? true : false
  const task = Object.create(Proto)
  task.name = name
  task.run = run
  task.timing = timing
  task.runImmediately = options?.runImmediately ?? false
  task.enabled = enabled
  task.disabledReason = disabledReasonOf(enabled, disabledReason)
  task.timeout = options?.timeout
  task.offset = options?.offset
  task.jitter = options?.jitter ?? false
  task.onError = options?.onError ?? "log"
  task.overlap = options?.overlap ?? "skip"
  task.cluster = options?.cluster ?? "local"
  return task
}

/** @internal */
export const spaced = <E, R>(
  name: string,
  every: Duration.DurationInput,
  run: Effect.Effect<unknown, E, R>,
  options?: PeriodicTask.Options,
): PeriodicTask.PeriodicTask<E, R> => makeTask(name, run, { _tag: "Spaced", every }, options)

/** @internal */
export const fixed = <E, R>(
  name: string,
  every: Duration.DurationInput,
  run: Effect.Effect<unknown, E, R>,
  options?: PeriodicTask.Options,
): PeriodicTask.PeriodicTask<E, R> => makeTask(name, run, { _tag: "Fixed", every }, options)

/** @internal */
export const make = <E, R>(
  name: string,
  run: Effect.Effect<unknown, E, R>,
  options: PeriodicTask.ScheduleOptions,
): PeriodicTask.PeriodicTask<E, R> =>
  makeTask(name, run, { _tag: "Schedule", schedule: options.schedule }, options)

/**
 * How a cron timing resolves, kept on the timing by {@link cron}: the cron parser (effect/Cron,
 * effect/DateTime, about 4.6 KB of a gzipped bundle) is then reached only from `cron`, and a
 * program without a cron task does not bundle it. Not enumerable: the timing reads as its public
 * fields.
 */
const ResolveCron: unique symbol = Symbol.for("effect-manager/PeriodicTask/resolveCron")

/** A cron task's timing as {@link cron} builds it. */
type CronTiming = Extract<PeriodicTask.Timing, { readonly _tag: "Cron" }> & {
  readonly [ResolveCron]: (task: string) => Either.Either<ResolvedTiming, InvalidPeriodicTask>
}

/** @internal */
export const cron = <E, R>(
  name: string,
  expression: string,
  run: Effect.Effect<unknown, E, R>,
  options: PeriodicTask.CronOptions,
): PeriodicTask.PeriodicTask<E, R> => {
  const timeZone = options.timeZone
  const timing = Object.defineProperty({ _tag: "Cron", expression, timeZone }, ResolveCron, {
    value: (task: string) => resolveCron(task, expression, timeZone),
  }) as CronTiming
  return makeTask(name, run, timing, options)
}

/** @internal */
export const fromSpacing = <E, R>(
  name: string,
  spacingSeconds: number,
  run: Effect.Effect<unknown, E, R>,
  options?: PeriodicTask.Options,
): PeriodicTask.PeriodicTask<E, R> => {
  // oslo P5/P6: negative disables (checked before `enabled`), 0 means 60 s.
  // A disabled task keeps a valid placeholder spacing so that it never fails validation.
  const negative = spacingSeconds < 0
  const seconds = spacingSeconds === 0 || negative ? DEFAULT_SPACING_SECONDS : spacingSeconds
  // Whole milliseconds, as the clocks the runner reads count: `seconds * 1000` in floating point
  // is off by a little (4.03 gives 4030.0000000000005). A positive spacing that rounds to 0 is
  // 1 ms, the runner's shortest step, not oslo's "0 means 60 s". NaN and ±∞ stay as they are,
  // for `resolve` to reject.
  const every = Math.max(1, Math.round(seconds * 1000))
  return makeTask(
    name,
    run,
    { _tag: "Fixed", every },
    options,
    negative ? NEGATIVE_INTERVAL : undefined,
  )
}

/** @internal */
export const fromConfig = <E, R>(
  name: string,
  spacingSeconds: Config.Config<number>,
  run: Effect.Effect<unknown, E, R>,
  options?: PeriodicTask.Options,
): Effect.Effect<PeriodicTask.PeriodicTask<E, R>, ConfigError.ConfigError> =>
  Effect.map(spacingSeconds, (seconds) => fromSpacing(name, seconds, run, options))

// --- combinators --------------------------------------------------------------------------

type Task<E, R> = PeriodicTask.PeriodicTask<E, R>

/**
 * A new task with some fields replaced; the given one is left as it was. Values are kept as
 * given, as the constructors keep their options, so that `resolve` rejects the same bad values.
 */
const copy = <E, R>(
  task: PeriodicTask.PeriodicTask<unknown, unknown>,
  fields: Partial<Task<E, R>>,
): Task<E, R> => Object.assign(Object.create(Proto), task, fields)

/** For the combinators whose argument may be left out: the task comes first or not at all. */
const isDataFirst = (args: IArguments) => isPeriodicTask(args[0])

/** @internal */
export const withTimeout = dual<
  (timeout: Duration.DurationInput) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, timeout: Duration.DurationInput) => Task<E, R>
>(2, (self, timeout) => copy(self, { timeout }))

/** @internal */
export const withOffset = dual<
  (offset: Duration.DurationInput) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, offset: Duration.DurationInput) => Task<E, R>
>(2, (self, offset) => copy(self, { offset }))

/** @internal */
export const withRunImmediately = dual<
  (runImmediately?: boolean) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, runImmediately?: boolean) => Task<E, R>
>(isDataFirst, (self, runImmediately = true) => copy(self, { runImmediately }))

/** @internal */
export const withJitter = dual<
  (jitter?: boolean) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, jitter?: boolean) => Task<E, R>
>(isDataFirst, (self, jitter = true) => copy(self, { jitter }))

/** @internal */
export const withErrorPolicy = dual<
  (onError: PeriodicTask.ErrorPolicy) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, onError: PeriodicTask.ErrorPolicy) => Task<E, R>
>(2, (self, onError) => copy(self, { onError }))

/** @internal */
export const withOverlap = dual<
  (overlap: PeriodicTask.OverlapPolicy) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, overlap: PeriodicTask.OverlapPolicy) => Task<E, R>
>(2, (self, overlap) => copy(self, { overlap }))

/** @internal */
export const withCluster = dual<
  (cluster: PeriodicTask.ClusterMode) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, cluster: PeriodicTask.ClusterMode) => Task<E, R>
>(2, (self, cluster) => copy(self, { cluster }))

const switched = <E, R>(self: Task<E, R>, enabled: boolean, reason: string | undefined) =>
  self.disabledReason === NEGATIVE_INTERVAL
    ? copy<E, R>(self, {})
    : copy<E, R>(self, { enabled, disabledReason: disabledReasonOf(enabled, reason) })

/** @internal */
export const withEnabled = dual<
  (enabled: boolean) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, enabled: boolean) => Task<E, R>
>(2, (self, enabled) => switched(self, enabled, undefined))

/** @internal */
export const disabled = dual<
  (reason?: string) => <E, R>(self: Task<E, R>) => Task<E, R>,
  <E, R>(self: Task<E, R>, reason?: string) => Task<E, R>
>(isDataFirst, (self, reason) => switched(self, false, reason))

// --- validation --------------------------------------------------------------------------

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const InvalidPeriodicTaskBase: ReturnType<typeof Data.TaggedError<"InvalidPeriodicTask">> = Data
  .TaggedError("InvalidPeriodicTask")

/** @internal */
export class InvalidPeriodicTask extends InvalidPeriodicTaskBase<{
  readonly task: string
  readonly field: string
  readonly value: string
  readonly reason: string
}> {
  override get message(): string {
    return `Periodic task ${
      JSON.stringify(this.task)
    }: ${this.field} ${this.reason}, got ${this.value}`
  }
}

/** Timing with every duration decoded to milliseconds and the cron expression parsed. */
export type ResolvedTiming =
  | { readonly _tag: "Spaced"; readonly every: number }
  | { readonly _tag: "Fixed"; readonly every: number }
  | {
    readonly _tag: "Schedule"
    readonly schedule: Schedule.Schedule<unknown, unknown>
    /** A cron rule: its instants are wall-clock ones, and move with a step of the wall clock. */
    readonly wallClock: boolean
    /** The cron rule's instants, for a cron task: what tells the instants a run missed. */
    readonly cron: Timing.CronInstants | undefined
    /** The parsed cron rule, for a cron task: what a cluster cron is made from. */
    readonly rule: Cron.Cron | undefined
  }

/** A task whose inputs were checked, with durations in milliseconds. */
export interface ResolvedTask<E, R> {
  readonly task: PeriodicTask.PeriodicTask<E, R>
  readonly timing: ResolvedTiming
  readonly timeout: number | undefined
  readonly offset: number
}

/** A duration field of a task, in milliseconds. */
const millis = (
  task: string,
  field: string,
  input: unknown,
  allowZero: boolean,
): Either.Either<number, InvalidPeriodicTask> =>
  Either.mapLeft(
    decodeMillis(input, allowZero ? "≥ 0" : "> 0"),
    (reason) => new InvalidPeriodicTask({ task, field, value: show(input), reason }),
  )

/** The fields that hold one of a few values: each a typed error naming the field otherwise. */
const CHOICES = [
  ["overlap", ["skip", "queue"], `must be "skip" or "queue"`],
  ["cluster", ["local", "leader", "cron"], `must be "local", "leader" or "cron"`],
  ["onError", ["log", "fail"], `must be "log" or "fail"`],
  ["runImmediately", [true, false], "must be true or false"],
  ["enabled", [true, false], "must be true or false"],
  ["jitter", [true, false], "must be true or false"],
] as const

const checkChoices = (
  name: string,
  task: PeriodicTask.PeriodicTask<unknown, unknown>,
): Either.Either<void, InvalidPeriodicTask> => {
  for (const [field, values, reason] of CHOICES) {
    const value: unknown = task[field]
    if (!(values as ReadonlyArray<unknown>).includes(value)) {
      return Either.left(new InvalidPeriodicTask({ task: name, field, value: show(value), reason }))
    }
  }
  return Either.right(undefined)
}

/** @internal */
export const resolve = <E, R>(
  task: PeriodicTask.PeriodicTask<E, R>,
): Either.Either<ResolvedTask<E, R>, InvalidPeriodicTask> =>
  Either.gen(function* () {
    const name = task.name
    if (typeof name !== "string" || name.trim() === "") {
      return yield* Either.left(
        new InvalidPeriodicTask({
          task: String(name),
          field: "name",
          value: show(name),
          reason: "must be a non-empty string",
        }),
      )
    }
    if (!Effect.isEffect(task.run)) {
      return yield* Either.left(
        new InvalidPeriodicTask({
          task: name,
          field: "run",
          value: show(task.run),
          reason: "must be an Effect",
        }),
      )
    }
    yield* checkChoices(name, task)
    const timing = yield* resolveTiming(name, task.timing)
    if (task.cluster === "cron" && (timing._tag !== "Schedule" || timing.rule === undefined)) {
      return yield* Either.left(
        new InvalidPeriodicTask({
          task: name,
          field: "cluster",
          value: show(task.cluster),
          reason: "needs a task timed by a cron expression (PeriodicTask.cron)",
        }),
      )
    }
    const timeout = task.timeout === undefined
      ? undefined
      : yield* millis(name, "timeout", task.timeout, false)
    const offset = task.offset === undefined ? 0 : yield* millis(name, "offset", task.offset, true)
    return { task, timing, timeout, offset }
  })

const resolveTiming = (
  name: string,
  timing: PeriodicTask.Timing,
): Either.Either<ResolvedTiming, InvalidPeriodicTask> => {
  switch (timing._tag) {
    case "Spaced":
    case "Fixed":
      return Either.map(
        millis(name, "every", timing.every, false),
        (every) => ({ _tag: timing._tag, every }),
      )
    case "Schedule":
      return Schedule.isSchedule(timing.schedule)
        ? Either.right({
          _tag: "Schedule",
          schedule: timing.schedule,
          wallClock: false,
          cron: undefined,
          rule: undefined,
        })
        : Either.left(
          new InvalidPeriodicTask({
            task: name,
            field: "schedule",
            value: show(timing.schedule),
            reason: "must be a Schedule",
          }),
        )
    case "Cron":
      return (timing as CronTiming)[ResolveCron](name)
  }
}

/** The nicknames of cron (Vixie cron's `@yearly` … `@hourly`), as the expressions they stand for. */
const CRON_NICKNAMES: ReadonlyMap<string, string> = new Map([
  ["@yearly", "0 0 1 1 *"],
  ["@annually", "0 0 1 1 *"],
  ["@monthly", "0 0 1 * *"],
  ["@weekly", "0 0 * * 0"],
  ["@daily", "0 0 * * *"],
  ["@midnight", "0 0 * * *"],
  ["@hourly", "0 * * * *"],
])

/**
 * A cron expression (or nickname) in a time zone. A zone the runtime does not know is reported as
 * the zone, not as the expression.
 */
const resolveCron = (
  name: string,
  expression: string,
  timeZone: DateTime.TimeZone | string,
): Either.Either<ResolvedTiming, InvalidPeriodicTask> => {
  if (
    !DateTime.isTimeZone(timeZone) &&
    (typeof timeZone !== "string" || Option.isNone(DateTime.zoneFromString(timeZone)))
  ) {
    return Either.left(
      new InvalidPeriodicTask({
        task: name,
        field: "timeZone",
        value: show(timeZone),
        reason: 'is not a time zone (an IANA name such as "Europe/Paris", or an offset)',
      }),
    )
  }
  if (typeof expression !== "string") {
    return Either.left(
      new InvalidPeriodicTask({
        task: name,
        field: "cron",
        value: show(expression),
        reason: "must be a string",
      }),
    )
  }
  const expanded = CRON_NICKNAMES.get(expression.trim().toLowerCase()) ?? expression
  return Cron.parse(expanded, timeZone).pipe(
    Either.map((parsed): ResolvedTiming => ({
      _tag: "Schedule",
      schedule: Schedule.cron(parsed),
      wallClock: true,
      cron: (after, before, limit) => Timing.missedCronInstants(parsed, after, before, limit),
      rule: parsed,
    })),
    Either.mapLeft((error) =>
      new InvalidPeriodicTask({
        task: name,
        field: "cron",
        value: show(expression),
        reason: `does not parse (${error.message})`,
      })
    ),
  )
}

/** @internal */
export const validate = <E, R>(
  task: PeriodicTask.PeriodicTask<E, R>,
): Either.Either<PeriodicTask.PeriodicTask<E, R>, InvalidPeriodicTask> =>
  Either.map(resolve(task), () => task)

// --- the timing as a plain Schedule ----------------------------------------------------------

/**
 * A spaced or fixed task's timing as a `Schedule`, from the same functions the runner steps the
 * task with (`runner/timing.ts`). Stepped when a run ends (as `Effect.repeat` and
 * `Effect.schedule` step it); step 0 of a task that does not run immediately is the wait before
 * its first run, its offset included. Outputs the number of steps so far, as `Schedule.spaced` and `fixed` do.
 */
const timingSchedule = (
  kind: "Spaced" | "Fixed",
  spacing: number,
  offset: number,
  jitter: boolean,
  runImmediately: boolean,
): Schedule.Schedule<number> =>
  Schedule.makeWithState(
    { steps: 0, lastRun: Number.NaN },
    (now, _: unknown, { steps, lastRun }) => {
      const next = (jitterMillis: number) => {
        if (kind === "Spaced") {
          return { lastRun, due: Timing.spacedNextDue(now, now, spacing, jitterMillis) }
        }
        const last = Timing.fixedLastRun(now, lastRun, spacing, jitterMillis)
        return { lastRun: last, due: last + spacing }
      }
      const decide = ({ lastRun, due }: { lastRun: number; due: number }) =>
        [
          { steps: steps + 1, lastRun },
          steps,
          ScheduleDecision.continueWith(Interval.after(due)),
        ] as const
      if (steps === 0 && !runImmediately) {
        const first = Timing.fixedStart(now + offset, spacing, false)
        return Effect.succeed(decide({ lastRun: first.lastRun, due: first.nextDue }))
      }
      // oslo draws no jitter for a fixed task's first run, which is its own grid point.
      const draws = jitter && (kind === "Spaced" || !Number.isNaN(lastRun))
      return draws
        ? Effect.map(Random.next, (r) => decide(next(Timing.jitterMillis(spacing, r))))
        : Effect.succeed(decide(next(0)))
    },
  )

/** @internal */
export const schedule = <E, R>(task: PeriodicTask.PeriodicTask<E, R>): Schedule.Schedule<unknown> =>
  Either.match(resolve(task), {
    // Like Effect's own schedules with bad arguments: the schedule dies on its first step.
    onLeft: (error) => Schedule.makeWithState(undefined, () => Effect.die(error)),
    onRight: ({ timing, offset }) =>
      timing._tag === "Schedule"
        ? timing.schedule
        : timingSchedule(timing._tag, timing.every, offset, task.jitter, task.runImmediately),
  })

/** Far enough never to come due: a triggered task runs only when it is triggered. */
const NEVER_DUE_MILLIS = 100 * 365 * 24 * 3_600_000

/**
 * @internal A local copy of the task that runs `run` only when triggered, with the task's name,
 * timeout and error policy: one instant of a cluster cron, run and recorded by a runner.
 */
export const triggeredCopy = <E>(
  task: PeriodicTask.PeriodicTask<E, never>,
  run: Effect.Effect<unknown, E>,
): PeriodicTask.PeriodicTask<E> =>
  copy<E, never>(task, {
    run,
    timing: { _tag: "Spaced", every: NEVER_DUE_MILLIS },
    runImmediately: false,
    jitter: false,
    offset: undefined,
    cluster: "local",
  })

/** @internal A copy of the task running another effect, with the same name, timing and options. */
export const withRun = <E, R>(
  task: PeriodicTask.PeriodicTask<unknown, unknown>,
  run: Effect.Effect<unknown, E, R>,
): PeriodicTask.PeriodicTask<E, R> => copy(task, { run })
