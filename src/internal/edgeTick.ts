// A tick on an edge runtime, and where it keeps its state between invocations: a store of our own
// (get and set of a text by key) rather than @effect/platform's `KeyValueStore`, whose `make`
// builds `forSchema` on effect/Schema and whose errors are Schema classes — about 15 KB of a
// gzipped Worker (README, Size). The adapter from a `KeyValueStore` is in `edgeKeyValueStore.ts`,
// so a Worker that does not use it does not bundle it.
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as PeriodicRunnerApi from "../PeriodicRunner.ts"
import type * as PeriodicTask from "../PeriodicTask.ts"
import * as PeriodicRunner from "./runner/runner.ts"
import { show } from "./validate.ts"

/** @internal */
export interface EdgeTickOptions {
  readonly key?: string | undefined
  readonly mode?: PeriodicRunnerApi.Mode | undefined
}

/** @internal */
export const DEFAULT_KEY = "effect-manager/periodic"

/** @internal Where a tick keeps its state between invocations. */
export interface Store {
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, StoreError>
  readonly set: (key: string, value: string) => Effect.Effect<void, StoreError>
}

/** @internal */
export const Store: Context.Tag<Store, Store> = Context.GenericTag<Store>(
  "effect-manager/platform/workers/Store",
)

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const StoreErrorBase: ReturnType<typeof Data.TaggedError<"StoreError">> = Data.TaggedError(
  "StoreError",
)

/** @internal A store's read or write that failed: which one, the key, and the store's error. */
export class StoreError extends StoreErrorBase<{
  readonly method: "get" | "set"
  readonly key: string
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Could not ${this.method} ${
      JSON.stringify(this.key)
    } in the periodic task store: ${reason}`
  }
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * @internal Reads what is kept between invocations: a JSON object's entries, in order, or why the
 * text is not one. Task names are data (`"__proto__"` is a name like any other), so the entries
 * go into a `Map`; {@link writeState} writes them back through `Object.fromEntries`, which
 * defines own properties. Checking each entry is the caller's: one bad entry must not cost the
 * others their turn.
 *
 * @example
 * ```ts
 * readState(`{"__proto__":65000}`) // Right(Map { "__proto__" => 65000 })
 * readState("[1]") // Left("is not a JSON object")
 * ```
 */
export const readState = (text: string): Either.Either<ReadonlyMap<string, unknown>, string> => {
  const parsed = Either.try(() => JSON.parse(text) as unknown)
  return Either.isLeft(parsed)
    ? Either.left("is not JSON")
    : isRecord(parsed.right)
    ? Either.right(new Map(Object.entries(parsed.right)))
    : Either.left("is not a JSON object")
}

/**
 * @internal What is kept between invocations: each task's next due instant, by task name, as a
 * JSON object's text.
 *
 * @example
 * ```ts
 * writeState(new Map([["report", 35_000]])) // `{"report":35000}`
 * ```
 */
export const writeState = (next: ReadonlyMap<string, number>): string =>
  JSON.stringify(Object.fromEntries(next))

/** A next due instant in epoch milliseconds (`1e999` is JSON, and parses to Infinity). */
const isInstant = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

/**
 * Reads the state leniently: a state that is not a JSON object is replaced; an entry that is
 * not an instant is dropped, the others are kept: a bad value must not fail every later
 * invocation.
 */
const decodeState = (key: string, text: string): Effect.Effect<Map<string, number>> =>
  Effect.gen(function* () {
    const resume = new Map<string, number>()
    const entries = readState(text)
    if (Either.isLeft(entries)) {
      yield* Effect.logError(
        `Stored periodic task state under ${JSON.stringify(key)} ${entries.left} (${
          JSON.stringify(text.slice(0, 200))
        }); starting afresh`,
      ).pipe(Effect.annotateLogs("key", key))
      return resume
    }
    for (const [task, at] of entries.right) {
      if (isInstant(at)) {
        resume.set(task, at)
      } else {
        yield* Effect.logWarning(
          `Stored next run of task ${JSON.stringify(task)} under ${
            JSON.stringify(key)
          } is not a finite instant (got ${show(at)}); dropped, the task starts afresh`,
        ).pipe(Effect.annotateLogs({ key, periodicTask: task }))
      }
    }
    return resume
  })

/** @internal */
export const tick = <E, R>(
  tasks: ReadonlyArray<PeriodicTask.PeriodicTask<E, R>>,
  options: EdgeTickOptions = {},
) =>
  Effect.gen(function* () {
    const key = options.key ?? DEFAULT_KEY
    const store = yield* Store
    const stored = yield* store.get(key)
    const resume = Option.isNone(stored) ? new Map<string, number>() : yield* decodeState(
      key,
      stored.value,
    )
    const runner = yield* PeriodicRunner.make(tasks, {
      start: false,
      mode: options.mode,
      resume,
    })
    const save = Effect.gen(function* () {
      const status = yield* runner.status
      const next = new Map<string, number>()
      for (const task of status.tasks) {
        if (Option.isSome(task.nextRunAt)) next.set(task.name, task.nextRunAt.value)
      }
      // The runner holds finite instants only, which JSON writes as they are.
      yield* store.set(key, writeState(next))
    })
    // Saved also when a "fail"-policy task failed the tick: the tasks that ran keep their turn.
    const ticked = yield* Effect.exit(runner.tick)
    yield* save
    return yield* ticked
  }).pipe(Effect.scoped)

/** @internal A Workers KV namespace, as much of it as a {@link Store} needs. */
export interface KvNamespace {
  get(key: string): Promise<string | null>
  put(key: string, value: string): Promise<void>
}

/** @internal */
export const layerKv = (namespace: KvNamespace): Layer.Layer<Store> =>
  Layer.succeed(Store, {
    get: (key) =>
      Effect.tryPromise({
        try: () => namespace.get(key),
        catch: (cause) => new StoreError({ method: "get", key, cause }),
      }).pipe(Effect.map(Option.fromNullable)),
    set: (key, value) =>
      Effect.tryPromise({
        try: () => namespace.put(key, value),
        catch: (cause) => new StoreError({ method: "set", key, cause }),
      }),
  })

/** @internal */
export const layerMemory: Layer.Layer<Store> = Layer.sync(Store, () => {
  const entries = new Map<string, string>()
  return {
    get: (key) => Effect.sync(() => Option.fromNullable(entries.get(key))),
    set: (key, value) => Effect.sync(() => void entries.set(key, value)),
  }
})
