// The periodic engine against faults and bad input: schedules that ask for no delay, very long
// delays, task names that are Object.prototype members, work that ignores interruption, slow
// subscribers, a wall clock that is stepped, and malformed control input.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Interval from "effect/ScheduleInterval"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"
import { captureLogs, collectOutcomes, recorder, taskStatus } from "./support/periodic.ts"
import { platformTimers, steppedWallClock } from "./support/clocks.ts"

const modes = ["concurrent", "sequential"] as const

describe("PeriodicRunner faults: schedules that ask for no delay", () => {
  for (const mode of modes) {
    it.scoped(`${mode}: a Schedule.forever task runs at most once per millisecond`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.make("busy", rec.run(), { schedule: Schedule.forever }),
        ], { mode })
        yield* TestClock.adjust("10 millis")
        const times = yield* rec.times
        expect(times.map((t) => Math.round(t * 1000))).toEqual(
          Array.from({ length: 11 }, (_, i) => i),
        )
        expect((yield* runner.status).wakeups).toBe(11)
      }))

    it.scoped(`${mode}: a zero maxSleep wakes the driver once per millisecond at most`, () =>
      Effect.gen(function* () {
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced("slow", "1 minute", Effect.void),
        ], { mode, maxSleep: 0 })
        yield* TestClock.adjust("100 millis")
        expect((yield* runner.status).wakeups).toBe(101)
      }))

    it.live(`${mode}: a zero-delay task leaves the event loop its turn`, () =>
      Effect.gen(function* () {
        let runs = 0
        const started = yield* Clock.currentTimeMillis
        yield* PeriodicRunner.make([
          PeriodicTask.make("busy", Effect.sync(() => runs++), { schedule: Schedule.forever }),
        ], { mode })
        // A timer of the platform (the live clock's sleep) fires on time while the task keeps
        // coming due.
        yield* Effect.sleep("20 millis")
        const elapsed = (yield* Clock.currentTimeMillis) - started
        expect(elapsed).toBeLessThan(1_000)
        expect(runs).toBeGreaterThan(0)
        // At most once per millisecond (plus the first run at the start).
        expect(runs).toBeLessThanOrEqual(elapsed + 2)
      }).pipe(Effect.scoped))
  }

  for (
    const [what, task] of [
      ["ends on a later turn", { timeout: undefined, run: Effect.yieldNow() }],
      ["has a timeout", { timeout: "1 second", run: Effect.void }],
    ] as const
  ) {
    it.scoped(`concurrent: a zero-delay task whose run ${what} runs at most once per millisecond`, () =>
      Effect.gen(function* () {
        let runs = 0
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.make("busy", Effect.zipRight(task.run, Effect.sync(() => runs++)), {
            schedule: Schedule.forever,
            ...(task.timeout === undefined ? {} : { timeout: task.timeout }),
          }),
        ])
        yield* TestClock.adjust("10 millis")
        expect(runs).toBe(11)
        expect((yield* taskStatus(runner, "busy")).succeeded).toBe(11)
      }))
  }

  it.scoped("a task due again at once waits for the next wake-up, not the next batch", () =>
    Effect.gen(function* () {
      const rec = yield* recorder
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.make("a", rec.run(), { schedule: Schedule.forever }),
        PeriodicTask.make("b", Effect.void, { schedule: Schedule.forever }),
        PeriodicTask.make("c", Effect.void, { schedule: Schedule.forever }),
      ], { maxBatch: 1 })
      yield* TestClock.adjust("2 millis")
      expect((yield* rec.times).length).toBe(3)
      const status = yield* runner.status
      expect(status.tasks.map((task) => task.succeeded)).toEqual([3, 3, 3])
    }))
})

describe("PeriodicRunner faults: very long delays", () => {
  it.scoped("an initial delay past 2^31 ms starts the runner late, not never", () =>
    Effect.gen(function* () {
      const clock = yield* platformTimers
      const rec = yield* recorder
      yield* PeriodicRunner.make([
        PeriodicTask.spaced("late", "1 hour", rec.run(), { runImmediately: true }),
      ], { initialDelay: "30 days" }).pipe(Effect.withClock(clock))
      yield* TestClock.adjust("29 days")
      expect(yield* rec.times).toEqual([])
      yield* TestClock.adjust("1 day")
      expect(yield* rec.times).toEqual([30 * 86_400])
    }))
})

describe("PeriodicRunner faults: task names are data", () => {
  const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]

  it.scoped("tasks named like Object.prototype members run, also with a resume record", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const tasks = names.map((name) =>
        PeriodicTask.spaced(name, "10 seconds", Effect.sync(() => ran.push(name)))
      )
      // A record without those names: nothing is read from Object.prototype.
      const runner = yield* PeriodicRunner.make(tasks, { resume: { other: 1_000 } })
      yield* TestClock.adjust("10 seconds")
      expect(ran).toEqual(names)
      expect((yield* runner.status).wakeups).toBe(2)
    }))

  it.scoped("resume finds such names as own keys of a record, or in a Map", () =>
    Effect.gen(function* () {
      const ran: Array<[string, number]> = []
      const task = (name: string) =>
        PeriodicTask.spaced(name, "1 minute", Effect.sync(() => ran.push([name, ran.length])))
      const record = JSON.parse(`{"__proto__": 3000, "constructor": 2000}`) as Record<
        string,
        number
      >
      const fromRecord = yield* PeriodicRunner.make([task("__proto__"), task("constructor")], {
        resume: record,
        start: false,
      })
      const fromMap = yield* PeriodicRunner.make([task("toString")], {
        resume: new Map([["toString", 1000]]),
        start: false,
      })
      const next = (runner: PeriodicRunner.PeriodicRunner) =>
        Effect.map(runner.status, (status) => status.tasks.map((t) => [t.name, t.nextRunAt]))
      expect(yield* next(fromRecord)).toEqual([
        ["__proto__", Option.some(3000)],
        ["constructor", Option.some(2000)],
      ])
      expect(yield* next(fromMap)).toEqual([["toString", Option.some(1000)]])
    }))

  it.scoped("a resume value that is not a finite instant fails runner creation", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        PeriodicRunner.make([], { resume: new Map([["__proto__", Number.NaN]]) }).pipe(
          Effect.catchTag("InvalidPeriodicTask", Effect.die),
        ),
      )
      expect([error._tag, error.option, error.value, error.reason]).toEqual([
        "InvalidOption",
        "resume.__proto__",
        "NaN",
        "must be a finite instant (epoch milliseconds)",
      ])
    }))
})

describe("PeriodicRunner faults: work that ignores interruption", () => {
  it.effect("a timed-out run that ignores interruption gets its TimedOut a grace after the limit, and goes on detached", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      yield* Effect.gen(function* () {
        const logs = yield* captureLogs
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced(
            "stuck",
            "10 seconds",
            Effect.uninterruptible(Deferred.await(release)),
            { runImmediately: true, timeout: "2 seconds" },
          ),
        ])
        const outcomes = yield* collectOutcomes(runner)
        yield* TestClock.adjust("2 seconds")
        expect(outcomes).toEqual([])
        // Interrupted at the limit, it has a second's grace to end; then the run times out.
        yield* TestClock.adjust("1 second")
        expect(outcomes.map((o) => [o._tag, o.startedAt, o.durationMillis])).toEqual([
          ["TimedOut", 0, 3000],
        ])
        expect(logs.filter((line) => line.level === "WARN").map((line) => line.message)).toEqual([
          `Periodic task "stuck" ignored its interruption after it timed out; it goes on, detached`,
        ])
        // The next run starts on time (10 s after the first ended), beside the detached work.
        yield* TestClock.adjust("13 seconds")
        expect(outcomes.map((o) => [o._tag, o.startedAt])).toEqual([
          ["TimedOut", 0],
          ["TimedOut", 13_000],
        ])
        yield* Deferred.succeed(release, undefined)
      }).pipe(Effect.scoped)
    }))

  it.effect("a run that stops when interrupted times out at the limit, its finalizer done", () =>
    Effect.gen(function* () {
      const order: Array<string> = []
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced(
          "slow",
          "10 seconds",
          Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => order.push("finalized")))),
          { runImmediately: true, timeout: "2 seconds" },
        ),
      ])
      const outcomes = yield* collectOutcomes(runner)
      yield* TestClock.adjust("2 seconds")
      expect(order).toEqual(["finalized"])
      expect(outcomes.map((o) => [o._tag, o.durationMillis])).toEqual([["TimedOut", 2000]])
      yield* runner.shutdown(0)
    }).pipe(Effect.scoped))

  it.effect("a task timeout holds when tick is called from an uninterruptible region", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("slow", "10 seconds", Effect.never, {
          runImmediately: true,
          timeout: "2 seconds",
        }),
      ], { start: false })
      const ticking = yield* Effect.fork(Effect.uninterruptible(runner.tick))
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.await(ticking)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect((yield* taskStatus(runner, "slow")).timedOut).toBe(1)
    }).pipe(Effect.scoped))

  for (const mode of modes) {
    it.effect(`${mode}: a run that ignores interruption at shutdown gets exactly one outcome`, () =>
      Effect.gen(function* () {
        const release = yield* Deferred.make<void>()
        const scope = yield* Scope.make()
        const logs = yield* captureLogs.pipe(Scope.extend(scope))
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced(
            "stuck",
            "1 second",
            Effect.uninterruptible(Deferred.await(release)),
            {
              runImmediately: true,
            },
          ),
        ], { mode, shutdownTimeout: "2 seconds" }).pipe(Scope.extend(scope))
        yield* Effect.yieldNow()
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust("3 seconds")
        expect(Option.map(yield* Fiber.poll(closing), Exit.isSuccess)).toEqual(Option.some(true))
        const stopped = yield* taskStatus(runner, "stuck")
        expect([stopped.state, stopped.interrupted, stopped.succeeded]).toEqual([
          "scheduled",
          1,
          0,
        ])
        expect(Option.map(stopped.lastOutcome, (o) => [o._tag, o.durationMillis])).toEqual(
          Option.some(["Interrupted", 3000]),
        )
        expect(logs.filter((line) => line.level === "WARN").map((line) => line.message)).toEqual([
          `Periodic task "stuck" ignored its interruption at shutdown; it goes on, detached`,
        ])
        // The work ends at last: nothing more is recorded.
        yield* Deferred.succeed(release, undefined)
        yield* Effect.yieldNow()
        const after = yield* taskStatus(runner, "stuck")
        expect([after.interrupted, after.succeeded]).toEqual([1, 0])
      }))
  }
})

describe("PeriodicRunner faults: slow subscribers", () => {
  it.scoped("a subscriber that stops reading holds at most outcomeBuffer outcomes, the latest", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("tick", "1 second", Effect.void, { runImmediately: true }),
      ], { outcomeBuffer: 8 })
      // The subscriber takes the first outcome, then stops reading until the gate opens.
      const gate = yield* Deferred.make<void>()
      const seen: Array<number> = []
      const reading = yield* Effect.fork(
        Stream.runForEach(runner.outcomes, (outcome) =>
          Effect.zipRight(
            Deferred.await(gate),
            Effect.sync(() => seen.push(outcome.scheduledAt / 1000)),
          )),
      )
      yield* Effect.yieldNow()
      yield* TestClock.adjust("99 seconds")
      expect((yield* taskStatus(runner, "tick")).succeeded).toBe(100)
      yield* Deferred.succeed(gate, undefined)
      while (seen.length < 9) yield* Effect.yieldNow()
      yield* Fiber.interrupt(reading)
      expect(seen).toEqual([1, 92, 93, 94, 95, 96, 97, 98, 99])
    }))

  for (const outcomeBuffer of [0, -1, 1.5, Number.NaN]) {
    it.scoped(`an outcomeBuffer of ${outcomeBuffer} fails runner creation`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(PeriodicRunner.make([], { outcomeBuffer }))
        expect([error._tag, error.message]).toEqual([
          "InvalidOption",
          `Invalid option outcomeBuffer of PeriodicRunner: ${outcomeBuffer} must be a positive integer`,
        ])
      }))
  }
})

describe("PeriodicRunner faults: a wall clock that is stepped", () => {
  for (const mode of modes) {
    for (const [direction, millis] of [["back", 3_600_000], ["forward", -3_600_000]] as const) {
      it.scoped(`${mode}: a wall clock set ${direction} an hour changes no task's rhythm`, () =>
        Effect.gen(function* () {
          const { base, clock, shift } = yield* steppedWallClock
          const times: Array<number> = []
          const run = Effect.sync(() => times.push(base.unsafeCurrentTimeMillis() / 1000))
          const runner = yield* PeriodicRunner.make([
            PeriodicTask.spaced("spaced", "10 seconds", run),
            PeriodicTask.fixed("fixed", "10 seconds", Effect.void),
          ], { mode }).pipe(Effect.withClock(clock))
          const outcomes = yield* collectOutcomes(runner)
          yield* TestClock.adjust("25 seconds")
          shift.millis = millis
          yield* TestClock.adjust("20 seconds")
          // The tasks ran every 10 s of the test clock, which `base` is.
          expect(times).toEqual([10, 20, 30, 40])
          // Outcomes and status report wall-clock instants: after the step, the stepped ones.
          const fixed = outcomes.filter((o) => o.task === "fixed")
          expect(fixed.map((o) => [o.scheduledAt, o.latenessMillis])).toEqual([
            [10_000, 0],
            [20_000, 0],
            [30_000 - millis, 0],
            [40_000 - millis, 0],
          ])
          expect((yield* taskStatus(runner, "fixed")).nextRunAt).toEqual(
            Option.some(50_000 - millis),
          )
        }))
    }
  }
})

describe("PeriodicRunner faults: cron across a wall-clock step", () => {
  it.scoped("a cron task keeps to the wall clock after it is set back an hour", () =>
    Effect.gen(function* () {
      const { base, clock, shift } = yield* steppedWallClock
      const times: Array<number> = []
      const run = Effect.sync(() => times.push(base.unsafeCurrentTimeMillis() / 1000))
      yield* PeriodicRunner.make([
        PeriodicTask.cron("hourly", "0 * * * *", run, { timeZone: "UTC" }),
      ]).pipe(Effect.withClock(clock))
      yield* TestClock.adjust("90 minutes")
      expect(times).toEqual([3600])
      shift.millis = 3_600_000
      // The next hour of the wall clock, 02:00, is now 2.5 h of test time away.
      yield* TestClock.adjust("89 minutes")
      expect(times).toEqual([3600])
      yield* TestClock.adjust("1 minute")
      expect(times).toEqual([3600, 10_800])
    }))
})

describe("PeriodicRunner faults: schedules across a wall-clock step", () => {
  it.scoped("a cron task whose run spans a step is moved once, not twice", () =>
    Effect.gen(function* () {
      const { base, clock, shift } = yield* steppedWallClock
      const times: Array<number> = []
      const run = Effect.zipRight(
        Effect.sync(() => times.push(base.unsafeCurrentTimeMillis() / 1000)),
        Effect.sleep("90 seconds"),
      )
      yield* PeriodicRunner.make([
        PeriodicTask.cron("hourly", "0 * * * *", run, { timeZone: "UTC" }),
      ], { shutdownTimeout: 0 }).pipe(Effect.withClock(clock))
      // The driver wakes at 01:01:00; the step comes at 01:01:10, and the end of the run at
      // 01:01:30 is the first to see it.
      yield* TestClock.adjust("61 minutes")
      yield* TestClock.adjust("10 seconds")
      expect(times).toEqual([3600])
      shift.millis = 3_600_000
      // The run ends at 00:01:30 of the wall clock: its next hour, 01:00 again, is 02:00 here.
      yield* TestClock.adjust("3530 seconds")
      expect(times).toEqual([3600, 7200])
      yield* TestClock.adjust("60 minutes")
      expect(times).toEqual([3600, 7200, 10_800])
    }))

  it.scoped("a task on a Schedule of delays keeps its rhythm across a step", () =>
    Effect.gen(function* () {
      const { base, clock, shift } = yield* steppedWallClock
      const times: Array<number> = []
      const run = Effect.sync(() => times.push(base.unsafeCurrentTimeMillis() / 1000))
      yield* PeriodicRunner.make([
        PeriodicTask.make("every10", run, { schedule: Schedule.spaced("10 seconds") }),
      ]).pipe(Effect.withClock(clock))
      yield* TestClock.adjust("15 seconds")
      shift.millis = 3_600_000
      yield* TestClock.adjust("20 seconds")
      expect(times).toEqual([10, 20, 30])
    }))
})

describe("PeriodicRunner faults: bad control input", () => {
  it.effect("a stop completes even when a detached run's schedule throws", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      let steps = 0
      const throwing = Schedule.makeWithState(0, (now) => {
        if (steps++ > 0) throw new Error("no next instant")
        return Effect.succeed(
          [0, 0, ScheduleDecision.continueWith(Interval.after(now + 1000))] as const,
        )
      })
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.make("stuck", Effect.uninterruptible(Deferred.await(release)), {
          schedule: throwing,
          runImmediately: true,
        }),
      ], { shutdownTimeout: 0 }).pipe(
        Scope.extend(scope),
        Logger.withMinimumLogLevel(LogLevel.None),
      )
      yield* Effect.yieldNow()
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      expect(Option.map(yield* Fiber.poll(closing), Exit.isSuccess)).toEqual(Option.some(true))
      expect((yield* taskStatus(runner, "stuck")).interrupted).toBe(1)
      yield* Deferred.succeed(release, undefined)
    }))

  it.effect("a run with a timeout that ignores interruption at shutdown is warned of once", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const logs = yield* captureLogs.pipe(Scope.extend(scope))
      yield* PeriodicRunner.make([
        PeriodicTask.spaced("stuck", "1 minute", Effect.uninterruptible(Deferred.await(release)), {
          runImmediately: true,
          timeout: "1 hour",
        }),
      ], { shutdownTimeout: 0 }).pipe(Scope.extend(scope))
      yield* Effect.yieldNow()
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("3 seconds")
      expect(Option.map(yield* Fiber.poll(closing), Exit.isSuccess)).toEqual(Option.some(true))
      expect(logs.filter((line) => line.level === "WARN").map((line) => line.message)).toEqual([
        `Periodic task "stuck" ignored its interruption at shutdown; it goes on, detached`,
      ])
      yield* Deferred.succeed(release, undefined)
    }))

  it.effect("a stop during a tick's sequential pass waits for it, and a tick once stopped runs nothing", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("slow", "1 minute", Effect.sleep("10 seconds"), {
          runImmediately: true,
        }),
      ], { mode: "sequential", start: false })
      const ticking = yield* Effect.fork(runner.tick)
      yield* Effect.yieldNow()
      const stopping = yield* Effect.fork(runner.shutdown("30 seconds"))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(stopping)
      expect(Duration.toMillis(yield* Fiber.join(ticking))).toBe(60_000)
      const slow = yield* taskStatus(runner, "slow")
      expect([slow.succeeded, slow.interrupted]).toEqual([1, 0])
      expect(logs.filter((line) => line.level === "WARN")).toEqual([])
      expect(Duration.toMillis(yield* runner.tick)).toBe(60_000)
      expect((yield* taskStatus(runner, "slow")).succeeded).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("a shutdown its caller gives up on still ends, and the scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("slow", "1 minute", Effect.sleep("10 seconds"), {
          runImmediately: true,
        }),
      ]).pipe(Scope.extend(scope))
      yield* Effect.yieldNow()
      const stopping = yield* Effect.fork(runner.shutdown("30 seconds"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(stopping)
      yield* TestClock.adjust("9 seconds")
      expect((yield* runner.status).state).toBe("stopped")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* Effect.yieldNow()
      expect(Option.map(yield* Fiber.poll(closing), Exit.isSuccess)).toEqual(Option.some(true))
    }))

  for (const timeout of [Number.NaN, -1, "soon", null]) {
    it.scoped(`shutdown(${String(timeout)}) fails with a typed error and leaves the runner running`, () =>
      Effect.gen(function* () {
        const rec = yield* recorder
        const runner = yield* PeriodicRunner.make([PeriodicTask.spaced("a", "1 second", rec.run())])
        const error = yield* Effect.flip(runner.shutdown(timeout as never))
        expect([error._tag, error.module, error.option]).toEqual([
          "InvalidOption",
          "PeriodicRunner",
          "shutdown(timeout)",
        ])
        expect((yield* runner.status).state).toBe("running")
        yield* TestClock.adjust("2 seconds")
        expect(yield* rec.times).toEqual([1, 2])
        yield* runner.shutdown(0)
        expect((yield* runner.status).state).toBe("stopped")
      }))
  }

  it.scoped("trigger refuses a task whose schedule is over, and any task once stopped", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.make("once", Effect.void, { schedule: Schedule.recurs(0) }),
        PeriodicTask.spaced("audit", "1 minute", Effect.void),
      ])
      yield* TestClock.adjust("1 second")
      expect((yield* taskStatus(runner, "once")).state).toBe("done")
      const over = yield* Effect.flip(runner.trigger("once"))
      expect(over.message).toBe(`Periodic task "once" cannot be triggered: its schedule is over`)
      yield* runner.shutdown()
      const stopped = yield* Effect.flip(runner.trigger("audit"))
      expect(stopped.message).toBe(
        `Periodic task "audit" cannot be triggered: the runner has stopped`,
      )
    }))

  const badTasks = [
    [{ onError: "ignore" }, "onError", `must be "log" or "fail"`, `"ignore"`],
    [{ enabled: "no" }, "enabled", "must be true or false", `"no"`],
    [{ runImmediately: 1 }, "runImmediately", "must be true or false", "1"],
    [{ jitter: "yes" }, "jitter", "must be true or false", `"yes"`],
  ] as const
  for (const [options, field, reason, shown] of badTasks) {
    it.scoped(`a task option ${field} of ${shown} fails runner creation`, () =>
      Effect.gen(function* () {
        const task = PeriodicTask.spaced("audit", "1 second", Effect.void, options as never)
        const error = yield* Effect.flip(PeriodicRunner.make([task]))
        expect(error.message).toBe(`Periodic task "audit": ${field} ${reason}, got ${shown}`)
      }))
  }
})

describe('PeriodicRunner faults: a "fail"-policy failure during a stop', () => {
  class Broken {
    readonly _tag = "Broken"
  }
  for (const mode of ["concurrent", "sequential"] as const) {
    it.scoped(`${mode}: a run that fails while the stop waits for it fails the runner, logged once`, () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.fixed(
            "strict",
            "10 seconds",
            Effect.zipRight(Effect.sleep("5 seconds"), Effect.fail(new Broken())),
            { onError: "fail", runImmediately: true },
          ),
        ], { mode })
        yield* TestClock.adjust("1 second")
        const stopping = yield* Effect.fork(runner.shutdown("30 seconds"))
        yield* Effect.yieldNow()
        expect((yield* runner.status).state).toBe("stopping")
        yield* TestClock.adjust("4 seconds")
        yield* Fiber.join(stopping)
        const joined = yield* Effect.exit(runner.join)
        expect(Exit.isFailure(joined)).toBe(true)
        const error = yield* Effect.flip(runner.join)
        expect([error._tag, error.task]).toEqual(["PeriodicTaskFailed", "strict"])
        expect((yield* runner.status).state).toBe("failed")
        expect(logs.filter((line) => line.message === "Periodic runner stopped")).toHaveLength(1)
        expect((yield* taskStatus(runner, "strict")).failed).toBe(1)
      }))
  }

  it.scoped("an idle runner (start: false) is stopping while it stops, then stopped", () =>
    Effect.gen(function* () {
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.fixed("slow", "10 seconds", Effect.sleep("3 seconds"), {
          runImmediately: true,
        }),
      ], { start: false })
      expect((yield* runner.status).state).toBe("idle")
      const ticking = yield* Effect.fork(runner.tick)
      yield* Effect.yieldNow()
      const stopping = yield* Effect.fork(runner.shutdown("10 seconds"))
      yield* Effect.yieldNow()
      expect((yield* runner.status).state).toBe("stopping")
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(ticking)
      yield* Fiber.join(stopping)
      expect((yield* runner.status).state).toBe("stopped")
    }))
})
