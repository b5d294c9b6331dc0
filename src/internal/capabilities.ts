import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Capabilities from "../Capabilities.ts"
import type * as Manager from "../Manager.ts"

/** @internal */
export class UnencodableCapabilities extends Schema.TaggedError<UnencodableCapabilities>(
  "effect-manager/UnencodableCapabilities",
)("UnencodableCapabilities", {
  host: Schema.String,
  service: Schema.String,
  manager: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Manager ${
      JSON.stringify(this.manager)
    } of service ${this.service} on host ${this.host}: a capabilities value was not published, ${this.reason}`
  }
}

/** @internal */
export const defaultPublishInterval: Duration.Duration = Duration.seconds(10)

/** An encoded value and its JSON text, which decides whether it changed. */
interface Encoded {
  readonly value: unknown
  readonly json: string | undefined
}

const reasonOf = (cause: Cause.Cause<string>): string =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.pretty(cause))

/** @internal */
export const reports = <A, I, E, R>(
  source: Capabilities.Source,
  capabilities: Manager.Capabilities<A, I, E, R>,
  options?: Capabilities.Options,
): Stream.Stream<Capabilities.CapabilityReport, E, R> => {
  const interval = Duration.decode(options?.publishInterval ?? defaultPublishInterval)
  const encode = Schema.encode(capabilities.schema)
  // A value that does not encode is logged and dropped; a defect in a schema's transformation
  // is treated the same, so one bad value never ends the stream.
  const encodeOrSkip = (value: A): Effect.Effect<Option.Option<Encoded>> =>
    encode(value).pipe(
      Effect.mapError((error) => `it does not encode with the manager's schema: ${error.message}`),
      Effect.flatMap((encoded) =>
        Effect.try({
          try: (): Encoded => ({ value: encoded, json: JSON.stringify(encoded) }),
          catch: (error) => `its encoded form is not JSON: ${String(error)}`,
        })
      ),
      Effect.map(Option.some),
      Effect.catchAllCause((cause) =>
        Effect.as(
          Effect.logError(
            new UnencodableCapabilities({ ...source, reason: reasonOf(cause) }).message,
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
    Stream.changesWith((previous, next) => previous.json === next.json),
    // Each new value replaces the previous one's re-publishing, so the interval is measured
    // from the last report.
    Stream.flatMap(
      (latest) =>
        Stream.repeatEffectWithSchedule(Effect.succeed(latest.value), Schedule.spaced(interval)),
      { switch: true },
    ),
    Stream.zipWithIndex,
    Stream.mapEffect(stamp),
  )
}
