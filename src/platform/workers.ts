/**
 * Periodic tasks on an edge runtime (Cloudflare Workers and the like), where no process lives
 * between events: a cron trigger calls the Worker's `scheduled` handler, which runs one
 * `PeriodicRunner.tick` — every due task, once — and keeps each task's next due instant in a
 * {@link Store}, so due-ness survives from one invocation to the next.
 *
 * The store is a small service of this module (a text by key), not `@effect/platform`'s
 * `KeyValueStore`: that one brings `effect/Schema`, about 15 KB of a gzipped Worker.
 * {@link layerKv} is a store over a Workers KV namespace; {@link layerKeyValueStore} keeps a
 * `KeyValueStore` you already have.
 *
 * @since 0.1.0
 */
import type * as KeyValueStore from "@effect/platform/KeyValueStore"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as adapter from "../internal/edgeKeyValueStore.ts"
import * as internal from "../internal/edgeTick.ts"
import type { Mode, PeriodicTaskFailed, TaskContext, TaskError } from "../PeriodicRunner.ts"
import type { InvalidOption } from "../internal/options.ts"
import type { InvalidPeriodicTask, PeriodicTask } from "../PeriodicTask.ts"

/**
 * Options of {@link tick}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TickOptions {
  /** The store key of the tasks' state. Default `"effect-manager/periodic"`. */
  readonly key?: string | undefined
  /** Default `"concurrent"` (the tick waits for every run it started). */
  readonly mode?: Mode | undefined
}

/**
 * Where {@link tick} keeps each task's next due instant between invocations: a text by key. Any
 * store with these two methods will do; {@link layerKv}, {@link layerMemory} and
 * {@link layerKeyValueStore} are ready ones.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Option from "effect/Option"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const entries = new Map<string, string>()
 * const store: Workers.Store = {
 *   get: (key) => Effect.sync(() => Option.fromNullable(entries.get(key))),
 *   set: (key, value) => Effect.sync(() => void entries.set(key, value)),
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  /** The text stored under `key`, if any. */
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, StoreError>
  /** Stores `value` under `key`, replacing what was there. */
  readonly set: (key: string, value: string) => Effect.Effect<void, StoreError>
}

/**
 * The store {@link tick} reads and writes.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const saved = Effect.flatMap(Workers.Store, (store) => store.get("effect-manager/periodic"))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const Store: Context.Tag<Store, Store> = internal.Store

/**
 * A read or write of the {@link Store} failed: `method` is `"get"` or `"set"`, `key` the key,
 * and `cause` the store's own error (a KV namespace's rejection, a `PlatformError`).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { PeriodicTask } from "effect-manager"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const once = Workers.tick([PeriodicTask.fixed("purge", "1 hour", Effect.log("purging"))]).pipe(
 *   Effect.catchTag("StoreError", (error) => Effect.logError(error.message)),
 * )
 * // Could not get "effect-manager/periodic" in the periodic task store: KV GET failed
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const StoreError: typeof internal.StoreError = internal.StoreError

/**
 * The type of {@link StoreError}'s instances.
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreError = internal.StoreError

/**
 * A Workers KV namespace binding, as much of it as {@link layerKv} needs.
 *
 * @example
 * ```ts
 * import type * as Workers from "effect-manager/platform/workers"
 *
 * interface Env {
 *   readonly PERIODIC: Workers.KvNamespace
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type KvNamespace = internal.KvNamespace

/**
 * Runs every due task once, keeping next due instants in the {@link Store} between calls, and
 * returns how long until the next task is due. On the first call nothing is stored yet: tasks
 * with `runImmediately` run, the others become due one period later. Task names are data: any
 * name, `"__proto__"` included, is stored and read back as itself. A stored state that is not a
 * JSON object is logged (error) and replaced; an entry that is not a finite instant (a string,
 * `null`, `1e999`) is dropped with a warning naming the task and the value, and that task starts
 * afresh while the others keep their turn.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { PeriodicTask } from "effect-manager"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const tasks = [PeriodicTask.fixed("purge", "1 hour", Effect.log("purging"))]
 * const once = Workers.tick(tasks).pipe(Effect.provide(Workers.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const tick: <const Tasks extends ReadonlyArray<PeriodicTask<any, any>>>(
  tasks: Tasks,
  options?: TickOptions,
) => Effect.Effect<
  Duration.Duration,
  | InvalidPeriodicTask
  | InvalidOption
  | PeriodicTaskFailed<TaskError<Tasks[number]>>
  | StoreError,
  TaskContext<Tasks[number]> | Store
> = internal.tick

/**
 * A {@link Store} over a Workers KV namespace binding. It needs no `@effect/platform` at run
 * time.
 *
 * @example
 * ```ts
 * import * as Workers from "effect-manager/platform/workers"
 *
 * declare const env: { readonly PERIODIC: Workers.KvNamespace }
 * const store = Workers.layerKv(env.PERIODIC)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKv: (namespace: KvNamespace) => Layer.Layer<Store> = internal.layerKv

/**
 * A {@link Store} in memory, for tests and for a tick that need not outlive its process.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { PeriodicTask } from "effect-manager"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const once = Workers.tick([PeriodicTask.fixed("purge", "1 hour", Effect.log("purging"))]).pipe(
 *   Effect.provide(Workers.layerMemory),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Store> = internal.layerMemory

/**
 * A {@link Store} over an `@effect/platform` `KeyValueStore`; its `PlatformError`s become
 * {@link StoreError}s (as their `cause`). A `KeyValueStore` brings `effect/Schema` into the bundle
 * (its `forSchema` and its errors, about 15 KB gzipped): on Workers prefer {@link layerKv}.
 *
 * @example
 * ```ts
 * import * as KeyValueStore from "@effect/platform/KeyValueStore"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import { PeriodicTask } from "effect-manager"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const once = Workers.tick([PeriodicTask.fixed("purge", "1 hour", Effect.log("purging"))]).pipe(
 *   Effect.provide(Workers.layerKeyValueStore.pipe(Layer.provide(KeyValueStore.layerMemory))),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore: Layer.Layer<Store, never, KeyValueStore.KeyValueStore> =
  adapter.layerKeyValueStore

/**
 * A {@link Store} over a given `@effect/platform` `KeyValueStore`, as {@link layerKeyValueStore}
 * builds it (the same note on `effect/Schema` applies).
 *
 * @example
 * ```ts
 * import * as KeyValueStore from "@effect/platform/KeyValueStore"
 * import * as Effect from "effect/Effect"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const store = Effect.map(KeyValueStore.KeyValueStore, Workers.fromKeyValueStore)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKeyValueStore: (store: KeyValueStore.KeyValueStore) => Store =
  adapter.fromKeyValueStore

/**
 * The part of a Workers `ExecutionContext` the handler uses.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecutionContext {
  /** Keeps the Worker alive until the promise settles, after the handler has returned. */
  waitUntil(promise: Promise<unknown>): void
}

/**
 * A Worker's `scheduled` handler that runs {@link tick} on each cron trigger, with a store built
 * from the Worker's environment. A failing tick rejects the handler's promise (the Workers
 * runtime records the failure).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { PeriodicTask } from "effect-manager"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * interface Env { readonly PERIODIC: Workers.KvNamespace }
 *
 * export default Workers.scheduledHandler(
 *   [PeriodicTask.fixed("purge", "1 hour", Effect.log("purging"))],
 *   { store: (env: Env) => Workers.layerKv(env.PERIODIC) },
 * )
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const scheduledHandler = <Env, const Tasks extends ReadonlyArray<PeriodicTask<any, never>>>(
  tasks: Tasks,
  options: TickOptions & {
    readonly store: (env: Env) => Layer.Layer<Store>
  },
): {
  readonly scheduled: (controller: unknown, env: Env, context: ExecutionContext) => Promise<void>
} => ({
  scheduled: (_controller, env, context) => {
    const taskList: ReadonlyArray<PeriodicTask<unknown>> = tasks
    const run = internal.tick(taskList, options).pipe(
      Effect.provide(options.store(env)),
      Effect.asVoid,
      Effect.runPromise,
    )
    context.waitUntil(run)
    return run
  },
})
