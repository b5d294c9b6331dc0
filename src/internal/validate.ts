// What every module's input checks share: how a bad value is shown in an error, and a strict
// duration decoder.
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

/** @internal How a bad input value appears in an error message. */
export const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "number" || typeof u === "bigint" || typeof u === "boolean") return String(u)
  if (Duration.isDuration(u)) return Duration.format(u)
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/**
 * @internal Decodes a duration input to milliseconds without Duration's silent clamping (it
 * turns NaN and negatives into zero, which would hide a configuration mistake). The left side is
 * the reason, for the caller's typed error.
 */
export const decodeMillis = (
  input: unknown,
  bound: "≥ 0" | "> 0",
): Either.Either<number, string> => {
  const expected = `must be a finite duration ${bound}`
  if (typeof input === "number" && !(input >= 0)) return Either.left(expected)
  if (typeof input === "bigint" && input < 0n) return Either.left(expected)
  if (typeof input === "string" && input.trim().startsWith("-")) return Either.left(expected)
  const decoded = Duration.decodeUnknown(input)
  if (decoded._tag === "None") return Either.left("is not a duration")
  const millis = Duration.toMillis(decoded.value)
  if (!Number.isFinite(millis) || millis < 0 || (bound === "> 0" && millis === 0)) {
    return Either.left(expected)
  }
  return Either.right(millis)
}

/** @internal A count option's rule: an integer of at least 1 (false for NaN, fractions, ±∞). */
export const isPositiveInteger = (n: unknown): n is number => Number.isInteger(n) && Number(n) > 0

/**
 * @internal Whether a value can be read as a `ReadonlyMap`: a `Map`, or anything with `get`,
 * `entries` and an iterator (a map of another realm, a user's own map).
 */
export const isReadonlyMap = (u: unknown): u is ReadonlyMap<unknown, unknown> =>
  u instanceof Map ||
  (typeof u === "object" && u !== null &&
    typeof (u as Partial<ReadonlyMap<unknown, unknown>>).get === "function" &&
    typeof (u as Partial<ReadonlyMap<unknown, unknown>>).entries === "function" &&
    Symbol.iterator in u)
