/**
 * A manager owns one aspect of a system; other code changes that aspect only through it. Here a
 * manager is a layer: `build` creates its state (refs, a driver taken from the context) and
 * returns its service — an ordinary `Context.Tag` service any Effect code calls directly — with
 * its lifecycle: nova's `init_host`, `pre_start_hook`, `post_start_hook`, `cleanup_host`,
 * `reset`, its periodic tasks, its capabilities and its RPC API version. A `Service` runs the
 * lifecycle; there is no base class to extend.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Capabilities } from "./Capabilities.ts"
import * as internalCapabilities from "./internal/capabilities.ts"
import type { InvalidApiVersion } from "./internal/manager.ts"
import * as internal from "./internal/manager.ts"
import type { PeriodicTask } from "./PeriodicTask.ts"
import type * as internalEndpoint from "./internal/remote/endpoint.ts"

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { Manager } from "effect-manager"
 *
 * type Marker = Manager.ManagerLayer<unknown>[Manager.TypeId] // { tag, _E? }
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a layer made by {@link layer}; it holds the manager's tag.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import { Manager } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
 * const VolumesManager = Manager.layer(Volumes, Effect.succeed({ service: {} }))
 * console.log(VolumesManager[Manager.TypeId].tag.key) // "Volumes"
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * What `build` returns: the manager's service and its lifecycle. Every hook is optional (nova's
 * hooks default to no-ops) and may fail with `E`, which reaches the service layer's error type.
 * `Manager.layer` takes each hook's own error and requirements (see {@link DefinitionError}).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import type { Manager } from "effect-manager"
 *
 * const definition: Manager.Definition<{ readonly ping: Effect.Effect<string> }> = {
 *   service: { ping: Effect.succeed("pong") },
 *   init: Effect.log("init_host"),
 *   cleanup: () => Effect.log("cleanup_host"),
 *   apiVersion: "1.1",
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<S, E = never, R = never> {
  /** The manager's service, provided under its tag. */
  readonly service: S
  /** nova's `init_host`: before the service record exists. */
  readonly init?: Effect.Effect<void, E, R> | undefined
  /** nova's `pre_start_hook`: after the record exists, before RPC consumers start. */
  readonly preStart?: Effect.Effect<void, E, R> | undefined
  /** nova's `post_start_hook`: once the service runs. */
  readonly postStart?: Effect.Effect<void, E, R> | undefined
  /** nova's `cleanup_host`, on stop; given the `Exit` of the start (a failure if the start failed). */
  readonly cleanup?: ((start: Exit.Exit<void, unknown>) => Effect.Effect<void, E, R>) | undefined
  /** nova's `reset`, on SIGHUP: re-read dynamic configuration. */
  readonly reset?: Effect.Effect<void, E, R> | undefined
  /** The manager's periodic tasks, run by the service's runner. */
  readonly tasks?: ReadonlyArray<PeriodicTask<E, R>> | undefined
  /** Published to a scheduler (see {@link capabilities}). */
  readonly capabilities?: Capabilities<any, any, E, R> | undefined
  /** nova's `RPC_API_VERSION`: "major.minor" or "major.minor.revision" (oslo.messaging's rules). Default "1.0". */
  readonly apiVersion?: string | undefined
  /**
   * The manager's remote API, made with `Remote.endpoint` in `build` so that its handlers close
   * over the manager's state; served at `apiVersion` by a service that has a `Remote` server.
   */
  readonly api?: RemoteEndpoint | undefined
  /**
   * More APIs the service serves for this manager (nova's `additional_endpoints`), each at its
   * own namespace and version (1.0 when it gives none, as oslo's targets), tried after the
   * managers' own APIs and the built-in `baseapi`.
   */
  readonly additionalEndpoints?: ReadonlyArray<RemoteEndpoint> | undefined
}

/** The effects of a definition's hooks, tasks and capabilities, as a union. */
type HookEffect<D> = EffectOf<
  D[keyof D & ("init" | "preStart" | "postStart" | "cleanup" | "reset" | "tasks" | "capabilities")]
>

type EffectOf<F> = F extends Effect.Effect<infer _A, infer _E, infer _R> ? F
  : F extends (start: never) => infer H ? H
  : F extends ReadonlyArray<PeriodicTask<infer E, infer R>> ? Effect.Effect<void, E, R>
  : F extends Capabilities<infer _A, infer _I, infer E, infer R> ? Effect.Effect<void, E, R>
  : never

/**
 * What a definition's hooks, tasks and capabilities may fail with: the union of each one's own
 * error (a hook that is absent adds nothing).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import type { Manager } from "effect-manager"
 *
 * const definition = {
 *   service: {},
 *   init: Effect.fail("no volume group" as const),
 *   reset: Effect.fail("unreadable configuration" as const),
 * }
 * type E = Manager.DefinitionError<typeof definition> // "no volume group" | "unreadable configuration"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type DefinitionError<D> = HookEffect<D> extends infer H
  ? H extends Effect.Effect<infer _A, infer E, infer _R> ? E : never
  : never

/**
 * What a definition's hooks, tasks and capabilities need from the context: the union of each
 * one's own requirements (a hook that is absent adds nothing).
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import type { Manager } from "effect-manager"
 *
 * class Lvm extends Context.Tag("Lvm")<Lvm, { readonly scan: Effect.Effect<void> }>() {}
 * class Database extends Context.Tag("Database")<Database, { readonly ping: Effect.Effect<void> }>() {}
 *
 * const definition = {
 *   service: {},
 *   init: Effect.flatMap(Lvm, (lvm) => lvm.scan),
 *   postStart: Effect.flatMap(Database, (database) => database.ping),
 * }
 * type R = Manager.DefinitionRequirements<typeof definition> // Lvm | Database
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type DefinitionRequirements<D> = HookEffect<D> extends infer H
  ? H extends Effect.Effect<infer _A, infer _E, infer R> ? R : never
  : never

/**
 * A parsed "major.minor" API version.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Service } from "effect-manager"
 *
 * // A service's status shows each manager's version as "major.minor".
 * const versions = Effect.map(
 *   Effect.flatMap(Service.Service, (service) => service.status),
 *   (status) => status.managers.map((manager) => `${manager.name} ${manager.apiVersion}`),
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiVersion {
  /** Changes when the manager's interface changes incompatibly. */
  readonly major: number
  /** Changes when the manager's interface grows compatibly. */
  readonly minor: number
  /** Changes for a compatible fix within one minor (oslo's third part); 0 when not written. */
  readonly revision: number
}

/**
 * A manager's lifecycle as the service sees it: every hook already has the context the manager
 * was built in.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import { Manager } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
 * const VolumesManager = Manager.layer(Volumes, Effect.succeed({ service: {}, apiVersion: "1.2" }))
 *
 * const version = Effect.scoped(Effect.map(
 *   Layer.build(VolumesManager),
 *   (context) => Context.get(context, Manager.lifecycleTag(Volumes)).apiVersion,
 * )) // { major: 1, minor: 2 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Lifecycle<E> {
  /** The manager's name: its tag's key. */
  readonly name: string
  /** The definition's `apiVersion`, parsed; 1.0 when it gave none. */
  readonly apiVersion: ApiVersion
  /** nova's `init_host`; a no-op when the definition has none. */
  readonly init: Effect.Effect<void, E>
  /** nova's `pre_start_hook`; a no-op when the definition has none. */
  readonly preStart: Effect.Effect<void, E>
  /** nova's `post_start_hook`; a no-op when the definition has none. */
  readonly postStart: Effect.Effect<void, E>
  /** nova's `cleanup_host`, given the `Exit` of the start; a no-op when the definition has none. */
  readonly cleanup: (start: Exit.Exit<void, unknown>) => Effect.Effect<void, E>
  /** nova's `reset`; a no-op when the definition has none. */
  readonly reset: Effect.Effect<void, E>
  /** The manager's periodic tasks; empty when the definition has none. */
  readonly tasks: ReadonlyArray<PeriodicTask<E>>
  /** What the manager publishes to a scheduler, if anything. */
  readonly capabilities: Capabilities<unknown, unknown, E> | undefined
  /** Its remote APIs, its own first, each with the version it is served at; empty when none. */
  readonly endpoints: ReadonlyArray<ServedEndpoint>
}

/**
 * A remote API a manager serves, made by `Remote.endpoint` (module `effect-manager/Remote`) from
 * an `@effect/rpc` group and its handlers: opaque here, with its namespace, the version it is
 * served at if it says one, and the version each method appeared in.
 *
 * @example
 * ```ts
 * import type { Manager } from "effect-manager"
 *
 * const methods = (endpoint: Manager.RemoteEndpoint) => [...endpoint.since.keys()]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteEndpoint extends internalEndpoint.Endpoint {}

/**
 * A remote API of a manager and the version it is served at.
 *
 * @example
 * ```ts
 * import type { Manager } from "effect-manager"
 *
 * const describe = (served: Manager.ServedEndpoint) =>
 *   `${served.endpoint.namespace ?? "(manager)"} ${served.version.major}.${served.version.minor}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ServedEndpoint {
  /** The API. */
  readonly endpoint: RemoteEndpoint
  /** The version it is served at. */
  readonly version: ApiVersion
  /** Whether it is one of the manager's `additionalEndpoints` (false: its own `api`). */
  readonly additional: boolean
}

/**
 * The identifier under which a manager layer provides its {@link Lifecycle}, next to its service.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import { Manager } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
 * const lifecycle: Context.Tag<Manager.LifecycleOf<Volumes>, Manager.Lifecycle<unknown>> =
 *   Manager.lifecycleTag(Volumes)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LifecycleOf<I> {
  /** Keeps the identifier nominal: no other type is a `LifecycleOf`. */
  readonly _: unique symbol
  /** The manager's service identifier, which tells one manager's lifecycle from another's. */
  readonly manager: I
}

/**
 * A manager: a layer that provides the manager's service `I` (and its lifecycle, for the
 * `Service` that runs it). Built on its own it provides the service without running any hook,
 * which is handy in tests; wrap it in `Service.layer` to run it the way nova does.
 * `E` is what its hooks fail with, `EB` what its build fails with, `R` what it needs.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import { Manager } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
 * class NoVolumeGroup {
 *   readonly _tag = "NoVolumeGroup"
 * }
 * const VolumesManager: Manager.ManagerLayer<Volumes, NoVolumeGroup, Manager.InvalidApiVersion> =
 *   Manager.layer(Volumes, Effect.succeed({ service: {}, init: Effect.fail(new NoVolumeGroup()) }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ManagerLayer<in out I, out E = never, out EB = never, out R = never>
  extends Layer.Layer<I | LifecycleOf<I>, EB, R> {
  /** The manager's tag, and its hook error `E` at the type level only. */
  readonly [TypeId]: { readonly tag: Context.ReadonlyTag<I, unknown>; readonly _E?: E }
}

/**
 * Any manager layer, whatever its service, errors and requirements: what `Service.layer` takes.
 * Every {@link ManagerLayer} is one.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import { Manager } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
 * const managers: ReadonlyArray<Manager.AnyManagerLayer> = [
 *   Manager.layer(Volumes, Effect.succeed({ service: {} })),
 * ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface AnyManagerLayer extends Layer.Layer<never, unknown, unknown> {
  /** The manager's tag, whose key names the manager. */
  readonly [TypeId]: { readonly tag: { readonly key: string } }
}

/**
 * Defines a manager. `build` runs when the layer is built (nova constructs its manager when the
 * service is created, before it starts); it may create refs, read a driver from the context and
 * register finalizers. The layer's hook error is the union of the hooks' own errors, and its
 * requirements are those of `build` and of every hook, task and capabilities stream (which
 * run later, in the context the layer was built in).
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Ref from "effect/Ref"
 * import { Manager, PeriodicTask } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {
 *   readonly create: (size: number) => Effect.Effect<string>
 * }>() {}
 *
 * const VolumesManager = Manager.layer(Volumes, Effect.gen(function* () {
 *   const volumes = yield* Ref.make<ReadonlyArray<number>>([])
 *   return {
 *     service: {
 *       create: (size) => Ref.modify(volumes, (all) => [`volume-${all.length}`, [...all, size]]),
 *     },
 *     init: Effect.log("checking the volume group"),
 *     tasks: [PeriodicTask.spaced("audit_volumes", "1 minute", Effect.log("audit"))],
 *     apiVersion: "1.2",
 *   }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const layer: <I, S, D extends Definition<S, unknown, unknown>, EB = never, R = never>(
  tag: Context.Tag<I, S>,
  build: Effect.Effect<D, EB, R>,
) => ManagerLayer<
  I,
  DefinitionError<D>,
  EB | InvalidApiVersion,
  Exclude<R | DefinitionRequirements<D>, Scope.Scope>
> = internal.layer

/**
 * Describes a manager's capabilities: a `Stream` of values and the `Schema` that describes them.
 * The same function as `Capabilities.make`.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as Stream from "effect/Stream"
 * import { Manager } from "effect-manager"
 *
 * const Resources = Schema.Struct({ freeRamMb: Schema.Number, freeVcpus: Schema.Number })
 * const capabilities = Manager.capabilities(Resources, Stream.make({ freeRamMb: 4096, freeVcpus: 8 }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const capabilities: <A, I, E = never, R = never>(
  schema: Schema.Schema<A, I>,
  stream: Stream.Stream<A, E, R>,
) => Capabilities<A, I, E, R> = internalCapabilities.make

/**
 * The tag under which a manager layer provides its lifecycle.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import { Manager } from "effect-manager"
 *
 * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
 * const lifecycle = Manager.lifecycleTag(Volumes) // Context.Tag<LifecycleOf<Volumes>, Lifecycle<unknown>>
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const lifecycleTag: <I>(
  tag: Context.ReadonlyTag<I, unknown>,
) => Context.Tag<LifecycleOf<I>, Lifecycle<unknown>> = internal.lifecycleTag

/**
 * Returns `true` for a layer made by {@link layer}.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { Manager } from "effect-manager"
 *
 * console.log(Manager.isManagerLayer(Layer.empty)) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isManagerLayer: (u: unknown) => u is ManagerLayer<unknown, unknown, unknown> =
  internal.isManagerLayer

export {
  /**
   * A manager's `apiVersion` is not "major.minor"; names the manager and the value. Its layer
   * fails with it when built.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager } from "effect-manager"
   *
   * class Volumes extends Context.Tag("Volumes")<Volumes, {}>() {}
   * const VolumesManager = Manager.layer(Volumes, Effect.succeed({ service: {}, apiVersion: "v1" }))
   * const program = Effect.scoped(Layer.build(VolumesManager)).pipe(
   *   Effect.catchTag("InvalidApiVersion", (error) => Effect.logError(error.message)),
   * )
   * // logs: Manager "Volumes": apiVersion must be "major.minor" or "major.minor.revision" in whole numbers (e.g. "1.0", "6.1", "4.10.2"), got "v1"
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidApiVersion,
} from "./internal/manager.ts"

export type {
  /**
   * A manager's capabilities (the same type as `Capabilities.Capabilities`): a `Stream` of
   * values described by a `Schema`, which the scheduler that consumes them decodes with.
   *
   * @example
   * ```ts
   * import * as Schema from "effect/Schema"
   * import * as Stream from "effect/Stream"
   * import type { Manager } from "effect-manager"
   *
   * const Resources = Schema.Struct({ freeRamMb: Schema.Number })
   * const capabilities: Manager.Capabilities<typeof Resources.Type, typeof Resources.Encoded> = {
   *   schema: Resources,
   *   stream: Stream.make({ freeRamMb: 4096 }),
   * }
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  Capabilities,
} from "./Capabilities.ts"
