import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"
import { collectOutcomes, occurrence, plain, recorder, taskStatus } from "./support/periodic.ts"

describe("PeriodicRunner", () => {
  it.scoped("a spaced task runs every period after the previous run ends", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      yield* PeriodicRunner.make([PeriodicTask.spaced("a", "10 seconds", rec.run(3))])
      yield* TestClock.adjust("60 seconds")
      expect(yield* rec.times).toEqual([10, 23, 36, 49])
    }))

  it.scoped("a fixed task keeps its grid and skips the slot it overran", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", rec.run(15), { runImmediately: true }),
      ], { shutdownTimeout: 0 })
      const outcomes = yield* runner.outcomes.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      yield* TestClock.adjust("45 seconds")
      expect(yield* rec.times).toEqual([0, 20, 40])
      const seen = Chunk.toArray(yield* Fiber.join(outcomes)).map((
        o,
      ) => [o._tag, o.scheduledAt / 1000])
      expect(seen).toEqual([["Skipped", 10], ["Succeeded", 0], ["Skipped", 30], ["Succeeded", 20]])
    }))

  it.scoped("a runner carries its TypeId, and isPeriodicRunner tells it from look-alikes", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([])
      expect(PeriodicRunner.TypeId in runner).toBe(true)
      expect(PeriodicRunner.isPeriodicRunner(runner)).toBe(true)
      const { [PeriodicRunner.TypeId]: _, ...lookAlike } = runner
      expect(PeriodicRunner.isPeriodicRunner(lookAlike)).toBe(false)
      expect(PeriodicRunner.isPeriodicRunner(null)).toBe(false)
    }))

  it.scoped("sequential mode runs due tasks in definition order", () =>
    Effect.gen(function* () {
      const order: Array<string> = []
      const task = (name: string) =>
        PeriodicTask.fixed(name, "5 seconds", Effect.sync(() => order.push(name)), {
          runImmediately: true,
        })
      yield* PeriodicRunner.make([task("z"), task("a"), task("m")], { mode: "sequential" })
      yield* TestClock.adjust("5 seconds")
      expect(order).toEqual(["z", "a", "m", "z", "a", "m"])
    }))
})

class Boom extends Data.TaggedError("Boom") {}

/** The runner's status of every task as [name, state], to compare in one line. */
const states = <E>(runner: PeriodicRunner.PeriodicRunner<E>) =>
  Effect.map(runner.status, (status) => status.tasks.map((task) => [task.name, task.state]))

describe("PeriodicRunner outcomes", () => {
  it.scoped("a run that ends well is Succeeded with its due instant, start and duration", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("audit", "10 seconds", rec.run(3)),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("30 seconds")
      expect(outcomes.map(plain)).toEqual([
        occurrence("Succeeded", "audit", 10_000, 10_000, 3_000),
        occurrence("Succeeded", "audit", 23_000, 23_000, 3_000),
      ])
    }))

  it.scoped("a run that fails is Failed with its cause, and the task keeps its grid", () =>
    Effect.gen(function* () {
      let runs = 0
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed(
          "flaky",
          "10 seconds",
          Effect.zipRight(
            Effect.sleep("2 seconds"),
            Effect.suspend(() => ++runs === 1 ? new Boom() : Effect.void),
          ),
        ),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("25 seconds")
      expect(outcomes.map(({ cause: _, ...rest }: Record<string, unknown>) => rest)).toEqual([
        occurrence("Failed", "flaky", 10_000, 10_000, 2_000),
        occurrence("Succeeded", "flaky", 20_000, 20_000, 2_000),
      ])
      const failed = outcomes[0]!
      expect(failed._tag === "Failed" && Cause.failureOption(failed.cause)).toEqual(
        Option.some(new Boom()),
      )
    }))

  it.scoped("a fixed task still running at its next slot records that slot as Skipped", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", Effect.sleep("15 seconds"), { runImmediately: true }),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("35 seconds")
      expect(outcomes.map(plain)).toEqual([
        occurrence("Skipped", "a", 10_000, 10_000, 0),
        occurrence("Succeeded", "a", 0, 0, 15_000),
        occurrence("Skipped", "a", 30_000, 30_000, 0),
        occurrence("Succeeded", "a", 20_000, 20_000, 15_000),
      ])
      const status = yield* taskStatus(runner, "a")
      expect([status.succeeded, status.skipped]).toEqual([2, 2])
    }))

  it.scoped("a run still going when the shutdown deadline passes is Interrupted", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("long", "10 seconds", Effect.never, { runImmediately: true }),
      ], { shutdownTimeout: "5 seconds" })
      yield* TestClock.adjust("20 seconds")
      const stopping = yield* Effect.fork(runner.shutdown())
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(stopping)
      const status = yield* taskStatus(runner, "long")
      expect(Option.map(status.lastOutcome, plain)).toEqual(
        Option.some(occurrence("Interrupted", "long", 0, 0, 25_000)),
      )
      expect(status.interrupted).toBe(1)
    }))

  it.scoped("a run that starts after its due instant reports how late it was", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", Effect.void, { runImmediately: true }),
      ], { initialDelay: "4 seconds" })
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("14 seconds")
      // oslo P19: the first run of a task that runs immediately sets its grid where it started.
      expect(outcomes.map((o) => [o.scheduledAt, o.startedAt, o.latenessMillis])).toEqual([
        [0, 4_000, 4_000],
        [14_000, 14_000, 0],
      ])
    }))
})

describe("PeriodicRunner modes", () => {
  /** Two tasks due at 10 s; the first takes 4 s. */
  const firstPass = (mode: PeriodicRunner.Mode) =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("slow", "10 seconds", Effect.sleep("4 seconds")),
        PeriodicTask.fixed("quick", "10 seconds", Effect.void),
      ], { mode })
      expect(runner.mode).toBe(mode)
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("15 seconds")
      return outcomes.map((o) => [o.task, o.scheduledAt, o.startedAt, o.durationMillis])
    })

  it.scoped("concurrent mode starts the due tasks together", () =>
    Effect.gen(function* () {
      expect(yield* firstPass("concurrent")).toEqual([
        ["quick", 10_000, 10_000, 0],
        ["slow", 10_000, 10_000, 4_000],
      ])
    }))

  it.scoped("concurrent mode runs each occurrence in a fiber of its own, started in order", () =>
    Effect.gen(function* () {
      const seen: Array<[string, string, string]> = []
      const annotation = FiberRef.unsafeMake("unset")
      // Each run sets a FiberRef: a later run must not see what an earlier one set.
      const run = (name: string) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fiberId
          seen.push([name, FiberId.threadName(fiber), yield* FiberRef.get(annotation)])
          yield* FiberRef.set(annotation, name)
        })
      yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", run("a")),
        PeriodicTask.fixed("b", "10 seconds", run("b")),
      ])
      const caller = yield* Effect.fiberId
      yield* TestClock.adjust("20 seconds")
      expect(seen.map(([name, , value]) => [name, value])).toEqual([
        ["a", "unset"],
        ["b", "unset"],
        ["a", "unset"],
        ["b", "unset"],
      ])
      const ids = seen.map(([, id]) => id)
      expect(new Set(ids).size).toBe(4)
      expect(ids).not.toContain(FiberId.threadName(caller))
    }))

  it.scoped("sequential mode runs the due tasks one after another, in definition order", () =>
    Effect.gen(function* () {
      expect(yield* firstPass("sequential")).toEqual([
        ["slow", 10_000, 10_000, 4_000],
        ["quick", 10_000, 14_000, 0],
      ])
    }))

  it.scoped("sequential mode sleeps oslo's idle time after a pass, so a late grid stays late", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      yield* PeriodicRunner.make([
        PeriodicTask.fixed("slow", "10 seconds", rec.run(4)),
        PeriodicTask.fixed("quick", "10 seconds", rec.run()),
      ], { mode: "sequential", shutdownTimeout: 0 })
      yield* TestClock.adjust("45 seconds")
      // Each pass ends 4 s after it began and is followed by a full 10 s idle (oslo P23).
      expect(yield* rec.times).toEqual([10, 14, 24, 28, 38, 42])
    }))

  it.scoped("maxSleep caps every sleep of the driver", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "60 seconds", rec.run()),
      ], { maxSleep: "10 seconds" })
      yield* TestClock.adjust("60 seconds")
      expect(yield* rec.times).toEqual([60])
      // At 0, 10, 20, 30, 40, 50 and 60 s.
      expect((yield* runner.status).wakeups).toBe(7)
    }))

  it.scoped("due tasks beyond maxBatch still start at their due instant", () =>
    Effect.gen(function* () {
      const names = ["a", "b", "c", "d", "e"]
      const runner = yield* PeriodicRunner.make(
        names.map((name) => PeriodicTask.fixed(name, "10 seconds", Effect.void)),
        { maxBatch: 2 },
      )
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("10 seconds")
      expect(outcomes.map((o) => [o.task, o.startedAt])).toEqual(
        names.map((name) => [name, 10_000]),
      )
    }))
})

describe("PeriodicRunner fiberMetrics", () => {
  // The same key as Effect's own counter, so it reads the global one.
  const fibersStarted = Metric.counter("effect_fiber_started", { incremental: true })
  const startedDuring = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const before = (yield* Metric.value(fibersStarted)).count
      yield* effect
      return (yield* Metric.value(fibersStarted)).count - before
    })
  const threeRuns = (options: PeriodicRunner.Options) =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", Effect.void, { runImmediately: true }),
        PeriodicTask.fixed("b", "10 seconds", Effect.void, { runImmediately: true }),
        PeriodicTask.fixed("c", "10 seconds", Effect.void, { runImmediately: true }),
      ], { ...options, start: false })
      return yield* startedDuring(runner.tick)
    })

  it.scoped("run fibers stay out of Effect's fiber metrics by default", () =>
    Effect.gen(function* () {
      expect(yield* threeRuns({})).toBe(0)
    }))

  it.scoped("fiberMetrics: true counts every run fiber, and the pass's batch fiber", () =>
    Effect.gen(function* () {
      expect(yield* threeRuns({ fiberMetrics: true })).toBe(3 + 1)
    }))
})

describe("PeriodicRunner tick", () => {
  it.scoped("runs the due tasks now and returns the time until the next one is due", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("a", "10 seconds", rec.run()),
        PeriodicTask.fixed("b", "25 seconds", rec.run()),
      ], { start: false })
      const until = [Duration.toMillis(yield* runner.tick)]
      yield* TestClock.setTime(10_000)
      until.push(Duration.toMillis(yield* runner.tick))
      yield* TestClock.setTime(27_000)
      until.push(Duration.toMillis(yield* runner.tick))
      expect(until).toEqual([10_000, 10_000, 10_000])
      expect(yield* rec.times).toEqual([10, 27, 27])
      const status = yield* runner.status
      expect([status.state, status.wakeups, status.passes]).toEqual(["idle", 0, 3])
    }))

  it.scoped("waits for the runs it starts in concurrent mode", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("a", "10 seconds", Effect.sleep("3 seconds"), { runImmediately: true }),
      ], { start: false })
      const ticked = yield* Effect.fork(runner.tick)
      yield* TestClock.adjust("2 seconds")
      expect((yield* Fiber.poll(ticked))._tag).toBe("None")
      yield* TestClock.adjust("1 second")
      expect(Duration.toMillis(yield* Fiber.join(ticked))).toBe(10_000)
    }))

  it.scoped(`in concurrent mode a "fail"-policy failure starts no later task of the pass`, () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const task = (name: string, run: Effect.Effect<void, string>, onError: "log" | "fail") =>
        PeriodicTask.fixed(
          name,
          "10 seconds",
          Effect.zipRight(Effect.sync(() => ran.push(name)), run),
          {
            runImmediately: true,
            onError,
          },
        )
      const runner = yield* PeriodicRunner.make([
        task("a", Effect.void, "log"),
        task("strict", Effect.fail("boom"), "fail"),
        task("b", Effect.void, "log"),
        task("c", Effect.void, "log"),
      ], { start: false })
      const exit = yield* Effect.exit(runner.tick)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(ran).toEqual(["a", "strict"])
      const status = yield* runner.status
      expect(status.tasks.map((t) => [t.name, t.state])).toEqual([
        ["a", "scheduled"],
        ["strict", "scheduled"],
        ["b", "scheduled"],
        ["c", "scheduled"],
      ])
    }))

  it.scoped("in concurrent mode a run sees the tasks after it as they were, not begun", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const runner = yield* Deferred.make<PeriodicRunner.PeriodicRunner>()
      const control = Effect.flatMap(
        Deferred.await(runner),
        (r) => Effect.zipRight(r.pause("b"), r.trigger("c")),
      )
      const task = (name: string, run: Effect.Effect<void>) =>
        PeriodicTask.fixed(
          name,
          "10 seconds",
          Effect.zipRight(Effect.sync(() => ran.push(name)), run),
          {
            runImmediately: true,
          },
        )
      const made = yield* PeriodicRunner.make([
        task("a", Effect.orDie(control)),
        task("b", Effect.void),
        task("c", Effect.void),
      ], { start: false })
      yield* Deferred.succeed(runner, made)
      yield* made.tick
      // "b" was paused before its turn; triggering "c", not running, is no skipped occurrence.
      expect(ran).toEqual(["a", "c"])
      const status = yield* made.status
      expect(status.tasks.map((t) => [t.name, t.state, t.succeeded, t.skipped])).toEqual([
        ["a", "scheduled", 1, 0],
        ["b", "paused", 0, 0],
        ["c", "scheduled", 1, 0],
      ])
    }))

  it.scoped("in concurrent mode a task due again at once runs once per pass, a millisecond apart", () =>
    Effect.gen(function* () {
      let runs = 0
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.make("again", Effect.sync(() => runs++), { schedule: Schedule.forever }),
      ], { start: false })
      expect(Duration.toMillis(yield* runner.tick)).toBe(1)
      expect(Duration.toMillis(yield* runner.tick)).toBe(1)
      expect(runs).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(Duration.toMillis(yield* runner.tick)).toBe(1)
      expect(runs).toBe(2)
    }))

  it.scoped("in concurrent mode a defect while taking the due tasks fails the pass and undoes its occurrence", () =>
    Effect.gen(function* () {
      const broken: Random.Random = {
        ...(yield* Effect.random),
        next: Effect.die("no randomness here"),
      }
      // Both first due at 1 min. A fixed task draws its jitter from its second slot on: the first
      // draw is here, when the second task is taken.
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("slow", "1 minute", Effect.sleep("10 seconds")),
        PeriodicTask.fixed("jittered", "1 minute", Effect.void, { jitter: true }),
      ], { start: false }).pipe(Effect.withRandom(broken))
      yield* TestClock.setTime(60_000)
      const exit = yield* Effect.exit(runner.tick)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      const status = yield* runner.status
      expect(status.tasks.map((t) => [t.name, t.state])).toEqual([
        ["slow", "running"],
        ["jittered", "scheduled"],
      ])
      // The run already going was not cut off by the failed pass.
      yield* TestClock.adjust("10 seconds")
      expect((yield* runner.status).tasks[0]!.succeeded).toBe(1)
    }))

  it.scoped("in sequential mode returns oslo's idle: a task that just ran counts its full spacing", () =>
    Effect.gen(function* () {
      const tasks = [PeriodicTask.fixed("a", "30 seconds", Effect.void)]
      const concurrent = yield* PeriodicRunner.make(tasks, { start: false })
      const sequential = yield* PeriodicRunner.make(tasks, { mode: "sequential", start: false })
      yield* TestClock.setTime(40_000)
      // Both run the task (due at 30 s); the next slot is at 60 s.
      expect(Duration.toMillis(yield* concurrent.tick)).toBe(20_000)
      expect(Duration.toMillis(yield* sequential.tick)).toBe(30_000)
    }))

  it.scoped("in sequential mode never returns more than 60 s", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 minutes", Effect.void),
      ], { mode: "sequential", start: false })
      expect(Duration.toMillis(yield* runner.tick)).toBe(60_000)
    }))

  it.scoped(`fails with PeriodicTaskFailed when a task with onError "fail" fails`, () =>
    Effect.gen(function* () {
      for (const mode of ["concurrent", "sequential"] as const) {
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.fixed("strict", "10 seconds", new Boom(), {
            onError: "fail",
            runImmediately: true,
          }),
        ], { mode, start: false })
        const error = yield* Effect.flip(runner.tick)
        expect([error._tag, error.task, Cause.failureOption(error.cause)]).toEqual([
          "PeriodicTaskFailed",
          "strict",
          Option.some(new Boom()),
        ])
      }
    }))
})

describe("PeriodicRunner status", () => {
  it.scoped("is a snapshot of every task: state, next due instant, last outcome and counts", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", Effect.sleep("3 seconds")),
        PeriodicTask.spaced("b", "20 seconds", Effect.sleep("10 seconds")),
        PeriodicTask.fixed("c", "10 seconds", Effect.void, { enabled: false }),
        PeriodicTask.fixed("d", "10 seconds", Effect.void),
      ], { shutdownTimeout: 0 })
      yield* TestClock.adjust("5 seconds")
      yield* runner.pause("d")
      yield* TestClock.adjust("20 seconds")
      const counts = { succeeded: 0, failed: 0, timedOut: 0, skipped: 0, interrupted: 0 }
      expect(yield* runner.status).toEqual({
        mode: "concurrent",
        state: "running",
        // At 0 (the first pass), 10 and 20 s.
        wakeups: 3,
        passes: 3,
        tasks: [
          {
            name: "a",
            state: "scheduled",
            nextRunAt: Option.some(30_000),
            lastOutcome: Option.some(PeriodicRunner.TaskOutcome.Succeeded({
              task: "a",
              scheduledAt: 20_000,
              startedAt: 20_000,
              durationMillis: 3_000,
              latenessMillis: 0,
            })),
            ...counts,
            succeeded: 2,
          },
          {
            name: "b",
            state: "running",
            nextRunAt: Option.none(),
            lastOutcome: Option.none(),
            ...counts,
          },
          {
            name: "c",
            state: "disabled",
            nextRunAt: Option.none(),
            lastOutcome: Option.none(),
            ...counts,
          },
          {
            name: "d",
            state: "paused",
            nextRunAt: Option.some(10_000),
            lastOutcome: Option.none(),
            ...counts,
          },
        ],
      })
    }))

  it.scoped("follows the runner from idle or running to stopping and stopped", () =>
    Effect.gen(function* () {
      const idle = yield* PeriodicRunner.make([], { start: false })
      expect((yield* idle.status).state).toBe("idle")
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("a", "10 seconds", Effect.sleep("4 seconds"), { runImmediately: true }),
      ])
      expect((yield* runner.status).state).toBe("running")
      const stopping = yield* Effect.fork(runner.shutdown())
      yield* Effect.yieldNow()
      expect((yield* runner.status).state).toBe("stopping")
      yield* TestClock.adjust("4 seconds")
      yield* Fiber.join(stopping)
      expect((yield* runner.status).state).toBe("stopped")
    }))
})

describe("PeriodicRunner control", () => {
  it.scoped("a paused task does not run; resumed overdue, it runs at once and reports its lateness", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("spaced", "10 seconds", Effect.void),
        PeriodicTask.fixed("fixed", "10 seconds", Effect.void),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("5 seconds")
      yield* runner.pause("spaced")
      yield* runner.pause("fixed")
      expect(yield* states(runner)).toEqual([["spaced", "paused"], ["fixed", "paused"]])
      yield* TestClock.adjust("30 seconds")
      expect(outcomes).toEqual([])
      yield* runner.resume("spaced")
      yield* runner.resume("fixed")
      yield* TestClock.adjust("11 seconds")
      // The spaced task goes on 10 s after that run; the fixed one keeps its grid (40 s).
      expect(outcomes.map((o) => [o.task, o.scheduledAt, o.startedAt, o.latenessMillis])).toEqual([
        ["spaced", 10_000, 35_000, 25_000],
        ["fixed", 10_000, 35_000, 25_000],
        ["fixed", 40_000, 40_000, 0],
        ["spaced", 45_000, 45_000, 0],
      ])
    }))

  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: the slots and cron instants that pass while a task is paused are not recorded`, () =>
      Effect.gen(function* () {
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.cron("sweep", "* * * * *", Effect.void, { timeZone: "UTC" }),
          PeriodicTask.fixed("sync", "60 seconds", Effect.void),
        ], { mode, shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("30 seconds")
        yield* runner.pause()
        yield* TestClock.adjust("270 seconds")
        yield* runner.resume()
        yield* TestClock.adjust("30 seconds")
        // Resumed overdue, each runs once at once and keeps its timing; nothing is Skipped.
        expect(outcomes.map((o) => [o._tag, o.task, o.scheduledAt / 1000, o.startedAt / 1000]))
          .toEqual([
            ["Succeeded", "sweep", 60, 300],
            ["Succeeded", "sync", 60, 300],
          ])
      }))

    it.scoped(`${mode}: the slots and cron instants a paused task's run overlaps are not recorded`, () =>
      Effect.gen(function* () {
        const runners = yield* Effect.forEach([
          PeriodicTask.cron("sweep", "* * * * *", Effect.sleep("150 seconds"), { timeZone: "UTC" }),
          PeriodicTask.fixed("sync", "60 seconds", Effect.sleep("150 seconds")),
        ], (task) => PeriodicRunner.make([task], { mode, shutdownTimeout: 0 }))
        const outcomes = yield* Effect.forEach(runners, collectOutcomes)
        // Paused during the run from 60 s to 210 s, resumed at 400 s.
        yield* TestClock.adjust("90 seconds")
        yield* Effect.forEach(runners, (runner) => runner.pause())
        yield* TestClock.adjust("310 seconds")
        yield* Effect.forEach(runners, (runner) => runner.resume())
        yield* TestClock.adjust("160 seconds")
        const seen = outcomes.map((of) => of.map((o) => [o._tag, o.scheduledAt / 1000]))
        // Resumed, each runs at once, from 400 s to 550 s: only the instants and slots of that
        // run are skipped (a sequential run is inline, and no slot finds it running).
        expect(seen).toEqual([
          [["Succeeded", 60], ["Skipped", 420], ["Skipped", 480], ["Skipped", 540], [
            "Succeeded",
            240,
          ]],
          mode === "concurrent"
            ? [["Succeeded", 60], ["Skipped", 420], ["Skipped", 480], ["Skipped", 540], [
              "Succeeded",
              120,
            ]]
            : [["Succeeded", 60], ["Succeeded", 120]],
        ])
      }))
  }

  it.scoped("pause and resume without a name apply to every task", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", rec.run()),
        PeriodicTask.spaced("b", "10 seconds", rec.run()),
      ])
      yield* runner.pause()
      yield* TestClock.adjust("25 seconds")
      expect(yield* states(runner)).toEqual([["a", "paused"], ["b", "paused"]])
      yield* runner.resume()
      expect(yield* states(runner)).toEqual([["a", "scheduled"], ["b", "scheduled"]])
      yield* TestClock.adjust("5 seconds")
      expect(yield* rec.times).toEqual([25, 25, 30])
    }))

  it.scoped("a fixed task paused during a run does not run again until resumed", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("a", "10 seconds", rec.run(3)),
      ], { shutdownTimeout: 0 })
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("11 seconds")
      yield* runner.pause("a")
      yield* TestClock.adjust("30 seconds")
      expect(yield* rec.times).toEqual([10])
      expect(outcomes.map((o) => o._tag)).toEqual(["Succeeded"])
      yield* runner.resume("a")
      yield* TestClock.adjust("10 seconds")
      expect(yield* rec.times).toEqual([10, 41, 50])
    }))

  it.scoped("trigger runs a task now; a fixed task keeps its grid, a spaced one restarts", () =>
    Effect.gen(function* () {
      const fixed = yield* recorder
      const spaced = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("fixed", "10 seconds", fixed.run()),
        PeriodicTask.spaced("spaced", "10 seconds", spaced.run()),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("14 seconds")
      yield* runner.trigger("fixed")
      yield* runner.trigger("spaced")
      yield* TestClock.adjust("16 seconds")
      expect(yield* fixed.times).toEqual([10, 14, 20, 30])
      expect(yield* spaced.times).toEqual([10, 14, 24])
      const triggered = outcomes.filter((o) => o.startedAt === 14_000)
      expect(triggered.map((o) => [o.task, o.scheduledAt, o.latenessMillis])).toEqual([
        ["fixed", 14_000, 0],
        ["spaced", 14_000, 0],
      ])
    }))

  it.scoped("a trigger during a sleep of at most 1 ms takes effect when that sleep ends", () =>
    Effect.gen(function* () {
      // Both runners sleep until "tick" is due; only the one with the 1 ms sleep lets it finish.
      const triggeredAt = (every: Duration.DurationInput) =>
        Effect.gen(function* () {
          const runner = yield* PeriodicRunner.make([
            PeriodicTask.fixed("tick", every, Effect.void),
            PeriodicTask.spaced("b", "1 hour", Effect.void),
          ])
          const outcomes = yield* collectOutcomes(runner)
          yield* TestClock.adjust("0.5 millis")
          yield* runner.trigger("b")
          yield* TestClock.adjust("0.5 millis")
          const started = outcomes.filter((o) => o.task === "b").map((o) => o.startedAt)
          yield* TestClock.setTime(0)
          return started
        })
      expect(yield* Effect.scoped(triggeredAt("1 millis"))).toEqual([1])
      expect(yield* Effect.scoped(triggeredAt("2 millis"))).toEqual([0.5])
    }))

  it.scoped("triggering a task that is still running records that occurrence as Skipped", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("a", "10 seconds", Effect.sleep("10 seconds")),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("12 seconds")
      yield* runner.trigger("a")
      yield* TestClock.adjust("8 seconds")
      expect(outcomes.map(plain)).toEqual([
        occurrence("Skipped", "a", 12_000, 12_000, 0),
        occurrence("Succeeded", "a", 10_000, 10_000, 10_000),
      ])
    }))

  it.scoped("naming an unknown task fails with NoSuchTask, which lists the known ones", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("audit", "10 seconds", Effect.void),
        PeriodicTask.fixed("heal", "10 seconds", Effect.void),
      ])
      expect(runner.tasks).toEqual(["audit", "heal"])
      const errors = [
        (yield* Effect.flip(runner.trigger("audti"))) as PeriodicRunner.NoSuchTask,
        yield* Effect.flip(runner.pause("audti")),
        yield* Effect.flip(runner.resume("audti")),
      ]
      expect(errors.map((error) => [error._tag, error.task, error.known, error.message])).toEqual(
        Array.from({ length: 3 }, () => [
          "NoSuchTask",
          "audti",
          ["audit", "heal"],
          `No periodic task named "audti"; known tasks: "audit", "heal"`,
        ]),
      )
      const empty = yield* PeriodicRunner.make([], { start: false })
      expect((yield* Effect.flip(empty.trigger("audit"))).message).toBe(
        `No periodic task named "audit"; known tasks: none`,
      )
    }))
})

describe("PeriodicRunner shutdown", () => {
  it.scoped("lets running tasks finish within the deadline, interrupts the rest, starts none", () =>
    Effect.gen(function* () {
      const late = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("short", "10 seconds", Effect.sleep("3 seconds"), {
          runImmediately: true,
        }),
        PeriodicTask.spaced("long", "10 seconds", Effect.sleep("100 seconds"), {
          runImmediately: true,
        }),
        PeriodicTask.fixed("late", "4 seconds", late.run()),
      ])
      yield* TestClock.adjust("1 second")
      const stopped = yield* Effect.fork(
        Effect.zipRight(runner.shutdown("5 seconds"), Clock.currentTimeMillis),
      )
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(stopped)).toBe(6_000)
      expect(yield* late.times).toEqual([])
      const status = yield* runner.status
      expect(status.state).toBe("stopped")
      expect(
        status.tasks.map((task) => Option.map(task.lastOutcome, (o) => [o._tag, o.durationMillis])),
      )
        .toEqual([
          Option.some(["Succeeded", 3_000]),
          Option.some(["Interrupted", 6_000]),
          Option.none(),
        ])
      yield* runner.join
    }))

  it.effect("closing the runner's scope shuts it down with its shutdownTimeout", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("long", "10 seconds", Effect.never, { runImmediately: true }),
      ], { shutdownTimeout: "5 seconds" }).pipe(Scope.extend(scope))
      yield* TestClock.adjust("20 seconds")
      const closed = yield* Effect.fork(
        Effect.zipRight(Scope.close(scope, Exit.void), Clock.currentTimeMillis),
      )
      yield* TestClock.adjust("4 seconds")
      expect((yield* taskStatus(runner, "long")).state).toBe("running")
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(closed)).toBe(25_000)
      const status = yield* taskStatus(runner, "long")
      expect([status.state, Option.map(status.lastOutcome, (o) => o._tag)]).toEqual([
        "scheduled",
        Option.some("Interrupted"),
      ])
    }))

  it.scoped("in sequential mode lets the task in progress finish and starts no other", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("first", "10 seconds", rec.run(3), { runImmediately: true }),
        PeriodicTask.fixed("second", "10 seconds", rec.run(), { runImmediately: true }),
      ], { mode: "sequential" })
      yield* TestClock.adjust("1 second")
      const stopped = yield* Effect.fork(
        Effect.zipRight(runner.shutdown("5 seconds"), Clock.currentTimeMillis),
      )
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(stopped)).toBe(3_000)
      expect(yield* rec.times).toEqual([0])
      expect((yield* runner.status).state).toBe("stopped")
    }))

  it.effect("run keeps the tasks going until interrupted, then stops them gracefully", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const fiber = yield* Effect.fork(
        PeriodicRunner.run([PeriodicTask.fixed("a", "10 seconds", rec.run(2))]),
      )
      yield* TestClock.adjust("31 seconds")
      const interrupted = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("1 second")
      expect(Exit.isInterrupted(yield* Fiber.join(interrupted))).toBe(true)
      expect(yield* rec.times).toEqual([10, 20, 30])
    }))

  it.effect(`run fails with PeriodicTaskFailed when a task with onError "fail" fails`, () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        PeriodicRunner.run([
          PeriodicTask.fixed("strict", "10 seconds", new Boom(), { onError: "fail" }),
        ]),
      )
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber)).pipe(
        Effect.filterOrDie((e) => e._tag === "PeriodicTaskFailed", () => "not PeriodicTaskFailed"),
      )
      expect([error._tag, error.task]).toEqual(["PeriodicTaskFailed", "strict"])
    }))
})

describe("PeriodicRunner invalid input", () => {
  const rejects = (
    tasks: ReadonlyArray<PeriodicTask.PeriodicTask>,
    options: PeriodicRunner.Options,
    message: string,
  ) =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(PeriodicRunner.make(tasks, options))
      expect([error._tag, error.message]).toEqual(["InvalidPeriodicTask", message])
    })

  it.scoped("a bad task fails runner creation, before any task runs", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const error = yield* Effect.flip(
        PeriodicRunner.make([
          PeriodicTask.spaced("good", "1 second", rec.run(), { runImmediately: true }),
          PeriodicTask.spaced("bad", Number.NaN, rec.run(), { runImmediately: true }),
        ]).pipe(Effect.catchTag("InvalidOption", Effect.die)),
      )
      expect([error.task, error.field, error.value, error.reason]).toEqual([
        "bad",
        "every",
        "NaN",
        "must be a finite duration > 0",
      ])
      yield* TestClock.adjust("10 seconds")
      expect(yield* rec.times).toEqual([])
    }))

  it.scoped("two tasks with the same name fail runner creation", () =>
    rejects(
      [
        PeriodicTask.spaced("audit", "1 second", Effect.void),
        PeriodicTask.fixed("audit", "2 seconds", Effect.void),
      ],
      {},
      `Periodic task "audit": name is used by another task of the same runner, got "audit"`,
    ))

  it.scoped("a cron expression that does not parse fails runner creation", () =>
    rejects(
      [PeriodicTask.cron("archive", "0 3 * *", Effect.void, { timeZone: "UTC" })],
      {},
      `Periodic task "archive": cron does not parse (Invalid number of segments in cron expression), got "0 3 * *"`,
    ))

  it.scoped("a schedule that dies on its first step fails runner creation", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        PeriodicRunner.make([
          PeriodicTask.make("broken", Effect.void, {
            schedule: Schedule.makeWithState(undefined, () => Effect.dieMessage("no state")),
          }),
        ]).pipe(Effect.catchTag("InvalidOption", Effect.die)),
      )
      expect([error.task, error.field, error.value]).toEqual(["broken", "schedule", "(schedule)"])
      expect(error.reason.startsWith("fails on its first step (RuntimeException: no state")).toBe(
        true,
      )
    }))

  const badOptions: ReadonlyArray<readonly [string, PeriodicRunner.Options, string, string]> = [
    ["a maxBatch of 0", { maxBatch: 0 }, "maxBatch", "0 must be a positive integer"],
    ["a fractional maxBatch", { maxBatch: 1.5 }, "maxBatch", "1.5 must be a positive integer"],
    [
      "a negative shutdownTimeout",
      { shutdownTimeout: -1 },
      "shutdownTimeout",
      "-1 must be a finite duration ≥ 0",
    ],
    [
      "a NaN initialDelay",
      { initialDelay: Number.NaN },
      "initialDelay",
      "NaN must be a finite duration ≥ 0",
    ],
    [
      "an initialDelay that is no duration",
      { initialDelay: "soon" as never },
      "initialDelay",
      `"soon" is not a duration`,
    ],
    [
      "an infinite maxSleep",
      { maxSleep: Number.POSITIVE_INFINITY },
      "maxSleep",
      "Infinity must be a finite duration ≥ 0",
    ],
    [
      "an unknown mode",
      { mode: "parallel" as never },
      "mode",
      `"parallel" must be "concurrent" or "sequential"`,
    ],
  ]
  for (const [what, options, option, message] of badOptions) {
    it.scoped(`${what} fails runner creation with InvalidOption`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(PeriodicRunner.make([], options))
        expect(error).toBeInstanceOf(PeriodicRunner.InvalidOption)
        expect([error._tag, error.message]).toEqual([
          "InvalidOption",
          `Invalid option ${option} of PeriodicRunner: ${message}`,
        ])
      }))
  }
})

describe("PeriodicRunner wake-ups", () => {
  it.scoped("1,000 tasks spaced 60 s wake the driver once a minute for an hour", () =>
    Effect.gen(function* () {
      let runs = 0
      const run = Effect.sync(() => {
        runs++
      })
      const runner = yield* PeriodicRunner.make(
        Array.from(
          { length: 1_000 },
          (_, i) => PeriodicTask.spaced(`task-${i}`, "60 seconds", run),
        ),
      )
      yield* TestClock.adjust("1 hour")
      const status = yield* runner.status
      expect(status.wakeups).toBeLessThanOrEqual(61)
      expect(runs).toBe(60_000)
      expect(status.tasks.every((task) => task.succeeded === 60)).toBe(true)
      expect(status.tasks[999]!.nextRunAt).toEqual(Option.some(3_660_000))
    }))
  it.scoped("triggering a fixed task before its first slot keeps that slot", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("f", "10 seconds", rec.run(), { offset: "5 seconds" }),
      ])
      yield* runner.trigger("f")
      yield* TestClock.adjust("25 seconds")
      // Triggered at 0, before the grid's first point (5 = the offset): the run at 0 takes the
      // grid slot before it (-5), so the slot at 5 is not skipped and the phase stays 5.
      expect(yield* rec.times).toEqual([0, 5, 15, 25])
    }))

  it.effect("a run that ignores interruption does not hold the stop past the deadline", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      // Uninterruptible until the test releases it, so no fiber outlives the test.
      const release = yield* Deferred.make<void>()
      yield* PeriodicRunner.make([
        PeriodicTask.spaced("stuck", "1 second", Effect.uninterruptible(Deferred.await(release)), {
          runImmediately: true,
        }),
      ], { shutdownTimeout: "2 seconds" }).pipe(Scope.extend(scope))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("2 seconds")
      expect(Option.isNone(yield* Fiber.poll(closing))).toBe(true)
      // One second of grace for interrupted runs to end, then the stop goes on without it.
      yield* TestClock.adjust("1 second")
      expect(Option.map(yield* Fiber.poll(closing), Exit.isSuccess)).toEqual(Option.some(true))
      yield* Deferred.succeed(release, undefined)
    }))
})

describe("PeriodicRunner: missed cron instants", () => {
  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: a cron run that outlasts the next instants records each as Skipped`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          // Every minute; the run at 00:01 takes 150 s, past 00:02 and 00:03.
          PeriodicTask.cron("sweep", "* * * * *", rec.run(150), { timeZone: "UTC" }),
        ], { mode, shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("5 minutes")
        expect(yield* rec.times).toEqual([60, 240])
        expect(outcomes.map((o) => [o._tag, o.scheduledAt / 1000, o.startedAt / 1000])).toEqual([
          ["Skipped", 120, 210],
          ["Skipped", 180, 210],
          ["Succeeded", 60, 60],
        ])
        const status = yield* taskStatus(runner, "sweep")
        expect([status.succeeded, status.skipped]).toEqual([1, 2])
      }))

    it.scoped(`${mode}: after a cron run that missed instants, its own outcome is the last one`, () =>
      Effect.gen(function* () {
        const sweep = PeriodicTask.cron("sweep", "* * * * *", Effect.sleep("150 seconds"), {
          timeZone: "UTC",
        })
        // One runner publishes every outcome; the other, unheard, only notes its successes.
        const heard = yield* PeriodicRunner.make([sweep], { mode, shutdownTimeout: 0 })
        const unheard = yield* PeriodicRunner.make([sweep], { mode, shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(heard)
        yield* TestClock.adjust("230 seconds")
        const run = occurrence("Succeeded", "sweep", 60_000, 60_000, 150_000)
        expect(outcomes.map(plain)).toEqual([
          occurrence("Skipped", "sweep", 120_000, 210_000, 0),
          occurrence("Skipped", "sweep", 180_000, 210_000, 0),
          run,
        ])
        for (const runner of [heard, unheard]) {
          const status = yield* taskStatus(runner, "sweep")
          expect([Option.map(status.lastOutcome, plain), status.skipped]).toEqual([
            Option.some(run),
            2,
          ])
        }
      }))
  }

  it.scoped("a cron run that misses more than 1,000 instants records the latest 1,000", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        // Every second; the run at 00:00:01 takes 20 minutes, past 1,200 instants.
        PeriodicTask.cron("tick", "* * * * * *", Effect.sleep("20 minutes"), { timeZone: "UTC" }),
      ], { shutdownTimeout: 0 })
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("1201.5 seconds")
      const skipped = outcomes.filter((o) => o._tag === "Skipped").map((o) => o.scheduledAt / 1000)
      expect([skipped.length, skipped[0], skipped.at(-1)]).toEqual([1_000, 202, 1_201])
      expect(outcomes.at(-1)!._tag).toBe("Succeeded")
      expect((yield* taskStatus(runner, "tick")).skipped).toBe(1_000)
    }))

  it.scoped("a cron run within its minute misses nothing", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.cron("sweep", "* * * * *", rec.run(59), { timeZone: "UTC" }),
      ], { shutdownTimeout: 0 })
      yield* TestClock.adjust("4 minutes")
      expect(yield* rec.times).toEqual([60, 120, 180, 240])
      expect((yield* taskStatus(runner, "sweep")).skipped).toBe(0)
    }))
})

describe("PeriodicRunner: the overlap policy", () => {
  it.scoped(`concurrent: "queue" starts the slot a fixed run overran as soon as it ends`, () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("sync", "10 seconds", rec.run(14), {
          runImmediately: true,
          overlap: "queue",
        }),
      ], { shutdownTimeout: 0 })
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("45 seconds")
      expect(yield* rec.times).toEqual([0, 14, 28, 42])
      // The run from 28 to 42 overran the slots at 30 and 40: the older one is skipped (at 40,
      // before that run's own outcome), and the one at 40 waits for its end.
      expect(outcomes.map((o) => [o._tag, o.scheduledAt / 1000, o.startedAt / 1000])).toEqual([
        ["Succeeded", 0, 0],
        ["Succeeded", 10, 14],
        ["Skipped", 30, 40],
        ["Succeeded", 20, 28],
      ])
    }))

  it.scoped(`sequential: "queue" runs a fixed task that overran in the next pass, at once`, () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      yield* PeriodicRunner.make([
        PeriodicTask.fixed("sync", "10 seconds", rec.run(14), {
          runImmediately: true,
          overlap: "queue",
        }),
      ], { mode: "sequential", shutdownTimeout: 0 })
      yield* TestClock.adjust("30 seconds")
      // A pass comes at least 1 ms after the previous one.
      expect(yield* rec.times).toEqual([0, 14.001, 28.002])
    }))

  for (
    const [overlap, expected] of [
      ["skip", [["Skipped", 1, 1], ["Skipped", 2, 2], ["Succeeded", 0, 0], ["Succeeded", 15, 15]]],
      // The later trigger waits for the run's end; the earlier one is skipped.
      ["queue", [["Skipped", 1, 2], ["Succeeded", 0, 0], ["Succeeded", 2, 5], [
        "Succeeded",
        20,
        20,
      ]]],
    ] as const
  ) {
    it.scoped(`"${overlap}": triggers while a spaced task runs`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced("scan", "10 seconds", rec.run(5), { runImmediately: true, overlap }),
        ], { shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("1 second")
        yield* runner.trigger("scan")
        yield* TestClock.adjust("1 second")
        yield* runner.trigger("scan")
        yield* TestClock.adjust("24 seconds")
        expect(outcomes.map((o) => [o._tag, o.scheduledAt / 1000, o.startedAt / 1000])).toEqual(
          expected,
        )
      }))
  }

  it.scoped(`a cron task with "queue" runs the latest instant its run missed, and skips the others`, () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.cron("sweep", "* * * * *", rec.run(150), {
          timeZone: "UTC",
          overlap: "queue",
        }),
      ], { shutdownTimeout: 0 })
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("5 minutes")
      expect(yield* rec.times).toEqual([60, 210])
      expect(outcomes.map((o) => [o._tag, o.scheduledAt / 1000, o.startedAt / 1000])).toEqual([
        ["Skipped", 120, 210],
        ["Succeeded", 60, 60],
      ])
    }))

  for (
    const [when, expected] of [
      // A trigger after the missed instants is the latest occurrence: it waits, and they are
      // skipped; its run misses the instants after it (not those recorded already).
      [200, [
        ["Skipped", 120, 210],
        ["Skipped", 180, 210],
        ["Succeeded", 60, 60],
        ["Skipped", 240, 360],
        ["Skipped", 300, 360],
        ["Succeeded", 200, 210],
      ]],
      // A trigger before them is overlapped by them: the latest instant waits, the rest is skipped.
      [100, [
        ["Skipped", 100, 210],
        ["Skipped", 120, 210],
        ["Succeeded", 60, 60],
        ["Skipped", 240, 360],
        ["Skipped", 300, 360],
        ["Succeeded", 180, 210],
      ]],
    ] as const
  ) {
    it.scoped(`a cron task with "queue" triggered at ${when} s during a run: one occurrence waits, every other is skipped`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.cron("sweep", "* * * * *", rec.run(150), { timeZone: "UTC" }).pipe(
            PeriodicTask.withOverlap("queue"),
          ),
        ], { shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust(`${when} seconds`)
        yield* runner.trigger("sweep")
        yield* TestClock.adjust(`${390 - when} seconds`)
        // The waiting occurrence runs once, at the end of the run it overlapped.
        expect(yield* rec.times).toEqual([60, 210, 360])
        expect(outcomes.map((o) => [o._tag, o.scheduledAt / 1000, o.startedAt / 1000])).toEqual(
          expected,
        )
      }))
  }

  it.scoped("an overlap policy other than skip or queue fails runner creation", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        PeriodicRunner.make([
          PeriodicTask.spaced("scan", "1 second", Effect.void, { overlap: "later" as never }),
        ]).pipe(Effect.catchTag("InvalidOption", Effect.die)),
      )
      expect(error.message).toBe(
        `Periodic task "scan": overlap must be "skip" or "queue", got "later"`,
      )
    }))
})

describe("PeriodicRunner: adding and removing tasks while it runs", () => {
  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: an added task is timed from now and runs like one given at creation`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        // No task at creation: the added ones grow the runner's tables.
        const runner = yield* PeriodicRunner.make([], { mode, shutdownTimeout: 0 })
        yield* TestClock.adjust("5 seconds")
        yield* runner.add(PeriodicTask.fixed("a", "10 seconds", rec.run()))
        yield* runner.add(
          PeriodicTask.spaced("b", "3 seconds", Effect.void, { runImmediately: true }),
        )
        yield* TestClock.adjust("30 seconds")
        expect(yield* rec.times).toEqual([15, 25, 35])
        expect(runner.tasks).toEqual(["a", "b"])
        expect((yield* taskStatus(runner, "b")).succeeded).toBe(11)
      }))

    it.scoped(`${mode}: a removed task starts no more, leaves status, and its name is free`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.fixed("a", "10 seconds", rec.run()),
          PeriodicTask.fixed("keep", "10 seconds", Effect.void),
        ], { mode, shutdownTimeout: 0 })
        yield* TestClock.adjust("15 seconds")
        yield* runner.remove("a")
        expect(runner.tasks).toEqual(["keep"])
        expect((yield* runner.status).tasks.map((t) => t.name)).toEqual(["keep"])
        yield* TestClock.adjust("20 seconds")
        expect(yield* rec.times).toEqual([10])
        // The name is free again; the new task takes the removed one's place.
        yield* runner.add(PeriodicTask.fixed("a", "10 seconds", rec.run()))
        expect(runner.tasks).toEqual(["a", "keep"])
        yield* TestClock.adjust("10 seconds")
        expect(yield* rec.times).toEqual([10, 45])
        const error = yield* Effect.flip(runner.remove("gone"))
        expect(error.message).toBe(`No periodic task named "gone"; known tasks: "a", "keep"`)
      }))
  }

  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: remove waits for a run in progress, whose outcome is recorded`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.fixed("slow", "10 seconds", rec.run(4), { runImmediately: true }),
        ], { mode, shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("1 second")
        const removing = yield* Effect.fork(runner.remove("slow", { wait: true }))
        yield* TestClock.adjust("2 seconds")
        expect(Option.isNone(yield* Fiber.poll(removing))).toBe(true)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(removing)
        expect(outcomes.map((o) => [o._tag, o.durationMillis])).toEqual([["Succeeded", 4_000]])
        yield* TestClock.adjust("30 seconds")
        expect(yield* rec.times).toEqual([0])
      }))
  }

  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: a removed task's run that ends later leaves the task that took its slot alone`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        // After each run the schedule takes 5 s to step: the run's bookkeeping ends 5 s after it.
        const slowStep = Schedule.spaced("10 seconds").pipe(
          Schedule.tapInput(() => Effect.sleep("5 seconds")),
        )
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.make("old", Effect.sleep("1 second"), {
            schedule: slowStep,
            runImmediately: true,
          }),
          // (A sequential pass waits for that bookkeeping, and does not see a task added
          // meanwhile: maxSleep bounds the sleep after it.)
        ], { mode, shutdownTimeout: 0, maxSleep: "500 millis" })
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("0.5 seconds")
        yield* runner.remove("old")
        // The run ended at 1 s; its schedule steps until 6 s. The slot is free: "new" takes it.
        yield* TestClock.adjust("1 second")
        yield* runner.add(PeriodicTask.fixed("new", "10 seconds", rec.run()))
        yield* TestClock.adjust("30.5 seconds")
        expect(yield* rec.times).toEqual([11.5, 21.5, 31.5])
        expect(outcomes.map((o) => [o._tag, o.task, o.scheduledAt / 1000, o.startedAt / 1000]))
          .toEqual([
            ["Succeeded", "old", 0, 0],
            ["Succeeded", "new", 11.5, 11.5],
            ["Succeeded", "new", 21.5, 21.5],
            ["Succeeded", "new", 31.5, 31.5],
          ])
        const status = yield* taskStatus(runner, "new")
        expect([status.state, status.nextRunAt, status.succeeded]).toEqual([
          "scheduled",
          Option.some(41_500),
          3,
        ])
      }))
  }

  it.scoped("remove with interrupt: true interrupts the run in progress, recorded as Interrupted", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("slow", "10 seconds", Effect.sleep("4 seconds"), {
          runImmediately: true,
        }),
      ], { shutdownTimeout: 0 })
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("1 second")
      yield* runner.remove("slow", { interrupt: true })
      expect(outcomes.map((o) => [o._tag, o.task, o.durationMillis])).toEqual([
        ["Interrupted", "slow", 1_000],
      ])
    }))

  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: a run that removes its own task is not left waiting for itself`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const self = yield* Deferred.make<PeriodicRunner.PeriodicRunner>()
        const run = Effect.zipRight(
          rec.run(),
          Effect.flatMap(Deferred.await(self), (runner) => runner.remove("once")),
        )
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.fixed("once", "10 seconds", Effect.orDie(run)),
        ], { mode, shutdownTimeout: 0 })
        yield* Deferred.succeed(self, runner)
        yield* TestClock.adjust("35 seconds")
        expect(yield* rec.times).toEqual([10])
        expect(runner.tasks).toEqual([])
      }))
  }

  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: a run that removes its task from a fiber of its own is not wedged`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const self = yield* Deferred.make<PeriodicRunner.PeriodicRunner>()
        const removeFromChild = Effect.flatMap(
          Deferred.await(self),
          (runner) => Effect.flatMap(Effect.fork(runner.remove("once")), Fiber.join),
        )
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.fixed(
            "once",
            "10 seconds",
            Effect.orDie(Effect.zipRight(rec.run(), removeFromChild)),
            {
              timeout: "5 seconds",
            },
          ),
          PeriodicTask.fixed("other", "10 seconds", rec.run()),
        ], { mode, shutdownTimeout: 0 })
        const outcomes = yield* collectOutcomes(runner)
        yield* Deferred.succeed(self, runner)
        yield* TestClock.adjust("25 seconds")
        expect(yield* rec.times).toEqual([10, 10, 20])
        expect(outcomes.map((o) => `${o._tag} ${o.task} ${o.scheduledAt}`).sort()).toEqual([
          "Succeeded once 10000",
          "Succeeded other 10000",
          "Succeeded other 20000",
        ])
      }))
  }

  it.scoped("sequential: triggering a running fixed task is an overlap, and its slots stay as they were", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("sync", "10 seconds", rec.run(5), { runImmediately: true }),
      ], { mode: "sequential", shutdownTimeout: 0 })
      const outcomes = yield* collectOutcomes(runner)
      const triggering = yield* Effect.fork(
        Effect.zipRight(Effect.sleep("1 second"), runner.trigger("sync")),
      )
      yield* TestClock.adjust("31 seconds")
      yield* Fiber.join(triggering)
      // oslo's idle rule: a pass after a 5 s run sleeps the full spacing (the grid stays late).
      expect(yield* rec.times).toEqual([0, 15, 30])
      expect(outcomes.map((o) => [o._tag, o.scheduledAt / 1000, o.startedAt / 1000])).toEqual([
        ["Skipped", 1, 1],
        ["Succeeded", 0, 0],
        ["Succeeded", 10, 15],
      ])
    }))

  it.scoped("add refuses a bad task, a taken name, and a stopped runner", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([PeriodicTask.spaced("a", "1 second", Effect.void)])
      const bad = yield* Effect.flip(runner.add(PeriodicTask.spaced("b", Number.NaN, Effect.void)))
      expect(bad.message).toBe(`Periodic task "b": every must be a finite duration > 0, got NaN`)
      const taken = yield* Effect.flip(runner.add(PeriodicTask.fixed("a", "1 second", Effect.void)))
      expect(taken.message).toBe(
        `Periodic task "a": name is used by another task of the same runner, got "a"`,
      )
      yield* runner.shutdown(0)
      const stopped = yield* Effect.flip(
        runner.add(PeriodicTask.spaced("c", "1 second", Effect.void)),
      )
      expect([stopped._tag, stopped.message]).toEqual([
        "RunnerStopped",
        `Periodic task "c" cannot be added: the runner has stopped`,
      ])
      expect(runner.tasks).toEqual(["a"])
    }))

  it.scoped("a schedule that dies on its first step is refused, and its slot is free again", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([])
      const broken = PeriodicTask.make("broken", Effect.void, {
        schedule: Schedule.makeWithState(undefined, () => Effect.dieMessage("no state")),
      })
      const error = yield* Effect.flip(runner.add(broken))
      expect([error._tag, error.message.startsWith(`Periodic task "broken": schedule fails`)])
        .toEqual(["InvalidPeriodicTask", true])
      expect(runner.tasks).toEqual([])
      yield* runner.add(PeriodicTask.spaced("broken", "1 second", Effect.void))
      expect(runner.tasks).toEqual(["broken"])
    }))
})
