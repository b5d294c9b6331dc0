import * as FileSystem from "@effect/platform/FileSystem"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import type * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as ServiceRegistry from "../src/ServiceRegistry.ts"

declare const globalThis: { readonly navigator?: { readonly userAgent?: string } }

// workerd has no file system: the file-system tests are skipped there, and @effect/platform-node
// is imported on demand through a computed name, which keeps node:fs out of the workerd bundle.
const inWorkerd = globalThis.navigator?.userAgent === "Cloudflare-Workers"
const onFileSystem = inWorkerd ? it.scoped.skip : it.scoped

const nodePlatform = (module: string) => `@effect/platform-node/${module}`
const loadNodePlatform = Effect.promise(async () => {
  const [fs, path]: [typeof NodeFileSystem, typeof NodePath] = await Promise.all([
    import(nodePlatform("NodeFileSystem")),
    import(nodePlatform("NodePath")),
  ])
  return Layer.merge(fs.layer, path.layer)
})

const record = (
  fields: Partial<ServiceRegistry.ServiceRecord> = {},
): ServiceRegistry.ServiceRecord => ({
  host: "node-1",
  topic: "compute",
  reportCount: 0,
  createdAt: 0,
  updatedAt: 0,
  disabled: false,
  forcedDown: false,
  ...fields,
})

/** Logs seen by a logger that replaces the default one: level, message parts and annotations. */
const captureLogs = () => {
  const logs: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    logs.push({ level: logLevel.label, message, annotations: Object.fromEntries(annotations) })
  })
  return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** The message this engine's JSON.parse throws for `text`. */
const jsonParseMessage = (text: string): string => {
  try {
    JSON.parse(text)
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  throw new Error(`${text} is JSON`)
}

/** Registers compute on node-1, then reports `beats` heartbeats 10 s apart. */
const registerAndBeat = (beats: number) =>
  Effect.gen(function* () {
    const registry = yield* ServiceRegistry.ServiceRegistry
    yield* registry.register("node-1", "compute")
    for (let beat = 0; beat < beats; beat++) {
      yield* TestClock.adjust("10 seconds")
      yield* registry.report("node-1", "compute")
    }
    return registry
  })

/** A fresh temporary directory, removed with the scope, and the platform that made it. */
const tempDirectory = Effect.gen(function* () {
  const platform = yield* loadNodePlatform
  const directory = yield* Effect.flatMap(
    FileSystem.FileSystem,
    (fs) => fs.makeTempDirectoryScoped(),
  ).pipe(Effect.provide(platform))
  return { platform, directory }
})

const layers = {
  layerMemory: ServiceRegistry.layerMemory,
  layerKeyValueStore: ServiceRegistry.layerKeyValueStore.pipe(
    Layer.provide(KeyValueStore.layerMemory),
  ),
  ...(inWorkerd ? {} : {
    layerFileSystem: Layer.unwrapScoped(
      Effect.map(
        tempDirectory,
        ({ directory, platform }) =>
          ServiceRegistry.layerFileSystem(directory).pipe(Layer.provide(platform)),
      ),
    ),
  }),
}

for (const [name, layer] of Object.entries(layers)) {
  describe(`ServiceRegistry.${name}`, () => {
    it.effect("register creates a record with no reports, stamped with the clock", () =>
      Effect.gen(function* () {
        const registry = yield* ServiceRegistry.ServiceRegistry
        yield* TestClock.adjust("5 seconds")
        const created = yield* registry.register("node-1", "compute")
        expect(created).toEqual(record({ createdAt: 5_000, updatedAt: 5_000 }))
        expect(yield* registry.get("node-1", "compute")).toEqual(Option.some(created))
      }).pipe(Effect.provide(layer)))

    it.effect("report counts a heartbeat and moves updatedAt to now", () =>
      Effect.gen(function* () {
        const registry = yield* registerAndBeat(1)
        yield* TestClock.adjust("10 seconds")
        const reported = yield* registry.report("node-1", "compute")
        expect(reported).toEqual(record({ reportCount: 2, updatedAt: 20_000 }))
        expect(yield* registry.get("node-1", "compute")).toEqual(Option.some(reported))
      }).pipe(Effect.provide(layer)))

    it.effect("markDown forces the service down until it registers again", () =>
      Effect.gen(function* () {
        const registry = yield* registerAndBeat(1)
        const down = yield* registry.markDown("node-1", "compute")
        expect(down).toEqual(record({ reportCount: 1, updatedAt: 10_000, forcedDown: true }))
        expect(ServiceRegistry.isUp(down, 10_000)).toBe(false)
        yield* TestClock.adjust("10 seconds")
        // Registering again keeps the count and the last heartbeat.
        const again = yield* registry.register("node-1", "compute")
        expect(again).toEqual(record({ reportCount: 1, updatedAt: 10_000 }))
        expect(yield* registry.get("node-1", "compute")).toEqual(Option.some(again))
      }).pipe(Effect.provide(layer)))

    it.effect("register of a known service that is up returns its record unchanged", () =>
      Effect.gen(function* () {
        const registry = yield* registerAndBeat(1)
        yield* TestClock.adjust("10 seconds")
        expect(yield* registry.register("node-1", "compute")).toEqual(
          record({ reportCount: 1, updatedAt: 10_000 }),
        )
      }).pipe(Effect.provide(layer)))

    it.effect("setDisabled switches disabled and leaves the heartbeat alone", () =>
      Effect.gen(function* () {
        const registry = yield* ServiceRegistry.ServiceRegistry
        yield* registry.register("node-1", "compute")
        yield* TestClock.adjust("10 seconds")
        expect(yield* registry.setDisabled("node-1", "compute", true)).toEqual(
          record({ disabled: true }),
        )
        expect(yield* registry.setDisabled("node-1", "compute", false)).toEqual(record())
      }).pipe(Effect.provide(layer)))

    it.effect("setEndpoint keeps where the service takes RPC calls until it is removed; heartbeats keep it", () =>
      Effect.gen(function* () {
        const registry = yield* ServiceRegistry.ServiceRegistry
        yield* registry.register("node-1", "compute")
        const endpoint = {
          address: "ws://127.0.0.1:41234/rpc",
          apis: [{ version: "6.1" }, { namespace: "baseapi", version: "1.1" }],
        }
        expect(yield* registry.setEndpoint("node-1", "compute", endpoint)).toEqual(
          record({ endpoint }),
        )
        yield* TestClock.adjust("10 seconds")
        expect(yield* registry.report("node-1", "compute")).toEqual(
          record({ endpoint, reportCount: 1, updatedAt: 10_000 }),
        )
        expect(yield* registry.setEndpoint("node-1", "compute", undefined)).toEqual(
          record({ reportCount: 1, updatedAt: 10_000 }),
        )
        expect(yield* Effect.flip(registry.setEndpoint("node-2", "compute", endpoint))).toEqual(
          new ServiceRegistry.ServiceNotFound({ host: "node-2", topic: "compute" }),
        )
      }).pipe(Effect.provide(layer)))

    it.effect("report, markDown and setDisabled of an unknown service fail with ServiceNotFound", () =>
      Effect.gen(function* () {
        const registry = yield* ServiceRegistry.ServiceRegistry
        yield* registry.register("node-1", "compute")
        const errors = yield* Effect.all([
          Effect.flip(registry.report("node-2", "compute")),
          Effect.flip(registry.markDown("node-1", "conductor")),
          Effect.flip(registry.setDisabled("node-2", "conductor", true)),
        ])
        expect(errors.map((error) => error.message)).toEqual([
          `No service record for topic "compute" on host "node-2"`,
          `No service record for topic "conductor" on host "node-1"`,
          `No service record for topic "conductor" on host "node-2"`,
        ])
        expect(errors[0]).toEqual(
          new ServiceRegistry.ServiceNotFound({ host: "node-2", topic: "compute" }),
        )
        expect(yield* registry.get("node-2", "compute")).toEqual(Option.none())
      }).pipe(Effect.provide(layer)))

    it.effect("list returns every record ordered by topic, then host", () =>
      Effect.gen(function* () {
        const registry = yield* ServiceRegistry.ServiceRegistry
        expect(yield* registry.list).toEqual([])
        yield* registry.register("node-2", "compute")
        yield* registry.register("node-1", "scheduler")
        yield* registry.register("node-1", "compute")
        yield* registry.report("node-1", "compute")
        const listed = (yield* registry.list).map((r) => [r.topic, r.host, r.reportCount])
        expect(listed).toEqual([
          ["compute", "node-1", 1],
          ["compute", "node-2", 0],
          ["scheduler", "node-1", 0],
        ])
      }).pipe(Effect.provide(layer)))

    it.effect("hosts and topics named like Object.prototype members are plain data", () =>
      Effect.gen(function* () {
        const registry = yield* ServiceRegistry.ServiceRegistry
        const names = ["__proto__", "constructor", "toString"]
        for (const topic of names) {
          for (const host of names) yield* registry.register(host, topic)
        }
        yield* registry.report("constructor", "__proto__")
        yield* registry.setDisabled("__proto__", "toString", true)
        const listed = (yield* registry.list).map((r) => [
          r.topic,
          r.host,
          r.reportCount,
          r.disabled,
        ])
        expect(listed).toEqual(names.flatMap((topic) =>
          names.map((host) => [
            topic,
            host,
            topic === "__proto__" && host === "constructor" ? 1 : 0,
            topic === "toString" && host === "__proto__",
          ])
        ))
        expect(Option.map(yield* registry.get("toString", "constructor"), (r) => r.host))
          .toEqual(Option.some("toString"))
        expect(yield* registry.get("hasOwnProperty", "__proto__")).toEqual(Option.none())
      }).pipe(Effect.provide(layer)))
  })
}

describe("ServiceRegistry.isUp", () => {
  it.effect("a service is up until exactly serviceDownTime after its last report", () =>
    Effect.gen(function* () {
      const registry = yield* registerAndBeat(1)
      yield* TestClock.adjust("60 seconds")
      const reported = yield* registry.get("node-1", "compute")
      const now = yield* Clock.currentTimeMillis
      expect([now, Option.map(reported, (r) => ServiceRegistry.isUp(r, now))]).toEqual([
        70_000,
        Option.some(true),
      ])
      yield* TestClock.adjust("1 millis")
      const later = yield* Clock.currentTimeMillis
      expect(Option.map(reported, (r) => ServiceRegistry.isUp(r, later))).toEqual(
        Option.some(false),
      )
    }).pipe(Effect.provide(ServiceRegistry.layerMemory)))

  it("a heartbeat ahead of the clock counts the same way", () => {
    const beat = record({ updatedAt: 90_000 })
    expect([ServiceRegistry.isUp(beat, 30_000), ServiceRegistry.isUp(beat, 29_999)]).toEqual([
      true,
      false,
    ])
  })

  it("serviceDownTime moves the limit", () => {
    const beat = record({ updatedAt: 10_000 })
    expect([
      ServiceRegistry.isUp(beat, 130_000, "2 minutes"),
      ServiceRegistry.isUp(beat, 130_001, "2 minutes"),
      ServiceRegistry.isUp(beat, 15_000, 5_000),
      ServiceRegistry.isUp(beat, 15_001, 5_000),
    ]).toEqual([true, false, true, false])
  })

  it("a service forced down is down right after a heartbeat, a disabled one is up", () => {
    expect(ServiceRegistry.isUp(record({ forcedDown: true }), 0)).toBe(false)
    expect(ServiceRegistry.isUp(record({ disabled: true }), 0)).toBe(true)
  })
})

describe("ServiceRegistry.effectiveDownTime", () => {
  const seconds = (reportInterval: number, serviceDownTime: number) =>
    Duration.toMillis(
      ServiceRegistry.effectiveDownTime(
        Duration.seconds(reportInterval),
        Duration.seconds(serviceDownTime),
      ),
    ) / 1000

  it("a down time not longer than the report interval becomes 2.5 intervals, in whole seconds", () => {
    expect([seconds(10, 10), seconds(10, 5), seconds(3, 3), seconds(60, 0)]).toEqual([
      25,
      25,
      7,
      150,
    ])
  })

  it("a down time longer than the report interval is kept", () => {
    expect([seconds(10, 60), seconds(10, 11), seconds(0, 60)]).toEqual([60, 11, 60])
  })
})

describe("ServiceRegistry.layerKeyValueStore", () => {
  const withStore = ServiceRegistry.layerKeyValueStore.pipe(
    Layer.provideMerge(KeyValueStore.layerMemory),
  )

  it.effect("keeps one JSON value per record and an index of the records", () =>
    Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      const store = yield* KeyValueStore.KeyValueStore
      yield* registry.register("node/1", "compute")
      yield* TestClock.adjust("10 seconds")
      yield* registry.report("node/1", "compute")
      expect(yield* store.get("service/compute/node%2F1")).toEqual(
        Option.some(
          `{"host":"node/1","topic":"compute","reportCount":1,"createdAt":0,"updatedAt":10000,"disabled":false,"forcedDown":false}`,
        ),
      )
      expect(yield* store.get("service/index")).toEqual(
        Option.some(`[{"host":"node/1","topic":"compute"}]`),
      )
    }).pipe(Effect.provide(withStore)))

  it.effect("a stored record that is not JSON is logged with its key and text, then re-registered", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("service/compute/node-1", "x".repeat(300))
      yield* TestClock.adjust("5 seconds")
      expect(yield* registry.get("node-1", "compute")).toEqual(Option.none())
      expect(capture.logs.map((log) => [log.level, log.message, log.annotations.key])).toEqual([[
        "ERROR",
        [
          `Service registry: the value stored at "service/compute/node-1" is corrupt and is treated as absent; stored text: "${
            "x".repeat(200)
          }…"`,
        ],
        "service/compute/node-1",
      ]])
      expect(yield* registry.register("node-1", "compute")).toEqual(
        record({ createdAt: 5_000, updatedAt: 5_000 }),
      )
      expect(yield* registry.report("node-1", "compute")).toEqual(
        record({ reportCount: 1, createdAt: 5_000, updatedAt: 5_000 }),
      )
      expect(capture.logs.length).toBe(2)
    }).pipe(Effect.provide(withStore), Effect.provide(capture.layer))
  })

  it.effect("a stored record that fails the schema is logged, annotated with its service, key and reason, and left out of list", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      const store = yield* KeyValueStore.KeyValueStore
      yield* registry.register("node-1", "compute")
      const broken =
        `{"host":"node-1","topic":"compute","reportCount":-1,"createdAt":0,"updatedAt":0,"disabled":false,"forcedDown":false}`
      yield* store.set("service/compute/node-1", broken)
      expect(yield* registry.list).toEqual([])
      expect(capture.logs).toEqual([{
        level: "ERROR",
        message: [
          `Service registry: the value stored at "service/compute/node-1" is corrupt and is treated as absent; stored text: ${
            JSON.stringify(broken)
          }`,
        ],
        annotations: {
          host: "node-1",
          topic: "compute",
          key: "service/compute/node-1",
          reason:
            `(parseJson <-> { readonly host: string; readonly topic: string; readonly reportCount: NonNegativeInt; readonly createdAt: number; readonly updatedAt: number; readonly disabled: boolean; readonly forcedDown: boolean; readonly endpoint?: { readonly address: string; readonly apis: ReadonlyArray<{ readonly namespace?: string | undefined; readonly version: string }> } | undefined })
└─ Type side transformation failure
   └─ { readonly host: string; readonly topic: string; readonly reportCount: NonNegativeInt; readonly createdAt: number; readonly updatedAt: number; readonly disabled: boolean; readonly forcedDown: boolean; readonly endpoint?: { readonly address: string; readonly apis: ReadonlyArray<{ readonly namespace?: string | undefined; readonly version: string }> } | undefined }
      └─ ["reportCount"]
         └─ NonNegativeInt
            └─ From side refinement failure
               └─ NonNegative
                  └─ Predicate refinement failure
                     └─ Expected a non-negative number, actual -1`,
        },
      }])
      yield* TestClock.adjust("5 seconds")
      expect(yield* registry.register("node-1", "compute")).toEqual(
        record({ createdAt: 5_000, updatedAt: 5_000 }),
      )
      expect(yield* registry.list).toEqual([record({ createdAt: 5_000, updatedAt: 5_000 })])
    }).pipe(Effect.provide(withStore), Effect.provide(capture.layer))
  })

  /** A registry over `store`, as a process that starts over the store would build it. */
  const over = (store: KeyValueStore.KeyValueStore) =>
    ServiceRegistry.layerKeyValueStore.pipe(
      Layer.provide(Layer.succeed(KeyValueStore.KeyValueStore, store)),
    )

  /** Registers every id on `store`, then cuts the index off in the host of its last entry. */
  const registerAndCutIndex = (
    store: KeyValueStore.KeyValueStore,
    ids: ReadonlyArray<readonly [host: string, topic: string]>,
  ) =>
    Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      for (const [host, topic] of ids) yield* registry.register(host, topic)
      const text = Option.getOrThrow(yield* store.get("service/index"))
      const cut = text.slice(0, text.lastIndexOf("{") + `{"host":"nod`.length)
      yield* store.set("service/index", cut)
      return cut
    }).pipe(Effect.provide(over(store)))

  const corruptIndexLog = (recovered: string, text: string) => [
    "ERROR",
    [
      `Service registry: the index stored at "service/index" is corrupt; ${recovered} recovered from it, its text kept under "service/index.corrupt"; stored text: ${
        JSON.stringify(text)
      }`,
    ],
    "service/index",
  ]

  const hostsOf = (records: ReadonlyArray<ServiceRegistry.ServiceRecord>) =>
    records.map((r) => r.host)

  it.effect("an index cut off by a crash keeps every whole entry, and its text is kept aside", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const store = yield* KeyValueStore.KeyValueStore
      const hosts = ["node-1", "node-2", "node-3", "node-4"]
      const cut = yield* registerAndCutIndex(store, hosts.map((host) => [host, "compute"]))
      expect(cut).toBe(
        `[{"host":"node-1","topic":"compute"},{"host":"node-2","topic":"compute"},{"host":"node-3","topic":"compute"},{"host":"nod`,
      )
      // A new process, which never saw node-4.
      const listed = yield* Effect.flatMap(
        ServiceRegistry.ServiceRegistry,
        (registry) =>
          Effect.gen(function* () {
            yield* registry.register("node-5", "compute")
            return [yield* registry.list, yield* registry.list]
          }),
      ).pipe(Effect.provide(over(store)))
      expect(listed.map(hostsOf)).toEqual([
        ["node-1", "node-2", "node-3", "node-5"],
        ["node-1", "node-2", "node-3", "node-5"],
      ])
      expect(capture.logs.map((log) => [log.level, log.message, log.annotations.key])).toEqual([
        corruptIndexLog("3 entries", cut),
      ])
      expect(yield* store.get("service/index.corrupt")).toEqual(Option.some(cut))
      expect(yield* store.get("service/index")).toEqual(Option.some(JSON.stringify(
        ["node-1", "node-2", "node-3", "node-5"].map((host) => ({ host, topic: "compute" })),
      )))
    }).pipe(Effect.provide(KeyValueStore.layerMemory), Effect.provide(capture.layer))
  })

  it.effect("the process that wrote an index it finds cut off puts back every id it knows", () =>
    Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      const store = yield* KeyValueStore.KeyValueStore
      const hosts = ["node-1", "node-2", "node-3", "node-4"]
      for (const host of hosts) yield* registry.register(host, "compute")
      yield* store.set("service/index", `[{"host":"node-1","topic":"compute"},{"host":"no`)
      expect(hostsOf(yield* registry.list)).toEqual(hosts)
      yield* registry.register("node-5", "compute")
      expect(hostsOf(yield* registry.list)).toEqual([...hosts, "node-5"])
      yield* store.remove("service/index")
      yield* registry.register("node-6", "compute")
      expect(hostsOf(yield* registry.list)).toEqual([...hosts, "node-5", "node-6"])
    }).pipe(Effect.provide(withStore), Effect.provide(Logger.remove(Logger.defaultLogger))))

  it.effect("names with quotes, braces and __proto__ are salvaged as they were", () =>
    Effect.gen(function* () {
      const store = yield* KeyValueStore.KeyValueStore
      const ids: ReadonlyArray<readonly [string, string]> = [
        [`a "quoted" host`, "compute"],
        ["}{", `{"host":"fake","topic":"fake"}`],
        ["__proto__", "__proto__"],
        [`back\\slash\\"}`, "{"],
        ["node-4", "compute"],
      ]
      yield* registerAndCutIndex(store, ids)
      const listed = yield* Effect.flatMap(
        ServiceRegistry.ServiceRegistry,
        (registry) => Effect.zipRight(registry.register("node-5", "compute"), registry.list),
      ).pipe(Effect.provide(over(store)))
      expect(listed.map((r) => [r.host, r.topic])).toEqual([
        ["__proto__", "__proto__"],
        [`a "quoted" host`, "compute"],
        ["node-5", "compute"],
        [`back\\slash\\"}`, "{"],
        ["}{", `{"host":"fake","topic":"fake"}`],
      ])
      const index = JSON.parse(Option.getOrThrow(yield* store.get("service/index")))
      expect(index).toEqual([...ids.slice(0, 4), ["node-5", "compute"]].map(([host, topic]) => ({
        host,
        topic,
      })))
    }).pipe(
      Effect.provide(KeyValueStore.layerMemory),
      Effect.provide(Logger.remove(Logger.defaultLogger)),
    ))

  it.effect("an index that is not JSON at all recovers nothing, is logged and kept aside", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("service/index", "garbage")
      yield* registry.register("node-2", "compute")
      expect(hostsOf(yield* registry.list)).toEqual(["node-2"])
      expect(capture.logs.map((log) => [log.level, log.message, log.annotations.key])).toEqual([
        corruptIndexLog("0 entries", "garbage"),
      ])
      // The reason ends with the engine's own JSON.parse message, worded by each engine its own
      // way (V8: "Unexpected token …", JavaScriptCore: "JSON Parse error: …").
      expect(capture.logs[0]?.annotations.reason).toContain(jsonParseMessage("garbage"))
      expect(yield* store.get("service/index.corrupt")).toEqual(Option.some("garbage"))
      expect(yield* store.get("service/index")).toEqual(
        Option.some(`[{"host":"node-2","topic":"compute"}]`),
      )
    }).pipe(Effect.provide(withStore), Effect.provide(capture.layer))
  })

  onFileSystem("records in a file-system store survive a restart", () =>
    Effect.gen(function* () {
      const platform = yield* loadNodePlatform
      const directory = yield* Effect.flatMap(
        FileSystem.FileSystem,
        (fs) => fs.makeTempDirectoryScoped(),
      ).pipe(Effect.provide(platform))
      // Effect.provide builds the layer afresh and releases it when the effect ends.
      const registry = ServiceRegistry.layerKeyValueStore.pipe(
        Layer.provide(KeyValueStore.layerFileSystem(directory)),
        Layer.provide(platform),
      )
      yield* registerAndBeat(3).pipe(Effect.provide(registry))
      const restarted = yield* Effect.flatMap(
        ServiceRegistry.ServiceRegistry,
        (registry) => Effect.all([registry.get("node-1", "compute"), registry.list]),
      ).pipe(Effect.provide(registry))
      const expected = record({ reportCount: 3, updatedAt: 30_000 })
      expect(restarted).toEqual([Option.some(expected), [expected]])
    }))
})

describe("ServiceRegistry.layerFileSystem", () => {
  /** Files as `KeyValueStore.layerFileSystem` names keys; the records of one directory. */
  const fileOf = (key: string) => encodeURIComponent(key)

  onFileSystem(
    "an index file cut off by a crash loses no record: every record on disk is listed",
    () =>
      Effect.gen(function* () {
        const { directory, platform } = yield* tempDirectory
        const fs = yield* Effect.provide(FileSystem.FileSystem, platform)
        // Written as layerKeyValueStore over KeyValueStore.layerFileSystem writes them.
        const old = ServiceRegistry.layerKeyValueStore.pipe(
          Layer.provide(KeyValueStore.layerFileSystem(directory)),
          Layer.provide(platform),
        )
        const hosts = ["node-1", "node-2", "node-3", "node-4"]
        yield* Effect.forEach(hosts, (host) =>
          Effect.flatMap(ServiceRegistry.ServiceRegistry, (r) =>
            r.register(host, "compute")))
          .pipe(Effect.provide(old))
        const index = `${directory}/${fileOf("service/index")}`
        const text = yield* fs.readFileString(index)
        yield* fs.writeFileString(index, text.slice(0, 30))
        const registry = ServiceRegistry.layerFileSystem(directory).pipe(Layer.provide(platform))
        const listed = yield* Effect.flatMap(ServiceRegistry.ServiceRegistry, (r) =>
          Effect.zipRight(r.register("node-5", "compute"), r.list)).pipe(Effect.provide(registry))
        expect(listed).toEqual([...hosts, "node-5"].map((host) =>
          record({ host })
        ))
      }),
  )

  onFileSystem(
    "a record whose rewrite a crash cut off keeps its previous version",
    () =>
      Effect.gen(function* () {
        const { directory, platform } = yield* tempDirectory
        const fs = yield* Effect.provide(FileSystem.FileSystem, platform)
        const registry = ServiceRegistry.layerFileSystem(directory).pipe(Layer.provide(platform))
        yield* registerAndBeat(1).pipe(Effect.provide(registry))
        // A crash between writing the temporary file and renaming it leaves both.
        yield* fs.writeFileString(`${directory}/.tmp-crashed`, `{"host":"node-1","top`)
        const listed = yield* Effect.flatMap(ServiceRegistry.ServiceRegistry, (r) => r.list).pipe(
          Effect.provide(registry),
        )
        expect(listed).toEqual([record({ reportCount: 1, updatedAt: 10_000 })])
        expect((yield* fs.readDirectory(directory)).sort()).toEqual([
          ".tmp-crashed",
          fileOf("service/compute/node-1"),
        ])
      }),
  )

  onFileSystem(
    "registries given the same seeded Random never share a temporary file",
    () =>
      Effect.gen(function* () {
        const { directory, platform } = yield* tempDirectory
        const layer = ServiceRegistry.layerFileSystem(directory).pipe(Layer.provide(platform))
        const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.withRandom(effect, Random.make(7))
        const [first, second] = yield* Effect.all([
          seeded(Effect.provide(ServiceRegistry.ServiceRegistry, layer)),
          seeded(Effect.provide(ServiceRegistry.ServiceRegistry, layer)),
        ])
        const hosts = (from: number) => Array.from({ length: 10 }, (_, i) => `node-${from + i}`)
        const registerAll = (registry: ServiceRegistry.ServiceRegistry, from: number) =>
          seeded(Effect.forEach(hosts(from), (host) => registry.register(host, "compute")))
        yield* Effect.all([registerAll(first, 10), registerAll(second, 20)], {
          concurrency: "unbounded",
        })
        expect(yield* first.list).toEqual(
          [...hosts(10), ...hosts(20)].map((host) => record({ host })),
        )
      }),
  )

  onFileSystem(
    "temporary files a crash left over a minute ago are removed when the layer starts",
    () =>
      Effect.gen(function* () {
        const { directory, platform } = yield* tempDirectory
        const fs = yield* Effect.provide(FileSystem.FileSystem, platform)
        yield* TestClock.adjust("10 minutes")
        for (const [name, secondsAgo] of [["old", 61], ["recent", 59]] as const) {
          const file = `${directory}/.tmp-${name}`
          yield* fs.writeFileString(file, "{")
          const mtime = new Date(10 * 60_000 - secondsAgo * 1000)
          yield* fs.utimes(file, mtime, mtime)
        }
        const registry = ServiceRegistry.layerFileSystem(directory).pipe(Layer.provide(platform))
        yield* registerAndBeat(0).pipe(Effect.provide(registry))
        expect((yield* fs.readDirectory(directory)).sort()).toEqual([
          ".tmp-recent",
          fileOf("service/compute/node-1"),
        ])
      }),
  )

  onFileSystem(
    "a record file that does not decode is logged with its path and left out of list",
    () => {
      const capture = captureLogs()
      return Effect.gen(function* () {
        const { directory, platform } = yield* tempDirectory
        const fs = yield* Effect.provide(FileSystem.FileSystem, platform)
        const registry = ServiceRegistry.layerFileSystem(directory).pipe(Layer.provide(platform))
        const file = `${directory}/${fileOf("service/compute/node-2")}`
        yield* fs.writeFileString(file, "{")
        const listed = yield* Effect.flatMap(
          ServiceRegistry.ServiceRegistry,
          (r) => Effect.zipRight(r.register("node-1", "compute"), r.list),
        ).pipe(Effect.provide(registry))
        expect(listed).toEqual([record()])
        expect(capture.logs.map((log) => [log.level, log.message, log.annotations.key])).toEqual([[
          "ERROR",
          [
            `Service registry: the value stored at ${
              JSON.stringify(file)
            } is corrupt and is treated as absent; stored text: "{"`,
          ],
          file,
        ]])
      }).pipe(Effect.provide(capture.layer))
    },
  )
})
