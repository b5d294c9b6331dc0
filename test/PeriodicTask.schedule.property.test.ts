// `PeriodicTask.schedule(task)` (the task's timing as a plain `Schedule`) against the runner's own
// stepping, over random spaced and fixed tasks whose runs never overrun their spacing: the runs of
// `Effect.repeat`/`Effect.schedule` with the schedule start at the instants the runner starts
// them, with one known difference pinned here. A fixed task that runs immediately: `Effect.repeat`
// steps the schedule only when the first run has ended, so `Schedule.fixed`'s grid is anchored
// at that end, while the runner's is anchored at the first run's start (oslo P19). (A fixed run
// that overruns its slot is another: the schedule starts the next run at once, the runner skips
// to the next grid point; the runs here never overrun.)
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"

/** How long each side is watched, in ms. */
const HORIZON = 60_000

interface Spec {
  readonly kind: "spaced" | "fixed"
  readonly spacing: number
  readonly runImmediately: boolean
  /** How long the runs take, in ms, cycled; below the spacing (no fixed run overruns). */
  readonly durations: ReadonlyArray<number>
}

const spec: FastCheck.Arbitrary<Spec> = FastCheck.record({
  kind: FastCheck.constantFrom("spaced" as const, "fixed" as const),
  // At least 2 s, so that a sample (at most 30 runs in the horizon) stays quick to simulate.
  spacing: FastCheck.integer({ min: 2_000, max: 30_000 }),
  runImmediately: FastCheck.boolean(),
  // Each run takes this many hundredths of the spacing.
  durations: FastCheck.array(FastCheck.integer({ min: 0, max: 99 }), {
    minLength: 1,
    maxLength: 4,
  }),
}).map((s) => ({ ...s, durations: s.durations.map((h) => Math.floor((h * s.spacing) / 100)) }))

/** A task of the spec whose run records its start and takes its turn's duration. */
const taskOf = (s: Spec, starts: Array<number>) => {
  const run = Effect.gen(function* () {
    const took = s.durations[starts.length % s.durations.length]!
    starts.push(yield* Clock.currentTimeMillis)
    if (took > 0) yield* Effect.sleep(took)
  })
  const make = s.kind === "spaced" ? PeriodicTask.spaced : PeriodicTask.fixed
  return make("task", s.spacing, run, { runImmediately: s.runImmediately })
}

/** The start instants of the task's runs within the horizon: alone with its schedule, or in a runner. */
const startsOf = (s: Spec, inRunner: boolean) =>
  Effect.gen(function* () {
    const starts: Array<number> = []
    const task = taskOf(s, starts)
    if (inRunner) {
      yield* PeriodicRunner.make([task], { shutdownTimeout: 0 })
    } else {
      const schedule = PeriodicTask.schedule(task)
      yield* Effect.forkScoped(
        task.runImmediately
          ? Effect.repeat(task.run, schedule)
          : Effect.schedule(task.run, schedule),
      )
    }
    yield* TestClock.adjust(HORIZON)
    return starts
  }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))

describe("PeriodicTask.schedule and the runner", () => {
  it.effect(
    "start the runs of a spaced or fixed task at the same instants",
    () =>
      Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(spec, async (s) => {
            const [alone, inRunner] = await Effect.runPromise(
              Effect.all([startsOf(s, false), startsOf(s, true)]),
            )
            const anchoredAtFirstEnd = s.kind === "fixed" && s.runImmediately
            const expected = anchoredAtFirstEnd
              ? inRunner.map((start, i) => (i === 0 ? start : start + s.durations[0]!))
              : inRunner
            // The shift may move the last run of one side past the horizon.
            const common = Math.min(alone.length, expected.length)
            expect(alone.slice(0, common)).toEqual(expected.slice(0, common))
            expect(Math.abs(alone.length - expected.length)).toBeLessThanOrEqual(
              anchoredAtFirstEnd ? 1 : 0,
            )
            expect(common).toBeGreaterThan(0)
          }),
          { numRuns: 30 },
        )
      ),
    60_000,
  )
})
