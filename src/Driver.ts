/**
 * One manager, many drivers: nova's `compute_driver = libvirt.LibvirtDriver` as a layer. A
 * driver is any service behind a `Context.Tag`; {@link fromConfig} picks its implementation by
 * a name read from the configuration, so the manager depends on the tag and never on a
 * particular driver.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Layer from "effect/Layer"
import type { UnknownDriver } from "./internal/driver.ts"
import * as internal from "./internal/driver.ts"

/**
 * The implementations of one driver tag, by name.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Layer from "effect/Layer"
 * import type * as Driver from "effect-manager/Driver"
 *
 * class Hypervisor extends Context.Tag("Hypervisor")<Hypervisor, { readonly name: string }>() {}
 *
 * const drivers: Driver.Drivers<Hypervisor> = {
 *   fake: Layer.succeed(Hypervisor, { name: "fake" }),
 *   libvirt: Layer.succeed(Hypervisor, { name: "libvirt" })
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Drivers<I> = { readonly [name: string]: Layer.Layer<I, any, any> }

/**
 * The errors of the layers in a {@link Drivers} record.
 *
 * @example
 * ```ts
 * import type * as Layer from "effect/Layer"
 * import type * as Driver from "effect-manager/Driver"
 *
 * type E = Driver.DriverError<{ a: Layer.Layer<string, "a failed">; b: Layer.Layer<string, "b failed"> }>
 * // "a failed" | "b failed"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type DriverError<Layers> = {
  [Name in keyof Layers]: Layers[Name] extends Layer.Layer<infer _A, infer E, infer _R> ? E
    : never
}[keyof Layers]

/**
 * The requirements of the layers in a {@link Drivers} record.
 *
 * @example
 * ```ts
 * import type * as Layer from "effect/Layer"
 * import type * as Driver from "effect-manager/Driver"
 *
 * type R = Driver.DriverContext<{ a: Layer.Layer<string, never, "A">; b: Layer.Layer<string> }>
 * // "A"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type DriverContext<Layers> = {
  [Name in keyof Layers]: Layers[Name] extends Layer.Layer<infer _A, infer _E, infer R> ? R
    : never
}[keyof Layers]

/**
 * A layer for `tag` that reads a driver name from `config` and builds the layer of that name.
 * A name that is not in `layers` fails with {@link UnknownDriver}, which names the config
 * key, the value and the known names; only the record's own names count, so `"toString"`,
 * `"constructor"` or `"__proto__"` is unknown unless the record defines it (for `"__proto__"`,
 * with a computed key `["__proto__"]`). A configuration that cannot be read fails with its
 * `ConfigError`. The layer's error and requirements are those of all the drivers.
 *
 * @example
 * ```ts
 * import * as Config from "effect/Config"
 * import * as Context from "effect/Context"
 * import * as Layer from "effect/Layer"
 * import * as Driver from "effect-manager/Driver"
 *
 * class Hypervisor extends Context.Tag("Hypervisor")<Hypervisor, { readonly name: string }>() {}
 *
 * const HypervisorLive = Driver.fromConfig(
 *   Hypervisor,
 *   Config.string("COMPUTE_DRIVER").pipe(Config.withDefault("fake")),
 *   {
 *     fake: Layer.succeed(Hypervisor, { name: "fake" }),
 *     libvirt: Layer.succeed(Hypervisor, { name: "libvirt" })
 *   }
 * )
 * // Layer<Hypervisor, UnknownDriver | ConfigError>
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig: <I, S, Layers extends Drivers<I>>(
  tag: Context.Tag<I, S>,
  config: Config.Config<string>,
  layers: Layers,
) => Layer.Layer<
  I,
  UnknownDriver | ConfigError.ConfigError | DriverError<Layers>,
  DriverContext<Layers>
> = internal.fromConfig

export {
  /**
   * The configured driver name is not one of the known drivers.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Driver from "effect-manager/Driver"
   *
   * const explain = (error: Driver.UnknownDriver) => Effect.logError(error.message)
   * // Unknown driver "xen" for Hypervisor (from config COMPUTE_DRIVER); known drivers: "fake", "libvirt"
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  UnknownDriver,
} from "./internal/driver.ts"
