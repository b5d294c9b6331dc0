/**
 * Periodic tasks on an edge runtime (Cloudflare Workers and the like), where no process lives
 * between events: a cron trigger calls the Worker's `scheduled` handler, which runs one
 * `PeriodicRunner.tick` — every due task, once — and keeps each task's next due instant in a
 * `KeyValueStore`, so due-ness survives from one invocation to the next.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import type * as KeyValueStore from "@effect/platform/KeyValueStore"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
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
 * A Workers KV namespace binding, as much of it as a `KeyValueStore` needs.
 *
 * @since 0.1.0
 * @category models
 */
export type KvNamespace = internal.KvNamespace

/**
 * Runs every due task once, keeping next due instants in the `KeyValueStore` between calls, and
 * returns how long until the next task is due. On the first call nothing is stored yet: tasks
 * with `runImmediately` run, the others become due one period later. Task names are data: any
 * name, `"__proto__"` included, is stored and read back as itself. A stored state that is not a
 * JSON object is logged (error) and replaced; an entry that is not a finite instant (a string,
 * `null`, `1e999`) is dropped with a warning naming the task and the value, and that task starts
 * afresh while the others keep their turn.
 *
 * @example
 * ```ts
 * import * as KeyValueStore from "@effect/platform/KeyValueStore"
 * import * as Effect from "effect/Effect"
 * import { PeriodicTask } from "effect-manager"
 * import * as Workers from "effect-manager/platform/workers"
 *
 * const tasks = [PeriodicTask.fixed("purge", "1 hour", Effect.log("purging"))]
 * const once = Workers.tick(tasks).pipe(Effect.provide(KeyValueStore.layerMemory))
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
  | PlatformError.PlatformError,
  TaskContext<Tasks[number]> | KeyValueStore.KeyValueStore
> = internal.tick

/**
 * A `KeyValueStore` over a Workers KV namespace binding.
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
export const layerKv: (namespace: KvNamespace) => Layer.Layer<KeyValueStore.KeyValueStore> =
  internal.layerKv

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
    readonly store: (env: Env) => Layer.Layer<KeyValueStore.KeyValueStore>
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
