import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"
import {
  captureLogs,
  collectOutcomes,
  occurrence,
  plain,
  recorder,
  taskStatus,
} from "./support/periodic.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly run: number }> {}

const epoch = (iso: string) => DateTime.toEpochMillis(DateTime.unsafeMake(iso))

/** Every field a constructor, a combinator or an option sets, with the task's identity. */
const fieldsOf = (task: PeriodicTask.PeriodicTask<unknown, unknown>) => ({
  isPeriodicTask: PeriodicTask.isPeriodicTask(task),
  name: task.name,
  run: task.run,
  timing: task.timing,
  runImmediately: task.runImmediately,
  enabled: task.enabled,
  disabledReason: task.disabledReason,
  timeout: task.timeout,
  offset: task.offset,
  jitter: task.jitter,
  onError: task.onError,
})

describe("PeriodicTask", () => {
  describe("constructors", () => {
    it("spaced builds a task with oslo's defaults: not immediate, enabled, errors logged", () => {
      const task = PeriodicTask.spaced("audit", "10 seconds", Effect.void)
      expect(PeriodicTask.isPeriodicTask(task)).toBe(true)
      expect(PeriodicTask.isPeriodicTask({ name: "audit" })).toBe(false)
      expect(fieldsOf(task)).toEqual({
        isPeriodicTask: true,
        name: "audit",
        run: Effect.void,
        timing: { _tag: "Spaced", every: "10 seconds" },
        runImmediately: false,
        enabled: true,
        disabledReason: undefined,
        timeout: undefined,
        offset: undefined,
        jitter: false,
        onError: "log",
      })
      expect(task.pipe((t) => t.name)).toBe("audit")
    })

    it.scoped("a spaced task that runs immediately starts at once, then after each run's end", () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        yield* PeriodicRunner.make([
          PeriodicTask.spaced("a", "10 seconds", rec.run(5), { runImmediately: true }),
        ])
        yield* TestClock.adjust("50 seconds")
        expect(yield* rec.times).toEqual([0, 15, 30, 45])
      }))

    it.scoped("a fixed task runs on its grid whatever its runs take", () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        yield* PeriodicRunner.make([PeriodicTask.fixed("a", "10 seconds", rec.run(7))])
        yield* TestClock.adjust("48 seconds")
        expect(yield* rec.times).toEqual([10, 20, 30, 40])
      }))

    it.scoped("make runs a task on any Schedule, stepped after each run, until it is done", () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.make("reconnect", rec.run(1), {
            schedule: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(3))),
          }),
        ])
        yield* TestClock.adjust("1 minute")
        // Delays of 1, 2 and 4 s, each counted from the end of the previous run.
        expect(yield* rec.times).toEqual([1, 4, 9])
        const status = yield* taskStatus(runner, "reconnect")
        expect([status.state, status.nextRunAt, status.succeeded]).toEqual([
          "done",
          Option.none(),
          3,
        ])
      }))

    it.scoped("make feeds each run's result to the schedule", () =>
      Effect.gen(function* () {
        let count = 0
        const rec = yield* recorder
        yield* PeriodicRunner.make([
          PeriodicTask.make("countdown", Effect.zipRight(rec.run(), Effect.sync(() => ++count)), {
            schedule: Schedule.spaced("5 seconds").pipe(
              Schedule.whileInput((ran: unknown) => ran !== 3),
            ),
          }),
        ])
        yield* TestClock.adjust("1 minute")
        expect(yield* rec.times).toEqual([5, 10, 15])
      }))

    it("a cron task's timing reads as its expression and zone, and a copy still resolves", () => {
      const task = PeriodicTask.cron("archive", "@daily", Effect.void, { timeZone: "UTC" })
      expect(task.timing).toEqual({ _tag: "Cron", expression: "@daily", timeZone: "UTC" })
      expect(Object.keys(task.timing)).toEqual(["_tag", "expression", "timeZone"])
      const copy = task.pipe(
        PeriodicTask.withRunImmediately(),
        PeriodicTask.withTimeout("1 minute"),
      )
      expect(PeriodicTask.validate(copy)).toEqual(Either.right(copy))
    })

    it.scoped("cron runs at the expression's instants in the task's time zone", () =>
      Effect.gen(function* () {
        // 00:30 UTC on a summer day: 03:00 in Paris (UTC+2) is 01:00 UTC, in UTC it is 03:00.
        yield* TestClock.setTime(epoch("2024-07-01T00:30:00Z"))
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.cron("archive", "0 3 * * *", rec.run(), { timeZone: "Europe/Paris" }),
          PeriodicTask.cron("archive_utc", "0 3 * * *", Effect.void, { timeZone: "UTC" }),
          PeriodicTask.cron("archive_ny", "0 3 * * *", Effect.void, {
            timeZone: DateTime.zoneUnsafeMakeNamed("America/New_York"),
          }),
        ])
        yield* TestClock.adjust("30 minutes")
        expect(yield* rec.times).toEqual([epoch("2024-07-01T01:00:00Z") / 1000])
        const next = (yield* runner.status).tasks.map((task) => task.nextRunAt)
        expect(next).toEqual([
          Option.some(epoch("2024-07-02T01:00:00Z")),
          Option.some(epoch("2024-07-01T03:00:00Z")),
          Option.some(epoch("2024-07-01T07:00:00Z")),
        ])
      }))

    it.scoped("fromSpacing is a fixed task in seconds where 0 means oslo's default of 60 s", () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const task = PeriodicTask.fromSpacing("sync_power_states", 0, rec.run())
        expect(task.timing).toEqual({ _tag: "Fixed", every: 60_000 })
        expect(PeriodicTask.fromSpacing("poll", 2.5, Effect.void).timing).toEqual({
          _tag: "Fixed",
          every: 2_500,
        })
        yield* PeriodicRunner.make([task])
        yield* TestClock.adjust("3 minutes")
        expect(yield* rec.times).toEqual([60, 120, 180])
      }))

    it.scoped("fromSpacing with a negative spacing disables the task, logged once at creation", () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        const rec = yield* recorder
        const reclaim = PeriodicTask.fromSpacing("reclaim", -1, rec.run())
        expect([reclaim.enabled, reclaim.disabledReason]).toEqual([
          false,
          "its interval is negative",
        ])
        // oslo tests the sign before `enabled`: a negative, disabled task logs the sign only.
        const both = PeriodicTask.fromSpacing("both", -5, rec.run(), { enabled: false })
        const runner = yield* PeriodicRunner.make([reclaim, both])
        yield* TestClock.adjust("5 minutes")
        expect(yield* rec.times).toEqual([])
        expect(logs.map((line) => [line.level, line.message])).toEqual([
          ["INFO", "Skipping periodic task reclaim because its interval is negative"],
          ["INFO", "Skipping periodic task both because its interval is negative"],
        ])
        const status = yield* taskStatus(runner, "reclaim")
        expect([status.state, status.nextRunAt]).toEqual(["disabled", Option.none()])
      }))

    it.effect("fromConfig reads the spacing in seconds from a Config", () =>
      Effect.gen(function* () {
        const read = (value: string) =>
          PeriodicTask.fromConfig(
            "sync_power_states",
            Config.number("SYNC_POWER_STATE_INTERVAL"),
            Effect.void,
            { runImmediately: true },
          ).pipe(
            Effect.withConfigProvider(
              ConfigProvider.fromMap(new Map([["SYNC_POWER_STATE_INTERVAL", value]])),
            ),
          )
        const task = yield* read("600")
        expect([task.name, task.timing, task.runImmediately, task.enabled]).toEqual([
          "sync_power_states",
          { _tag: "Fixed", every: 600_000 },
          true,
          true,
        ])
        expect((yield* read("0")).timing).toEqual({ _tag: "Fixed", every: 60_000 })
        expect((yield* read("-1")).disabledReason).toBe("its interval is negative")
      }))

    it.effect("fromConfig fails with a ConfigError naming the key when the value is bad", () =>
      Effect.gen(function* () {
        const error = yield* PeriodicTask.fromConfig(
          "sync_power_states",
          Config.number("SYNC_POWER_STATE_INTERVAL"),
          Effect.void,
        ).pipe(
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["SYNC_POWER_STATE_INTERVAL", "ten"]])),
          ),
          Effect.flip,
        )
        expect(ConfigError.isConfigError(error)).toBe(true)
        expect(String(error)).toBe(
          `(Invalid data at SYNC_POWER_STATE_INTERVAL: "Expected a number value but received "ten"")`,
        )
        const missing = yield* PeriodicTask.fromConfig(
          "sync_power_states",
          Config.number("SYNC_POWER_STATE_INTERVAL"),
          Effect.void,
        ).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())), Effect.flip)
        expect(String(missing)).toBe(
          `(Missing data at SYNC_POWER_STATE_INTERVAL: "Expected SYNC_POWER_STATE_INTERVAL to exist in the provided map")`,
        )
      }))
  })

  describe("options", () => {
    it.scoped("runImmediately moves the first run to the runner's start", () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        yield* PeriodicRunner.make([
          PeriodicTask.fixed("a", "10 seconds", rec.run(), { runImmediately: true }),
        ])
        yield* TestClock.adjust("25 seconds")
        expect(yield* rec.times).toEqual([0, 10, 20])
      }))

    it.scoped("a disabled task never runs and the runner logs why, once", () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        const rec = yield* recorder
        const task = PeriodicTask.spaced("audit", "10 seconds", rec.run(), {
          enabled: false,
          runImmediately: true,
        })
        expect([task.enabled, task.disabledReason]).toEqual([false, "it is disabled"])
        const runner = yield* PeriodicRunner.make([task])
        yield* TestClock.adjust("1 minute")
        const refused = yield* Effect.flip(runner.trigger("audit"))
        expect([refused._tag, refused.message]).toEqual([
          "CannotTrigger",
          `Periodic task "audit" cannot be triggered: it is disabled`,
        ])
        yield* TestClock.adjust("1 minute")
        expect(yield* rec.times).toEqual([])
        expect(logs.map((line) => line.message)).toEqual([
          "Skipping periodic task audit because it is disabled",
        ])
      }))

    it.scoped("offset shifts the first run and the grid of a fixed task", () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        yield* PeriodicRunner.make([
          PeriodicTask.fixed("a", "10 seconds", rec.run(), { offset: "3 seconds" }),
        ])
        yield* TestClock.adjust("35 seconds")
        expect(yield* rec.times).toEqual([13, 23, 33])
      }))

    it.scoped("a run over its timeout is interrupted, recorded as timed out and logged", () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced("slow", "10 seconds", rec.run(5), { timeout: "2 seconds" }),
        ])
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("25 seconds")
        expect(yield* rec.times).toEqual([10, 22])
        expect(outcomes.map(plain)).toEqual([
          { ...occurrence("TimedOut", "slow", 10_000, 10_000, 2_000), timeoutMillis: 2_000 },
          { ...occurrence("TimedOut", "slow", 22_000, 22_000, 2_000), timeoutMillis: 2_000 },
        ])
        expect(logs.map((line) => [line.level, line.message, line.annotations])).toEqual([
          ["ERROR", `Periodic task "slow" timed out after 2s`, { periodicTask: "slow" }],
          ["ERROR", `Periodic task "slow" timed out after 2s`, { periodicTask: "slow" }],
        ])
      }))

    it.scoped(`onError "log" records the failure, logs it with the task's name and goes on`, () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        let runs = 0
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced(
            "flaky",
            "10 seconds",
            Effect.suspend(() => new Boom({ run: ++runs })),
          ),
        ])
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("30 seconds")
        expect(outcomes.map((o) => [o._tag, o.startedAt])).toEqual([
          ["Failed", 10_000],
          ["Failed", 20_000],
          ["Failed", 30_000],
        ])
        const first = outcomes[0]!
        expect(first._tag === "Failed" && Cause.failureOption(first.cause)).toEqual(
          Option.some(new Boom({ run: 1 })),
        )
        expect(logs.map((line) => [line.level, line.message, line.annotations])).toEqual([
          ["ERROR", "Error during periodic task flaky", { periodicTask: "flaky" }],
          ["ERROR", "Error during periodic task flaky", { periodicTask: "flaky" }],
          ["ERROR", "Error during periodic task flaky", { periodicTask: "flaky" }],
        ])
        expect(Cause.failureOption(logs[2]!.cause)).toEqual(Option.some(new Boom({ run: 3 })))
        const status = yield* runner.status
        expect([status.state, status.tasks[0]!.failed]).toEqual(["running", 3])
      }))

    it.scoped(`onError "fail" stops the runner, which fails with PeriodicTaskFailed`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced("audit", "4 seconds", rec.run()),
          PeriodicTask.fixed("strict", "10 seconds", new Boom({ run: 1 }), { onError: "fail" }),
        ])
        const joined = yield* Effect.fork(runner.join)
        yield* TestClock.adjust("30 seconds")
        const exit = yield* joined.await
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        expect(Option.map(error, (e) => [e._tag, e.task, Cause.failureOption(e.cause)])).toEqual(
          Option.some(["PeriodicTaskFailed", "strict", Option.some(new Boom({ run: 1 }))]),
        )
        expect(
          Option.map(error, (e) => e.message.split(":")[0]),
        ).toEqual(Option.some(`Periodic task "strict" failed and its error policy is "fail"`))
        // The other task ran until the failure at 10 s, and never after.
        expect(yield* rec.times).toEqual([4, 8])
        const status = yield* runner.status
        expect([status.state, status.tasks.map((task) => [task.succeeded, task.failed])]).toEqual(
          ["failed", [[2, 0], [0, 1]]],
        )
      }))

    describe("jitter", () => {
      it.scoped("adds whole seconds, 5 % of the spacing times the draw, and moves the grid", () =>
        Effect.gen(function* () {
          const rec = yield* recorder
          yield* PeriodicRunner.make([
            PeriodicTask.fixed("a", "100 seconds", rec.run(), { jitter: true }),
          ]).pipe(Effect.withRandom(Random.fixed([0.5, 0.999])))
          yield* TestClock.adjust("410 seconds")
          // Draws 0.5, 0.999, 0.5: jitter trunc(100 × r / 20) = 2, 4, 2 s, carried into the grid.
          expect(yield* rec.times).toEqual([100, 202, 306, 408])
        }))

      it.scoped("is none for a spacing of 20 s or less", () =>
        Effect.gen(function* () {
          const rec20 = yield* recorder
          const rec21 = yield* recorder
          yield* PeriodicRunner.make([
            PeriodicTask.fixed("a", "20 seconds", rec20.run(), { jitter: true }),
            PeriodicTask.fixed("b", "21 seconds", rec21.run(), { jitter: true }),
          ]).pipe(Effect.withRandom(Random.fixed([0.999])))
          yield* TestClock.adjust("66 seconds")
          expect(yield* rec20.times).toEqual([20, 40, 60])
          expect(yield* rec21.times).toEqual([21, 43, 65])
        }))

      it.scoped("delays a spaced task's next run after each run's end", () =>
        Effect.gen(function* () {
          const rec = yield* recorder
          yield* PeriodicRunner.make([
            PeriodicTask.spaced("a", "60 seconds", rec.run(5), { jitter: true }),
          ]).pipe(Effect.withRandom(Random.fixed([0.99])))
          yield* TestClock.adjust("200 seconds")
          // trunc(60 × 0.99 / 20) = 2 s after each end: 60, 65 + 62, 132 + 62.
          expect(yield* rec.times).toEqual([60, 127, 194])
        }))

      it.scoped("never delays the first run of a task that runs immediately", () =>
        Effect.gen(function* () {
          const rec = yield* recorder
          yield* PeriodicRunner.make([
            PeriodicTask.fixed("a", "60 seconds", rec.run(), {
              jitter: true,
              runImmediately: true,
            }),
          ]).pipe(Effect.withRandom(Random.fixed([0.99])))
          yield* TestClock.adjust("130 seconds")
          // No draw for the first run (oslo: last_run was null); the second one draws 2 s.
          expect(yield* rec.times).toEqual([0, 60, 122])
        }))
    })
  })

  describe("schedule", () => {
    const cases: ReadonlyArray<{
      readonly what: string
      readonly make: (run: Effect.Effect<void>) => PeriodicTask.PeriodicTask
      /** The `random.random()` value every jitter draw gets. */
      readonly draw: number
      readonly from: number
      readonly horizon: Duration.DurationInput
      /** When the run (which takes 3 s) starts, alone and in a runner, in seconds. */
      readonly times: ReadonlyArray<number>
    }> = [
      {
        what: "a spaced task's timing",
        make: (run) => PeriodicTask.spaced("a", "10 seconds", run),
        draw: 0,
        from: 0,
        horizon: "60 seconds",
        times: [10, 23, 36, 49],
      },
      {
        what: "a spaced task that runs immediately, with Effect.repeat",
        make: (run) => PeriodicTask.spaced("a", "10 seconds", run, { runImmediately: true }),
        draw: 0,
        from: 0,
        horizon: "60 seconds",
        times: [0, 13, 26, 39, 52],
      },
      {
        what: "a fixed task's grid",
        make: (run) => PeriodicTask.fixed("a", "10 seconds", run),
        draw: 0,
        from: 0,
        horizon: "45 seconds",
        times: [10, 20, 30, 40],
      },
      {
        what: "a spaced task's jitter, which never delays the first run",
        make: (run) => PeriodicTask.spaced("a", "60 seconds", run, { jitter: true }),
        draw: 0.99,
        from: 0,
        horizon: "200 seconds",
        times: [60, 125, 190],
      },
      {
        // From the third run on, the runner's grid carries the jitter (oslo P20) and the
        // schedule's does not.
        what: "a fixed task's jitter for its first two runs",
        make: (run) => PeriodicTask.fixed("a", "60 seconds", run, { jitter: true }),
        draw: 0.99,
        from: 0,
        horizon: "150 seconds",
        times: [60, 122],
      },
      {
        // Asia/Kolkata is UTC+5:30: its whole hours are half past the hour in UTC.
        what: "a cron task's timing",
        make: (run) => PeriodicTask.cron("a", "0 * * * *", run, { timeZone: "Asia/Kolkata" }),
        draw: 0,
        from: epoch("2024-07-01T01:28:00Z"),
        horizon: "2 minutes",
        times: [epoch("2024-07-01T01:30:00Z") / 1000],
      },
    ]
    for (const { what, make, draw, from, horizon, times } of cases) {
      it.scoped(`reproduces ${what}`, () =>
        Effect.gen(function* () {
          yield* TestClock.setTime(from)
          const alone = yield* recorder
          const inRunner = yield* recorder
          const task = make(alone.run(3))
          yield* Effect.forkScoped(
            task.runImmediately
              ? Effect.repeat(task.run, PeriodicTask.schedule(task))
              : Effect.schedule(task.run, PeriodicTask.schedule(task)),
          )
          yield* PeriodicRunner.make([make(inRunner.run(3))], { shutdownTimeout: 0 })
          yield* TestClock.adjust(horizon)
          expect(yield* alone.times).toEqual(times)
          expect(yield* inRunner.times).toEqual(times)
        }).pipe(Effect.withRandom(Random.fixed([draw]))))
    }

    it("of a task made with make is its own schedule", () => {
      const schedule = Schedule.spaced("1 second")
      expect(PeriodicTask.schedule(PeriodicTask.make("a", Effect.void, { schedule }))).toBe(
        schedule,
      )
    })

    it.effect("of an invalid task dies with InvalidPeriodicTask on its first step", () =>
      Effect.gen(function* () {
        const task = PeriodicTask.spaced("audit", Number.NaN, Effect.void)
        const exit = yield* Effect.exit(Effect.schedule(task.run, PeriodicTask.schedule(task)))
        const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
        expect(Option.map(defect, (d) => [(d as Error).name, (d as Error).message])).toEqual(
          Option.some([
            "InvalidPeriodicTask",
            `Periodic task "audit": every must be a finite duration > 0, got NaN`,
          ]),
        )
      }))
  })

  describe("validate", () => {
    const cases: ReadonlyArray<readonly [string, PeriodicTask.PeriodicTask, string]> = [
      [
        "a NaN spacing",
        PeriodicTask.spaced("audit", Number.NaN, Effect.void),
        `Periodic task "audit": every must be a finite duration > 0, got NaN`,
      ],
      [
        "a negative spacing",
        PeriodicTask.fixed("audit", -5, Effect.void),
        `Periodic task "audit": every must be a finite duration > 0, got -5`,
      ],
      [
        "a negative spacing given as text",
        PeriodicTask.spaced("audit", "-5 seconds", Effect.void),
        `Periodic task "audit": every must be a finite duration > 0, got "-5 seconds"`,
      ],
      [
        "an infinite spacing",
        PeriodicTask.spaced("audit", Number.POSITIVE_INFINITY, Effect.void),
        `Periodic task "audit": every must be a finite duration > 0, got Infinity`,
      ],
      [
        "a zero period",
        PeriodicTask.fixed("audit", "0 seconds", Effect.void),
        `Periodic task "audit": every must be a finite duration > 0, got "0 seconds"`,
      ],
      [
        "text that is no duration",
        PeriodicTask.spaced("audit", "soon" as never, Effect.void),
        `Periodic task "audit": every is not a duration, got "soon"`,
      ],
      [
        "an empty name",
        PeriodicTask.spaced("", "1 second", Effect.void),
        `Periodic task "": name must be a non-empty string, got ""`,
      ],
      [
        "a blank name",
        PeriodicTask.spaced("  ", "1 second", Effect.void),
        `Periodic task "  ": name must be a non-empty string, got "  "`,
      ],
      [
        "a zero timeout",
        PeriodicTask.spaced("audit", "1 second", Effect.void, { timeout: 0 }),
        `Periodic task "audit": timeout must be a finite duration > 0, got 0`,
      ],
      [
        "a NaN timeout",
        PeriodicTask.spaced("audit", "1 second", Effect.void, { timeout: Number.NaN }),
        `Periodic task "audit": timeout must be a finite duration > 0, got NaN`,
      ],
      [
        "a negative offset",
        PeriodicTask.fixed("audit", "1 second", Effect.void, { offset: -1 }),
        `Periodic task "audit": offset must be a finite duration ≥ 0, got -1`,
      ],
      [
        "a cron expression that does not parse",
        PeriodicTask.cron("archive", "not cron", Effect.void, { timeZone: "UTC" }),
        `Periodic task "archive": cron does not parse (Invalid number of segments in cron expression), got "not cron"`,
      ],
      [
        "a cron time zone that does not exist",
        PeriodicTask.cron("archive", "0 3 * * *", Effect.void, { timeZone: "Mars/Olympus" }),
        `Periodic task "archive": timeZone is not a time zone (an IANA name such as "Europe/Paris", or an offset), got "Mars/Olympus"`,
      ],
      [
        "a schedule that is not a Schedule",
        PeriodicTask.make("audit", Effect.void, { schedule: 5 as never }),
        `Periodic task "audit": schedule must be a Schedule, got 5`,
      ],
      [
        "a run that is not an Effect",
        PeriodicTask.spaced("audit", "1 second", "later" as never),
        `Periodic task "audit": run must be an Effect, got "later"`,
      ],
    ]
    for (const [what, task, message] of cases) {
      it(`rejects ${what}, naming the task and the value`, () => {
        const result = PeriodicTask.validate(task)
        expect(Either.isLeft(result) && [result.left._tag, result.left.message]).toEqual([
          "InvalidPeriodicTask",
          message,
        ])
      })
    }

    it("accepts a valid task and returns it", () => {
      const task = PeriodicTask.spaced("audit", "1 second", Effect.void, { timeout: "1 minute" })
      expect(PeriodicTask.validate(task)).toEqual(Either.right(task))
    })
  })
})

describe("PeriodicTask combinators", () => {
  const run = Effect.log("audit")
  const base = PeriodicTask.fixed("audit", "10 seconds", run)
  const off = PeriodicTask.fixed("audit", "10 seconds", run, { enabled: false })

  const cases: ReadonlyArray<
    readonly [
      string,
      PeriodicTask.PeriodicTask<unknown, unknown>,
      PeriodicTask.PeriodicTask<unknown, unknown>,
      Partial<ReturnType<typeof fieldsOf>>,
    ]
  > = [
    [
      `withTimeout("2 seconds")`,
      PeriodicTask.withTimeout(base, "2 seconds"),
      base.pipe(PeriodicTask.withTimeout("2 seconds")),
      { timeout: "2 seconds" },
    ],
    [
      "withOffset(3000)",
      PeriodicTask.withOffset(base, 3000),
      base.pipe(PeriodicTask.withOffset(3000)),
      { offset: 3000 },
    ],
    [
      "withRunImmediately()",
      PeriodicTask.withRunImmediately(base),
      base.pipe(PeriodicTask.withRunImmediately()),
      { runImmediately: true },
    ],
    [
      "withRunImmediately(false)",
      PeriodicTask.withRunImmediately(
        PeriodicTask.fixed("audit", "10 seconds", run, { runImmediately: true }),
        false,
      ),
      PeriodicTask.fixed("audit", "10 seconds", run, { runImmediately: true }).pipe(
        PeriodicTask.withRunImmediately(false),
      ),
      { runImmediately: false },
    ],
    [
      "withJitter()",
      PeriodicTask.withJitter(base),
      base.pipe(PeriodicTask.withJitter()),
      { jitter: true },
    ],
    [
      "withJitter(false)",
      PeriodicTask.withJitter(PeriodicTask.withJitter(base), false),
      base.pipe(PeriodicTask.withJitter(), PeriodicTask.withJitter(false)),
      {},
    ],
    [
      `withErrorPolicy("fail")`,
      PeriodicTask.withErrorPolicy(base, "fail"),
      base.pipe(PeriodicTask.withErrorPolicy("fail")),
      { onError: "fail" },
    ],
    [
      "withEnabled(false)",
      PeriodicTask.withEnabled(base, false),
      base.pipe(PeriodicTask.withEnabled(false)),
      { enabled: false, disabledReason: "it is disabled" },
    ],
    [
      "withEnabled(true) on a disabled task",
      PeriodicTask.withEnabled(off, true),
      off.pipe(PeriodicTask.withEnabled(true)),
      {},
    ],
    [
      "disabled()",
      PeriodicTask.disabled(base),
      base.pipe(PeriodicTask.disabled()),
      { enabled: false, disabledReason: "it is disabled" },
    ],
    [
      `disabled("the archive is being migrated")`,
      PeriodicTask.disabled(base, "the archive is being migrated"),
      base.pipe(PeriodicTask.disabled("the archive is being migrated")),
      { enabled: false, disabledReason: "the archive is being migrated" },
    ],
  ]
  for (const [what, dataFirst, piped, changed] of cases) {
    it(`${what} sets only its field, data-first and piped alike`, () => {
      const expected = { ...fieldsOf(base), ...changed }
      expect(fieldsOf(dataFirst)).toEqual(expected)
      expect(fieldsOf(piped)).toEqual(expected)
      expect(dataFirst.run).toBe(run)
    })
  }

  it("a combinator returns a new task and leaves the original as it was", () => {
    const before = fieldsOf(base)
    const changed = [
      PeriodicTask.withTimeout(base, "1 second"),
      PeriodicTask.withOffset(base, "1 second"),
      PeriodicTask.withRunImmediately(base),
      PeriodicTask.withJitter(base),
      PeriodicTask.withErrorPolicy(base, "fail"),
      PeriodicTask.withEnabled(base, false),
      PeriodicTask.disabled(base, "paused"),
    ]
    for (const task of changed) expect(task).not.toBe(base)
    expect(fieldsOf(base)).toEqual(before)
    expect(fieldsOf(off)).toEqual({ ...before, enabled: false, disabledReason: "it is disabled" })
    PeriodicTask.withEnabled(off, true)
    expect(off.enabled).toBe(false)
  })

  it("a piped chain builds the same task as the options, field by field", () => {
    const viaOptions = PeriodicTask.spaced("heal", "60 seconds", run, {
      runImmediately: true,
      enabled: false,
      timeout: "30 seconds",
      offset: "5 seconds",
      jitter: true,
      onError: "fail",
    })
    const viaCombinators = PeriodicTask.spaced("heal", "60 seconds", run).pipe(
      PeriodicTask.withRunImmediately(),
      PeriodicTask.withEnabled(false),
      PeriodicTask.withTimeout("30 seconds"),
      PeriodicTask.withOffset("5 seconds"),
      PeriodicTask.withJitter(),
      PeriodicTask.withErrorPolicy("fail"),
    )
    expect(fieldsOf(viaCombinators)).toEqual(fieldsOf(viaOptions))
  })

  it("a task fromSpacing disabled for its negative spacing stays so, as with the option", () => {
    const negative = PeriodicTask.fromSpacing("reclaim", -1, run)
    const viaOptions = PeriodicTask.fromSpacing("reclaim", -1, run, { enabled: true })
    expect(fieldsOf(negative.pipe(PeriodicTask.withEnabled(true)))).toEqual(fieldsOf(viaOptions))
    expect(fieldsOf(PeriodicTask.disabled(negative, "paused"))).toEqual(fieldsOf(negative))
    expect([viaOptions.enabled, viaOptions.disabledReason]).toEqual([
      false,
      "its interval is negative",
    ])
  })

  it.scoped("a runner runs a task built with combinators as it runs the options form", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", rec.run()).pipe(
          PeriodicTask.withOffset("3 seconds"),
          PeriodicTask.withRunImmediately(),
        ),
      ])
      yield* TestClock.adjust("25 seconds")
      // The first run at the runner's start plus the offset, then on the shifted grid.
      expect(yield* rec.times).toEqual([3, 13, 23])
    }))

  const bad: ReadonlyArray<
    readonly [
      string,
      PeriodicTask.Options,
      (task: PeriodicTask.PeriodicTask) => PeriodicTask.PeriodicTask,
      string,
    ]
  > = [
    [
      "a zero timeout",
      { timeout: 0 },
      PeriodicTask.withTimeout(0),
      `Periodic task "audit": timeout must be a finite duration > 0, got 0`,
    ],
    [
      "a NaN timeout",
      { timeout: Number.NaN },
      PeriodicTask.withTimeout(Number.NaN),
      `Periodic task "audit": timeout must be a finite duration > 0, got NaN`,
    ],
    [
      "a negative offset",
      { offset: -1 },
      PeriodicTask.withOffset(-1),
      `Periodic task "audit": offset must be a finite duration ≥ 0, got -1`,
    ],
    [
      "a runImmediately that is no boolean",
      { runImmediately: "yes" as never },
      PeriodicTask.withRunImmediately("yes" as never),
      `Periodic task "audit": runImmediately must be true or false, got "yes"`,
    ],
    [
      "a jitter that is no boolean",
      { jitter: 1 as never },
      PeriodicTask.withJitter(1 as never),
      `Periodic task "audit": jitter must be true or false, got 1`,
    ],
    [
      "an unknown error policy",
      { onError: "raise" as never },
      PeriodicTask.withErrorPolicy("raise" as never),
      `Periodic task "audit": onError must be "log" or "fail", got "raise"`,
    ],
    [
      "an enabled that is no boolean",
      { enabled: "no" as never },
      PeriodicTask.withEnabled("no" as never),
      `Periodic task "audit": enabled must be true or false, got "no"`,
    ],
  ]
  for (const [what, options, combinator, message] of bad) {
    it.scoped(`${what} is rejected with the same message through a combinator as through options`, () =>
      Effect.gen(function* () {
        const viaOptions = PeriodicTask.spaced("audit", "1 second", Effect.void, options)
        const viaCombinator = PeriodicTask.spaced("audit", "1 second", Effect.void).pipe(combinator)
        for (const task of [viaOptions, viaCombinator]) {
          const result = PeriodicTask.validate(task)
          expect(Either.isLeft(result) && result.left.message).toBe(message)
          const error = yield* Effect.flip(PeriodicRunner.make([task]))
          expect([error._tag, error.message]).toEqual(["InvalidPeriodicTask", message])
        }
      }))
  }
})
