// One rule for every module's options. A module describes its options as a `Schema.Struct`
// built from the blocks below (durations on the strict rule of `decodeMillis`, counts, names,
// switches, choices), with its defaults in the schema, and `decodeOptions` turns the first thing
// wrong into one typed error, `InvalidOption`, that names the module, the option, the value as
// the caller gave it and the rule it breaks.
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
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

// --- building blocks ---------------------------------------------------------------------------

/**
 * @internal A duration option, decoded to milliseconds on the strict rule of `decodeMillis`:
 * NaN, negatives, ±Infinity and text that is no duration are refused, never clamped.
 *
 * @example
 * ```ts
 * const Options = Schema.Struct({
 *   maxSleep: Schema.optionalWith(Millis("≥ 0"), { default: () => 60_000 }),
 * })
 * ```
 */
export const Millis = (bound: "≥ 0" | "> 0"): Schema.Schema<number, unknown> =>
  Schema.transformOrFail(Schema.Unknown, Schema.Number, {
    strict: true,
    decode: (input, _, ast) =>
      Either.mapLeft(
        decodeMillis(input, bound),
        (reason) => new ParseResult.Type(ast, input, reason),
      ),
    encode: ParseResult.succeed,
  }).annotations({ identifier: `Millis(${bound})` })

/**
 * @internal A count option: an integer of at least 1 (no NaN, fraction or ±Infinity).
 *
 * @example
 * ```ts
 * const Options = Schema.Struct({
 *   capacity: Schema.optionalWith(PositiveInteger, { default: () => 4096 }),
 * })
 * ```
 */
export const PositiveInteger: Schema.Schema<number> = Schema.declare(isPositiveInteger, {
  identifier: "PositiveInteger",
  message: () => "must be a positive integer",
})

/**
 * @internal A name option: a string with something else than white space in it.
 *
 * @example
 * ```ts
 * const Options = Schema.Struct({ host: NonEmptyString })
 * ```
 */
export const NonEmptyString: Schema.Schema<string> = Schema.declare(
  (u): u is string => typeof u === "string" && u.trim() !== "",
  { identifier: "NonEmptyString", message: () => "must be a non-empty string" },
)

/**
 * @internal A switch option: `true` or `false`, nothing merely truthy.
 *
 * @example
 * ```ts
 * const Options = Schema.Struct({ start: Schema.optionalWith(Flag, { default: () => true }) })
 * ```
 */
export const Flag: Schema.Schema<boolean> = Schema.Boolean.annotations({
  message: () => "must be true or false",
})

/**
 * @internal A choice option: one of the given strings. A declaration rather than
 * `Schema.Literal`, whose members an optional field's union flattens, losing the message.
 *
 * @example
 * ```ts
 * const Mode = OneOf("concurrent", "sequential") // must be "concurrent" or "sequential"
 * ```
 */
export const OneOf = <const L extends ReadonlyArray<string>>(
  ...literals: L
): Schema.Schema<L[number]> => {
  const allowed: ReadonlyArray<unknown> = literals
  const shown = literals.map((literal) => JSON.stringify(literal))
  const last = shown.pop()
  const choices = shown.length === 0 ? `${last}` : `${shown.join(", ")} or ${last}`
  return Schema.declare((u): u is L[number] => allowed.includes(u), {
    identifier: `OneOf(${literals.join(", ")})`,
    message: () => `must be ${choices}`,
  })
}

// --- decoding ----------------------------------------------------------------------------------

/** The first thing wrong in a parse issue: where, and our rule's text. */
interface Found {
  readonly path: ReadonlyArray<PropertyKey>
  readonly reason: string
}

const reasonOf = (issue: ParseResult.ParseIssue): string =>
  ParseResult.ArrayFormatter.formatIssueSync(issue)[0]?.message ?? "is not valid"

/**
 * Follows a parse issue (decoded with `errors: "first"`) to its first leaf. A missing key is
 * told with the rule of the schema it lacks, as a value `undefined` would be.
 */
const firstIssue = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): Found => {
  switch (issue._tag) {
    case "Pointer":
      return firstIssue(issue.issue, path.concat(issue.path))
    case "Composite":
      return firstIssue("_tag" in issue.issues ? issue.issues : issue.issues[0], path)
    case "Refinement":
    case "Transformation":
      return Option.isNone(AST.getMessageAnnotation(issue.ast))
        ? firstIssue(issue.issue, path)
        : { path, reason: reasonOf(issue) }
    case "Missing":
      return { path, reason: reasonOf(new ParseResult.Type(issue.ast.type, undefined)) }
    default:
      return { path, reason: reasonOf(issue) }
  }
}

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
  issue: ParseResult.ParseIssue,
): InvalidOption => {
  const { path, reason } = firstIssue(issue, [])
  return new InvalidOption({
    module,
    option: formatPath(root.concat(path)) || "options",
    value: show(valueAt(input, path)),
    reason,
  })
}

/**
 * @internal Decodes a module's options with its schema: the options with their defaults, or an
 * `InvalidOption` for the first option that breaks its rule (in the schema's order). Only the
 * options' own enumerable keys count, as for any record of ours: an inherited one is not read.
 * The result is an `Either`, which is an `Effect` too, so a stream's constructor can use it at
 * once.
 *
 * @example
 * ```ts
 * const Options = Schema.Struct({
 *   capacity: Schema.optionalWith(PositiveInteger, { default: () => 4096 }),
 * })
 * decodeOptions("Notifier", Options, { capacity: 1.5 })
 * // Left(InvalidOption: Invalid option capacity of Notifier: 1.5 must be a positive integer)
 * ```
 */
export const decodeOptions = <A, I>(
  module: string,
  schema: Schema.Schema<A, I>,
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
  // A struct's schema reads an inherited value for a key it requires, and none for a key that
  // may be left out: decoding a copy of the own enumerable keys makes every key count the same
  // way. Spreading defines an own `__proto__` key as a key, and never sets the copy's prototype.
  const own = { ...input }
  return Either.mapLeft(
    Schema.decodeUnknownEither(schema)(own),
    (error) => invalid(module, [], own, error.issue),
  )
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
export const decodeOption = <A, I>(
  module: string,
  option: string,
  schema: Schema.Schema<A, I>,
  input: unknown,
): Either.Either<A, InvalidOption> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(schema)(input),
    (error) => invalid(module, [option], input, error.issue),
  )
