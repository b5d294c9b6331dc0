import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Capabilities from "../Capabilities.ts"
import { decodeOptions, type InvalidOption, Millis, Struct, withDefault } from "./options.ts"
import { copyPayload, samePayload } from "./payload.ts"
import { show } from "./validate.ts"

// Each error's base class has its type written out: JSR documents and type-checks
// the package from explicit types (no "slow types"), and cannot infer a call's.
const UnencodableCapabilitiesBase: ReturnType<
  typeof Data.TaggedError<"UnencodableCapabilities">
> = Data.TaggedError("UnencodableCapabilities")

/** @internal */
export class UnencodableCapabilities extends UnencodableCapabilitiesBase<{
  readonly host: string
  readonly service: string
  readonly manager: string
  readonly reason: string
}> {
  override get message(): string {
    return `Manager ${
      JSON.stringify(this.manager)
    } of service ${this.service} on host ${this.host}: a capabilities value was not published, ${this.reason}`
  }
}

const MalformedReportBase: ReturnType<typeof Data.TaggedError<"MalformedReport">> = Data
  .TaggedError("MalformedReport")

/** @internal */
export class MalformedReport extends MalformedReportBase<{
  readonly host?: string | undefined
  readonly field: string
  readonly value: string
  readonly reason: string
}> {
  override get message(): string {
    const from = this.host === undefined ? "" : ` from host ${JSON.stringify(this.host)}`
    return `Capability report${from} refused: ${this.field} ${this.reason}, got ${this.value}`
  }
}

/**
 * @internal Checks a report's envelope (not its capabilities, which only the consumer's schema
 * can judge) by hand rather than with the `CapabilityReport` schema: this runs once per report
 * on the scheduler's ingest path. Returns a fresh envelope, so a caller that later changes its
 * object changes nothing of ours.
 */
export const readReport = (input: unknown): Capabilities.CapabilityReport | MalformedReport => {
  if (typeof input !== "object" || input === null) {
    return new MalformedReport({ field: "report", value: show(input), reason: "must be an object" })
  }
  let report: Record<keyof Capabilities.CapabilityReport, unknown>
  try {
    const { capabilities, host, manager, sequence, service, timestamp } = input as Record<
      string,
      unknown
    >
    report = { host, service, manager, capabilities, timestamp, sequence }
  } catch (error) {
    return new MalformedReport({
      field: "report",
      value: "an object",
      reason: `could not be read (${String(error)})`,
    })
  }
  const host = typeof report.host === "string" ? { host: report.host } : {}
  const refuse = (field: keyof Capabilities.CapabilityReport, reason: string) =>
    new MalformedReport({ ...host, field, value: show(report[field]), reason })
  if (typeof report.host !== "string") return refuse("host", "must be a string")
  if (typeof report.service !== "string") return refuse("service", "must be a string")
  if (typeof report.manager !== "string") return refuse("manager", "must be a string")
  if (typeof report.timestamp !== "number" || !Number.isFinite(report.timestamp)) {
    return refuse("timestamp", "must be a finite number")
  }
  if (!Number.isSafeInteger(report.sequence) || (report.sequence as number) < 0) {
    return refuse("sequence", "must be a non-negative safe integer")
  }
  return report as Capabilities.CapabilityReport
}

/** @internal */
export const make = <A, I, E, R>(
  schema: Schema.Schema<A, I>,
  stream: Stream.Stream<A, E, R>,
): Capabilities.Capabilities<A, I, E, R> => ({ schema, stream })

/** @internal */
export const defaultPublishInterval: Duration.Duration = Duration.seconds(10)

const ReportsOptions = Struct({
  publishInterval: withDefault(Millis("> 0"), () => Duration.toMillis(defaultPublishInterval)),
})

/**
 * An encoded value as published, and our own copy of it (`copyPayload`), which the next value is
 * compared with: an encoding may hand back parts of the manager's value (a `Schema.Unknown`
 * field, say), and a subscriber gets the published one, so a change either makes in place must
 * not hide the next change.
 */
interface Encoded {
  readonly value: unknown
  readonly kept: unknown
}

const reasonOf = (cause: Cause.Cause<string>): string =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.pretty(cause))

/** @internal */
export const reports = <A, I, E, R>(
  source: Capabilities.Source,
  capabilities: Capabilities.Capabilities<A, I, E, R>,
  options?: Capabilities.Options,
): Stream.Stream<Capabilities.CapabilityReport, E | InvalidOption, R> => {
  const decoded = decodeOptions("Capabilities", ReportsOptions, options ?? {})
  if (Either.isLeft(decoded)) return Stream.fail(decoded.left)
  const interval = decoded.right.publishInterval
  const encode = Schema.encode(capabilities.schema)
  // A value that does not encode, or whose encoded form is not JSON (a report is for any
  // transport), is logged and dropped; a defect in a schema's transformation is treated the
  // same, so one bad value never ends the stream.
  const encodeOrSkip = (value: A): Effect.Effect<Option.Option<Encoded>> =>
    encode(value).pipe(
      Effect.mapError((error) => `it does not encode with the manager's schema: ${error.message}`),
      Effect.flatMap((encoded) =>
        Effect.try({
          try: (): Encoded => {
            JSON.stringify(encoded)
            return { value: encoded, kept: copyPayload(encoded) }
          },
          catch: (error) => `its encoded form is not JSON: ${String(error)}`,
        })
      ),
      Effect.map(Option.some),
      Effect.catchAllCause((cause) =>
        Effect.as(
          Effect.logError(
            new UnencodableCapabilities({ ...source, reason: reasonOf(cause) }).message,
          ).pipe(
            Effect.annotateLogs({
              host: source.host,
              topic: source.service,
              manager: source.manager,
            }),
          ),
          Option.none(),
        )
      ),
    )
  const stamp = ([value, index]: [unknown, number]) =>
    Effect.map(Clock.currentTimeMillis, (timestamp): Capabilities.CapabilityReport => ({
      host: source.host,
      service: source.service,
      manager: source.manager,
      capabilities: value,
      timestamp,
      sequence: index + 1,
    }))
  return capabilities.stream.pipe(
    Stream.mapEffect(encodeOrSkip),
    Stream.filterMap(identity),
    Stream.changesWith((previous, next) => samePayload(previous.kept, next.value)),
    // Each new value replaces the previous one's re-publishing, so the interval is measured
    // from the last report.
    Stream.flatMap(
      (latest) =>
        Stream.repeatEffectWithSchedule(
          Effect.succeed(latest.value),
          Schedule.spaced(interval),
        ),
      { switch: true },
    ),
    Stream.zipWithIndex,
    Stream.mapEffect(stamp),
  )
}
