import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as PlatformError from "@effect/platform/Error"
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
    const store = yield* KeyValueStore.KeyValueStore
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
