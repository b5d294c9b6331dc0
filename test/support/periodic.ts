// Helpers shared by the periodic-engine tests: what the tasks did, what the runner reported and
// what it logged, observed on the test clock.
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { PeriodicRunner } from "../../mod.ts"

/** A task body that records the clock (in seconds) each time it runs. */
export const recorder = Effect.gen(function* () {
  const times = yield* Ref.make<Array<number>>([])
  const run = (took = 0) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      yield* Ref.update(times, (all) => [...all, now / 1000])
      if (took > 0) yield* Effect.sleep(`${took} seconds`)
    })
  return { times: Ref.get(times), run }
})

/** Every outcome the runner publishes from now on, in order, until the scope closes. */
export const collectOutcomes = <E>(
  runner: PeriodicRunner.PeriodicRunner<E>,
): Effect.Effect<ReadonlyArray<PeriodicRunner.TaskOutcome>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const seen: Array<PeriodicRunner.TaskOutcome> = []
    yield* Effect.forkScoped(
      Stream.runForEach(runner.outcomes, (outcome) => Effect.sync(() => seen.push(outcome))),
    )
    // Let the subscription start: outcomes published before it are not delivered.
    yield* Effect.yieldNow()
    return seen
  })

/** The plain form of an outcome (see {@link plain}) of a run started `startedAt - scheduledAt` late. */
export const occurrence = (
  _tag: PeriodicRunner.TaskOutcome["_tag"],
  task: string,
  scheduledAt: number,
  startedAt: number,
  durationMillis: number,
): Record<string, unknown> => ({
  _tag,
  task,
  scheduledAt,
  startedAt,
  durationMillis,
  latenessMillis: startedAt - scheduledAt,
})

/** An outcome as a plain object, to compare with `toEqual`. */
export const plain = (outcome: PeriodicRunner.TaskOutcome): Record<string, unknown> => ({
  ...outcome,
})

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly cause: Cause.Cause<unknown>
}

/**
 * Records every log line of this fiber and of the fibers it starts (the runner's included) until
 * the scope closes.
 */
export const captureLogs: Effect.Effect<ReadonlyArray<LogLine>, never, Scope.Scope> = Effect.gen(
  function* () {
    const lines: Array<LogLine> = []
    const logger = Logger.make<unknown, void>(({ logLevel, message, annotations, cause }) => {
      lines.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        annotations: Object.fromEntries(HashMap.toEntries(annotations)),
        cause,
      })
    })
    yield* Effect.locallyScopedWith(FiberRef.currentLoggers, HashSet.add(logger))
    return lines
  },
)

/** The status of one task, by name. */
export const taskStatus = <E>(
  runner: PeriodicRunner.PeriodicRunner<E>,
  name: string,
): Effect.Effect<PeriodicRunner.TaskStatus> =>
  Effect.map(runner.status, (status) => {
    const found = status.tasks.find((task) => task.name === name)
    if (found === undefined) throw new Error(`no task ${name} in the status`)
    return found
  })
