import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as PeriodicRunner from "../src/PeriodicRunner.ts"
import { InvalidOption } from "../src/internal/options.ts"
import {
  decodeRunnerOptions,
  decodeShutdownTimeout,
  type RunnerConfig,
} from "../src/internal/runnerOptions.ts"

const defaults: RunnerConfig = {
  mode: "concurrent",
  initialDelay: 0,
  maxSleep: 60_000,
  shutdownTimeout: 60_000,
  maxBatch: 1024,
  outcomeBuffer: 16_384,
  resume: new Map(),
  start: true,
  fiberMetrics: false,
  runSpans: "linked",
  metrics: true,
}

const error = (option: string, value: string, reason: string) =>
  new InvalidOption({ module: "PeriodicRunner", option, value, reason })

describe("decodeRunnerOptions", () => {
  it.effect("no options are the runner's defaults", () =>
    Effect.gen(function* () {
      expect(yield* decodeRunnerOptions({})).toEqual(defaults)
      expect(yield* decodeRunnerOptions({ mode: undefined, maxSleep: undefined })).toEqual(
        defaults,
      )
    }))

  it.effect("decodes every option: durations to milliseconds, resume to a map", () =>
    Effect.gen(function* () {
      const config = yield* decodeRunnerOptions({
        mode: "sequential",
        initialDelay: "2 seconds",
        maxSleep: Duration.seconds(10),
        shutdownTimeout: 0,
        maxBatch: 1,
        outcomeBuffer: 64,
        resume: { audit: 1_000 },
        start: false,
        fiberMetrics: true,
        runSpans: "root",
        metrics: false,
      })
      expect(config).toEqual({
        mode: "sequential",
        initialDelay: 2_000,
        maxSleep: 10_000,
        shutdownTimeout: 0,
        maxBatch: 1,
        outcomeBuffer: 64,
        resume: new Map([["audit", 1_000]]),
        start: false,
        fiberMetrics: true,
        runSpans: "root",
        metrics: false,
      })
    }))

  const bad: ReadonlyArray<readonly [PeriodicRunner.Options, InvalidOption]> = [
    [
      { mode: "parallel" as never },
      error("mode", `"parallel"`, `must be "concurrent" or "sequential"`),
    ],
    [{ mode: null as never }, error("mode", "null", `must be "concurrent" or "sequential"`)],
    [
      { runSpans: "all" as never },
      error("runSpans", `"all"`, `must be "linked", "root" or "off"`),
    ],
    [{ metrics: 1 as never }, error("metrics", "1", "must be true or false")],
    [{ initialDelay: -1 }, error("initialDelay", "-1", "must be a finite duration ≥ 0")],
    [{ maxSleep: NaN }, error("maxSleep", "NaN", "must be a finite duration ≥ 0")],
    [{ maxSleep: "abc" as never }, error("maxSleep", `"abc"`, "is not a duration")],
    [
      { shutdownTimeout: Infinity },
      error("shutdownTimeout", "Infinity", "must be a finite duration ≥ 0"),
    ],
    [
      { shutdownTimeout: "-1 second" as never },
      error("shutdownTimeout", `"-1 second"`, "must be a finite duration ≥ 0"),
    ],
    [{ maxBatch: 1.5 }, error("maxBatch", "1.5", "must be a positive integer")],
    [{ maxBatch: 0 }, error("maxBatch", "0", "must be a positive integer")],
    [{ outcomeBuffer: NaN }, error("outcomeBuffer", "NaN", "must be a positive integer")],
    [
      { resume: null as never },
      error("resume", "null", "must be a Map or a record of task names to instants"),
    ],
    [
      { resume: 5 as never },
      error("resume", "5", "must be a Map or a record of task names to instants"),
    ],
    [
      { resume: { audit: NaN } },
      error("resume.audit", "NaN", "must be a finite instant (epoch milliseconds)"),
    ],
    [
      { resume: new Map([["nightly audit", Infinity]]) },
      error(`resume["nightly audit"]`, "Infinity", "must be a finite instant (epoch milliseconds)"),
    ],
    [
      { resume: { audit: "tomorrow" as never } },
      error("resume.audit", `"tomorrow"`, "must be a finite instant (epoch milliseconds)"),
    ],
    [{ start: "no" as never }, error("start", `"no"`, "must be true or false")],
    [{ fiberMetrics: 1 as never }, error("fiberMetrics", "1", "must be true or false")],
  ]
  for (const [options, expected] of bad) {
    it.effect(`refuses ${expected.option} ${expected.value}: ${expected.reason}`, () =>
      Effect.gen(function* () {
        const refused = yield* Effect.flip(decodeRunnerOptions(options))
        expect(refused).toEqual(expected)
      }))
  }

  it.effect("the message names the option, the module, the value and the rule", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.flip(decodeRunnerOptions({ maxSleep: NaN }))
      expect(refused.message).toBe(
        "Invalid option maxSleep of PeriodicRunner: NaN must be a finite duration ≥ 0",
      )
    }))

  it.effect("options are checked in the order the runner lists them", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.flip(
        decodeRunnerOptions({ outcomeBuffer: 0, maxSleep: -1, mode: "x" as never }),
      )
      expect(refused.option).toBe("mode")
    }))

  it.effect("a resume record's own keys are task names, __proto__ and constructor included", () =>
    Effect.gen(function* () {
      const record: Record<string, number> = JSON.parse(
        `{"__proto__": 1000, "constructor": 2000, "audit": 3000}`,
      )
      const config = yield* decodeRunnerOptions({ resume: record })
      expect([...config.resume]).toEqual([["__proto__", 1000], ["constructor", 2000], [
        "audit",
        3000,
      ]])
      const inherited = yield* decodeRunnerOptions({ resume: Object.create({ audit: 1000 }) })
      expect(inherited.resume.size).toBe(0)
      const refused = yield* Effect.flip(
        decodeRunnerOptions({ resume: JSON.parse(`{"__proto__": null}`) }),
      )
      expect(refused).toEqual(
        error("resume.__proto__", "null", "must be a finite instant (epoch milliseconds)"),
      )
    }))

  it.effect("a resume map keeps its task names; a key that is no string names no task", () =>
    Effect.gen(function* () {
      const resume = new Map<unknown, number>([["audit", 1_000], [7, 2_000]])
      const config = yield* decodeRunnerOptions({ resume: resume as ReadonlyMap<string, number> })
      expect([...config.resume]).toEqual([["audit", 1_000]])
      const refused = yield* Effect.flip(decodeRunnerOptions({
        resume: new Map<unknown, number>([[7, NaN]]) as ReadonlyMap<string, number>,
      }))
      expect(refused).toEqual(
        error("resume[7]", "NaN", "must be a finite instant (epoch milliseconds)"),
      )
    }))

  it.effect("the config's resume is a copy: changing the caller's map changes nothing", () =>
    Effect.gen(function* () {
      const resume = new Map([["audit", 1_000]])
      const config = yield* decodeRunnerOptions({ resume })
      resume.set("audit", 5_000)
      expect(config.resume.get("audit")).toBe(1_000)
    }))
})

describe("decodeShutdownTimeout", () => {
  it("decodes the timeout given to shutdown to milliseconds", () => {
    expect(decodeShutdownTimeout("5 seconds")).toEqual(Either.right(5_000))
    expect(decodeShutdownTimeout(0)).toEqual(Either.right(0))
  })

  const bad: ReadonlyArray<readonly [unknown, string, string]> = [
    [-1, "-1", "must be a finite duration ≥ 0"],
    ["-1 second", `"-1 second"`, "must be a finite duration ≥ 0"],
    [NaN, "NaN", "must be a finite duration ≥ 0"],
    [Infinity, "Infinity", "must be a finite duration ≥ 0"],
    ["abc", `"abc"`, "is not a duration"],
    [null, "null", "is not a duration"],
  ]
  for (const [timeout, value, reason] of bad) {
    it(`refuses a timeout of ${value}`, () => {
      const decoded = decodeShutdownTimeout(timeout as Duration.DurationInput)
      expect(decoded).toEqual(Either.left(error("shutdown(timeout)", value, reason)))
      if (Either.isLeft(decoded)) {
        expect(decoded.left.message).toBe(
          `Invalid option shutdown(timeout) of PeriodicRunner: ${value} ${reason}`,
        )
      }
    })
  }
})
