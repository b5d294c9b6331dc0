// The periodic runner's options on the one rule for options (see `options.ts`): a description
// with the runner's defaults, and the decoded form the runner works with (durations in
// milliseconds, `resume` as a map).
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as PeriodicRunner from "../PeriodicRunner.ts"
import {
  decodeOption,
  decodeOptions,
  type Decoder,
  Flag,
  type InvalidOption,
  Millis,
  OneOf,
  PositiveInteger,
  refuse,
  Struct,
  withDefault,
} from "./options.ts"
import { IDLE_CAP_MILLIS } from "./runner/timing.ts"
import { isReadonlyMap } from "./validate.ts"

/**
 * @internal A runner's options as it uses them: every default applied, durations in
 * milliseconds, `resume` as a map of task names to epoch milliseconds.
 *
 * @example
 * ```ts
 * const config: RunnerConfig = {
 *   mode: "concurrent",
 *   initialDelay: 0,
 *   maxSleep: 60_000,
 *   shutdownTimeout: 60_000,
 *   maxBatch: 1024,
 *   outcomeBuffer: 16_384,
 *   resume: new Map(),
 *   start: true,
 *   fiberMetrics: false,
 *   runSpans: "linked",
 *   metrics: true,
 * }
 * ```
 */
export interface RunnerConfig {
  readonly mode: PeriodicRunner.Mode
  readonly initialDelay: number
  readonly maxSleep: number
  readonly shutdownTimeout: number
  readonly maxBatch: number
  readonly outcomeBuffer: number
  readonly resume: ReadonlyMap<string, number>
  readonly start: boolean
  readonly fiberMetrics: boolean
  readonly runSpans: PeriodicRunner.RunSpans
  readonly metrics: boolean
}

const ShutdownTimeout = Millis("≥ 0")

/**
 * `resume` as a map, whichever form it came in. Only a record's own entries count: a task named
 * `constructor` or `__proto__` is a name like any other, not a key of `Object.prototype`. A map's
 * entry under a key that is not a string names no task: its instant is checked, then dropped.
 */
const Resume: Decoder<ReadonlyMap<string, number>> = (input) => {
  if (typeof input !== "object" || input === null) {
    return refuse("must be a Map or a record of task names to instants")
  }
  const entries = isReadonlyMap(input) ? input.entries() : Object.entries(input)
  const resume = new Map<string, number>()
  for (const [task, at] of entries) {
    if (typeof at !== "number" || !Number.isFinite(at)) {
      return refuse("must be a finite instant (epoch milliseconds)", [
        typeof task === "number" || typeof task === "symbol" ? task : String(task),
      ])
    }
    if (typeof task === "string") resume.set(task, at)
  }
  return Either.right(resume)
}

const RunnerOptions = Struct({
  mode: withDefault(OneOf("concurrent", "sequential"), () => "concurrent" as const),
  initialDelay: withDefault(Millis("≥ 0"), () => 0),
  maxSleep: withDefault(Millis("≥ 0"), () => IDLE_CAP_MILLIS),
  shutdownTimeout: withDefault(ShutdownTimeout, () => 60_000),
  maxBatch: withDefault(PositiveInteger, () => 1024),
  outcomeBuffer: withDefault(PositiveInteger, () => 16_384),
  resume: withDefault(Resume, () => new Map<string, number>()),
  start: withDefault(Flag, () => true),
  fiberMetrics: withDefault(Flag, () => false),
  runSpans: withDefault(
    OneOf("linked", "root", "off"),
    () => "linked" as const,
  ),
  metrics: withDefault(Flag, () => true),
})

/**
 * @internal A runner's options with their defaults, or `InvalidOption` (module
 * `PeriodicRunner`) naming the first option that breaks its rule.
 *
 * @example
 * ```ts
 * const config = yield* decodeRunnerOptions({ mode: "sequential", maxSleep: "10 seconds" })
 * // config.maxSleep === 10_000, config.maxBatch === 1024
 * yield* decodeRunnerOptions({ maxSleep: NaN })
 * // fails: Invalid option maxSleep of PeriodicRunner: NaN must be a finite duration ≥ 0
 * ```
 */
export const decodeRunnerOptions = (
  options: PeriodicRunner.Options,
): Effect.Effect<RunnerConfig, InvalidOption> =>
  decodeOptions("PeriodicRunner", RunnerOptions, options)

/**
 * @internal The timeout given to a runner's `shutdown`, in milliseconds, on the rule of the
 * `shutdownTimeout` option: a finite duration ≥ 0. An `Either`, so an `Effect` too.
 *
 * @example
 * ```ts
 * decodeShutdownTimeout("5 seconds") // Right(5000)
 * decodeShutdownTimeout(-1)
 * // Left: Invalid option shutdown(timeout) of PeriodicRunner: -1 must be a finite duration ≥ 0
 * ```
 */
export const decodeShutdownTimeout = (
  timeout: Duration.DurationInput,
): Either.Either<number, InvalidOption> =>
  decodeOption("PeriodicRunner", "shutdown(timeout)", ShutdownTimeout, timeout)
