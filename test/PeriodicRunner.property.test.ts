// Random task sets in concurrent mode, each simulated on its own TestClock: whatever the spacings
// and however long the runs take, a task never overlaps itself and every occurrence ends in
// exactly one outcome at the instant its timing says.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"
import { collectOutcomes } from "./support/periodic.ts"

/** How long the runner is watched, in seconds. */
const HORIZON = 40

interface RunSpec {
  readonly seconds: number
  readonly fails: boolean
}

interface TaskSpec {
  readonly kind: "spaced" | "fixed"
  readonly spacing: number
  readonly runImmediately: boolean
  /** The runs, cycled. Some take longer than the spacing. */
  readonly runs: ReadonlyArray<RunSpec>
}

const taskSpec: FastCheck.Arbitrary<TaskSpec> = FastCheck.record({
  kind: FastCheck.constantFrom("spaced" as const, "fixed" as const),
  spacing: FastCheck.integer({ min: 3, max: 15 }),
  runImmediately: FastCheck.boolean(),
  runs: FastCheck.array(
    FastCheck.record({
      seconds: FastCheck.integer({ min: 0, max: 20 }),
      fails: FastCheck.integer({ min: 0, max: 4 }).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 4 },
  ),
})

class RunFailed extends Data.TaggedError("RunFailed") {}

/** A run as the task itself saw it, in ms; `end` is missing for a run cut off at shutdown. */
interface Observed {
  readonly start: number
  end: number | undefined
  readonly fails: boolean
}

/** Runs the task set for HORIZON seconds, then stops at once; returns what each task saw. */
const simulate = (specs: ReadonlyArray<TaskSpec>) =>
  Effect.gen(function* () {
    const observed = specs.map((): Array<Observed> => [])
    const tasks = specs.map((spec, index) => {
      const run = Effect.gen(function* () {
        const seen = observed[index]!
        const { seconds, fails } = spec.runs[seen.length % spec.runs.length]!
        const record: Observed = { start: yield* Clock.currentTimeMillis, end: undefined, fails }
        seen.push(record)
        if (seconds > 0) yield* Effect.sleep(`${seconds} seconds`)
        record.end = yield* Clock.currentTimeMillis
        if (fails) return yield* new RunFailed()
      })
      const make = spec.kind === "spaced" ? PeriodicTask.spaced : PeriodicTask.fixed
      return make(`task-${index}`, `${spec.spacing} seconds`, run, {
        runImmediately: spec.runImmediately,
      })
    })
    const runner = yield* PeriodicRunner.make(tasks).pipe(
      // Failed runs are logged; keep the test output quiet.
      Logger.withMinimumLogLevel(LogLevel.None),
    )
    const outcomes = yield* collectOutcomes(runner)
    yield* TestClock.adjust(`${HORIZON} seconds`)
    yield* runner.shutdown(0)
    // Wait until every outcome the status counted, but those published before the subscription,
    // has reached the subscriber.
    const status = yield* runner.status
    const counted = status.tasks.reduce(
      (sum, t) => sum + t.succeeded + t.failed + t.timedOut + t.skipped + t.interrupted,
      0,
    )
    const expected = counted - observed.flat().filter(unseen).length
    for (let i = 0; i < 100 && outcomes.length < expected; i++) yield* Effect.yieldNow()
    expect(outcomes.length).toBe(expected)
    return { observed, outcomes, status }
  }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))

/**
 * The first pass runs inside `PeriodicRunner.make`, before anyone can subscribe: the outcome of a
 * run that started and ended there is only in the status counts.
 */
const unseen = (run: Observed) => run.end === 0

const expectedTag = (run: Observed) =>
  run.end === undefined ? "Interrupted" : run.fails ? "Failed" : "Succeeded"

/** Checks one task against its spec; throws (an assertion error) on the first violation. */
const check = (
  spec: TaskSpec,
  runs: ReadonlyArray<Observed>,
  outcomes: ReadonlyArray<PeriodicRunner.TaskOutcome>,
  status: PeriodicRunner.TaskStatus,
) => {
  const spacing = spec.spacing * 1000
  const end = HORIZON * 1000
  // No overlap: a run starts after the previous one ended.
  for (let i = 1; i < runs.length; i++) {
    expect(runs[i - 1]!.end).toBeDefined()
    expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end!)
  }
  // Exactly one outcome per run, with its start, duration and result.
  const ran = outcomes.filter((o) => o._tag !== "Skipped")
  expect(ran.map((o) => [o._tag, o.startedAt, o.durationMillis])).toEqual(
    runs.filter((run) => !unseen(run)).map((run) => [
      expectedTag(run),
      run.start,
      (run.end ?? end) - run.start,
    ]),
  )
  const count = (tag: string) => runs.filter((run) => expectedTag(run) === tag).length
  expect([status.succeeded, status.failed, status.interrupted, status.timedOut]).toEqual([
    count("Succeeded"),
    count("Failed"),
    count("Interrupted"),
    0,
  ])
  expect(status.skipped).toBe(outcomes.length - ran.length)
  // The driver is never late on a test clock.
  expect(outcomes.every((o) => o.latenessMillis === 0)).toBe(true)
  const first = spec.runImmediately ? 0 : spacing
  if (spec.kind === "spaced") {
    expect(status.skipped).toBe(0)
    // The first run at its start, each next one `spacing` after the previous one ended, and
    // none missing before the horizon.
    expect(runs.map((run) => run.start)).toEqual(
      runs.map((_, i) => (i === 0 ? first : runs[i - 1]!.end! + spacing)),
    )
    const last = runs.at(-1)
    if (last === undefined) expect(first).toBeGreaterThan(end)
    else if (last.end !== undefined) expect(last.end + spacing).toBeGreaterThan(end)
    return
  }
  // Fixed: every grid slot up to the horizon has exactly one outcome; runs start on their slot,
  // and a slot is skipped only while the previous run is still going.
  const slots = Array.from(
    { length: Math.floor((end - first) / spacing) + 1 },
    (_, k) => first + k * spacing,
  )
  const scheduled = [
    ...runs.filter(unseen).map((run) => run.start),
    ...outcomes.map((o) => o.scheduledAt),
  ]
  expect(scheduled.sort((a, b) => a - b)).toEqual(slots)
  expect(runs.every((run) => run.start % spacing === 0)).toBe(true)
  for (const outcome of outcomes) {
    expect(outcome.startedAt).toBe(outcome.scheduledAt)
    if (outcome._tag !== "Skipped") continue
    const before = runs.filter((run) => run.start < outcome.startedAt).at(-1)
    expect(before).toBeDefined()
    expect(before!.end ?? Number.POSITIVE_INFINITY).toBeGreaterThanOrEqual(outcome.startedAt)
  }
}

describe("PeriodicRunner properties (concurrent mode)", () => {
  it.live(
    "no task overlaps itself and every occurrence has exactly one outcome",
    () =>
      Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.array(taskSpec, { minLength: 1, maxLength: 3 }),
            async (specs) => {
              const { observed, outcomes, status } = await Effect.runPromise(simulate(specs))
              specs.forEach((spec, index) =>
                check(
                  spec,
                  observed[index]!,
                  outcomes.filter((o) => o.task === `task-${index}`),
                  status.tasks[index]!,
                )
              )
            },
          ),
          { numRuns: 30 },
        )
      ),
    30_000,
  )
})
