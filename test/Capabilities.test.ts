import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Manager, Service, ServiceRegistry } from "../mod.ts"
import * as Capabilities from "../src/Capabilities.ts"
import * as CapabilityBus from "../src/CapabilityBus.ts"

const Resources = Schema.Struct({ freeRamMb: Schema.NonNegative })
type Resources = typeof Resources.Type

const source = { host: "compute-1", service: "compute", manager: "Compute" } as const

/** What a test checks of a report: [timestamp, sequence, encoded capabilities]. */
type Seen = [number, number, unknown]

/** Runs `stream` in the background, appending each report as [timestamp, sequence, capabilities]. */
const collect = (stream: Stream.Stream<Capabilities.CapabilityReport, unknown>) =>
  Effect.gen(function* () {
    const seen: Array<Seen> = []
    yield* Effect.fork(
      Stream.runForEach(stream, (report) =>
        Effect.sync(() => {
          seen.push([report.timestamp, report.sequence, report.capabilities])
        })),
    )
    return seen
  })

/** Reports of a manager whose capabilities are the values offered to the returned queue. */
const fromQueue = (options?: Capabilities.Options) =>
  Effect.gen(function* () {
    const values = yield* Queue.unbounded<Resources>()
    const seen = yield* collect(
      Capabilities.reports(
        source,
        Manager.capabilities(Resources, Stream.fromQueue(values)),
        options,
      ),
    )
    return { values, seen }
  })

const ram = (freeRamMb: number): Resources => ({ freeRamMb })

/** What this engine throws for JSON.stringify of a BigInt (each engine words it its own way). */
const bigIntJsonError = (): unknown => {
  try {
    JSON.stringify(1n)
  } catch (error) {
    return error
  }
  return undefined
}

/** Log lines seen by a logger that replaces the default one: level, message and annotations. */
const captureLogs = () => {
  const logs: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    logs.push({ level: logLevel.label, message, annotations: Object.fromEntries(annotations) })
  })
  return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("Capabilities.reports", () => {
  it.effect("reports nothing before the first value, then the first value at once", () =>
    Effect.gen(function* () {
      const { seen, values } = yield* fromQueue()
      yield* TestClock.adjust("25 seconds")
      expect(seen).toEqual([])
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("0 millis")
      expect(seen).toEqual([[25_000, 1, { freeRamMb: 2048 }]])
    }))

  it.effect("a report carries host, service and manager, and the encoded value", () =>
    Effect.gen(function* () {
      const Megabytes = Schema.Struct({ freeRam: Schema.NumberFromString })
      const first = yield* Capabilities.reports(
        source,
        Manager.capabilities(Megabytes, Stream.make({ freeRam: 512 })),
      ).pipe(Stream.runHead)
      expect(first._tag === "Some" ? first.value : undefined).toEqual({
        host: "compute-1",
        service: "compute",
        manager: "Compute",
        capabilities: { freeRam: "512" },
        timestamp: 0,
        sequence: 1,
      })
    }))

  it.effect("a change is reported at once; the same value again is not a change", () =>
    Effect.gen(function* () {
      const { seen, values } = yield* fromQueue()
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("3 seconds")
      // A new object with the same content: not a change.
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("1 second")
      yield* Queue.offer(values, ram(1024))
      yield* TestClock.adjust("0 millis")
      expect(seen).toEqual([
        [0, 1, { freeRamMb: 2048 }],
        [4_000, 2, { freeRamMb: 1024 }],
      ])
    }))

  it.effect("an unchanged value is reported again every publishInterval after the last report", () =>
    Effect.gen(function* () {
      const { seen, values } = yield* fromQueue({ publishInterval: "10 seconds" })
      yield* TestClock.adjust("2 seconds")
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("31 seconds")
      expect(seen).toEqual([
        [2_000, 1, { freeRamMb: 2048 }],
        [12_000, 2, { freeRamMb: 2048 }],
        [22_000, 3, { freeRamMb: 2048 }],
        [32_000, 4, { freeRamMb: 2048 }],
      ])
    }))

  it.effect("the default publishInterval is 10 seconds", () =>
    Effect.gen(function* () {
      const { seen, values } = yield* fromQueue()
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("20 seconds")
      expect(seen.map(([at]) => at)).toEqual([0, 10_000, 20_000])
    }))

  it.effect("a change restarts the interval", () =>
    Effect.gen(function* () {
      const { seen, values } = yield* fromQueue({ publishInterval: "10 seconds" })
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("7 seconds")
      yield* Queue.offer(values, ram(1024))
      yield* TestClock.adjust("16 seconds")
      expect(seen).toEqual([
        [0, 1, { freeRamMb: 2048 }],
        [7_000, 2, { freeRamMb: 1024 }],
        [17_000, 3, { freeRamMb: 1024 }],
      ])
    }))

  it.effect("the last value is still reported after the manager's stream ends", () =>
    Effect.gen(function* () {
      const seen = yield* collect(
        Capabilities.reports(source, Manager.capabilities(Resources, Stream.make(ram(512))), {
          publishInterval: "1 minute",
        }),
      )
      yield* TestClock.adjust("2 minutes")
      expect(seen).toEqual([
        [0, 1, { freeRamMb: 512 }],
        [60_000, 2, { freeRamMb: 512 }],
        [120_000, 3, { freeRamMb: 512 }],
      ])
    }))

  it.effect("a value that does not encode is logged, naming and annotated with manager, topic and host, and skipped", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function* () {
      const { seen, values } = yield* fromQueue({ publishInterval: "10 seconds" })
      yield* Queue.offer(values, ram(2048))
      yield* TestClock.adjust("4 seconds")
      yield* Queue.offer(values, ram(-1))
      yield* TestClock.adjust("1 second")
      yield* Queue.offer(values, ram(1024))
      yield* TestClock.adjust("0 millis")
      // The skipped value neither counts as a change nor restarts the interval.
      expect(seen).toEqual([
        [0, 1, { freeRamMb: 2048 }],
        [5_000, 2, { freeRamMb: 1024 }],
      ])
      const errors = logs.filter((log) => log.level === "ERROR")
      expect(errors).toHaveLength(1)
      const message = String(errors[0]?.message)
      expect(message).toContain(
        `Manager "Compute" of service compute on host compute-1: a capabilities value was not published, it does not encode with the manager's schema:`,
      )
      expect(message).toContain("-1")
      expect(errors[0]?.annotations).toEqual({
        host: "compute-1",
        topic: "compute",
        manager: "Compute",
      })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a value whose encoded form is not JSON is logged and skipped", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function* () {
      const Counter = Schema.Struct({ count: Schema.BigIntFromSelf })
      const seen = yield* collect(
        Capabilities.reports(
          source,
          Manager.capabilities(Counter, Stream.make({ count: 1n })),
        ),
      )
      yield* TestClock.adjust("1 minute")
      expect(seen).toEqual([])
      // The reason ends with the engine's own TypeError, whose text is the engine's (V8: "Do not
      // know how to serialize a BigInt", JavaScriptCore: "JSON.stringify cannot serialize
      // BigInt."): take it from the engine we run on, and assert only our part literally.
      const engineError = bigIntJsonError()
      expect(engineError).toBeInstanceOf(TypeError)
      expect(logs.map((log) => [log.level, String(log.message)])).toEqual([[
        "ERROR",
        `Manager "Compute" of service compute on host compute-1: a capabilities value was not published, its encoded form is not JSON: ${
          String(engineError)
        }`,
      ]])
    }).pipe(Effect.provide(layer))
  })
})

describe("Capabilities bad input", () => {
  const bad: ReadonlyArray<readonly [unknown, string, string]> = [
    [0, "0", "must be a finite duration > 0"],
    [-1, "-1", "must be a finite duration > 0"],
    [NaN, "NaN", "must be a finite duration > 0"],
    [Infinity, "Infinity", "must be a finite duration > 0"],
    ["abc", `"abc"`, "is not a duration"],
    [null, "null", "is not a duration"],
  ]
  for (const [publishInterval, value, reason] of bad) {
    it.effect(`a publishInterval of ${String(publishInterval)} fails the stream at once`, () =>
      Effect.gen(function* () {
        const error = yield* Capabilities.reports(
          source,
          Manager.capabilities(Resources, Stream.make(ram(1))),
          { publishInterval: publishInterval as never },
        ).pipe(Stream.runCollect, Effect.flip)
        expect(error).toEqual(
          new Capabilities.InvalidOption({
            module: "Capabilities",
            option: "publishInterval",
            value,
            reason,
          }),
        )
        expect(error.message).toBe(
          `Invalid option publishInterval of Capabilities: ${value} ${reason}`,
        )
      }))
  }

  it("a CapabilityReport's timestamp must be finite and its sequence a safe integer", () => {
    const valid = {
      host: "compute-1",
      service: "compute",
      manager: "Compute",
      capabilities: {},
      timestamp: 0,
      sequence: 1,
    }
    const decode = Schema.decodeUnknownEither(Capabilities.CapabilityReport)
    expect(decode(valid)._tag).toBe("Right")
    expect(
      [
        { timestamp: Infinity },
        { timestamp: NaN },
        { sequence: Infinity },
        { sequence: 1.5 },
        { sequence: -1 },
      ].map((change) => decode({ ...valid, ...change })._tag),
    ).toEqual(["Left", "Left", "Left", "Left", "Left"])
  })

  it.effect("hosts, services and managers named like object keys are reported as they are", () =>
    Effect.gen(function* () {
      const first = yield* Capabilities.reports(
        { host: "__proto__", service: "constructor", manager: "toString" },
        Manager.capabilities(Resources, Stream.make(ram(1))),
      ).pipe(Stream.runHead)
      expect(first._tag === "Some" ? first.value : undefined).toEqual({
        host: "__proto__",
        service: "constructor",
        manager: "toString",
        capabilities: { freeRamMb: 1 },
        timestamp: 0,
        sequence: 1,
      })
    }))
})

class Compute extends Context.Tag("Compute")<Compute, { readonly ping: Effect.Effect<string> }>() {}

/** A compute manager whose capabilities are the values offered to `values`. */
const computeManager = (values: Queue.Queue<Resources>) =>
  Manager.layer(
    Compute,
    Effect.succeed({
      service: { ping: Effect.succeed("pong") },
      capabilities: Manager.capabilities(Resources, Stream.fromQueue(values)),
    }),
  )

describe("Service capabilities", () => {
  it.scoped("a service publishes its managers' reports on the bus until its scope closes", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make()
      const reports = yield* bus.subscribe
      const seen: Array<Capabilities.CapabilityReport> = []
      yield* Effect.fork(
        Stream.runForEach(reports, (report) => Effect.sync(() => seen.push(report))),
      )
      const values = yield* Queue.unbounded<Resources>()
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        Service.layer(
          { host: "compute-1", topic: "compute", publishInterval: "30 seconds" },
          computeManager(values),
        ).pipe(
          Layer.provide(
            Layer.merge(
              ServiceRegistry.layerMemory,
              Layer.succeed(CapabilityBus.CapabilityBus, bus),
            ),
          ),
        ),
        scope,
      )
      yield* TestClock.adjust("1 second")
      expect(seen).toEqual([])
      yield* Queue.offer(values, ram(4096))
      yield* TestClock.adjust("40 seconds")
      expect(seen).toEqual([
        {
          host: "compute-1",
          service: "compute",
          manager: "Compute",
          capabilities: { freeRamMb: 4096 },
          timestamp: 1_000,
          sequence: 1,
        },
        {
          host: "compute-1",
          service: "compute",
          manager: "Compute",
          capabilities: { freeRamMb: 4096 },
          timestamp: 31_000,
          sequence: 2,
        },
      ])
      yield* Scope.close(scope, Exit.void)
      yield* Queue.offer(values, ram(1024))
      yield* TestClock.adjust("2 minutes")
      expect(seen).toHaveLength(2)
    }))

  it.effect("a service without a bus starts and runs its managers", () =>
    Effect.gen(function* () {
      const values = yield* Queue.unbounded<Resources>()
      yield* Queue.offer(values, ram(4096))
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer({ host: "compute-1", topic: "compute" }, computeManager(values)).pipe(
          Layer.provide(ServiceRegistry.layerMemory),
        ),
        scope,
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Context.get(context, Compute).ping).toBe("pong")
      // Nothing read the capabilities.
      expect(yield* Queue.size(values)).toBe(1)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("publishInterval must be a duration > 0", () =>
    Effect.gen(function* () {
      const values = yield* Queue.unbounded<Resources>()
      const exit = yield* Layer.build(
        Service.layer(
          { host: "compute-1", topic: "compute", publishInterval: 0 },
          computeManager(values),
        ).pipe(Layer.provide(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.exit)
      expect(exit).toEqual(Exit.fail(
        new Service.InvalidOption({
          module: "Service",
          option: "publishInterval",
          value: "0",
          reason: "must be a finite duration > 0",
        }),
      ))
    }))
})
