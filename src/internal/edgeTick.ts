import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as PlatformError from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as PeriodicRunnerApi from "../PeriodicRunner.ts"
import type * as PeriodicTask from "../PeriodicTask.ts"
import * as PeriodicRunner from "./periodicRunner.ts"

/** What is kept between invocations: each task's next due instant. */
const State = Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Number }))

/** @internal */
export interface EdgeTickOptions {
  readonly key?: string | undefined
  readonly mode?: PeriodicRunnerApi.Mode | undefined
}

/** @internal */
export const DEFAULT_KEY = "effect-manager/periodic"

/** @internal */
export const tick = <E, R>(
  tasks: ReadonlyArray<PeriodicTask.PeriodicTask<E, R>>,
  options: EdgeTickOptions = {},
) =>
  Effect.gen(function* () {
    const key = options.key ?? DEFAULT_KEY
    const store = yield* KeyValueStore.KeyValueStore
    const stored = yield* store.get(key)
    const resume = Option.isNone(stored) ? {} : yield* Schema.decode(State)(stored.value).pipe(
      // A corrupt state is not worth failing every future invocation over: start afresh.
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logError(
            `Stored periodic task state under ${JSON.stringify(key)} is unreadable (${
              JSON.stringify(stored.value.slice(0, 200))
            }); starting afresh`,
            error.message,
          ),
          {},
        )
      ),
    )
    const runner = yield* PeriodicRunner.make(tasks, {
      start: false,
      mode: options.mode,
      resume,
    })
    const save = Effect.gen(function* () {
      const status = yield* runner.status
      const next: Record<string, number> = {}
      for (const task of status.tasks) {
        if (Option.isSome(task.nextRunAt)) next[task.name] = task.nextRunAt.value
      }
      yield* store.set(key, JSON.stringify(next))
    })
    // Saved also when a "fail"-policy task failed the tick: the tasks that ran keep their turn.
    const ticked = yield* Effect.exit(runner.tick)
    yield* save
    return yield* ticked
  }).pipe(Effect.scoped)

/** @internal A Workers KV namespace, as much of it as a `KeyValueStore` needs. */
export interface KvNamespace {
  get(key: string): Promise<string | null>
  put(key: string, value: string): Promise<void>
  delete(key: string): Promise<void>
  list(options?: { readonly cursor?: string }): Promise<{
    readonly keys: ReadonlyArray<{ readonly name: string }>
    readonly list_complete: boolean
    readonly cursor?: string
  }>
}

const kvError = (method: string, key: string) => (cause: unknown) =>
  new PlatformError.SystemError({
    reason: "Unknown",
    module: "KeyValueStore",
    method,
    pathOrDescriptor: key,
    description: cause instanceof Error ? cause.message : String(cause),
    cause,
  })

/** @internal */
export const layerKv = (namespace: KvNamespace) => {
  const keys = (cursor?: string): Effect.Effect<Array<string>, PlatformError.SystemError> =>
    Effect.tryPromise({
      try: () => namespace.list(cursor === undefined ? undefined : { cursor }),
      catch: kvError("list", ""),
    }).pipe(Effect.flatMap((page) => {
      const names = page.keys.map((entry) => entry.name)
      return page.list_complete || page.cursor === undefined
        ? Effect.succeed(names)
        : Effect.map(keys(page.cursor), (rest) => [...names, ...rest])
    }))
  return Layer.succeed(
    KeyValueStore.KeyValueStore,
    KeyValueStore.makeStringOnly({
      get: (key) =>
        Effect.tryPromise({ try: () => namespace.get(key), catch: kvError("get", key) }).pipe(
          Effect.map(Option.fromNullable),
        ),
      set: (key, value) =>
        Effect.tryPromise({ try: () => namespace.put(key, value), catch: kvError("set", key) }),
      remove: (key) =>
        Effect.tryPromise({ try: () => namespace.delete(key), catch: kvError("remove", key) }),
      clear: Effect.flatMap(
        keys(),
        (names) =>
          Effect.forEach(
            names,
            (key) =>
              Effect.tryPromise({
                try: () => namespace.delete(key),
                catch: kvError("clear", key),
              }),
            { discard: true },
          ),
      ),
      size: Effect.map(keys(), (names) => names.length),
    }),
  )
}
