// The deliberate differences from oslo.service and nova that the README lists ("oslo.service and
// nova, and where we differ"), one test each, with exact times on the test clock. Where oslo does
// something else, the comment says what; the conformance vectors (test/conformance.test.ts) pin
// everything in which we match it.
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { Manager, PeriodicRunner, PeriodicTask, Service, ServiceRegistry } from "../mod.ts"
// The signal handling of `runMain`, with a host whose signals the test sends (the platform
// modules bind it to the process).
import { main, type Signal } from "../src/internal/runMain.ts"
import {
  captureLogs,
  collectOutcomes,
  occurrence,
  plain,
  recorder,
  taskStatus,
} from "./support/periodic.ts"

describe("where we differ from oslo.service: task definitions", () => {
  it.scoped("fromSpacing counts a spacing in whole milliseconds, rounded to the nearest", () =>
    Effect.gen(function* () {
      // seconds * 1000 in floating point: 4.03 → 4030.0000000000005, 1.005 → 1004.9999999999999.
      const every = (seconds: number) =>
        PeriodicTask.fromSpacing("poll", seconds, Effect.void).timing
      expect([every(4.03), every(1.005), every(2.01), every(1.1)]).toEqual([
        { _tag: "Fixed", every: 4_030 },
        { _tag: "Fixed", every: 1_005 },
        { _tag: "Fixed", every: 2_010 },
        { _tag: "Fixed", every: 1_100 },
      ])
      // oslo steps float seconds (1.0005 + 1.0005 is 2.001); here 1.0005 s is 1,001 ms, and every
      // instant is a whole millisecond.
      const runner = yield* PeriodicRunner.make(
        [PeriodicTask.fromSpacing("poll", 1.0005, Effect.void)],
        { mode: "sequential" },
      )
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("2002 millis")
      expect(outcomes.map(plain)).toEqual([
        occurrence("Succeeded", "poll", 1_001, 1_001, 0),
        occurrence("Succeeded", "poll", 2_002, 2_002, 0),
      ])
      expect((yield* taskStatus(runner, "poll")).nextRunAt).toEqual(Option.some(3_003))
    }))

  it.scoped("fromSpacing makes a positive spacing below half a millisecond 1 ms: neither 60 s nor disabled", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const tiny = PeriodicTask.fromSpacing("tiny", 0.0004, rec.run())
      expect([tiny.timing, tiny.enabled]).toEqual([{ _tag: "Fixed", every: 1 }, true])
      // Only an exact 0 is oslo's default.
      expect(PeriodicTask.fromSpacing("bare", 0, Effect.void).timing).toEqual({
        _tag: "Fixed",
        every: 60_000,
      })
      yield* PeriodicRunner.make([tiny], { mode: "sequential" })
      yield* TestClock.adjust("3 millis")
      expect(yield* rec.times).toEqual([0.001, 0.002, 0.003])
    }))

  it.scoped("the first spacing counts from the runner's creation, not from the task's definition", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const task = PeriodicTask.fromSpacing("p", 60, rec.run())
      yield* TestClock.adjust("1000 seconds")
      // oslo (P3, vector 22): decorated at 0 and started at 1000, the task is overdue and runs at
      // once, then keeps that phase: 1000, 1060, 1120.
      yield* PeriodicRunner.make([task], { mode: "sequential" })
      yield* TestClock.adjust("130 seconds")
      expect(yield* rec.times).toEqual([1060, 1120])
    }))

  it.effect("jitter is off unless asked for; asked for, it is oslo's, drawn from Effect's Random", () =>
    Effect.gen(function* () {
      // With random() = 0.99 oslo always jitters a 100 s spacing: trunc(100 * 0.99 / 20) = 4 s.
      const runs = (jitter: boolean) =>
        runsOf(
          (log) => [PeriodicTask.fromSpacing("audit", 100, log("audit"), { jitter })],
          { mode: "sequential" },
          "400 seconds",
        ).pipe(Effect.withRandom(Random.fixed([0.99])))
      expect(yield* runs(false)).toEqual(["audit@100", "audit@200", "audit@300", "audit@400"])
      expect(yield* runs(true)).toEqual(["audit@100", "audit@204", "audit@308"])
    }))

  it.scoped("a spacing that is not a finite number fails runner creation", () =>
    Effect.gen(function* () {
      // oslo registers NaN and infinity as spacings, and fails on a string only at its `< 0` test.
      for (const spacing of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(
          PeriodicRunner.make([PeriodicTask.fromSpacing("audit", spacing, Effect.void)]),
        )
        expect(invalidTask(error)).toEqual(["audit", "every", String(spacing)])
      }
    }))

  it("one options object serves two tasks alike", () => {
    // oslo's decorator pops its keywords: reused, it gives the second function the defaults (P4).
    const options = { runImmediately: true, jitter: true }
    const first = PeriodicTask.fromSpacing("first", 10, Effect.void, options)
    const second = PeriodicTask.fromSpacing("second", 10, Effect.void, options)
    expect([first.runImmediately, first.jitter, second.runImmediately, second.jitter]).toEqual([
      true,
      true,
      true,
      true,
    ])
    expect(options).toEqual({ runImmediately: true, jitter: true })
  })

  it.scoped("two tasks with one name fail runner creation", () =>
    Effect.gen(function* () {
      // oslo keeps both entries and only ever runs the first (P11, P12).
      const error = yield* Effect.flip(PeriodicRunner.make([
        PeriodicTask.fromSpacing("sync", 10, Effect.void),
        PeriodicTask.fromSpacing("sync", 20, Effect.void),
      ]))
      expect(invalidTask(error)).toEqual(["sync", "name", JSON.stringify("sync")])
      expect(error.message).toContain("is used by another task of the same runner")
    }))

  it.scoped("external_process_ok is a disabled task: it neither runs nor lowers the idle time, and is logged", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      let runs = 0
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fromSpacing("ext", 5, Effect.sync(() => runs++), {
          runImmediately: true,
          enabled: false,
        }),
        PeriodicTask.fromSpacing("local", 30, Effect.void),
      ], { mode: "sequential", start: false })
      // The idle times of vector 26, where oslo filters "ext" at run time, silently.
      expect(Duration.toMillis(yield* runner.tick)).toBe(30_000)
      yield* TestClock.adjust("30 seconds")
      expect(Duration.toMillis(yield* runner.tick)).toBe(30_000)
      expect(runs).toBe(0)
      expect(logs.map((line) => [line.level, line.message])).toEqual([
        ["INFO", "Skipping periodic task ext because it is disabled"],
      ])
    }))

  it.scoped("a runner runs the tasks it was made with, and no task added later", () =>
    Effect.gen(function* () {
      // oslo's add_periodic_task adds to a running manager's class list (P13).
      const rec = yield* recorder
      const tasks = [PeriodicTask.fromSpacing("own", 20, Effect.void)]
      const runner = yield* PeriodicRunner.make(tasks, { mode: "sequential" })
      tasks.push(PeriodicTask.fromSpacing("plug", 15, rec.run(), { runImmediately: true }))
      yield* TestClock.adjust("60 seconds")
      expect(yield* rec.times).toEqual([])
      expect(runner.tasks).toEqual(["own"])
    }))
})

describe("where we differ from oslo.service: the runner", () => {
  it.scoped("the driver sleeps at least 1 ms between passes, whatever the idle time or maxSleep", () =>
    Effect.gen(function* () {
      // oslo sleeps the idle time as it is: with periodic_interval_max=0, or a task due again at
      // once, its loop never leaves the clock (vector 36).
      let forever = 0
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fromSpacing("a", 10, Effect.void),
        PeriodicTask.make("again", Effect.sync(() => forever++), { schedule: Schedule.forever }),
      ], { mode: "sequential", maxSleep: 0 })
      yield* TestClock.adjust("5 millis")
      const status = yield* runner.status
      expect([status.passes, forever]).toEqual([6, 6])
    }))

  it.scoped(`a "fail"-policy failure stops the driver for good, as nova's stop_on_exception timer does`, () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const runner = yield* PeriodicRunner.make(failingPass(ran), { mode: "sequential" })
      yield* TestClock.adjust("60 seconds")
      // Vector 12: the rest of the failing pass is not examined, and no pass follows.
      expect(ran).toEqual(["first@0", "flaky@0", "after@0", "first@10", "flaky@10"])
      const exit = yield* Effect.exit(runner.join)
      expect(
        Exit.isFailure(exit) && Cause.failureOption(exit.cause).pipe(Option.map((e) => e.task)),
      )
        .toEqual(Option.some("flaky"))
      expect((yield* runner.status).state).toBe("failed")
    }))

  it.scoped(`tick goes on after a "fail"-policy failure, as oslo's loop with stop_on_exception=False`, () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const runner = yield* PeriodicRunner.make(failingPass(ran), {
        mode: "sequential",
        start: false,
      })
      yield* runner.tick
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(runner.tick)
      expect([error._tag, error.task]).toEqual(["PeriodicTaskFailed", "flaky"])
      // Vector 13: the next pass, at once, runs what the failed one did not examine.
      expect(Duration.toMillis(yield* runner.tick)).toBe(10_000)
      expect(ran).toEqual([
        "first@0",
        "flaky@0",
        "after@0",
        "first@10",
        "flaky@10",
        "after@10",
      ])
    }))

  it.scoped(`the error policy is per task: a "log" task's failures never stop the runner`, () =>
    Effect.gen(function* () {
      // oslo's raise_on_error is an argument of the whole pass.
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fromSpacing("noisy", 10, Effect.fail("boom")),
        PeriodicTask.fromSpacing("strict", 10, Effect.void, { onError: "fail" }),
      ], { mode: "sequential" })
      yield* TestClock.adjust("30 seconds")
      const noisy = yield* taskStatus(runner, "noisy")
      const strict = yield* taskStatus(runner, "strict")
      expect([(yield* runner.status).state, noisy.failed, strict.succeeded]).toEqual([
        "running",
        3,
        3,
      ])
    }))

  it.scoped("a failed run logs one error naming the task, and a run logs nothing else", () =>
    Effect.gen(function* () {
      // oslo logs DEBUG "Running periodic task Manager.audit" before every run and ERROR "Error
      // during Manager.audit"; here each run's outcome is on `outcomes` and in `status`.
      const logs = yield* captureLogs
      yield* PeriodicRunner.make([PeriodicTask.fromSpacing("audit", 10, Effect.fail("boom"))], {
        mode: "sequential",
      }).pipe(Logger.withMinimumLogLevel(LogLevel.All))
      yield* TestClock.adjust("20 seconds")
      const line = ["ERROR", "Error during periodic task audit", { periodicTask: "audit" }]
      expect(logs.map((l) => [l.level, l.message, l.annotations])).toEqual([line, line])
    }))

  it.effect("concurrent mode is the default: due runs start together, not one after another", () =>
    Effect.gen(function* () {
      const tasks = (log: Log) => [
        PeriodicTask.fromSpacing(
          "slow",
          10,
          Effect.zipRight(log("slow"), Effect.sleep("5 seconds")),
        ),
        PeriodicTask.fromSpacing("quick", 10, log("quick")),
      ]
      expect(yield* runsOf(tasks, {}, "10 seconds")).toEqual(["slow@10", "quick@10"])
      // oslo's order, one after another.
      expect(yield* runsOf(tasks, { mode: "sequential" }, "15 seconds")).toEqual([
        "slow@10",
        "quick@15",
      ])
    }))

  it.effect("a late fixed task keeps its phase in sequential mode only; concurrent mode returns to the grid", () =>
    Effect.gen(function* () {
      // Started 40 s after its slot at 60: oslo's idle rule (P23) counts the run's full spacing.
      const tasks = (log: Log) => [PeriodicTask.fromSpacing("p", 60, log("p"))]
      const late = { initialDelay: "100 seconds" } as const
      expect(yield* runsOf(tasks, { ...late, mode: "sequential" }, "250 seconds")).toEqual([
        "p@100",
        "p@160",
        "p@220",
      ])
      expect(yield* runsOf(tasks, late, "250 seconds")).toEqual([
        "p@100",
        "p@120",
        "p@180",
        "p@240",
      ])
    }))

  it.scoped("a stop lets the run in progress finish and starts no other task of the pass", () =>
    Effect.gen(function* () {
      // oslo's stop ends the loop after the pass in progress, which runs to its end (L8).
      const ran: Array<string> = []
      const log = logTo(ran)
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fromSpacing(
          "slow",
          10,
          Effect.zipRight(log("slow"), Effect.sleep("5 seconds")),
        ),
        PeriodicTask.fromSpacing("next", 10, log("next")),
      ], { mode: "sequential" })
      yield* TestClock.adjust("12 seconds")
      const stop = yield* Effect.fork(runner.shutdown())
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(stop)
      expect(ran).toEqual(["slow@10"])
      expect((yield* taskStatus(runner, "slow")).succeeded).toBe(1)
      expect((yield* runner.status).state).toBe("stopped")
    }))
})

describe("where we differ from nova: services", () => {
  it.effect("SIGINT stops the service gracefully, as SIGTERM does: cleanup runs, exit 0", () =>
    Effect.gen(function* () {
      // oslo's launcher exits at once with status 1 on SIGINT, without stopping anything (S5).
      const hooks: Array<string> = []
      const started = yield* Deferred.make<void>()
      const handlers = new Map<Signal, () => void>()
      const listening = yield* Deferred.make<void>()
      const exited = yield* Deferred.make<number>()
      const host = {
        onSignal: (signal: Signal, handler: () => void) => {
          handlers.set(signal, handler)
          if (handlers.size === 3) Deferred.unsafeDone(listening, Exit.void)
          return () => void handlers.delete(signal)
        },
        exit: (code: number) => Deferred.unsafeDone(exited, Exit.succeed(code)),
      }
      const compute = Manager.layer(
        Compute,
        Effect.succeed({
          service: { host: "compute-1" },
          postStart: Deferred.complete(started, Effect.void),
          cleanup: () => Effect.sync(() => hooks.push("cleanup")),
        }),
      )
      const layer = Service.layer({ host: "compute-1", topic: "compute" }, compute).pipe(
        Layer.provide(ServiceRegistry.layerMemory),
      )
      yield* Effect.fork(main(host, layer))
      yield* Deferred.await(listening)
      yield* Deferred.await(started)
      handlers.get("SIGINT")!()
      expect(yield* Deferred.await(exited)).toBe(0)
      expect(hooks).toEqual(["cleanup"])
    }))

  it.scoped("a service's periodic tasks start without a fuzzy delay unless one is given", () =>
    Effect.gen(function* () {
      // nova's periodic_fuzzy_delay defaults to 60: the first pass comes 0–60 s after the start.
      const rec = yield* recorder
      yield* Layer.build(
        Service.layer(
          { host: "compute-1", topic: "compute" },
          Manager.layer(
            Compute,
            Effect.succeed({
              service: { host: "compute-1" },
              tasks: [PeriodicTask.fromSpacing("audit", 10, rec.run(), { runImmediately: true })],
            }),
          ),
        ).pipe(Layer.provide(ServiceRegistry.layerMemory)),
      )
      yield* TestClock.adjust("20 seconds")
      expect(yield* rec.times).toEqual([0, 10, 20])
    }))
})

class Compute extends Context.Tag("Compute")<Compute, { readonly host: string }>() {}

/** A run that records "name@seconds" (seconds on the test clock since `since`) and succeeds. */
type Log = (name: string) => Effect.Effect<void>

const logTo = (ran: Array<string>, since = 0): Log => (name) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    ran.push(`${name}@${(now - since) / 1000}`)
  })

/** Vectors 12 and 13: three tasks every 10 s from the first pass; "flaky" fails its second run. */
const failingPass = (ran: Array<string>) => {
  const log = logTo(ran)
  let flakyRuns = 0
  const task = <E>(name: string, run: Effect.Effect<void, E>) =>
    PeriodicTask.fromSpacing(name, 10, run, { runImmediately: true, onError: "fail" })
  return [
    task("first", log("first")),
    task(
      "flaky",
      Effect.zipRight(
        log("flaky"),
        Effect.suspend(() => ++flakyRuns === 2 ? Effect.fail("flaky") : Effect.void),
      ),
    ),
    task("after", log("after")),
  ]
}

/**
 * The runs of the tasks `make` builds, in a runner of their own with `options`, over `horizon`
 * of the test clock: "name@seconds", seconds since the runner was made.
 */
const runsOf = <E>(
  make: (log: Log) => ReadonlyArray<PeriodicTask.PeriodicTask<E>>,
  options: PeriodicRunner.Options,
  horizon: Duration.DurationInput,
) =>
  Effect.gen(function* () {
    const ran: Array<string> = []
    const since = yield* Clock.currentTimeMillis
    yield* PeriodicRunner.make(make(logTo(ran, since)), { ...options, shutdownTimeout: 0 })
    yield* TestClock.adjust(horizon)
    return ran
  }).pipe(Effect.scoped)

/** An `InvalidPeriodicTask` as [task, field, value]; any other error as it is. */
const invalidTask = (error: unknown) =>
  error instanceof PeriodicTask.InvalidPeriodicTask ? [error.task, error.field, error.value] : error
