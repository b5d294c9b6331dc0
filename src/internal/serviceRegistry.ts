import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Path from "@effect/platform/Path"
import * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Order from "effect/Order"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as ServiceRegistry from "../ServiceRegistry.ts"
import { DEFAULT_SERVICE_DOWN_TIME_MILLIS, heardWithin } from "./liveness.ts"

/** @internal */
export const TypeId: ServiceRegistry.TypeId = Symbol.for(
  "effect-manager/ServiceRegistry",
) as ServiceRegistry.TypeId

/** @internal */
export const tag: Context.Tag<ServiceRegistry.ServiceRegistry, ServiceRegistry.ServiceRegistry> =
  Context.GenericTag<ServiceRegistry.ServiceRegistry>("effect-manager/ServiceRegistry")

/** @internal */
export const ServiceEndpoint = Schema.Struct({
  address: Schema.String,
  apis: Schema.Array(
    Schema.Struct({ namespace: Schema.optional(Schema.String), version: Schema.String }),
  ),
})

/** @internal */
export const ServiceRecord = Schema.Struct({
  host: Schema.String,
  topic: Schema.String,
  reportCount: Schema.NonNegativeInt,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  disabled: Schema.Boolean,
  forcedDown: Schema.Boolean,
  endpoint: Schema.optional(ServiceEndpoint),
})

type ServiceRecord = ServiceRegistry.ServiceRecord

// Each error's base class has its type written out: JSR documents and type-checks
// the package from explicit types (no "slow types"), and cannot infer a call's.
const ServiceNotFoundBase: ReturnType<typeof Data.TaggedError<"ServiceNotFound">> = Data
  .TaggedError(
    "ServiceNotFound",
  )

/** @internal */
export class ServiceNotFound extends ServiceNotFoundBase<{
  readonly host: string
  readonly topic: string
}> {
  override get message(): string {
    return `No service record for topic ${JSON.stringify(this.topic)} on host ${
      JSON.stringify(this.host)
    }`
  }
}

const ServiceRegistryErrorBase: ReturnType<typeof Data.TaggedError<"ServiceRegistryError">> = Data
  .TaggedError(
    "ServiceRegistryError",
  )

/** @internal */
export class ServiceRegistryError extends ServiceRegistryErrorBase<{
  readonly operation: "read" | "write" | "list" | "migrate"
  readonly key: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Service registry could not ${this.operation} ${JSON.stringify(this.key)}: ${cause}`
  }
}

// --- liveness ------------------------------------------------------------------------------

/** @internal */
export const isUp = (
  record: ServiceRecord,
  now: number,
  serviceDownTime: Duration.DurationInput = DEFAULT_SERVICE_DOWN_TIME_MILLIS,
): boolean =>
  !record.forcedDown && heardWithin(record.updatedAt, now, Duration.toMillis(serviceDownTime))

/** @internal */
export const effectiveDownTime = (
  reportInterval: Duration.DurationInput,
  serviceDownTime: Duration.DurationInput,
): Duration.Duration => {
  const interval = Duration.toMillis(reportInterval)
  // nova's `int(report_interval * 2.5)`: whole seconds, as its options are.
  return Duration.toMillis(serviceDownTime) <= interval
    ? Duration.seconds(Math.floor((interval * 2.5) / 1000))
    : Duration.decode(serviceDownTime)
}

// --- the registry over a store ---------------------------------------------------------------

/** Where records live. The registry serializes every call, so a store need not. */
interface Store {
  readonly read: (
    host: string,
    topic: string,
  ) => Effect.Effect<Option.Option<ServiceRecord>, ServiceRegistryError>
  readonly write: (record: ServiceRecord) => Effect.Effect<void, ServiceRegistryError>
  readonly all: Effect.Effect<ReadonlyArray<ServiceRecord>, ServiceRegistryError>
}

/** @internal */
export const byTopicThenHost: Order.Order<ServiceRecord> = Order.combine(
  Order.mapInput(Order.string, (record: ServiceRecord) => record.topic),
  Order.mapInput(Order.string, (record: ServiceRecord) => record.host),
)

/** A line about one record names its service like the service's own lines do. */
const annotateRecord = (host: string, topic: string) => Effect.annotateLogs({ host, topic })

const make = (store: Store): Effect.Effect<ServiceRegistry.ServiceRegistry> =>
  Effect.gen(function* () {
    // Every call is a read-modify-write of one record: one at a time keeps heartbeats and
    // admin changes from overwriting each other.
    const lock = yield* Effect.makeSemaphore(1)
    const serialized = lock.withPermits(1)

    const update = (
      host: string,
      topic: string,
      f: (record: ServiceRecord, now: number) => ServiceRecord,
    ) =>
      serialized(Effect.gen(function* () {
        const found = yield* store.read(host, topic)
        if (Option.isNone(found)) return yield* new ServiceNotFound({ host, topic })
        const record = f(found.value, yield* Clock.currentTimeMillis)
        yield* store.write(record)
        return record
      })).pipe(annotateRecord(host, topic))

    const register = (host: string, topic: string) =>
      serialized(Effect.gen(function* () {
        const found = yield* store.read(host, topic)
        if (Option.isSome(found) && !found.value.forcedDown) return found.value
        // An existing record keeps its last heartbeat: like nova's, a restarted service is
        // up again from its first report.
        const record: ServiceRecord = Option.isSome(found)
          ? { ...found.value, forcedDown: false }
          : yield* Effect.map(Clock.currentTimeMillis, (now) => ({
            host,
            topic,
            reportCount: 0,
            createdAt: now,
            updatedAt: now,
            disabled: false,
            forcedDown: false,
          }))
        yield* store.write(record)
        return record
      })).pipe(annotateRecord(host, topic))

    return {
      [TypeId]: TypeId,
      register,
      report: (host, topic) =>
        update(host, topic, (record, now) => ({
          ...record,
          reportCount: record.reportCount + 1,
          updatedAt: now,
        })),
      markDown: (host, topic) => update(host, topic, (record) => ({ ...record, forcedDown: true })),
      setDisabled: (host, topic, disabled) =>
        update(host, topic, (record) => ({ ...record, disabled })),
      setEndpoint: (host, topic, endpoint) =>
        update(
          host,
          topic,
          ({ endpoint: _, ...record }) => endpoint === undefined ? record : { ...record, endpoint },
        ),
      get: (host, topic) => serialized(store.read(host, topic)).pipe(annotateRecord(host, topic)),
      list: serialized(Effect.map(store.all, Arr.sort(byTopicThenHost))),
    }
  })

// --- memory --------------------------------------------------------------------------------

const memoryKey = (host: string, topic: string) => JSON.stringify([topic, host])

/** @internal */
export const layerMemory: Layer.Layer<ServiceRegistry.ServiceRegistry> = Layer.effect(
  tag,
  Effect.gen(function* () {
    const records = yield* Ref.make(HashMap.empty<string, ServiceRecord>())
    return yield* make({
      read: (host, topic) => Effect.map(Ref.get(records), HashMap.get(memoryKey(host, topic))),
      write: (record) =>
        Ref.update(records, HashMap.set(memoryKey(record.host, record.topic), record)),
      all: Effect.map(Ref.get(records), (map) => Arr.fromIterable(HashMap.values(map))),
    })
  }),
)

// --- KeyValueStore -------------------------------------------------------------------------

/** @internal */
export const recordKey = (host: string, topic: string): string =>
  `service/${encodeURIComponent(topic)}/${encodeURIComponent(host)}`

/** The store cannot list its keys, so the registry keeps the list of its records itself. */
const INDEX_KEY = "service/index"

/** Where a corrupt index's text is kept for the operator before the index is rewritten. */
const CORRUPT_INDEX_KEY = "service/index.corrupt"

const ServiceId = Schema.Struct({ host: Schema.String, topic: Schema.String })
type ServiceId = typeof ServiceId.Type
const RecordJson = Schema.parseJson(ServiceRecord)
const IdJson = Schema.parseJson(ServiceId)
const IndexJson = Schema.parseJson(Schema.Array(ServiceId))

const STORED_TEXT_LIMIT = 200

const truncate = (text: string): string =>
  text.length <= STORED_TEXT_LIMIT ? text : `${text.slice(0, STORED_TEXT_LIMIT)}…`

/**
 * A stored value that does not decode is logged and read as absent: `register` then writes a
 * fresh one, so a damaged file never stops a service from starting.
 */
const decodeStored = <A>(
  key: string,
  stored: Option.Option<string>,
  schema: Schema.Schema<A, string>,
): Effect.Effect<Option.Option<A>> => {
  if (Option.isNone(stored)) return Effect.succeed(Option.none<A>())
  return Either.match(Schema.decodeEither(schema)(stored.value), {
    onRight: (value) => Effect.succeed(Option.some(value)),
    onLeft: (error) =>
      Effect.as(
        Effect.logError(
          `Service registry: the value stored at ${
            JSON.stringify(key)
          } is corrupt and is treated as absent; stored text: ${
            JSON.stringify(truncate(stored.value))
          }`,
        ).pipe(Effect.annotateLogs({ key, reason: error.message })),
        Option.none<A>(),
      ),
  })
}

const encodeRecord = (record: ServiceRecord): Effect.Effect<string> =>
  Schema.encode(RecordJson)(record).pipe(Effect.orDie)

const encodeIndex = (ids: ReadonlyArray<ServiceId>): Effect.Effect<string> =>
  Schema.encode(IndexJson)(ids).pipe(Effect.orDie)

/** The ids of `first`, then those of `second` that are new, each once, in their order. */
const mergeIds = (
  first: ReadonlyArray<ServiceId>,
  second: ReadonlyArray<ServiceId>,
): Array<ServiceId> => {
  const seen = new Set<string>()
  return [...first, ...second].filter((id) => {
    const key = memoryKey(id.host, id.topic)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/**
 * Every complete `{"host": …, "topic": …}` object in the text of a corrupt index: a write cut
 * off by a crash leaves the entries before the cut whole. An id holds no object, so a `{`
 * outside a string starts the object over, which keeps the scan linear; braces and quotes
 * inside a name are inside a JSON string and do not count.
 */
const salvageIds = (text: string): Array<ServiceId> => {
  const ids: Array<ServiceId> = []
  let start = -1 // where the object being read opens; -1 between objects
  let inString = false
  for (let at = 0; at < text.length; at++) {
    const char = text[at]
    if (inString) {
      if (char === "\\") at++
      else if (char === '"') inString = false
    } else if (char === "{") {
      start = at
    } else if (start >= 0 && char === '"') {
      inString = true
    } else if (start >= 0 && char === "}") {
      const id = Schema.decodeEither(IdJson)(text.slice(start, at + 1))
      if (Either.isRight(id)) ids.push({ host: id.right.host, topic: id.right.topic })
      start = -1
    }
  }
  return ids
}

const entries = (count: number) => `${count} ${count === 1 ? "entry" : "entries"}`

/** @internal */
export const layerKeyValueStore: Layer.Layer<
  ServiceRegistry.ServiceRegistry,
  never,
  KeyValueStore.KeyValueStore
> = Layer.effect(
  tag,
  Effect.gen(function* () {
    const kv = yield* KeyValueStore.KeyValueStore

    const get = (key: string) =>
      Effect.mapError(
        kv.get(key),
        (cause) => new ServiceRegistryError({ operation: "read", key, cause }),
      )
    const set = (key: string, text: string) =>
      Effect.mapError(
        kv.set(key, text),
        (cause) => new ServiceRegistryError({ operation: "write", key, cause }),
      )
    const read = <A>(key: string, schema: Schema.Schema<A, string>) =>
      Effect.flatMap(get(key), (stored) => decodeStored(key, stored, schema))

    // Every id this process has read or written: merged into the index whenever it is read, so
    // an index salvaged from a crash, or removed, never lists fewer services than we know.
    const known = yield* Ref.make<ReadonlyArray<ServiceId>>([])
    const remember = (ids: ReadonlyArray<ServiceId>) =>
      Ref.updateAndGet(known, (current) => mergeIds(current, ids))

    /** The ids left in a corrupt index, after its text is kept under `CORRUPT_INDEX_KEY`. */
    const salvage = (text: string, reason: string) =>
      Effect.gen(function* () {
        const ids = salvageIds(text)
        yield* set(CORRUPT_INDEX_KEY, text)
        yield* Effect.logError(
          `Service registry: the index stored at ${JSON.stringify(INDEX_KEY)} is corrupt; ${
            entries(ids.length)
          } recovered from it, its text kept under ${
            JSON.stringify(CORRUPT_INDEX_KEY)
          }; stored text: ${JSON.stringify(truncate(text))}`,
        ).pipe(Effect.annotateLogs({ key: INDEX_KEY, reason }))
        return ids
      })

    /** `ids` with every known id, written back as the index if it lacked one or `rewrite`. */
    const withKnown = (ids: ReadonlyArray<ServiceId>, rewrite: boolean) =>
      Effect.gen(function* () {
        const all = mergeIds(ids, yield* remember(ids))
        if (rewrite || all.length !== ids.length) yield* set(INDEX_KEY, yield* encodeIndex(all))
        return all
      })

    const index = Effect.gen(function* () {
      const stored = yield* get(INDEX_KEY)
      if (Option.isNone(stored)) return yield* withKnown([], false)
      const decoded = Schema.decodeEither(IndexJson)(stored.value)
      if (Either.isRight(decoded)) return yield* withKnown(decoded.right, false)
      return yield* withKnown(yield* salvage(stored.value, decoded.left.message), true)
    })

    return yield* make({
      read: (host, topic) =>
        Effect.tap(
          read(recordKey(host, topic), RecordJson),
          (found) => Option.isSome(found) ? remember([{ host, topic }]) : Effect.void,
        ),
      write: (record) =>
        Effect.gen(function* () {
          yield* set(recordKey(record.host, record.topic), yield* encodeRecord(record))
          yield* remember([{ host: record.host, topic: record.topic }])
          yield* index
        }),
      all: Effect.flatMap(index, (ids) =>
        Effect.map(
          Effect.forEach(ids, (id) =>
            read(recordKey(id.host, id.topic), RecordJson).pipe(annotateRecord(id.host, id.topic))),
          Arr.getSomes,
        )),
    })
  }),
)

// --- file system -------------------------------------------------------------------------------

/** A record's file: the name `KeyValueStore.layerFileSystem` gives the record's key. */
const recordFile = (host: string, topic: string): string =>
  encodeURIComponent(recordKey(host, topic))

/** `service/<topic>/<host>`, both parts URI-encoded, so neither holds a slash. */
const RECORD_KEY = /^service\/[^/]+\/[^/]+$/

const isRecordFile = (name: string): boolean => {
  try {
    return RECORD_KEY.test(decodeURIComponent(name))
  } catch {
    return false
  }
}

/** Written first, then renamed over the record: never listed, and left only by a crash. */
const TEMP_PREFIX = ".tmp-"

/** A temporary file older than this was left by a crash: a write takes far less. */
const STALE_TEMP_MILLIS = 60_000

/** Names tried for one temporary file before the write fails. */
const TEMP_NAME_ATTEMPTS = 16

const isReason = (reason: string) => (error: PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === reason

/**
 * Removes the temporary files that crashes left in `directory` (older than
 * `STALE_TEMP_MILLIS` by the `Clock`), so that they do not pile up. A file that another process
 * removes first, or that cannot be read, is left to it.
 */
const removeStaleTemps = (fs: FileSystem.FileSystem, path: Path.Path, directory: string) =>
  Effect.gen(function* () {
    const names = yield* fs.readDirectory(directory)
    const now = yield* Clock.currentTimeMillis
    const removed = yield* Effect.forEach(
      names.filter((name) => name.startsWith(TEMP_PREFIX)),
      (name) => {
        const file = path.join(directory, name)
        return fs.stat(file).pipe(
          Effect.flatMap((info) =>
            Option.exists(info.mtime, (mtime) => now - mtime.getTime() > STALE_TEMP_MILLIS)
              ? Effect.as(fs.remove(file), 1)
              : Effect.succeed(0)
          ),
          Effect.orElseSucceed(() => 0),
        )
      },
    )
    const count = removed.reduce((sum, one) => sum + one, 0)
    if (count > 0) {
      yield* Effect.logInfo(
        `Service registry: removed ${count} temporary file(s) that a crash left in ${directory}`,
      )
    }
  }).pipe(Effect.orElseSucceed(() => undefined))

/** @internal */
export const layerFileSystem = (
  directory: string,
): Layer.Layer<
  ServiceRegistry.ServiceRegistry,
  ServiceRegistryError,
  FileSystem.FileSystem | Path.Path
> =>
  Layer.effect(
    tag,
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const failed =
        (operation: "read" | "write" | "list", key: string) => (cause: PlatformError) =>
          new ServiceRegistryError({ operation, key, cause })
      yield* fs.makeDirectory(directory, { recursive: true }).pipe(
        Effect.mapError(failed("write", directory)),
      )
      yield* removeStaleTemps(fs, path, directory)
      // Temporary names: a draw made once per layer, then a counter. Processes given the same
      // seeded Random draw alike; the exclusive create ("wx") then sends one to the next name.
      const layerId = (yield* Random.nextInt).toString(36)
      let tempCount = 0
      const createTemp = (text: string, attempt = 1): Effect.Effect<string, PlatformError> =>
        Effect.suspend(() => {
          const temp = path.join(
            directory,
            `${TEMP_PREFIX}${layerId}-${(tempCount++).toString(36)}`,
          )
          return fs.writeFileString(temp, text, { flag: "wx" }).pipe(
            Effect.as(temp),
            Effect.catchAll((error) =>
              !isReason("AlreadyExists")(error)
                ? Effect.zipRight(Effect.ignore(fs.remove(temp)), Effect.fail(error))
                : attempt < TEMP_NAME_ATTEMPTS
                ? createTemp(text, attempt + 1)
                : Effect.fail(error)
            ),
          )
        })

      const readFile = (name: string) => {
        const file = path.join(directory, name)
        return fs.readFileString(file).pipe(
          Effect.map(Option.some),
          // A file gone between listing and reading is no record.
          Effect.catchIf(isReason("NotFound"), () => Effect.succeed(Option.none<string>())),
          Effect.mapError(failed("read", file)),
          Effect.flatMap((stored) => decodeStored(file, stored, RecordJson)),
        )
      }

      // Another process may write the same directory: a whole file is renamed into place, so
      // a reader never sees half a record, and a crash leaves the previous one.
      const write = (record: ServiceRecord) =>
        Effect.gen(function* () {
          const file = path.join(directory, recordFile(record.host, record.topic))
          const text = yield* encodeRecord(record)
          yield* createTemp(text).pipe(
            Effect.flatMap((temp) =>
              fs.rename(temp, file).pipe(Effect.tapError(() => Effect.ignore(fs.remove(temp))))
            ),
            Effect.mapError(failed("write", file)),
          )
        })

      const all = fs.readDirectory(directory).pipe(
        Effect.mapError(failed("list", directory)),
        Effect.flatMap((names) => Effect.forEach(names.filter(isRecordFile), readFile)),
        Effect.map(Arr.getSomes),
      )

      return yield* make({
        read: (host, topic) => readFile(recordFile(host, topic)),
        write,
        all,
      })
    }),
  )
