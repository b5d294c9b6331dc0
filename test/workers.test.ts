import * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { PeriodicTask } from "../mod.ts"
import * as EdgeTick from "../src/internal/edgeTick.ts"
import * as Workers from "../src/platform/workers.ts"
import { captureLogs } from "./support/periodic.ts"

/** Tasks that append "<name>@<seconds>" to `runs`. */
const tasks = (runs: Array<string>) => {
  const record = (name: string) =>
    Effect.flatMap(
      Effect.clockWith((clock) => clock.currentTimeMillis),
      (now) => Effect.sync(() => runs.push(`${name}@${now / 1000}`)),
    )
  return [
    PeriodicTask.fixed("purge", "60 seconds", record("purge")),
    PeriodicTask.spaced("report", "30 seconds", record("report"), { runImmediately: true }),
  ]
}

/** A Map-backed stand-in for a Workers KV namespace. */
const fakeKv = (): Workers.KvNamespace & { readonly data: Map<string, string> } => {
  const data = new Map<string, string>()
  return {
    data,
    get: (key) => Promise.resolve(data.get(key) ?? null),
    put: (key, value) => Promise.resolve(void data.set(key, value)),
  }
}

describe("platform/workers", () => {
  it.effect("due-ness survives between invocations through the store", () =>
    Effect.gen(function* () {
      const runs: Array<string> = []
      const idles: Array<number> = []
      for (const at of [0, 20, 45, 61, 100, 121]) {
        yield* TestClock.setTime(at * 1000)
        idles.push(Duration.toSeconds(yield* Workers.tick(tasks(runs))))
      }
      expect(runs).toEqual(["report@0", "report@45", "purge@61", "report@100", "purge@121"])
      // Time until the next due task after each invocation.
      expect(idles).toEqual([30, 10, 15, 14, 20, 9])
      const store = yield* Workers.Store
      expect(yield* store.get("effect-manager/periodic")).toEqual(
        Option.some(JSON.stringify({ purge: 180_000, report: 130_000 })),
      )
    }).pipe(Effect.provide(Workers.layerMemory)))

  it.effect("a stored state that is not a JSON object is logged and replaced", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const store = yield* Workers.Store
      const runs: Array<string> = []
      for (const stored of ["{not json", "[60000]", "null"]) {
        yield* store.set("effect-manager/periodic", stored)
        yield* Workers.tick(tasks(runs))
        expect(yield* store.get("effect-manager/periodic")).toEqual(
          Option.some(JSON.stringify({ purge: 60_000, report: 30_000 })),
        )
      }
      expect(runs).toEqual(["report@0", "report@0", "report@0"])
      expect(logs.map((line) => [line.level, line.message])).toEqual([
        [
          "ERROR",
          `Stored periodic task state under "effect-manager/periodic" is not JSON ("{not json"); starting afresh`,
        ],
        [
          "ERROR",
          `Stored periodic task state under "effect-manager/periodic" is not a JSON object ("[60000]"); starting afresh`,
        ],
        [
          "ERROR",
          `Stored periodic task state under "effect-manager/periodic" is not a JSON object ("null"); starting afresh`,
        ],
      ])
      expect(logs.map((line) => line.annotations)).toEqual(
        Array(3).fill({ key: "effect-manager/periodic" }),
      )
    }).pipe(Effect.provide(Workers.layerMemory), Effect.scoped))

  it.effect("a stored entry that is not a finite instant is dropped with a warning; the others are kept", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const store = yield* Workers.Store
      const runs: Array<string> = []
      // 1e999 parses to Infinity.
      for (const purge of ["1e999", `"x"`, "null"]) {
        yield* store.set("effect-manager/periodic", `{"purge":${purge},"report":45000}`)
        yield* Workers.tick(tasks(runs))
        expect(yield* store.get("effect-manager/periodic")).toEqual(
          Option.some(JSON.stringify({ purge: 60_000, report: 45_000 })),
        )
      }
      // "report" kept its stored turn (45 s) instead of running at once as a fresh start would.
      expect(runs).toEqual([])
      expect(logs.map((line) => [line.level, line.message])).toEqual(
        ["Infinity", `"x"`, "null"].map((value) => [
          "WARN",
          `Stored next run of task "purge" under "effect-manager/periodic" is not a finite instant (got ${value}); dropped, the task starts afresh`,
        ]),
      )
      expect(logs.map((line) => line.annotations)).toEqual(
        Array(3).fill({ key: "effect-manager/periodic", periodicTask: "purge" }),
      )
    }).pipe(Effect.provide(Workers.layerMemory), Effect.scoped))

  it.effect("task names such as __proto__, constructor and toString are stored and run like others", () =>
    Effect.gen(function* () {
      const runs: Array<string> = []
      const record = (name: string) =>
        Effect.flatMap(
          Effect.clockWith((clock) => clock.currentTimeMillis),
          (now) => Effect.sync(() => runs.push(`${name}@${now / 1000}`)),
        )
      const named = [
        PeriodicTask.fixed("__proto__", "60 seconds", record("__proto__")),
        PeriodicTask.spaced("constructor", "30 seconds", record("constructor"), {
          runImmediately: true,
        }),
        PeriodicTask.fixed("toString", "45 seconds", record("toString")),
      ]
      const store = yield* Workers.Store
      const saved: Array<Option.Option<string>> = []
      for (const at of [0, 50, 61]) {
        yield* TestClock.setTime(at * 1000)
        yield* Workers.tick(named)
        saved.push(yield* store.get("effect-manager/periodic"))
      }
      expect(runs).toEqual(["constructor@0", "constructor@50", "toString@50", "__proto__@61"])
      expect(saved.map(Option.getOrThrow)).toEqual([
        `{"__proto__":60000,"constructor":30000,"toString":45000}`,
        `{"__proto__":60000,"constructor":80000,"toString":90000}`,
        `{"__proto__":120000,"constructor":80000,"toString":90000}`,
      ])
    }).pipe(Effect.provide(Workers.layerMemory)))

  it.effect('a tick failed by a "fail"-policy task still saves the next due instants', () =>
    Effect.gen(function* () {
      const runs: Array<string> = []
      const failing = [
        ...tasks(runs),
        PeriodicTask.fixed("broken", "10 seconds", Effect.fail("down"), {
          runImmediately: true,
          onError: "fail",
        }),
      ]
      const exit = yield* Effect.exit(Workers.tick(failing))
      expect(exit._tag).toBe("Failure")
      expect(runs).toEqual(["report@0"])
      const store = yield* Workers.Store
      expect(yield* store.get("effect-manager/periodic")).toEqual(
        Option.some(JSON.stringify({ purge: 60_000, report: 30_000, broken: 10_000 })),
      )
    }).pipe(Effect.provide(Workers.layerMemory)))

  it.effect("the saved state reads back as it was written, __proto__ included", () =>
    Effect.gen(function* () {
      const named = [
        PeriodicTask.fixed("__proto__", "60 seconds", Effect.void),
        PeriodicTask.spaced("report", "30 seconds", Effect.void, { runImmediately: true }),
      ]
      const store = yield* Workers.Store
      yield* TestClock.setTime(5_000)
      yield* Workers.tick(named)
      const saved = yield* store.get("effect-manager/periodic")
      expect(saved).toEqual(Option.some(`{"__proto__":65000,"report":35000}`))
      const read = yield* EdgeTick.readState(Option.getOrThrow(saved))
      expect([...read]).toEqual([["__proto__", 65_000], ["report", 35_000]])
      const instants = new Map([["__proto__", 65_000], ["report", 35_000]])
      expect(EdgeTick.writeState(instants)).toBe(Option.getOrThrow(saved))
    }).pipe(Effect.provide(Workers.layerMemory)))

  it.live("the scheduled handler keeps state in a KV namespace between events", () =>
    Effect.gen(function* () {
      const kv = fakeKv()
      const runs: Array<string> = []
      const handler = Workers.scheduledHandler(tasks(runs), {
        store: (env: { readonly PERIODIC: Workers.KvNamespace }) => Workers.layerKv(env.PERIODIC),
      })
      const waited: Array<Promise<unknown>> = []
      const context = { waitUntil: (promise: Promise<unknown>) => void waited.push(promise) }
      yield* Effect.promise(() => handler.scheduled({}, { PERIODIC: kv }, context))
      yield* Effect.promise(() => handler.scheduled({}, { PERIODIC: kv }, context))
      expect(waited.length).toBe(2)
      // The first event runs the immediate task; the second, moments later, runs nothing.
      expect(runs.map((run) => run.split("@")[0])).toEqual(["report"])
      const state = JSON.parse(kv.data.get("effect-manager/periodic") ?? "{}")
      expect(Object.keys(state)).toEqual(["purge", "report"])
      expect([...kv.data.keys()]).toEqual(["effect-manager/periodic"])
    }))

  it.live("a KV namespace that rejects fails the tick with a StoreError naming the method and key", () =>
    Effect.gen(function* () {
      const down: Workers.KvNamespace = {
        get: () => Promise.resolve(null),
        put: () => Promise.reject(new Error("KV PUT failed: 429 Too Many Requests")),
      }
      const error = yield* Effect.flip(
        Workers.tick(tasks([])).pipe(Effect.provide(Workers.layerKv(down))),
      )
      expect(error).toBeInstanceOf(Workers.StoreError)
      expect(error._tag).toBe("StoreError")
      expect(error.message).toBe(
        `Could not set "effect-manager/periodic" in the periodic task store: KV PUT failed: 429 Too Many Requests`,
      )
    }))

  it.effect("a @effect/platform KeyValueStore keeps the state through layerKeyValueStore", () =>
    Effect.gen(function* () {
      const runs: Array<string> = []
      for (const at of [0, 61]) {
        yield* TestClock.setTime(at * 1000)
        yield* Workers.tick(tasks(runs))
      }
      expect(runs).toEqual(["report@0", "report@61", "purge@61"])
      const store = yield* KeyValueStore.KeyValueStore
      expect(yield* store.get("effect-manager/periodic")).toEqual(
        Option.some(JSON.stringify({ purge: 120_000, report: 91_000 })),
      )
    }).pipe(
      Effect.provide(
        Layer.provideMerge(Workers.layerKeyValueStore, KeyValueStore.layerMemory),
      ),
    ))

  it.effect("a KeyValueStore's PlatformError becomes a StoreError with it as the cause", () =>
    Effect.gen(function* () {
      const refusing = KeyValueStore.makeStringOnly({
        get: (key) =>
          Effect.fail(
            new PlatformError.SystemError({
              reason: "PermissionDenied",
              module: "KeyValueStore",
              method: "get",
              pathOrDescriptor: key,
            }),
          ),
        set: () => Effect.void,
        remove: () => Effect.void,
        clear: Effect.void,
        size: Effect.succeed(0),
      })
      const error = yield* Effect.flip(Workers.fromKeyValueStore(refusing).get("state"))
      expect(error.method).toBe("get")
      expect(error.key).toBe("state")
      expect(error.cause).toBeInstanceOf(PlatformError.SystemError)
      expect(error.message).toBe(
        `Could not get "state" in the periodic task store: PermissionDenied: KeyValueStore.get (state)`,
      )
    }))
})
