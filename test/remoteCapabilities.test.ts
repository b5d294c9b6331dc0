// Capability reports across processes (Remote.layerCapabilityPublisher → Remote.capabilityReceiver),
// over the in-memory transport under the TestClock.
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { type Capabilities, CapabilityBus, Manager, Service, ServiceRegistry } from "../mod.ts"
import * as Remote from "../src/Remote.ts"
import * as Scheduler from "../src/Scheduler.ts"
import { captureLogs } from "./support/periodic.ts"

class Placement extends Context.Tag("Placement")<Placement, object>() {}
class Compute extends Context.Tag("Compute")<Compute, object>() {}

const network = Layer.mergeAll(Remote.layerMemory, ServiceRegistry.layerMemory)

const node1: Remote.Credentials = {
  _tag: "Hmac",
  principal: "node-1",
  secret: "node-1-secret-0123",
}
const node2: Remote.Credentials = {
  _tag: "Hmac",
  principal: "node-2",
  secret: "node-2-secret-0123",
}

/**
 * A scheduler service on `host` whose receiver publishes on a bus of the test's; what reaches
 * the bus is noted as "host freeRamMb@time" in the returned log.
 */
const startScheduler = (
  host: string,
  scope: Scope.Scope,
  options: {
    readonly server?: Remote.ServerOptions
    readonly receiver?: Remote.CapabilityReceiverOptions
    /** How long the scheduler's bus takes to take each report (a slow scheduler). */
    readonly slowMillis?: number
  } = {},
) =>
  Effect.gen(function* () {
    const bus = yield* Scope.extend(CapabilityBus.make(), scope)
    const received = yield* Ref.make<ReadonlyArray<string>>([])
    const reports = yield* Scope.extend(bus.subscribe, scope)
    yield* Effect.forkIn(
      Stream.runForEach(reports, (report: Capabilities.CapabilityReport) =>
        Ref.update(received, (lines) => [
          ...lines,
          `${report.host} ${
            (report.capabilities as { freeRamMb: number }).freeRamMb
          }@${report.timestamp}`,
        ])),
      scope,
    )
    const manager = Manager.layer(
      Placement,
      Effect.gen(function* () {
        return {
          service: {},
          additionalEndpoints: [yield* Remote.capabilityReceiver(options.receiver)],
        }
      }),
    )
    yield* Layer.buildWithScope(
      Service.layer({ host, topic: "scheduler" }, manager).pipe(
        Layer.provide(Remote.layerServer(options.server)),
        Layer.provide(Layer.succeed(CapabilityBus.CapabilityBus, {
          ...bus,
          publish: (report) =>
            Effect.zipRight(Effect.sleep(options.slowMillis ?? 0), bus.publish(report)),
        })),
      ),
      scope,
    )
    return received
  })

/** A compute service on `host` whose manager's free RAM goes through `values`, one a second. */
const startCompute = (
  host: string,
  values: ReadonlyArray<number>,
  scope: Scope.Scope,
  publisher: Remote.CapabilityPublisherOptions = {},
  serve = false,
) =>
  Layer.buildWithScope(
    Service.layer(
      { host, topic: "compute", publishInterval: "10 seconds" },
      Manager.layer(
        Compute,
        Effect.succeed({
          service: {},
          capabilities: Manager.capabilities(
            Schema.Struct({ freeRamMb: Schema.Number }),
            Stream.concat(
              Stream.fromIterable(values).pipe(
                Stream.zipWithIndex,
                Stream.mapEffect(([freeRamMb, i]) =>
                  Effect.as(i === 0 ? Effect.void : Effect.sleep("1 second"), { freeRamMb })
                ),
              ),
              Stream.never,
            ),
          ),
        }),
      ),
    ).pipe(
      Layer.provide(Remote.layerCapabilityPublisher(publisher)),
      Layer.provide(serve ? Remote.layerServer() : Layer.empty),
    ),
    scope,
  )

/** Lets the forked fibers (senders, receivers) run before the clock moves. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const advance = (millis: number) => Effect.zipRight(settle, TestClock.adjust(millis))

describe("Remote: capability reports across processes", () => {
  it.scoped("a scheduler gets every change and the latest again each publishInterval", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const received = yield* startScheduler("scheduler-1", scope)
      yield* startCompute("node-1", [100, 200, 300], scope)
      yield* advance(2_000)
      yield* settle
      expect(yield* Ref.get(received)).toEqual([
        "node-1 100@0",
        "node-1 200@1000",
        "node-1 300@2000",
      ])
      yield* advance(10_000)
      yield* settle
      expect(yield* Ref.get(received)).toEqual([
        "node-1 100@0",
        "node-1 200@1000",
        "node-1 300@2000",
        "node-1 300@12000",
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("while no scheduler is up only the latest report is kept, and it is sent once one is", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      yield* startCompute("node-1", [100, 200, 300], scope)
      yield* advance(2_500)
      const received = yield* startScheduler("scheduler-1", scope)
      yield* settle
      expect(yield* Ref.get(received)).toEqual([]) // found at the next registry read
      yield* advance(1_000)
      yield* settle
      expect(yield* Ref.get(received)).toEqual(["node-1 300@2000"])
    }).pipe(Effect.provide(network)))

  it.scoped("a slow scheduler never holds up a publisher: it skips intermediate reports, never the latest", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const received = yield* startScheduler("scheduler-1", scope, { slowMillis: 4_000 })
      yield* startCompute("node-1", [100, 200, 300], scope)
      yield* advance(3_999)
      yield* settle
      expect(yield* Ref.get(received)).toEqual([]) // the first batch is still being taken
      yield* advance(1)
      yield* settle
      expect(yield* Ref.get(received)).toEqual(["node-1 100@0"])
      // The next batch holds the latest report only: 200 was replaced before it could go.
      yield* advance(4_000)
      yield* settle
      expect(yield* Ref.get(received)).toEqual(["node-1 100@0", "node-1 300@2000"])
    }).pipe(Effect.provide(network)))

  it.scoped("a scheduler that restarts is sent the latest reports again", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const first = yield* Scope.make()
      yield* startScheduler("scheduler-1", first)
      yield* startCompute("node-1", [100], scope)
      yield* startCompute("node-2", [500], scope)
      yield* advance(1_000)
      yield* Scope.close(first, Exit.void) // its record is marked down
      yield* advance(1_000)
      const received = yield* startScheduler("scheduler-1", scope)
      yield* advance(1_000)
      yield* settle
      expect([...yield* Ref.get(received)].sort()).toEqual(["node-1 100@0", "node-2 500@0"])
    }).pipe(Effect.provide(network)))

  it.scoped("a report for another host than the sender's key is refused and logged; the others go on", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const logs = yield* captureLogs
      const received = yield* startScheduler("scheduler-1", scope, {
        server: { auth: { keys: [node1, node2] } },
      })
      yield* startCompute("node-1", [100], scope, { credentials: node1 })
      yield* startCompute("node-3", [900], scope, { credentials: node2 }) // node-2's key
      yield* advance(1_000)
      yield* settle
      expect(yield* Ref.get(received)).toEqual(["node-1 100@0"])
      expect(logs.filter((line) => line.level === "WARN").map((line) => line.message)).toEqual([
        `Refused 1 of 1 capability reports from hmac:node-2: Capability report of Compute of compute on "node-3" refused: host is not the sender's (sent by "node-2")`,
        // node-3's publisher, once.
        `Scheduler scheduler-1 refused 1 of 1 reports: Capability report of Compute of compute on "node-3" refused: host is not the sender's (sent by "node-2")`,
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("a report stamped far from the scheduler's clock, or malformed, comes back refused", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const received = yield* startScheduler("scheduler-1", scope, {
        receiver: { maxSkew: "1 minute" },
      })
      yield* advance(600_000)
      const schedulers = yield* Remote.client(Remote.CapabilityApi, { topic: "scheduler" })
      const report = {
        host: "node-1",
        service: "compute",
        manager: "Compute",
        capabilities: { freeRamMb: 1 },
        sequence: 1,
      }
      const receipt = yield* schedulers.call("scheduler-1", "report", {
        reports: [
          { ...report, timestamp: 600_000 - 60_001 },
          { ...report, timestamp: 600_000 + 60_000 },
          { ...report, host: "__proto__", timestamp: 600_000 + 1e12 },
          { ...report, host: "node-2", timestamp: 600_000, sequence: 2 ** 50 + 1 },
        ],
      })
      expect(receipt.accepted).toBe(1)
      expect(receipt.refused.map((refusal) => [refusal.host, refusal.reason, refusal.detail]))
        .toEqual([
          [
            "node-1",
            "timestamp too far from the scheduler's clock",
            "-60001 ms from it, at most ±60000 ms",
          ],
          [
            "__proto__",
            "timestamp too far from the scheduler's clock",
            "1000000000000 ms from it, at most ±60000 ms",
          ],
          ["node-2", "sequence out of range", "1125899906842625, at most 1125899906842624"],
        ])
      yield* settle
      expect(yield* Ref.get(received)).toEqual(["node-1 1@660000"])
      // A malformed report does not leave the publisher: `publish` refuses it.
      const publisher = yield* Layer.build(Remote.layerCapabilityPublisher())
      const bus = Context.get(publisher, CapabilityBus.CapabilityBus)
      const refused = yield* Effect.flip(
        bus.publish({ ...report, timestamp: 600_000, sequence: -1 }),
      )
      expect(refused._tag).toBe("MalformedReport")
      yield* advance(1_000)
      yield* settle
      expect(yield* Ref.get(received)).toEqual(["node-1 1@660000"])
    }).pipe(Effect.provide(network)))

  it.scoped("a scheduler that starts pulls every up host's latest reports at once (pullCapabilities)", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      // Publishers that would not look for a scheduler for a minute.
      const slow = { retryInterval: "1 minute" } as const
      for (const [host, ram] of [["node-1", 100], ["node-2", 200]] as const) {
        yield* startCompute(host, [ram], scope, slow, true)
      }
      yield* startCompute("node-3", [300], scope, slow) // no RPC server: nothing to ask
      yield* advance(1_000)
      const bus = yield* Scope.extend(CapabilityBus.make(), scope)
      const reports = yield* Scope.extend(bus.subscribe, scope)
      const pulled = yield* Remote.pullCapabilities(["compute"]).pipe(
        Effect.provideService(CapabilityBus.CapabilityBus, bus),
      )
      expect(pulled).toBe(2)
      const received = yield* Stream.runCollect(Stream.take(reports, 2))
      expect(
        [...received].map((r) =>
          `${r.host} ${(r.capabilities as { freeRamMb: number }).freeRamMb}@${r.timestamp}`
        ).sort(),
      )
        .toEqual(["node-1 100@0", "node-2 200@0"])
    }).pipe(Effect.provide(network)))

  it.scoped("options that cannot work are typed errors naming the option", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(Remote.layerCapabilityPublisher({ retryInterval: 0 })),
      )
      expect(error).toEqual(
        new Remote.InvalidRemoteOption({
          option: "retryInterval",
          value: "0",
          expected: "a duration above 0",
        }),
      )
    }).pipe(Effect.provide(network)))

  it.scoped("select over RPC answers the chosen host, or NoValidHost with what each filter removed", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const PlacementApi = Remote.schedulerApi(Schema.Struct({ freeRamMb: Schema.Number }))
      const manager = Manager.layer(
        Placement,
        Effect.gen(function* () {
          const scheduler = yield* Scheduler.make({
            schema: Schema.Struct({ freeRamMb: Schema.Number }),
          })
          yield* scheduler.consume(
            yield* Effect.flatMap(CapabilityBus.CapabilityBus, (bus) => bus.subscribe),
          )
          return {
            service: {},
            additionalEndpoints: [
              yield* Remote.capabilityReceiver(),
              yield* Remote.schedulerEndpoint(PlacementApi, scheduler, {
                filters: [Scheduler.resourcesFit(["freeRamMb"])],
                weighers: [Scheduler.numericWeigher("ram", "freeRamMb")],
              }),
            ],
          }
        }),
      )
      yield* Layer.buildWithScope(
        Service.layer({ host: "scheduler-1", topic: "scheduler" }, manager).pipe(
          Layer.provide(Remote.layerServer()),
          Layer.provide(CapabilityBus.layer()),
        ),
        scope,
      )
      yield* startCompute("node-1", [100], scope)
      yield* startCompute("node-2", [200], scope)
      yield* advance(1_000)
      yield* settle
      const schedulers = yield* Remote.client(PlacementApi, { topic: "scheduler" })
      expect(yield* schedulers.call("scheduler-1", "select", { freeRamMb: 50 })).toEqual({
        host: "node-2",
        service: "compute",
        manager: "Compute",
      })
      expect(yield* schedulers.call("scheduler-1", "select", { freeRamMb: 150 })).toEqual({
        host: "node-2",
        service: "compute",
        manager: "Compute",
      })
      const refused = yield* Effect.flip(
        schedulers.call("scheduler-1", "select", { freeRamMb: 1_000 }),
      )
      expect(refused).toEqual(
        new Scheduler.NoValidHost({ hosts: 2, removed: [{ filter: "resources", removed: 2 }] }),
      )
      expect(refused).toBeInstanceOf(Scheduler.NoValidHost)
    }).pipe(Effect.provide(network)))
})
