// `PeriodicTask.nextRuns` (a task's next instants, stepped by the runner's own timing) against
// the instants a runner starts the task at, and cron's nicknames and time-zone errors.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"

/** The start instants of a task's first `count` runs in a runner made now (runs take no time). */
const runnerStarts = (
  make: (run: Effect.Effect<void>) => PeriodicTask.PeriodicTask,
  count: number,
  horizon: number,
) =>
  Effect.gen(function* () {
    const starts: Array<number> = []
    const run = Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => starts.push(at)))
    yield* PeriodicRunner.make([make(run)], { shutdownTimeout: 0 })
    yield* TestClock.adjust(horizon)
    return starts.slice(0, count)
  }).pipe(Effect.scoped)

const previewOf = (make: (run: Effect.Effect<void>) => PeriodicTask.PeriodicTask, count: number) =>
  PeriodicTask.nextRuns(make(Effect.void), { count, from: 0 })

const cases: ReadonlyArray<
  readonly [string, (run: Effect.Effect<void>) => PeriodicTask.PeriodicTask, number]
> = [
  ["a fixed task", (run) => PeriodicTask.fixed("f", "10 seconds", run), 100_000],
  [
    "a fixed task that runs immediately, with an offset",
    (run) =>
      PeriodicTask.fixed("f", "10 seconds", run, { runImmediately: true, offset: "3 seconds" }),
    100_000,
  ],
  ["a spaced task", (run) => PeriodicTask.spaced("s", "7 seconds", run), 100_000],
  [
    "a fixed task with jitter",
    (run) => PeriodicTask.fixed("j", "100 seconds", run, { jitter: true }),
    1_100_000,
  ],
  [
    "a spaced task with jitter that runs immediately",
    (run) => PeriodicTask.spaced("j", "60 seconds", run, { jitter: true, runImmediately: true }),
    700_000,
  ],
  [
    "a schedule-timed task",
    (run) => PeriodicTask.make("e", run, { schedule: Schedule.exponential("1 second") }),
    600_000,
  ],
  [
    "a cron task",
    (run) => PeriodicTask.cron("c", "*/15 * * * *", run, { timeZone: "UTC" }),
    7_200_000,
  ],
]

describe("PeriodicTask.nextRuns", () => {
  for (const [what, make, horizon] of cases) {
    it.effect(`${what}: the instants a runner starts it at`, () =>
      Effect.gen(function* () {
        // The same seed on both sides: the same jitter draws.
        const preview = yield* Effect.withRandom(previewOf(make, 8), Random.make(7))
        const started = yield* Effect.withRandom(runnerStarts(make, 8, horizon), Random.make(7))
        expect(preview).toHaveLength(8)
        expect(preview).toEqual(started)
      }))
  }

  it.effect("a fixed task's instants are oslo's: one spacing after the start, then on the grid", () =>
    Effect.gen(function* () {
      const task = PeriodicTask.fixed("f", "10 seconds", Effect.void, { offset: "2 seconds" })
      expect(yield* PeriodicTask.nextRuns(task, { count: 3, from: 1_000 })).toEqual([
        13_000,
        23_000,
        33_000,
      ])
    }))

  it.effect("counts from the Clock's now without a from, and is pipeable", () =>
    Effect.gen(function* () {
      yield* TestClock.adjust("5 seconds")
      const runs = yield* PeriodicTask.spaced("s", "1 second", Effect.void).pipe(
        PeriodicTask.nextRuns({ count: 2 }),
      )
      expect(runs).toEqual([6_000, 7_000])
    }))

  it.effect("a disabled task has none; a schedule that ends gives fewer", () =>
    Effect.gen(function* () {
      const disabled = PeriodicTask.fromSpacing("off", -1, Effect.void)
      expect(yield* PeriodicTask.nextRuns(disabled, { count: 3, from: 0 })).toEqual([])
      const twice = PeriodicTask.make("twice", Effect.void, {
        schedule: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2))),
      })
      expect(yield* PeriodicTask.nextRuns(twice, { count: 5, from: 0 })).toEqual([1_000, 2_000])
    }))

  for (
    const [what, options, message] of [
      [
        "a count of 0",
        { count: 0, from: 0 },
        "count of PeriodicTask.nextRuns: 0 must be a positive integer",
      ],
      [
        "a fractional count",
        { count: 1.5 },
        "count of PeriodicTask.nextRuns: 1.5 must be a positive integer",
      ],
      [
        "a count past 10,000",
        { count: 10_001 },
        "count of PeriodicTask.nextRuns: 10001 must be at most 10000",
      ],
      [
        "a NaN from",
        { count: 1, from: Number.NaN },
        "from of PeriodicTask.nextRuns: NaN must be a finite instant",
      ],
    ] as const
  ) {
    it.effect(`${what} fails with InvalidOption`, () =>
      Effect.gen(function* () {
        const task = PeriodicTask.spaced("s", "1 second", Effect.void)
        const error = yield* Effect.flip(PeriodicTask.nextRuns(task, options))
        expect([error._tag, error.message]).toEqual(["InvalidOption", `Invalid option ${message}`])
      }))
  }

  it.effect("a bad task fails with InvalidPeriodicTask", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        PeriodicTask.nextRuns(PeriodicTask.spaced("s", Number.NaN, Effect.void), { count: 1 }),
      )
      expect([error._tag, error.message]).toEqual([
        "InvalidPeriodicTask",
        `Periodic task "s": every must be a finite duration > 0, got NaN`,
      ])
    }))
})

describe("PeriodicTask.cron: nicknames and time zones", () => {
  const from = Date.UTC(2026, 11, 4, 12, 30)
  for (
    const [nickname, expected] of [
      ["@yearly", [Date.UTC(2027, 0, 1)]],
      ["@annually", [Date.UTC(2027, 0, 1)]],
      ["@monthly", [Date.UTC(2027, 0, 1)]],
      ["@weekly", [Date.UTC(2026, 11, 6)]],
      ["@daily", [Date.UTC(2026, 11, 5)]],
      ["@midnight", [Date.UTC(2026, 11, 5)]],
      ["@hourly", [Date.UTC(2026, 11, 4, 13)]],
      [" @HOURLY ", [Date.UTC(2026, 11, 4, 13)]],
    ] as const
  ) {
    it.effect(`${JSON.stringify(nickname)} is cron's nickname`, () =>
      Effect.gen(function* () {
        const task = PeriodicTask.cron("n", nickname, Effect.void, { timeZone: "UTC" })
        expect(yield* PeriodicTask.nextRuns(task, { count: 1, from })).toEqual(expected)
      }))
  }

  it.effect("a time zone the runtime does not know is named in the error, not the expression", () =>
    Effect.gen(function* () {
      const task = PeriodicTask.cron("n", "0 3 * * *", Effect.void, { timeZone: "Mars/Olympus" })
      const error = yield* Effect.flip(PeriodicTask.validate(task))
      expect([error.field, error.value]).toEqual(["timeZone", `"Mars/Olympus"`])
      expect(error.message).toBe(
        `Periodic task "n": timeZone is not a time zone (an IANA name such as "Europe/Paris", or an offset), got "Mars/Olympus"`,
      )
    }))

  it.effect("an expression that is no string fails as the cron field", () =>
    Effect.gen(function* () {
      const task = PeriodicTask.cron("n", 3 as never, Effect.void, { timeZone: "UTC" })
      const error = yield* Effect.flip(PeriodicTask.validate(task))
      expect([error.field, error.value, error.reason]).toEqual(["cron", "3", "must be a string"])
    }))
})
