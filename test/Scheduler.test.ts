import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Scheduler from "../src/Scheduler.ts"
import { captureLogs } from "./support/periodic.ts"
import { report } from "./support/reports.ts"

const Compute = Schema.Struct({
  vcpus: Schema.Number,
  ramMb: Schema.Number,
  instances: Schema.Number,
  enabled: Schema.Boolean,
})
type Compute = typeof Compute.Type

const node = (ramMb: number, other: Partial<Compute> = {}): Compute => ({
  vcpus: 8,
  ramMb,
  instances: 0,
  enabled: true,
  ...other,
})

/** A host state as the scheduler keeps it, received at `receivedAt`. */
const state = (
  host: string,
  sequence: number,
  capabilities: Compute,
  receivedAt: number,
  up = true,
): Scheduler.HostState<Compute> => ({
  host,
  service: "compute",
  manager: "Compute",
  capabilities,
  receivedAt,
  sequence,
  up,
})

const names = (hosts: ReadonlyArray<Scheduler.HostState<unknown>>) => hosts.map((h) => h.host)

describe("Scheduler", () => {
  it.scoped("ingested reports become host states with the time they were received", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      expect(yield* scheduler.ingest(report("node-2", 1, node(2048)))).toBe("accepted")
      yield* TestClock.adjust("1500 millis")
      yield* scheduler.ingest(report("node-1", 1, node(1024)))
      yield* TestClock.adjust("500 millis")
      yield* scheduler.ingest(report("node-2", 2, node(4096)))
      expect(yield* scheduler.hosts).toEqual([
        state("node-1", 1, node(1024), 1_500),
        state("node-2", 2, node(4096), 2_000),
      ])
    }))

  it.scoped("a report not newer than the last accepted one is ignored", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      yield* scheduler.ingest(report("node-1", 5, node(4096)))
      yield* TestClock.adjust("1 second")
      expect(yield* scheduler.ingest(report("node-1", 4, node(1))))
        .toBe("outOfOrder")
      expect(yield* scheduler.ingest(report("node-1", 5, node(2)))).toBe("outOfOrder")
      const summary = yield* scheduler.ingestAll([
        report("node-1", 3, node(3)),
        report("node-1", 6, node(6)),
        report("node-1", 6, node(7)),
      ])
      expect(summary).toEqual({ accepted: 1, outOfOrder: 2, rejected: [] })
      expect(yield* scheduler.hosts).toEqual([state("node-1", 6, node(6), 1_000)])
    }))

  it.scoped("a publisher that restarted within the down time starts again at sequence 1", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      yield* scheduler.ingest({ ...report("node-1", 50, node(100)), timestamp: 1_000 })
      yield* TestClock.adjust("5 seconds")
      // A late copy of an old run's first report is still out of order.
      expect(yield* scheduler.ingest({ ...report("node-1", 1, node(1)), timestamp: 500 }))
        .toBe("outOfOrder")
      expect(yield* scheduler.ingest({ ...report("node-1", 1, node(999)), timestamp: 6_000 }))
        .toBe("accepted")
      expect(yield* scheduler.ingest({ ...report("node-1", 2, node(998)), timestamp: 6_500 }))
        .toBe("accepted")
      expect(yield* scheduler.hosts).toEqual([state("node-1", 2, node(998), 5_000)])
    }))

  it.scoped(
    "a report whose capabilities fail the schema is rejected, logged with its host, topic and manager, and the previous state kept",
    () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        const scheduler = yield* Scheduler.make({ schema: Compute })
        yield* scheduler.ingest(report("node-1", 1, node(4096)))
        yield* TestClock.adjust("1 second")
        const error = yield* scheduler.ingest(report("node-1", 2, { ...node(4096), ramMb: "lots" }))
          .pipe(
            Effect.flip,
            Effect.filterOrDie(
              (e): e is Scheduler.InvalidCapabilities => e._tag === "InvalidCapabilities",
              (e) => e,
            ),
          )
        expect(error).toBeInstanceOf(Scheduler.InvalidCapabilities)
        expect([error._tag, error.host, error.service, error.manager, error.sequence]).toEqual([
          "InvalidCapabilities",
          "node-1",
          "compute",
          "Compute",
          2,
        ])
        expect(error.message).toBe(
          `Capabilities of manager "Compute" (service "compute") on host "node-1", report 2, are refused and the previous state is kept: ${error.reason}`,
        )
        expect(error.reason).toContain(`readonly ramMb: number`)
        expect(error.reason).toContain(`Expected number, actual "lots"`)
        expect(logs.map((line) => [line.level, line.message, line.annotations])).toEqual([
          ["WARN", error.message, { host: "node-1", topic: "compute", manager: "Compute" }],
        ])
        expect(yield* scheduler.hosts).toEqual([state("node-1", 1, node(4096), 0)])
        // A later valid report is still accepted: the rejected one did not take its sequence.
        yield* scheduler.ingest(report("node-1", 2, node(1024)))
        expect(yield* scheduler.hosts).toEqual([state("node-1", 2, node(1024), 1_000)])
      }),
  )

  it.scoped("a host is up until exactly serviceDownTime after its last report", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute, serviceDownTime: "10 seconds" })
      yield* scheduler.ingest(report("node-1", 1, node(4096)))
      yield* TestClock.adjust("2 seconds")
      yield* scheduler.ingest(report("node-2", 1, node(4096)))
      yield* TestClock.adjust("8 seconds")
      expect(names(yield* scheduler.upHosts)).toEqual(["node-1", "node-2"])
      yield* TestClock.adjust("1 millis")
      expect(names(yield* scheduler.upHosts)).toEqual(["node-2"])
      expect(yield* scheduler.hosts).toEqual([
        state("node-1", 1, node(4096), 0, false),
        state("node-2", 1, node(4096), 2_000),
      ])
      yield* TestClock.adjust("2 seconds")
      expect(yield* scheduler.upHosts).toEqual([])
      expect(Duration.toMillis(scheduler.serviceDownTime)).toBe(10_000)
    }))

  it.scoped(
    "changes announce a host added, updated, down at the exact instant without a report, and back up",
    () =>
      Effect.gen(function* () {
        const scheduler = yield* Scheduler.make({ schema: Compute, serviceDownTime: "10 seconds" })
        const changes = yield* scheduler.subscribeChanges
        const seen: Array<[string, string, number, number]> = []
        yield* changes.pipe(
          Stream.runForEach((change) =>
            Effect.map(TestClock.currentTimeMillis, (now) => {
              seen.push([change._tag, change.host.host, change.host.sequence, now])
            })
          ),
          Effect.forkScoped,
        )
        yield* scheduler.ingest(report("node-1", 1, node(4096)))
        yield* TestClock.adjust("1 second")
        // The same capabilities again only refresh the host.
        yield* scheduler.ingest(report("node-1", 2, node(4096)))
        yield* scheduler.ingest(report("node-1", 3, node(2048)))
        yield* TestClock.adjust("10 seconds")
        expect(seen).toEqual([
          ["HostAdded", "node-1", 1, 0],
          ["HostUpdated", "node-1", 3, 1_000],
        ])
        yield* TestClock.adjust("1 millis")
        expect(seen.at(-1)).toEqual(["HostDown", "node-1", 3, 11_001])
        yield* TestClock.adjust("9 seconds")
        // A restarted publisher counts from 1 again: a down host accepts it.
        yield* scheduler.ingest(report("node-1", 1, node(8192)))
        yield* Effect.yieldNow()
        expect(seen).toEqual([
          ["HostAdded", "node-1", 1, 0],
          ["HostUpdated", "node-1", 3, 1_000],
          ["HostDown", "node-1", 3, 11_001],
          ["HostBackUp", "node-1", 1, 20_001],
        ])
      }),
  )

  it.scoped("select runs the filters, then weighs with normalised weights and multipliers", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      yield* scheduler.ingestAll([
        report("a", 1, node(1000, { instances: 0 })),
        report("b", 1, node(3000, { instances: 4 })),
        report("c", 1, node(2000, { instances: 2 })),
      ])
      const weighers = (ram: number) => [
        Scheduler.numericWeigher("ram", "ramMb", ram),
        Scheduler.numericWeigher("instances", "instances", -2),
      ]
      // ram normalised a 0, b 1, c 0.5; instances a 0, b 1, c 0.5.
      // ×1 and ×−2: a 0, b −1, c −0.5. ×3 and ×−2: a 0, b 1, c 0.5.
      const pick = (request: { readonly ramMb?: number }, ram: number) =>
        Effect.map(
          scheduler.select(request, {
            filters: [Scheduler.resourcesFit(["ramMb", "vcpus"])],
            weighers: weighers(ram),
          }),
          (h) => h.host,
        )
      expect(yield* pick({}, 1)).toBe("a")
      expect(yield* pick({}, 3)).toBe("b")
      // The filter removes a: b −1, c 0.
      expect(yield* pick({ ramMb: 1500 }, 1)).toBe("c")
      expect(yield* pick({ ramMb: 3000 }, 1)).toBe("b")
      const chosen = yield* scheduler.select({}, {})
      expect(chosen).toEqual(state("a", 1, node(1000, { instances: 0 }), 0))
    }))

  it.scoped("hosts with equal weights go to the first by name", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      yield* scheduler.ingestAll([
        report("node-c", 1, node(4096)),
        report("node-a", 1, node(1024)),
        report("node-b", 1, node(4096)),
      ])
      const ram = Scheduler.numericWeigher("ram", "ramMb")
      expect((yield* scheduler.select({}, { weighers: [ram] })).host).toBe("node-b")
      const flat: Scheduler.Weigher<Compute> = { name: "flat", weigh: () => 7, multiplier: 5 }
      expect((yield* scheduler.select({}, { weighers: [flat] })).host).toBe("node-a")
      expect((yield* scheduler.select({}, {})).host).toBe("node-a")
    }))

  it.scoped("NoValidHost says how many up hosts each filter removed", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute, serviceDownTime: "10 seconds" })
      yield* scheduler.ingest(report("gone", 1, node(1_000_000)))
      yield* TestClock.adjust("11 seconds")
      yield* scheduler.ingestAll(
        Array.from(
          { length: 10 },
          (_, i) => report(`node-${i}`, 1, i < 7 ? node(1024) : node(8192, { enabled: false })),
        ),
      )
      const compute: Scheduler.Filter<Compute> = {
        name: "compute",
        passes: (host) => host.capabilities.enabled,
      }
      const error = yield* scheduler.select({ ramMb: 2048 }, {
        filters: [Scheduler.resourcesFit(["ramMb"]), compute],
      }).pipe(Effect.catchTag("InvalidWeigher", Effect.die), Effect.flip)
      expect(error).toBeInstanceOf(Scheduler.NoValidHost)
      expect([error.hosts, error.removed]).toEqual([10, [
        { filter: "resources", removed: 7 },
        { filter: "compute", removed: 3 },
      ]])
      expect(error.message).toBe(
        `No valid host: 10 hosts; "resources" removed 7, "compute" removed 3`,
      )
      yield* TestClock.adjust("11 seconds")
      const none = yield* Effect.flip(scheduler.select({}, { filters: [compute] }))
      expect(none.message).toBe(`No valid host: 0 hosts; "compute" removed 0`)
    }))

  it.scoped("past maxHosts a new host is refused and logged; known hosts still update", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const scheduler = yield* Scheduler.make({ schema: Compute, maxHosts: 2 })
      const summary = yield* scheduler.ingestAll([
        report("node-1", 1, node(1)),
        report("node-2", 1, node(2)),
        report("node-3", 1, node(3)),
        report("node-1", 2, node(10)),
      ])
      expect([summary.accepted, summary.outOfOrder, summary.rejected.map((e) => e.message)])
        .toEqual([3, 0, [
          `Scheduler refused manager "Compute" (service "compute") on host "node-3": it already keeps 2 host states (maxHosts)`,
        ]])
      expect(logs.map((line) => [line.level, line.message])).toEqual([
        ["WARN", summary.rejected[0]!.message],
      ])
      const error = yield* Effect.flip(scheduler.ingest(report("node-4", 1, node(4))))
      expect([error._tag, error.host]).toEqual(["TooManyHosts", "node-4"])
      expect((yield* scheduler.hosts).map((h) => [h.host, h.capabilities.ramMb])).toEqual([
        ["node-1", 10],
        ["node-2", 2],
      ])
    }))

  it.scoped("a flood of 100,000 reports for 100 hosts, consumed from a stream, keeps 100 states", () =>
    Effect.gen(function* () {
      class ComputeScheduler extends Context.Tag("test/ComputeScheduler")<
        ComputeScheduler,
        Scheduler.Scheduler<Compute>
      >() {}
      const program = Effect.gen(function* () {
        const scheduler = yield* ComputeScheduler
        const reports = Stream.range(0, 99_999).pipe(
          Stream.map((i) =>
            report(
              `node-${String(i % 100).padStart(2, "0")}`,
              Math.floor(i / 100) + 1,
              node(i),
            )
          ),
        )
        const fiber = yield* scheduler.consume(reports)
        yield* Fiber.join(fiber)
        return yield* scheduler.hosts
      })
      const hosts = yield* program.pipe(
        Effect.provide(Scheduler.layer(ComputeScheduler, { schema: Compute })),
      )
      expect(hosts.length).toBe(100)
      expect(hosts[0]).toEqual(state("node-00", 1_000, node(99_900), 0))
      expect(hosts[99]).toEqual(state("node-99", 1_000, node(99_999), 0))
    }))
})

describe("Scheduler options", () => {
  const bad: ReadonlyArray<
    readonly [string, Partial<Scheduler.Options<Compute, unknown>>, string]
  > = [
    [
      "a negative serviceDownTime",
      { serviceDownTime: -1 },
      "Invalid option serviceDownTime of Scheduler: -1 must be a finite duration ≥ 0",
    ],
    [
      "an infinite serviceDownTime",
      { serviceDownTime: Duration.infinity },
      "Invalid option serviceDownTime of Scheduler: Infinity must be a finite duration ≥ 0",
    ],
    [
      "a serviceDownTime that is no duration",
      { serviceDownTime: "a while" as never },
      `Invalid option serviceDownTime of Scheduler: "a while" is not a duration`,
    ],
    [
      "a fractional maxHosts",
      { maxHosts: 2.5 },
      "Invalid option maxHosts of Scheduler: 2.5 must be a positive integer or Infinity",
    ],
    [
      "a zero changesCapacity",
      { changesCapacity: 0 },
      "Invalid option changesCapacity of Scheduler: 0 must be a positive integer",
    ],
    [
      "a schema that is not a Schema",
      { schema: { ramMb: "number" } as never },
      `Invalid option schema of Scheduler: {"ramMb":"number"} must be a Schema`,
    ],
  ]
  for (const [what, options, message] of bad) {
    it.scoped(`${what} fails make, and the layer, with InvalidOption`, () =>
      Effect.gen(function* () {
        const all = { schema: Compute, ...options } as Scheduler.Options<Compute, unknown>
        const made = yield* Effect.flip(Scheduler.make(all))
        expect(made._tag).toBe("InvalidOption")
        expect(made.module).toBe("Scheduler")
        expect(made.message).toBe(message)
        const built = yield* Effect.flip(Layer.build(Scheduler.layer(all)))
        expect(built.message).toBe(message)
      }))
  }

  it.scoped("the error names the module, the option, the value as given and the rule", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Scheduler.make({ schema: Compute, maxHosts: null as never }))
      expect(error).toEqual(
        new Scheduler.InvalidOption({
          module: "Scheduler",
          option: "maxHosts",
          value: "null",
          reason: "must be a positive integer or Infinity",
        }),
      )
    }))

  it.scoped("a maxHosts of Infinity is no limit, and the durations default to 60 s and 10 min", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute, maxHosts: Infinity })
      expect(Duration.toMillis(scheduler.serviceDownTime)).toBe(60_000)
      expect(Duration.toMillis(scheduler.forgetAfter)).toBe(600_000)
    }))
})
