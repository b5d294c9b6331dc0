/**
 * Capabilities: what a manager tells a scheduler about its host (free memory, CPUs, …). A
 * manager's capabilities are a `Stream` of values described by a `Schema`; {@link reports}
 * turns it into {@link CapabilityReport}s, and a service publishes them on its
 * `CapabilityBus`. This replaces old nova's `SchedulerDependentManager`, which stored the last
 * capabilities and fanout-cast them to the schedulers every periodic pass until replaced.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/capabilities.ts"
import type { InvalidOption } from "./internal/options.ts"

/**
 * A manager's capabilities: a `Stream` of values described by a `Schema` (the scheduler that
 * consumes them decodes with it). A manager returns them from its `build` as `capabilities`.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as Stream from "effect/Stream"
 * import type { Capabilities } from "effect-manager"
 *
 * const Resources = Schema.Struct({ freeRamMb: Schema.Number })
 * const capabilities: Capabilities.Capabilities<typeof Resources.Type, typeof Resources.Encoded> = {
 *   schema: Resources,
 *   stream: Stream.make({ freeRamMb: 4096 }),
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Capabilities<A, I, E = never, R = never> {
  /** Encodes each value into a report's `capabilities`; equal encodings are the same value. */
  readonly schema: Schema.Schema<A, I>
  /** The manager's capabilities as they change; each value replaces the previous one. */
  readonly stream: Stream.Stream<A, E, R>
}

/**
 * Describes a manager's capabilities: a `Stream` of values and the `Schema` that describes them.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as Stream from "effect/Stream"
 * import { Capabilities } from "effect-manager"
 *
 * const Resources = Schema.Struct({ freeRamMb: Schema.Number, freeVcpus: Schema.Number })
 * const capabilities = Capabilities.make(Resources, Stream.make({ freeRamMb: 4096, freeVcpus: 8 }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, I, E = never, R = never>(
  schema: Schema.Schema<A, I>,
  stream: Stream.Stream<A, E, R>,
) => Capabilities<A, I, E, R> = internal.make

/**
 * One published state of a manager's capabilities. `capabilities` is the encoded value (what a
 * remote transport carries); the scheduler decodes it with the manager's `Schema`. `sequence`
 * grows by one per report of the same host, service and manager, so a consumer can drop
 * reports that arrive out of order.
 *
 * The envelope's rules, which the scheduler and the bus check on every report (a report that
 * breaks one is refused with {@link MalformedReport}): `host`, `service` and `manager` are
 * strings, `timestamp` is a finite number, `sequence` a non-negative safe integer.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { Capabilities } from "effect-manager"
 *
 * const report = Schema.decodeUnknownSync(Capabilities.CapabilityReport)({
 *   host: "compute-1", service: "compute", manager: "Compute",
 *   capabilities: { freeRamMb: 2048 }, timestamp: 0, sequence: 1,
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const CapabilityReport: Schema.Struct<{
  host: typeof Schema.String
  service: typeof Schema.String
  manager: typeof Schema.String
  capabilities: typeof Schema.Unknown
  timestamp: typeof Schema.Finite
  sequence: typeof Schema.NonNegativeInt
}> = Schema.Struct({
  host: Schema.String,
  service: Schema.String,
  manager: Schema.String,
  capabilities: Schema.Unknown,
  /** Epoch milliseconds of the publisher's `Clock`. */
  timestamp: Schema.Finite,
  sequence: Schema.NonNegativeInt,
})

/**
 * A report as decoded by {@link CapabilityReport}: the envelope, with `capabilities` still
 * encoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface CapabilityReport extends Schema.Schema.Type<typeof CapabilityReport> {}

/**
 * Who publishes: the host, the service's topic and the manager's name (its tag's key).
 *
 * @example
 * ```ts
 * import type { Capabilities } from "effect-manager"
 *
 * const source: Capabilities.Source = { host: "compute-1", service: "compute", manager: "Compute" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Source {
  /** The host the service runs on. */
  readonly host: string
  /** The service's topic. */
  readonly service: string
  /** The manager's name: its tag's key. */
  readonly manager: string
}

/**
 * Options of {@link reports}.
 *
 * @example
 * ```ts
 * import type { Capabilities } from "effect-manager"
 *
 * const options: Capabilities.Options = { publishInterval: "30 seconds" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How long after the last report an unchanged value is reported again, so a consumer can
   * tell a quiet host from a dead one. A finite duration > 0; default 10 s. Anything else (0,
   * -1, NaN, `Infinity`, "abc") makes the stream fail at once with
   * {@link InvalidOption}.
   */
  readonly publishInterval?: Duration.DurationInput | undefined
}

/**
 * Turns a manager's capabilities into reports:
 *
 * - nothing before the first value;
 * - a report at once for every value that differs from the last one reported;
 * - the last value again `publishInterval` after the last report, for as long as it stays the
 *   latest (also after the manager's stream has ended: nova re-sent its last capabilities until
 *   they were replaced).
 *
 * `timestamp` is the `Clock`'s time of the report and `sequence` counts reports from 1.
 *
 * Each value is encoded with the manager's `Schema`, and two values are the same when their
 * encoded forms are the same payload, by the rule the scheduler uses too: plain arrays and
 * objects by content, in any key order, NaN equal to NaN and -0 to 0, anything else by
 * identity. `Equal.equals` would not do here, as it compares the plain objects an encoding
 * returns by reference, and a manager that polls its driver makes a new object every time.
 * A value that does not encode, or whose encoded form is not JSON, is logged as an
 * {@link UnencodableCapabilities} error naming the manager and the host, and skipped; the
 * stream goes on. The stream fails only when the manager's stream fails, or at once with
 * {@link InvalidOption} when `publishInterval` is not a finite duration > 0.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as Stream from "effect/Stream"
 * import { Capabilities } from "effect-manager"
 *
 * const Resources = Schema.Struct({ freeRamMb: Schema.Number })
 * const reports = Capabilities.reports(
 *   { host: "compute-1", service: "compute", manager: "Compute" },
 *   Capabilities.make(Resources, Stream.make({ freeRamMb: 4096 }, { freeRamMb: 2048 })),
 *   { publishInterval: "30 seconds" },
 * )
 * const firstTwo = Stream.runCollect(Stream.take(reports, 2)) // sequences 1 and 2
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const reports: <A, I, E = never, R = never>(
  source: Source,
  capabilities: Capabilities<A, I, E, R>,
  options?: Options,
) => Stream.Stream<CapabilityReport, E | InvalidOption, R> = internal.reports

export {
  /**
   * A report whose envelope breaks the rules of {@link CapabilityReport} (a report that is not
   * an object, a `host`, `service` or `manager` that is not a string, a `timestamp` that is
   * not a finite number, a `sequence` that is not a non-negative safe integer). Names the
   * host when the report has one, the field, the value as shown, and the rule. The scheduler
   * and the bus refuse such a report with it; a scheduler's `consume` logs it and goes on.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import type { Capabilities } from "effect-manager"
   * import * as Scheduler from "effect-manager/Scheduler"
   *
   * const ingest = (report: Capabilities.CapabilityReport) =>
   *   Effect.flatMap(Scheduler.Scheduler, (scheduler) => scheduler.ingest(report)).pipe(
   *     Effect.catchTag("MalformedReport", (error) => Effect.succeed(`${error.field}: ${error.reason}`))
   *   )
   * // e.g. Capability report from host "compute-1" refused: sequence must be a
   * // non-negative safe integer, got Infinity
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  MalformedReport,
  /**
   * A capabilities value that does not encode with its manager's schema, or whose encoded form
   * is not JSON; names the manager, the service, the host and the reason. {@link reports} logs
   * it and skips the value.
   *
   * @example
   * ```ts
   * import { Capabilities } from "effect-manager"
   *
   * const error = new Capabilities.UnencodableCapabilities({
   *   host: "compute-1", service: "compute", manager: "Compute", reason: "it is not JSON",
   * })
   * console.log(error.message)
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  UnencodableCapabilities,
} from "./internal/capabilities.ts"

export {
  /**
   * An option of {@link reports} that makes no sense — a `publishInterval` that is not a
   * finite duration > 0 — names the module, the option, the value and the rule; the stream
   * fails with it before it reports anything. The same error as every other module's options.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Schema from "effect/Schema"
   * import * as Stream from "effect/Stream"
   * import { Capabilities } from "effect-manager"
   *
   * const program = Capabilities.reports(
   *   { host: "compute-1", service: "compute", manager: "Compute" },
   *   Capabilities.make(Schema.Struct({}), Stream.make({})),
   *   { publishInterval: 0 },
   * ).pipe(
   *   Stream.runDrain,
   *   Effect.catchTag("InvalidOption", (error) => Effect.logError(error.message)),
   * )
   * // logs: Invalid option publishInterval of Capabilities: 0 must be a finite duration > 0
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
} from "./internal/options.ts"
