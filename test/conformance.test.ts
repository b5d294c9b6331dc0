// Replays every scenario recorded from the real oslo.service 3.0.0 runner
// (test/conformance/oslo-periodic.json, a copy of the project's shared vectors) through the sequential mode under TestClock, twice:
// - loop replay: the runner's own driver fiber; checks runs, fails, sleeps and end;
// - tick replay: `tick` driven by oslo's DynamicLoopingCall (loopingcall.py, section L) written
//   out below; checks runs, fails, idles, sleeps and end. Scenarios without a loop
//   (`driver: "calls"`) and with `stop_on_exception: false` have only this replay: our driver
//   stops on a "fail"-policy error, as nova's `stop_on_exception=True` timer does.
import { describe, expect, it } from "@effect/vitest"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Random from "effect/Random"
import vectors from "./conformance/oslo-periodic.json" with { type: "json" }
import { PeriodicRunner, PeriodicTask } from "../mod.ts"

interface TaskInput {
  readonly name: string
  readonly spacing?: number
  readonly bare?: boolean
  readonly run_immediately?: boolean
  readonly enabled?: boolean
  readonly external_process_ok?: boolean
  readonly duration?: number | ReadonlyArray<number>
  readonly fails?: ReadonlyArray<number>
  readonly fail_ticks?: ReadonlyArray<number>
  readonly fail_times?: ReadonlyArray<readonly [number, number]>
}

interface Scenario {
  readonly id: string
  readonly tasks: ReadonlyArray<TaskInput>
  readonly subclass_tasks?: ReadonlyArray<TaskInput>
  readonly added_tasks?: ReadonlyArray<TaskInput>
  readonly decorate_at?: number
  readonly start?: number
  readonly initial_delay?: number
  readonly horizon?: number
  readonly raise_on_error?: boolean
  readonly stop_on_exception?: boolean
  readonly periodic_interval_max?: number
  readonly run_external_periodic_tasks?: boolean
  readonly driver?: string
  readonly call_times?: ReadonlyArray<number>
  readonly durations?: Record<string, number | ReadonlyArray<number>>
  readonly random?: number
  readonly expected: {
    readonly runs: ReadonlyArray<
      { readonly task: string; readonly t: number; readonly tick: number }
    >
    readonly idles: ReadonlyArray<
      { readonly tick: number; readonly t: number; readonly idle: number }
    >
    readonly sleeps: ReadonlyArray<
      { readonly t: number; readonly for: number; readonly kind: string }
    >
    readonly fails?: ReadonlyArray<
      { readonly t: number; readonly tick: number; readonly task: string }
    >
    readonly end: { readonly reason: string; readonly t: number }
  }
}

const scenarios = (vectors as unknown as { readonly scenarios: ReadonlyArray<Scenario> }).scenarios

class TaskFailure {
  readonly _tag = "TaskFailure"
}

/** What a replay observed, in the vectors' units (seconds). */
interface Trace {
  runs: Array<{ task: string; t: number; tick: number }>
  idles: Array<{ tick: number; t: number; idle: number }>
  sleeps: Array<{ t: number; for: number; kind: string }>
  fails: Array<{ t: number; tick: number; task: string }>
  end: { reason: string; t: number }
}

const seconds = (millis: number) => millis / 1000

/** Rounds away the noise of converting seconds to milliseconds and back. */
const round = (value: number) => Math.round(value * 1e9) / 1e9

const normalize = (trace: unknown) =>
  JSON.parse(JSON.stringify(trace, (_, v) => typeof v === "number" ? round(v) : v))

/**
 * Builds the scenario's tasks. Each run records itself, takes its duration on the test clock (via
 * `takeTime`, which bypasses the recorded clock) and fails where the scenario says.
 */
const buildTasks = (
  scenario: Scenario,
  trace: Trace,
  currentTick: () => number,
  now: () => number,
  takeTime: (millis: number) => Effect.Effect<void>,
) => {
  const inputs = [
    ...scenario.tasks,
    ...(scenario.subclass_tasks ?? []),
    ...(scenario.added_tasks ?? []),
  ]
  return inputs.map((input) => {
    let runIndex = 0
    const durationOf = (index: number): number => {
      const d = input.duration ?? scenario.durations?.[input.name] ?? 0
      return typeof d === "number" ? d : d[Math.min(index, d.length - 1)] ?? 0
    }
    const run = Effect.suspend(() => {
      const index = runIndex++
      const tick = currentTick()
      const start = seconds(now())
      trace.runs.push({ task: input.name, t: start, tick })
      const fails = (input.fails ?? []).includes(index) ||
        (input.fail_ticks ?? []).includes(tick) ||
        (input.fail_times ?? []).some(([lo, hi]) => start >= lo && start < hi)
      const duration = durationOf(index)
      return Effect.zipRight(
        duration > 0 ? takeTime(duration * 1000) : Effect.void,
        Effect.suspend(() => {
          if (!fails) return Effect.void
          trace.fails.push({ t: seconds(now()), tick, task: input.name })
          return Effect.fail(new TaskFailure())
        }),
      )
    })
    const external = input.external_process_ok === true &&
      scenario.run_external_periodic_tasks === false
    return PeriodicTask.fromSpacing(input.name, input.bare ? 0 : input.spacing ?? 0, run, {
      runImmediately: input.run_immediately ?? false,
      // oslo filters external tasks at run time; here the same configuration disables them.
      enabled: (input.enabled ?? true) && !external,
      jitter: scenario.random !== undefined,
      onError: scenario.raise_on_error ? "fail" : "log",
    })
  })
}

const emptyTrace = (): Trace => ({
  runs: [],
  idles: [],
  sleeps: [],
  fails: [],
  end: { reason: "", t: 0 },
})

/** The scenario's `random.random()` value, for jitter draws. */
const withScenarioRandom = (scenario: Scenario) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  scenario.random === undefined
    ? effect
    : Effect.withRandom(effect, Random.fixed([scenario.random]))

/** oslo's DynamicLoopingCall around `tick`, or the direct calls of a `driver: "calls"` scenario. */
const tickReplay = (scenario: Scenario) =>
  Effect.gen(function* () {
    const trace = emptyTrace()
    let tick = 0
    yield* TestClock.setTime((scenario.decorate_at ?? 0) * 1000)
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const tasks = buildTasks(scenario, trace, () => tick, now, (millis) => TestClock.adjust(millis))
    const runner = yield* PeriodicRunner.make(tasks, { mode: "sequential", start: false }).pipe(
      withScenarioRandom(scenario),
    )
    const pass = Effect.gen(function* () {
      const exit = yield* Effect.exit(runner.tick)
      if (Exit.isSuccess(exit)) {
        trace.idles.push({ tick, t: seconds(now()), idle: seconds(Duration.toMillis(exit.value)) })
      }
      tick++
      return exit
    })

    if (scenario.driver === "calls") {
      for (const at of scenario.call_times ?? []) {
        yield* TestClock.setTime(at * 1000)
        yield* pass
      }
      trace.end = { reason: "calls_done", t: seconds(now()) }
      return trace
    }

    const sleep = (millis: number, kind: string) => {
      trace.sleeps.push({ t: seconds(now()), for: seconds(millis), kind })
      return TestClock.adjust(millis)
    }
    if (scenario.start !== undefined) yield* TestClock.setTime(scenario.start * 1000)
    if (scenario.initial_delay) yield* sleep(scenario.initial_delay * 1000, "initial")
    while (seconds(now()) <= scenario.horizon!) {
      const exit = yield* pass
      let idle: number
      if (Exit.isSuccess(exit)) {
        idle = Duration.toMillis(exit.value)
      } else if (scenario.stop_on_exception === false) {
        idle = 0
      } else {
        trace.end = { reason: "exception", t: seconds(now()) }
        return trace
      }
      const cap = scenario.periodic_interval_max
      yield* sleep(cap === undefined ? idle : Math.min(idle, cap * 1000), "idle")
    }
    trace.end = { reason: "horizon", t: seconds(now()) }
    return trace
  }).pipe(Effect.scoped)

/**
 * The runner's own driver fiber. The test clock is wrapped so that the driver's sleeps are
 * recorded; task durations sleep on the test clock directly. Time moves to the earliest pending
 * sleep, one step at a time, until the driver's next pass would start after the horizon.
 */
const loopReplay = (scenario: Scenario) =>
  Effect.gen(function* () {
    const trace = emptyTrace()
    yield* TestClock.setTime((scenario.decorate_at ?? 0) * 1000)
    const testClock = yield* Effect.clock
    const now = () => testClock.unsafeCurrentTimeMillis()
    let idleSleeps = 0
    let driverWakeAt = Number.NaN
    const initialDelay = (scenario.initial_delay ?? 0) * 1000 +
      ((scenario.start ?? 0) - (scenario.decorate_at ?? 0)) * 1000
    // Everything but `sleep` is the test clock's own (through the prototype chain).
    const recording: Clock.Clock = Object.assign(Object.create(testClock) as Clock.Clock, {
      sleep: (duration: Duration.Duration) =>
        Effect.suspend(() => {
          // The runner's shutdown, when the scope closes, is not part of the oslo loop.
          if (trace.end.reason !== "") return testClock.sleep(duration)
          const millis = Duration.toMillis(duration)
          const kind = trace.sleeps.length === 0 && initialDelay > 0 ? "initial" : "idle"
          if (kind === "idle") idleSleeps++
          trace.sleeps.push({ t: seconds(now()), for: seconds(millis), kind })
          driverWakeAt = now() + millis
          return testClock.sleep(duration)
        }),
    })
    const tasks = buildTasks(
      scenario,
      trace,
      () => idleSleeps,
      now,
      (millis) => testClock.sleep(Duration.millis(millis)),
    )
    const runner = yield* PeriodicRunner.make(tasks, {
      mode: "sequential",
      initialDelay,
      maxSleep: scenario.periodic_interval_max === undefined
        ? undefined
        : scenario.periodic_interval_max * 1000,
      shutdownTimeout: 0,
    }).pipe(Effect.withClock(recording), withScenarioRandom(scenario))
    const joined = yield* Effect.fork(runner.join)
    for (;;) {
      yield* Effect.yieldNow()
      const exit = yield* Fiber.poll(joined)
      if (exit._tag === "Some") {
        trace.end = {
          reason: Exit.isFailure(exit.value) ? "exception" : "stopped",
          t: seconds(now()),
        }
        return trace
      }
      const pending = yield* TestClock.sleeps()
      // The driver fiber has not reached its first sleep yet.
      if (pending.length === 0) continue
      const next = Math.min(...pending)
      if (next === driverWakeAt && seconds(next) > scenario.horizon!) {
        // The initial delay of a scenario with `start` is not a sleep of the oslo loop.
        if (scenario.start !== undefined) trace.sleeps.shift()
        trace.end = { reason: "horizon", t: seconds(next) }
        return trace
      }
      yield* TestClock.setTime(next)
    }
  }).pipe(Effect.scoped)

const expectedOf = (scenario: Scenario) => scenario.expected

describe("oslo.service conformance (sequential mode)", () => {
  for (const scenario of scenarios) {
    const expected = expectedOf(scenario)
    it.effect(`tick replay: ${scenario.id}`, () =>
      Effect.gen(function* () {
        const trace = yield* tickReplay(scenario)
        expect(normalize(trace)).toEqual(normalize({
          runs: expected.runs.map(({ task, t, tick }) => ({ task, t, tick })),
          idles: expected.idles,
          sleeps: expected.sleeps,
          fails: expected.fails ?? [],
          end: { reason: expected.end.reason, t: expected.end.t },
        }))
      }), 60_000)

    if (scenario.driver === "calls" || scenario.stop_on_exception === false) continue
    it.effect(`loop replay: ${scenario.id}`, () =>
      Effect.gen(function* () {
        const trace = yield* loopReplay(scenario)
        expect(normalize({ ...trace, idles: [] })).toEqual(normalize({
          runs: expected.runs.map(({ task, t, tick }) => ({ task, t, tick })),
          idles: [],
          sleeps: expected.sleeps,
          fails: expected.fails ?? [],
          end: { reason: expected.end.reason, t: expected.end.t },
        }))
      }), 60_000)
  }

  it("covers every recorded scenario", () => {
    expect(scenarios.length).toBe(28)
  })
})
