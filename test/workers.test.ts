import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { PeriodicTask } from "../mod.ts"
import * as Workers from "../src/platform/workers.ts"

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
    delete: (key) => Promise.resolve(void data.delete(key)),
    list: () =>
      Promise.resolve({ keys: [...data.keys()].map((name) => ({ name })), list_complete: true }),
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
      const store = yield* KeyValueStore.KeyValueStore
      expect(yield* store.get("effect-manager/periodic")).toEqual(
        Option.some(JSON.stringify({ purge: 180_000, report: 130_000 })),
      )
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))

  it.effect("an unreadable stored state is logged and replaced", () =>
    Effect.gen(function* () {
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("effect-manager/periodic", "{not json")
      const runs: Array<string> = []
      yield* Workers.tick(tasks(runs))
      expect(runs).toEqual(["report@0"])
      expect(yield* store.get("effect-manager/periodic")).toEqual(
        Option.some(JSON.stringify({ purge: 60_000, report: 30_000 })),
      )
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))

  it.effect("a stored state of the wrong shape is logged and replaced too", () =>
    Effect.gen(function* () {
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("effect-manager/periodic", JSON.stringify({ purge: "soon" }))
      const runs: Array<string> = []
      yield* Workers.tick(tasks(runs))
      expect(runs).toEqual(["report@0"])
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))

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
      const store = yield* KeyValueStore.KeyValueStore
      expect(yield* store.get("effect-manager/periodic")).toEqual(
        Option.some(JSON.stringify({ purge: 60_000, report: 30_000, broken: 10_000 })),
      )
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))

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
      const size = yield* Effect.flatMap(KeyValueStore.KeyValueStore, (store) => store.size).pipe(
        Effect.provide(Workers.layerKv(kv)),
      )
      expect(size).toBe(1)
    }))
})
