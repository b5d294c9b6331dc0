/**
 * Service records: nova's `services` table and its servicegroup DB driver. A running service
 * registers once (host + topic), then reports a heartbeat every `report_interval`; anyone can
 * tell whether it is up with {@link isUp}. Records live in memory ({@link layerMemory}), in a
 * directory that several processes may share ({@link layerFileSystem}), or in a
 * `KeyValueStore` that one process uses ({@link layerKeyValueStore}).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as KeyValueStore from "@effect/platform/KeyValueStore"
import type * as Path from "@effect/platform/Path"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { ServiceNotFound, ServiceRegistryError } from "./internal/serviceRegistry.ts"
import * as internal from "./internal/serviceRegistry.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link ServiceRegistry}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const marked = Effect.map(
 *   ServiceRegistry.ServiceRegistry,
 *   (registry) => ServiceRegistry.TypeId in registry, // true
 * ).pipe(Effect.provide(ServiceRegistry.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * The schema of a service's RPC endpoint (see {@link ServiceEndpoint}).
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const decode = Schema.decodeUnknownSync(ServiceRegistry.ServiceEndpoint)
 * decode({ address: "ws://127.0.0.1:41234/rpc", apis: [{ version: "6.1" }] })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServiceEndpoint: Schema.Struct<{
  address: typeof Schema.String
  apis: Schema.Array$<
    Schema.Struct<{
      namespace: Schema.optional<typeof Schema.String>
      version: typeof Schema.String
    }>
  >
}> = internal.ServiceEndpoint

/**
 * Where a service takes RPC calls: the address its server is bound at, and each API it serves
 * (the manager's without namespace, the built-in `baseapi`, additional ones) with its version.
 *
 * @example
 * ```ts
 * import type * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const endpoint: ServiceRegistry.ServiceEndpoint = {
 *   address: "ws://127.0.0.1:41234/rpc",
 *   apis: [{ version: "6.1" }, { namespace: "baseapi", version: "1.1" }]
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceEndpoint extends Schema.Schema.Type<typeof ServiceEndpoint> {}

/**
 * The schema of a service record, so that a store can keep it as JSON.
 *
 * - `host`, `topic`: who the service is (nova's `host` and `binary`/`topic`).
 * - `reportCount`: heartbeats since the record was created.
 * - `createdAt`, `updatedAt`: epoch milliseconds of the registry's `Clock`; `updatedAt` is the
 *   last heartbeat (nova's `last_seen_up`).
 * - `disabled`: set by an operator; a disabled service still reports and can be up.
 * - `forcedDown`: set when the service stopped (nova's record merely stops beating; we say
 *   so), cleared when it registers again.
 * - `endpoint`: where the service takes RPC calls, once its server is up (absent otherwise).
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const text = Schema.encodeSync(Schema.parseJson(ServiceRegistry.ServiceRecord))({
 *   host: "node-1",
 *   topic: "compute",
 *   reportCount: 0,
 *   createdAt: 0,
 *   updatedAt: 0,
 *   disabled: false,
 *   forcedDown: false
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const ServiceRecord: Schema.Struct<{
  host: typeof Schema.String
  topic: typeof Schema.String
  reportCount: typeof Schema.NonNegativeInt
  createdAt: typeof Schema.Number
  updatedAt: typeof Schema.Number
  disabled: typeof Schema.Boolean
  forcedDown: typeof Schema.Boolean
  endpoint: Schema.optional<typeof ServiceEndpoint>
}> = internal.ServiceRecord

/**
 * One service's record. See the {@link ServiceRecord} schema for the fields.
 *
 * @example
 * ```ts
 * import type * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const describe = (record: ServiceRegistry.ServiceRecord) =>
 *   `${record.topic}@${record.host}: ${record.reportCount} reports`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceRecord extends Schema.Schema.Type<typeof ServiceRecord> {}

/**
 * The registry of service records. Every call is serialized, so a heartbeat and an operator's
 * change never overwrite each other.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const program = Effect.gen(function*() {
 *   const registry = yield* ServiceRegistry.ServiceRegistry
 *   yield* registry.register("node-1", "compute")
 *   return yield* registry.report("node-1", "compute")
 * }).pipe(Effect.provide(ServiceRegistry.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceRegistry {
  /** Marks the value as a service registry. */
  readonly [TypeId]: TypeId
  /**
   * Creates the record (report count 0, created and updated now), or returns the existing one
   * with `forcedDown` cleared. An existing record keeps its last heartbeat.
   */
  readonly register: (
    host: string,
    topic: string,
  ) => Effect.Effect<ServiceRecord, ServiceRegistryError>
  /** One heartbeat: the report count goes up by one and `updatedAt` becomes now. */
  readonly report: (
    host: string,
    topic: string,
  ) => Effect.Effect<ServiceRecord, ServiceNotFound | ServiceRegistryError>
  /** Marks a stopped service down until it registers again. */
  readonly markDown: (
    host: string,
    topic: string,
  ) => Effect.Effect<ServiceRecord, ServiceNotFound | ServiceRegistryError>
  /** An operator's switch; it does not change whether the service is up. */
  readonly setDisabled: (
    host: string,
    topic: string,
    disabled: boolean,
  ) => Effect.Effect<ServiceRecord, ServiceNotFound | ServiceRegistryError>
  /**
   * Where the service takes RPC calls, and which APIs at which versions (`Service` sets it once
   * its server is up); `undefined` removes it.
   */
  readonly setEndpoint: (
    host: string,
    topic: string,
    endpoint: ServiceEndpoint | undefined,
  ) => Effect.Effect<ServiceRecord, ServiceNotFound | ServiceRegistryError>
  /** The record of one service, if there is one. */
  readonly get: (
    host: string,
    topic: string,
  ) => Effect.Effect<Option.Option<ServiceRecord>, ServiceRegistryError>
  /** Every record, ordered by topic, then host. */
  readonly list: Effect.Effect<ReadonlyArray<ServiceRecord>, ServiceRegistryError>
}

/**
 * The service registry in the context; the layers of this module provide it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const records = Effect.flatMap(ServiceRegistry.ServiceRegistry, (registry) => registry.list)
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const ServiceRegistry: Context.Tag<ServiceRegistry, ServiceRegistry> = internal.tag

/**
 * nova's `service_is_up`: a service forced down is down; otherwise it is up while its last
 * heartbeat is at most `serviceDownTime` (default 60 s) away from `now`, either way, limit
 * included.
 *
 * @example
 * ```ts
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const record: ServiceRegistry.ServiceRecord = {
 *   host: "node-1",
 *   topic: "compute",
 *   reportCount: 3,
 *   createdAt: 0,
 *   updatedAt: 30_000,
 *   disabled: false,
 *   forcedDown: false
 * }
 * console.log(ServiceRegistry.isUp(record, 90_000)) // true
 * console.log(ServiceRegistry.isUp(record, 90_001)) // false
 * console.log(ServiceRegistry.isUp(record, 90_001, "2 minutes")) // true
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isUp: (
  record: ServiceRecord,
  now: number,
  serviceDownTime?: Duration.DurationInput,
) => boolean = internal.isUp

/**
 * The down time nova really uses: a `serviceDownTime` that is not longer than the
 * `reportInterval` would declare a healthy service down between two heartbeats, so it becomes
 * `reportInterval × 2.5`, in whole seconds (nova logs a warning when it does this).
 *
 * @example
 * ```ts
 * import * as Duration from "effect/Duration"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const downTime = ServiceRegistry.effectiveDownTime("10 seconds", "10 seconds")
 * console.log(Duration.toSeconds(downTime)) // 25
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const effectiveDownTime: (
  reportInterval: Duration.DurationInput,
  serviceDownTime: Duration.DurationInput,
) => Duration.Duration = internal.effectiveDownTime

/**
 * Records in memory: they last as long as the layer.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const program = Effect.flatMap(ServiceRegistry.ServiceRegistry, (registry) =>
 *   registry.register("node-1", "compute")
 * ).pipe(Effect.provide(ServiceRegistry.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ServiceRegistry> = internal.layerMemory

/**
 * Records in a `KeyValueStore`, one JSON value per record under
 * `service/<topic>/<host>` (both URI-encoded), plus the list of records under
 * `service/index`, since a `KeyValueStore` cannot list its keys. A record that is not valid
 * is logged as an error naming the key and the stored text, then treated as absent, so
 * `register` writes a fresh record. A list that is not valid (a write cut off by a crash) is
 * salvaged: its whole entries are kept, its text is copied to `service/index.corrupt`, and an
 * error says how many entries were recovered. Every record this registry has read or written
 * is put back in the list.
 *
 * One process per store: the list is one value that each write reads, changes and writes
 * back, so two processes over one store lose each other's entries. A record missing from the
 * list (the list removed, or an entry lost that this process never saw) cannot be found, since
 * the store cannot be listed. For a directory that several processes share, use
 * {@link layerFileSystem}: it lists the directory, one file per record written by rename.
 *
 * @example
 * ```ts
 * import * as KeyValueStore from "@effect/platform/KeyValueStore"
 * import * as Layer from "effect/Layer"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const registry = ServiceRegistry.layerKeyValueStore.pipe(
 *   Layer.provide(KeyValueStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore: Layer.Layer<
  ServiceRegistry,
  never,
  KeyValueStore.KeyValueStore
> = internal.layerKeyValueStore

/**
 * Records as files in `directory` (created if missing), one JSON file per record, named as
 * `KeyValueStore.layerFileSystem` names the key `service/<topic>/<host>`: a directory that
 * {@link layerKeyValueStore} wrote over `KeyValueStore.layerFileSystem` is read as it is.
 *
 * Made for several processes over one directory and for crashes: there is no shared list,
 * `list` reads the directory; a record is written to a temporary file (`.tmp-…`, ignored by
 * `list`) that is then renamed over the old one, so a reader sees the old record or the new
 * one, never a part. A temporary file is created exclusively (a name another process holds,
 * say one given the same seeded `Random`, is never shared: the next name is tried), and the
 * ones a crash left, older than a minute by the `Clock`, are removed when the layer starts.
 * Two processes that change the same
 * record at the same moment: the last write wins. A file that does not decode is logged as
 * an error naming it and its text, then treated as absent, as in {@link layerKeyValueStore}.
 *
 * @example
 * ```ts
 * import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
 * import * as NodePath from "@effect/platform-node/NodePath"
 * import * as Layer from "effect/Layer"
 * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
 *
 * const registry = ServiceRegistry.layerFileSystem("/var/lib/my-service/services").pipe(
 *   Layer.provide([NodeFileSystem.layer, NodePath.layer])
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFileSystem: (
  directory: string,
) => Layer.Layer<ServiceRegistry, ServiceRegistryError, FileSystem.FileSystem | Path.Path> =
  internal.layerFileSystem

export {
  /**
   * `report`, `markDown` or `setDisabled` named a service that has no record.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
   *
   * const beat = Effect.flatMap(ServiceRegistry.ServiceRegistry, (registry) =>
   *   registry.report("node-1", "compute")
   * ).pipe(Effect.catchTag("ServiceNotFound", (error) => Effect.logError(error.message)))
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ServiceNotFound,
  /**
   * The registry's store failed to read or write a key (or, for {@link layerFileSystem}, to
   * list or create its directory); names the key, file or directory, and the cause.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as ServiceRegistry from "effect-manager/ServiceRegistry"
   *
   * const records = Effect.flatMap(ServiceRegistry.ServiceRegistry, (registry) => registry.list).pipe(
   *   Effect.catchTag("ServiceRegistryError", (error) => Effect.as(Effect.logError(error.message), []))
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ServiceRegistryError,
} from "./internal/serviceRegistry.ts"
