// One rule for every module's options. A module describes its options as a `Struct` of the
// blocks below (durations on the strict rule of `decodeMillis`, counts, names, switches,
// choices), with its defaults in the description, and `decodeOptions` turns the first thing
// wrong into one typed error, `InvalidOption`, that names the module, the option, the value as
// the caller gave it and the rule it breaks. The decoders are written by hand rather than with
// `effect/Schema`: options are read once, and Schema is about 15 KB of a gzipped edge bundle.
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type * as Types from "effect/Types"
import { decodeMillis, isPositiveInteger, isReadonlyMap, show } from "./validate.ts"

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const InvalidOptionBase: ReturnType<typeof Data.TaggedError<"InvalidOption">> = Data.TaggedError(
  "InvalidOption",
)

/**
 * @internal An option that makes no sense, found before anything starts: the module, the
 * option (a key path such as `hookTimeouts.cleanup`), the value as shown, and the rule.
 *
 * @example
 * ```ts
 * const error = new InvalidOption({
 *   module: "PeriodicRunner",
 *   option: "maxSleep",
 *   value: "NaN",
 *   reason: "must be a finite duration ≥ 0",
 * })
 * error.message // "Invalid option maxSleep of PeriodicRunner: NaN must be a finite duration ≥ 0"
 * ```
 */
export class InvalidOption extends InvalidOptionBase<{
  readonly module: string
  readonly option: string
  readonly value: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid option ${this.option} of ${this.module}: ${this.value} ${this.reason}`
  }
}

// --- decoders ----------------------------------------------------------------------------------

/**
 * @internal Why a value is refused: where, as a key path below the value decoded (empty for the
 * value itself), and the rule it breaks.
 *
 * @example
 * ```ts
 * const refusal: Refusal = { path: ["cleanup"], reason: "must be a finite duration > 0" }
 * ```
 */
export interface Refusal {
  readonly path: ReadonlyArray<PropertyKey>
  readonly reason: string
}

/**
 * @internal How one option is read: the value the module works with, or why it is refused.
 *
 * @example
 * ```ts
 * const Port: Decoder<number> = (input) =>
 *   Number.isInteger(input) ? Either.right(input as number) : refuse("must be an integer")
 * ```
 */
export type Decoder<A> = (input: unknown) => Either.Either<A, Refusal>

/**
 * @internal A refusal of the value being decoded itself, or of a part of it at `path`.
 *
 * @example
 * ```ts
 * refuse("must be a Map") // Left({ path: [], reason: "must be a Map" })
 * ```
 */
export const refuse = (
  reason: string,
  path: ReadonlyArray<PropertyKey> = [],
): Either.Either<never, Refusal> => Either.left({ path, reason })

/**
 * @internal An option whose rule is a predicate, refused with `reason`.
 *
 * @example
 * ```ts
 * const HostLimit = declare(
 *   (u): u is number => u === Infinity || isPositiveInteger(u),
 *   "must be a positive integer or Infinity",
 * )
 * ```
 */
export const declare = <A>(is: (u: unknown) => u is A, reason: string): Decoder<A> => (input) =>
  is(input) ? Either.right(input) : refuse(reason)

/**
 * @internal A decoder with one more rule on its value: `true` passes, text is the reason of a
 * refusal of the value, a `Refusal` names a part of it (a rule across options).
 *
 * @example
 * ```ts
 * const Count = filter(PositiveInteger, (n) => n <= 10_000 || "must be at most 10000")
 * ```
 */
export const filter = <A>(
  decoder: Decoder<A>,
  check: (value: A) => true | string | Refusal,
): Decoder<A> =>
(input) =>
  Either.flatMap(decoder(input), (value) => {
    const checked = check(value)
    return checked === true
      ? Either.right(value)
      : typeof checked === "string"
      ? refuse(checked)
      : Either.left(checked)
  })

// --- building blocks ---------------------------------------------------------------------------

/**
 * @internal A duration option, decoded to milliseconds on the strict rule of `decodeMillis`:
 * NaN, negatives, ±Infinity and text that is no duration are refused, never clamped.
 *
 * @example
 * ```ts
 * const Options = Struct({ maxSleep: withDefault(Millis("≥ 0"), () => 60_000) })
 * ```
 */
export const Millis = (bound: "≥ 0" | "> 0"): Decoder<number> => (input) =>
  Either.mapLeft(decodeMillis(input, bound), (reason) => ({ path: [], reason }))

/**
 * @internal A count option: an integer of at least 1 (no NaN, fraction or ±Infinity).
 *
 * @example
 * ```ts
 * const Options = Struct({ capacity: withDefault(PositiveInteger, () => 4096) })
 * ```
 */
export const PositiveInteger: Decoder<number> = declare(
  isPositiveInteger,
  "must be a positive integer",
)

/**
 * @internal A name option: a string with something else than white space in it.
 *
 * @example
 * ```ts
 * const Options = Struct({ host: NonEmptyString })
 * ```
 */
export const NonEmptyString: Decoder<string> = declare(
  (u): u is string => typeof u === "string" && u.trim() !== "",
  "must be a non-empty string",
)

/**
 * @internal A switch option: `true` or `false`, nothing merely truthy.
 *
 * @example
 * ```ts
 * const Options = Struct({ start: withDefault(Flag, () => true) })
 * ```
 */
export const Flag: Decoder<boolean> = declare(
  (u): u is boolean => typeof u === "boolean",
  "must be true or false",
)

/**
 * @internal A choice option: one of the given strings.
 *
 * @example
 * ```ts
 * const Mode = OneOf("concurrent", "sequential") // must be "concurrent" or "sequential"
 * ```
 */
export const OneOf = <const L extends ReadonlyArray<string>>(
  ...literals: L
): Decoder<L[number]> => {
  const allowed: ReadonlyArray<unknown> = literals
  const shown = literals.map((literal) => JSON.stringify(literal))
  const last = shown.pop()
  const choices = shown.length === 0 ? `${last}` : `${shown.join(", ")} or ${last}`
  return declare((u): u is L[number] => allowed.includes(u), `must be ${choices}`)
}

// --- records of options ------------------------------------------------------------------------

/**
 * @internal An option that may be left out (or given as `undefined`): it then has no value.
 *
 * @example
 * ```ts
 * const Options = Struct({ reportTimeout: optional(Millis("> 0")) })
 * ```
 */
export interface Optional<A> {
  readonly _tag: "Optional"
  readonly decoder: Decoder<A>
}

/**
 * @internal An option that may be left out (or given as `undefined`): it then has its default.
 *
 * @example
 * ```ts
 * const Options = Struct({ capacity: withDefault(PositiveInteger, () => 4096) })
 * ```
 */
export interface WithDefault<A> {
  readonly _tag: "WithDefault"
  readonly decoder: Decoder<A>
  readonly fallback: () => A
}

/**
 * @internal One key of a record of options: a bare decoder for an option that must be given,
 * `optional` or `withDefault` for one that may be left out.
 *
 * @example
 * ```ts
 * const fields: Fields = { host: NonEmptyString, delay: withDefault(Millis("≥ 0"), () => 0) }
 * ```
 */
export type Field<A> = Decoder<A> | Optional<A> | WithDefault<A>

/**
 * @internal The description of a record of options, key by key, in the order they are checked.
 *
 * @example
 * ```ts
 * const fields: Fields = { host: NonEmptyString, start: withDefault(Flag, () => true) }
 * ```
 */
export type Fields = { readonly [key: string]: Field<any> }

/**
 * @internal What a description's record decodes to: an optional key without a default may be
 * absent; every other key has its value.
 *
 * @example
 * ```ts
 * type Options = Decoded<{ host: Decoder<string>; timeout: Optional<number> }>
 * // { readonly host: string; readonly timeout?: number | undefined }
 * ```
 */
export type Decoded<F extends Fields> = Types.Simplify<
  & { readonly [K in keyof F as F[K] extends Optional<any> ? never : K]: ValueOf<F[K]> }
  & {
    readonly [K in keyof F as F[K] extends Optional<any> ? K : never]?: ValueOf<F[K]> | undefined
  }
>

type ValueOf<F> = F extends Field<infer A> ? A : never

/**
 * @internal An option that may be left out, with no value then.
 *
 * @example
 * ```ts
 * const Options = Struct({ forgetAfter: optional(Millis("≥ 0")) })
 * ```
 */
export const optional = <A>(decoder: Decoder<A>): Optional<A> => ({ _tag: "Optional", decoder })

/**
 * @internal An option that may be left out, with `fallback()` as its value then.
 *
 * @example
 * ```ts
 * const Options = Struct({ mode: withDefault(OneOf("concurrent", "sequential"), () => "concurrent") })
 * ```
 */
export const withDefault = <A>(
  decoder: Decoder<A>,
  fallback: () => NoInfer<A>,
): WithDefault<A> => ({
  _tag: "WithDefault",
  decoder,
  fallback,
})

/**
 * @internal A record of options, decoded key by key in the description's order: the first key
 * that breaks its rule is the refusal, named by its key path. Only the record's own keys count,
 * and keys the description does not name are left out. A value that is not an object is refused
 * with `reason`.
 *
 * @example
 * ```ts
 * const HookTimeouts = Struct(
 *   { cleanup: optional(Millis("> 0")) },
 *   "must be a record of hook names to durations",
 * )
 * ```
 */
export const Struct = <const F extends Fields>(
  fields: F,
  reason = "must be an object",
): Decoder<Decoded<F>> =>
(input) => {
  if (typeof input !== "object" || input === null) return refuse(reason)
  const decoded: Record<string, unknown> = {}
  for (const [key, field] of Object.entries(fields)) {
    const given: unknown = Object.hasOwn(input, key)
      ? (input as Record<string, unknown>)[key]
      : undefined
    if (given === undefined && typeof field !== "function") {
      if (field._tag === "WithDefault") decoded[key] = field.fallback()
      continue
    }
    const result = (typeof field === "function" ? field : field.decoder)(given)
    if (Either.isLeft(result)) return refuse(result.left.reason, [key, ...result.left.path])
    decoded[key] = result.right
  }
  return Either.right(decoded as Decoded<F>)
}

// --- decoding ----------------------------------------------------------------------------------

/** The caller's own value at a key path: own keys of records, entries of maps. */
const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>(
    (u, key) =>
      isReadonlyMap(u)
        ? u.get(key)
        : typeof u === "object" && u !== null && Object.hasOwn(u, key)
        ? (u as Record<PropertyKey, unknown>)[key]
        : undefined,
    input,
  )

/** `maxSleep`, `hookTimeouts.cleanup`, `resume["nightly audit"]`: the first key as it is. */
const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((key, index) =>
    index === 0
      ? String(key)
      : typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)
      ? `.${key}`
      : `[${typeof key === "number" ? key : JSON.stringify(String(key))}]`
  ).join("")

const invalid = (
  module: string,
  root: ReadonlyArray<PropertyKey>,
  input: unknown,
  { path, reason }: Refusal,
): InvalidOption =>
  new InvalidOption({
    module,
    option: formatPath(root.concat(path)) || "options",
    value: show(valueAt(input, path)),
    reason,
  })

/**
 * @internal Decodes a module's options with its description: the options with their defaults,
 * or an `InvalidOption` for the first option that breaks its rule (in the description's order).
 * Only the options' own enumerable keys count, as for any record of ours: an inherited one is
 * not read. The result is an `Either`, which is an `Effect` too, so a stream's constructor can
 * use it at once.
 *
 * @example
 * ```ts
 * const Options = Struct({ capacity: withDefault(PositiveInteger, () => 4096) })
 * decodeOptions("Notifier", Options, { capacity: 1.5 })
 * // Left(InvalidOption: Invalid option capacity of Notifier: 1.5 must be a positive integer)
 * ```
 */
export const decodeOptions = <A>(
  module: string,
  decoder: Decoder<A>,
  input: unknown,
): Either.Either<A, InvalidOption> => {
  if (typeof input !== "object" || input === null) {
    return Either.left(
      new InvalidOption({
        module,
        option: "options",
        value: show(input),
        reason: "must be an object",
      }),
    )
  }
  // A copy of the own enumerable keys: an option given with `Object.defineProperty` as not
  // enumerable, or inherited, is not read. Spreading defines an own `__proto__` key as a key,
  // and never sets the copy's prototype.
  const own = { ...input }
  return Either.mapLeft(decoder(own), (refusal) => invalid(module, [], own, refusal))
}

/**
 * @internal Decodes one option given on its own (an argument rather than a key of an options
 * record) on the same rules, naming it `option`.
 *
 * @example
 * ```ts
 * decodeOption("PeriodicRunner", "shutdown(timeout)", Millis("≥ 0"), "-1 second")
 * // Left(InvalidOption: Invalid option shutdown(timeout) of PeriodicRunner: "-1 second" must
 * // be a finite duration ≥ 0)
 * ```
 */
export const decodeOption = <A>(
  module: string,
  option: string,
  decoder: Decoder<A>,
  input: unknown,
): Either.Either<A, InvalidOption> =>
  Either.mapLeft(decoder(input), (refusal) => invalid(module, [option], input, refusal))
