import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import {
  decodeOption,
  decodeOptions,
  filter,
  Flag,
  InvalidOption,
  Millis,
  NonEmptyString,
  OneOf,
  optional,
  PositiveInteger,
  Struct,
  withDefault,
} from "../src/internal/options.ts"

const Options = Struct({
  name: NonEmptyString,
  mode: withDefault(OneOf("concurrent", "sequential"), () => "concurrent" as const),
  delay: withDefault(Millis("≥ 0"), () => 0),
  timeout: optional(Millis("> 0")),
  count: withDefault(PositiveInteger, () => 16),
  start: withDefault(Flag, () => true),
  hooks: withDefault(Struct({ cleanup: optional(Millis("> 0")) }), () => ({})),
})

const decode = (input: unknown) => decodeOptions("Test", Options, input)

/** The error of options that must be refused. */
const refused = (input: unknown): InvalidOption => {
  const result = decode(input)
  if (Either.isRight(result)) throw new Error(`accepted: ${JSON.stringify(result.right)}`)
  return result.left
}

const error = (option: string, value: string, reason: string) =>
  new InvalidOption({ module: "Test", option, value, reason })

describe("decodeOptions", () => {
  it("applies the defaults, for a key left out and for a key given as undefined", () => {
    const defaults = {
      name: "compute",
      mode: "concurrent",
      delay: 0,
      count: 16,
      start: true,
      hooks: {},
    }
    expect(decode({ name: "compute" })).toEqual(Either.right(defaults))
    expect(decode({ name: "compute", delay: undefined, count: undefined, mode: undefined }))
      .toEqual(Either.right(defaults))
  })

  it("decodes durations to milliseconds and keeps what was given", () => {
    expect(decode({
      name: "compute",
      mode: "sequential",
      delay: "2 seconds",
      timeout: Duration.minutes(1),
      count: 3,
      start: false,
      hooks: { cleanup: 250 },
    })).toEqual(Either.right({
      name: "compute",
      mode: "sequential",
      delay: 2_000,
      timeout: 60_000,
      count: 3,
      start: false,
      hooks: { cleanup: 250 },
    }))
  })

  const badDurations: ReadonlyArray<readonly [unknown, string, string]> = [
    [NaN, "NaN", "must be a finite duration ≥ 0"],
    [Infinity, "Infinity", "must be a finite duration ≥ 0"],
    [Duration.infinity, "Infinity", "must be a finite duration ≥ 0"],
    [-1, "-1", "must be a finite duration ≥ 0"],
    ["-1 second", `"-1 second"`, "must be a finite duration ≥ 0"],
    [null, "null", "is not a duration"],
    ["abc", `"abc"`, "is not a duration"],
    [{ seconds: 1 }, `{"seconds":1}`, "is not a duration"],
  ]
  for (const [delay, value, reason] of badDurations) {
    it(`refuses a duration of ${value}, naming the module, the option, the value and the rule`, () => {
      const invalid = refused({ name: "compute", delay })
      expect(invalid).toEqual(error("delay", value, reason))
      expect(invalid._tag).toBe("InvalidOption")
      expect(invalid.message).toBe(`Invalid option delay of Test: ${value} ${reason}`)
    })
  }

  it("a duration that must be > 0 refuses 0, and says so", () => {
    expect(refused({ name: "compute", timeout: "0 millis" })).toEqual(
      error("timeout", `"0 millis"`, "must be a finite duration > 0"),
    )
  })

  it("refuses a mode it does not know", () => {
    const invalid = refused({ name: "compute", mode: "parallel" })
    expect(invalid).toEqual(error("mode", `"parallel"`, `must be "concurrent" or "sequential"`))
    expect(invalid.message).toBe(
      `Invalid option mode of Test: "parallel" must be "concurrent" or "sequential"`,
    )
  })

  const badCounts: ReadonlyArray<readonly [unknown, string]> = [
    [1.5, "1.5"],
    [0, "0"],
    [-3, "-3"],
    [NaN, "NaN"],
    [Infinity, "Infinity"],
    ["3", `"3"`],
    [null, "null"],
  ]
  for (const [count, value] of badCounts) {
    it(`refuses a count of ${value}`, () => {
      expect(refused({ name: "compute", count }).message).toBe(
        `Invalid option count of Test: ${value} must be a positive integer`,
      )
    })
  }

  it("refuses a switch that is merely truthy", () => {
    expect(refused({ name: "compute", start: "yes" })).toEqual(
      error("start", `"yes"`, "must be true or false"),
    )
  })

  it("a required option left out is told with its own rule", () => {
    expect(refused({})).toEqual(error("name", "undefined", "must be a non-empty string"))
    expect(refused({ name: "  " })).toEqual(error("name", `"  "`, "must be a non-empty string"))
  })

  it("names a nested option by its key path", () => {
    expect(refused({ name: "compute", hooks: { cleanup: NaN } })).toEqual(
      error("hooks.cleanup", "NaN", "must be a finite duration > 0"),
    )
    expect(refused({ name: "compute", hooks: 5 })).toEqual(
      error("hooks", "5", "must be an object"),
    )
  })

  it("reports the first bad option in the description's order", () => {
    expect(refused({ name: "compute", count: 0, delay: -1, mode: "x" }).option).toBe("mode")
  })

  it("refuses options that are not an object", () => {
    expect(refused(null)).toEqual(error("options", "null", "must be an object"))
    expect(refused("fast")).toEqual(error("options", `"fast"`, "must be an object"))
  })

  it("reads only the options' own keys: a __proto__ key is a key, nothing is inherited", () => {
    const parsed: unknown = JSON.parse(`{"name": "compute", "__proto__": {"count": 0}}`)
    const decoded = Either.getOrThrow(decode(parsed))
    expect(decoded.count).toBe(16)
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    const inherited = Object.create({ name: "compute", delay: NaN })
    expect(refused(inherited)).toEqual(error("name", "undefined", "must be a non-empty string"))
  })

  it("a rule across options names the option and the value as the caller gave it", () => {
    const Window = filter(
      Struct({ down: Millis("≥ 0"), forget: Millis("≥ 0") }),
      ({ down, forget }) =>
        forget >= down || { path: ["forget"], reason: `must not be shorter than down` },
    )
    expect(decodeOptions("Test", Window, { down: "1 minute", forget: "10 seconds" })).toEqual(
      Either.left(error("forget", `"10 seconds"`, "must not be shorter than down")),
    )
  })

  it.effect("is an Effect too, failing with a tag to catch", () =>
    Effect.gen(function* () {
      const reason = yield* decode({ name: "compute", count: 2.5 }).pipe(
        Effect.catchTag("InvalidOption", (invalid) => Effect.succeed(invalid.reason)),
      )
      expect(reason).toBe("must be a positive integer")
    }))
})

describe("decodeOption", () => {
  it("decodes one option given on its own, under its name", () => {
    const Timeout = Millis("≥ 0")
    expect(decodeOption("Test", "shutdown(timeout)", Timeout, "5 seconds")).toEqual(
      Either.right(5_000),
    )
    expect(decodeOption("Test", "shutdown(timeout)", Timeout, "-1 second")).toEqual(
      Either.left(
        error("shutdown(timeout)", `"-1 second"`, "must be a finite duration ≥ 0"),
      ),
    )
  })
})

describe("OneOf", () => {
  it("lists three or more choices with commas", () => {
    const Level = OneOf("low", "mid", "high")
    expect(decodeOption("Test", "level", Level, "max")).toEqual(
      Either.left(error("level", `"max"`, `must be "low", "mid" or "high"`)),
    )
  })
})
