/**
 * The capability bus: where services publish their managers' {@link CapabilityReport}s and
 * where a scheduler reads them — old nova's fanout cast to the "scheduler" topic, in process.
 * Every subscriber gets every report published after it subscribed, in order.
 *
 * The bus is bounded: each subscriber has a sliding buffer of `capacity` reports, so a slow
 * subscriber loses the oldest reports instead of growing memory. A scheduler keeps only the
 * latest report per host, service and manager ("latest wins") and reports carry a `sequence`,
 * so a dropped older report changes nothing it would have kept.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { CapabilityReport, MalformedReport } from "./Capabilities.ts"
import * as internal from "./internal/capabilityBus.ts"
import type { InvalidOption } from "./internal/options.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link CapabilityBus}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as CapabilityBus from "effect-manager/CapabilityBus"
 *
 * const marked = Effect.scoped(
 *   Effect.map(CapabilityBus.make(), (bus) => CapabilityBus.TypeId in bus), // true
 * )
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * Options of {@link make} and {@link layer}.
 *
 * @example
 * ```ts
 * import type * as CapabilityBus from "effect-manager/CapabilityBus"
 *
 * const options: CapabilityBus.Options = { capacity: 1024 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Reports buffered per subscriber before the oldest are dropped. Default 4096. */
  readonly capacity?: number | undefined
}

/**
 * Carries capability reports from publishers to subscribers. `publish` never waits; it fails
 * only with {@link MalformedReport} when the report's envelope breaks the rules of
 * `CapabilityReport`, and then nobody receives it. Subscribers receive a copy of the envelope
 * (the `capabilities` value itself is shared), not the publisher's object.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 * import * as CapabilityBus from "effect-manager/CapabilityBus"
 *
 * const firstReport = Effect.gen(function* () {
 *   const bus = yield* CapabilityBus.CapabilityBus
 *   return yield* Stream.runHead(bus.reports)
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CapabilityBus {
  /** Marks the value as a capability bus. */
  readonly [TypeId]: TypeId
  /** Reports buffered per subscriber before the oldest are dropped. */
  readonly capacity: number
  /** Sends a report to every current subscriber, or refuses a malformed one. */
  readonly publish: (report: CapabilityReport) => Effect.Effect<void, MalformedReport>
  /** The reports published after the stream starts running, in order. */
  readonly reports: Stream.Stream<CapabilityReport>
  /**
   * Subscribes now and returns the reports published from now on, for as long as the scope
   * is open: nothing published between this call and running the stream is missed.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<CapabilityReport>, never, Scope.Scope>
}

/**
 * The capability bus. A `Service` whose context has one publishes its managers' capabilities
 * on it; without one, it publishes nothing.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as CapabilityBus from "effect-manager/CapabilityBus"
 *
 * const announce = Effect.flatMap(CapabilityBus.CapabilityBus, (bus) =>
 *   bus.publish({
 *     host: "compute-1", service: "compute", manager: "Compute",
 *     capabilities: { freeRamMb: 2048 }, timestamp: 0, sequence: 1,
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const CapabilityBus: Context.Tag<CapabilityBus, CapabilityBus> = internal.tag

/**
 * A bus in the current scope; its streams end when the scope closes.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 * import * as CapabilityBus from "effect-manager/CapabilityBus"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const bus = yield* CapabilityBus.make({ capacity: 16 })
 *   const reports = yield* bus.subscribe
 *   yield* bus.publish({
 *     host: "compute-1", service: "compute", manager: "Compute",
 *     capabilities: {}, timestamp: 0, sequence: 1,
 *   })
 *   return yield* Stream.runHead(reports)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options,
) => Effect.Effect<CapabilityBus, InvalidOption, Scope.Scope> = internal.make

/**
 * A layer with a bus; provide it to the services that publish and to the scheduler that reads.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import * as CapabilityBus from "effect-manager/CapabilityBus"
 * import { Service, ServiceRegistry } from "effect-manager"
 *
 * const Compute = Service.layer({ host: "compute-1", topic: "compute" }).pipe(
 *   Layer.provide(Layer.merge(ServiceRegistry.layerMemory, CapabilityBus.layer())),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options?: Options,
) => Layer.Layer<CapabilityBus, InvalidOption> = internal.layer

export {
  /**
   * A bus option that makes no sense — a `capacity` that is not a positive integer (or is past
   * 2^53 − 1) — names the module, the option, the value and the rule; {@link make} and
   * {@link layer} fail with it before anything starts. The same error as every other module's
   * options.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as CapabilityBus from "effect-manager/CapabilityBus"
   *
   * const program = Effect.scoped(CapabilityBus.make({ capacity: 0 })).pipe(
   *   Effect.catchTag("InvalidOption", (error) => Effect.logError(error.message)),
   * )
   * // logs: Invalid option capacity of CapabilityBus: 0 must be a positive integer
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
} from "./internal/options.ts"
