// Bad input the scheduler meets from publishers and callers: malformed reports, numbers that are
// not finite, objects changed after they were reported, names that look like object keys, and
// hosts that stop reporting for good.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { CapabilityReport } from "../src/Capabilities.ts"
import { MalformedReport } from "../src/Capabilities.ts"
import * as Scheduler from "../src/Scheduler.ts"
import { captureLogs } from "./support/periodic.ts"
import { report } from "./support/reports.ts"
import { platformTimers, steppedWallClock } from "./support/clocks.ts"

const Compute = Schema.Struct({ ramMb: Schema.Number, instances: Schema.Number })
type Compute = typeof Compute.Type

const node = (ramMb: number, instances = 0): Compute => ({ ramMb, instances })

describe("Scheduler refuses a malformed report and goes on", () => {
  const malformed: ReadonlyArray<readonly [string, unknown, string, string | undefined]> = [
    ["null", null, `Capability report refused: report must be an object, got null`, undefined],
    [
      "a report whose host getter throws",
      Object.defineProperty({}, "host", {
        get: () => {
          throw new Error("boom")
        },
      }),
      `Capability report refused: report could not be read (Error: boom), got an object`,
      undefined,
    ],
    [
      "a number host",
      { ...report("x", 1, node(1)), host: 42 },
      `Capability report refused: host must be a string, got 42`,
      undefined,
    ],
    [
      "an Infinity sequence",
      report("node-2", Infinity, node(1)),
      `Capability report from host "node-2" refused: sequence must be a non-negative safe integer, got Infinity`,
      "node-2",
    ],
    [
      "a NaN sequence",
      report("node-2", NaN, node(1)),
      `Capability report from host "node-2" refused: sequence must be a non-negative safe integer, got NaN`,
      "node-2",
    ],
    [
      "a negative sequence",
      report("node-2", -1, node(1)),
      `Capability report from host "node-2" refused: sequence must be a non-negative safe integer, got -1`,
      "node-2",
    ],
    [
      "a fractional sequence",
      report("node-2", 1.5, node(1)),
      `Capability report from host "node-2" refused: sequence must be a non-negative safe integer, got 1.5`,
      "node-2",
    ],
    [
      "a string sequence",
      report("node-2", "3" as never, node(1)),
      `Capability report from host "node-2" refused: sequence must be a non-negative safe integer, got "3"`,
      "node-2",
    ],
    [
      "a number service",
      { ...report("node-2", 1, node(1)), service: 7 },
      `Capability report from host "node-2" refused: service must be a string, got 7`,
      "node-2",
    ],
    [
      "a missing manager",
      { ...report("node-2", 1, node(1)), manager: undefined },
      `Capability report from host "node-2" refused: manager must be a string, got undefined`,
      "node-2",
    ],
    [
      "an infinite timestamp",
      { ...report("node-2", 1, node(1)), timestamp: Infinity },
      `Capability report from host "node-2" refused: timestamp must be a finite number, got Infinity`,
      "node-2",
    ],
  ]
  for (const [what, input, message, host] of malformed) {
    it.scoped(`ingest fails on ${what} with MalformedReport, logged, and keeps nothing`, () =>
      Effect.gen(function* () {
        const logs = yield* captureLogs
        const scheduler = yield* Scheduler.make({ schema: Compute })
        const error = yield* Effect.flip(scheduler.ingest(input as CapabilityReport))
        expect(error).toBeInstanceOf(MalformedReport)
        expect(error.message).toBe(message)
        expect(error._tag === "MalformedReport" ? error.host : "not malformed").toBe(host)
        expect(logs.map((line) => [line.level, line.message, line.annotations])).toEqual([
          ["WARN", message, host === undefined ? {} : { host }],
        ])
        expect(yield* scheduler.hosts).toEqual([])
      }))
  }

  it.scoped("consume logs malformed reports and goes on with the next ones", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const scheduler = yield* Scheduler.make({ schema: Compute })
      const reports = Stream.fromIterable<CapabilityReport>([
        report("node-1", 1, node(1024)),
        null as never,
        report("node-1", Infinity, node(1)),
      ]).pipe(
        Stream.concat(Stream.make(report("node-1", 2, node(2048)), report("node-2", 1, node(512)))),
      )
      yield* Fiber.join(yield* scheduler.consume(reports))
      expect((yield* scheduler.hosts).map((h) => [h.host, h.sequence, h.capabilities.ramMb]))
        .toEqual([["node-1", 2, 2048], ["node-2", 1, 512]])
      expect(logs.map((line) => [line.level, line.message])).toEqual([
        ["WARN", "Capability report refused: report must be an object, got null"],
        [
          "WARN",
          `Capability report from host "node-1" refused: sequence must be a non-negative safe integer, got Infinity`,
        ],
      ])
    }))

  it.scoped("ingestAll counts malformed reports among the rejected", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      const summary = yield* scheduler.ingestAll([
        report("node-1", 1, node(1)),
        report("node-2", -1, node(1)),
      ])
      expect([summary.accepted, summary.outOfOrder, summary.rejected.map((e) => e._tag)])
        .toEqual([1, 0, ["MalformedReport"]])
    }))

  it.scoped("a capabilities schema that throws refuses the report instead of ending a consumer", () =>
    Effect.gen(function* () {
      const Throwing = Schema.transform(Schema.Number, Schema.Number, {
        strict: true,
        decode: (n) => {
          if (n < 0) throw new Error("negative")
          return n
        },
        encode: (n) => n,
      })
      const scheduler = yield* Scheduler.make({ schema: Throwing })
      const fiber = yield* scheduler.consume(
        Stream.make(report("node-1", 1, -1), report("node-2", 1, 5)),
      )
      yield* Fiber.join(fiber)
      expect((yield* scheduler.hosts).map((h) => [h.host, h.capabilities])).toEqual([
        ["node-2", 5],
      ])
      const error = yield* Effect.flip(scheduler.ingest(report("node-3", 1, -1)))
      expect(error.message).toBe(
        `Capabilities of manager "Compute" (service "compute") on host "node-3", report 1, are refused and the previous state is kept: they could not be decoded: Error: negative`,
      )
    }))
})

describe("Scheduler refuses numbers that are not finite", () => {
  const refusal = (host: string, sequence: number, path: string, value: string) =>
    `Capabilities of manager "Compute" (service "compute") on host "${host}", report ${sequence}, are refused and the previous state is kept: capabilities${path} is ${value}, and only finite numbers are accepted (a placement must not depend on the order reports arrived)`

  it.scoped("capabilities holding NaN or ±Infinity are refused, naming the path", () =>
    Effect.gen(function* () {
      const Disks = Schema.Struct({ disks: Schema.Array(Schema.Struct({ gb: Schema.Number })) })
      const compute = yield* Scheduler.make({ schema: Compute })
      const disks = yield* Scheduler.make({ schema: Disks })
      const parsed = yield* Scheduler.make({
        schema: Schema.Struct({ ramMb: Schema.NumberFromString }),
      })
      const messages = yield* Effect.all([
        compute.ingest(report("a", 1, node(NaN))),
        compute.ingest(report("b", 1, node(Infinity))),
        compute.ingest(report("c", 1, node(1, -Infinity))),
        disks.ingest(report("d", 1, { disks: [{ gb: 1 }, { gb: Infinity }] })),
        parsed.ingest(report("e", 1, { ramMb: "NaN" })),
      ].map((ingest) => Effect.map(Effect.flip(ingest), (error) => error.message)))
      expect(messages).toEqual([
        refusal("a", 1, ".ramMb", "NaN"),
        refusal("b", 1, ".ramMb", "Infinity"),
        refusal("c", 1, ".instances", "-Infinity"),
        refusal("d", 1, ".disks[1].gb", "Infinity"),
        refusal("e", 1, ".ramMb", "NaN"),
      ])
      expect(yield* compute.hosts).toEqual([])
    }))

  it.scoped("the winner does not depend on the order the reports arrived", () =>
    Effect.gen(function* () {
      const reports = [
        report("a", 1, node(NaN)),
        report("b", 1, node(1000)),
        report("c", 1, node(2000)),
      ]
      const winner = (order: ReadonlyArray<CapabilityReport>) =>
        Effect.gen(function* () {
          const scheduler = yield* Scheduler.make({ schema: Compute })
          yield* scheduler.ingestAll(order)
          const chosen = yield* scheduler.select({}, {
            weighers: [Scheduler.numericWeigher("ram", "ramMb")],
          })
          return chosen.host
        })
      expect(yield* winner(reports)).toBe("c")
      expect(yield* winner([...reports].reverse())).toBe("c")
    }))

  it.scoped("a weigher whose multiplier is not finite fails select with InvalidWeigher", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      yield* scheduler.ingestAll([report("a", 1, node(1)), report("b", 1, node(2))])
      const messages = yield* Effect.forEach(
        [NaN, Infinity, "2" as unknown as number],
        (multiplier) =>
          Effect.map(
            Effect.flip(scheduler.select({}, {
              weighers: [Scheduler.numericWeigher("ram", "ramMb", multiplier)],
            })),
            (error) => error.message,
          ),
      )
      expect(messages).toEqual([
        `Weigher "ram" refused: its multiplier must be a finite number, got NaN`,
        `Weigher "ram" refused: its multiplier must be a finite number, got Infinity`,
        `Weigher "ram" refused: its multiplier must be a finite number, got "2"`,
      ])
    }))

  it.scoped("a weight that is not finite fails select, naming the first such host by name", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      yield* scheduler.ingestAll([
        report("c", 1, node(0, 0)),
        report("a", 1, node(5, 1)),
        report("b", 1, node(0, 0)),
      ])
      const perInstance: Scheduler.Weigher<Compute> = {
        name: "ramPerInstance",
        multiplier: 1,
        weigh: (host) => host.capabilities.ramMb / host.capabilities.instances,
      }
      const error = yield* Effect.flip(scheduler.select({}, { weighers: [perInstance] }))
      expect(error).toEqual(
        new Scheduler.InvalidWeigher({
          weigher: "ramPerInstance",
          field: "weight",
          host: "b",
          value: "NaN",
          reason: "must be a finite number",
        }),
      )
      expect(error.message).toBe(
        `Weigher "ramPerInstance" refused: its weight of host "b" must be a finite number, got NaN`,
      )
    }))
})

describe("Scheduler keeps its own copy of a report", () => {
  it.scoped("capabilities changed after a report and sent again are taken as new", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute })
      const capabilities = { ramMb: 1024, instances: 0 }
      yield* scheduler.ingest(report("node-1", 1, capabilities))
      capabilities.ramMb = 2048
      yield* scheduler.ingest(report("node-1", 2, capabilities))
      expect((yield* scheduler.hosts).map((h) => h.capabilities)).toEqual([node(2048)])
    }))

  it.scoped("changing the reported objects afterwards changes nothing the scheduler holds", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Schema.Unknown })
      const capabilities = { ramMb: 1024, disks: [{ gb: 10 }] }
      const sent = report("node-1", 1, capabilities)
      yield* scheduler.ingest(sent)
      capabilities.ramMb = 1
      capabilities.disks[0]!.gb = 1
      ;(sent as { host: string }).host = "node-9"
      expect(yield* scheduler.hosts).toEqual([{
        host: "node-1",
        service: "compute",
        manager: "Compute",
        capabilities: { ramMb: 1024, disks: [{ gb: 10 }] },
        receivedAt: 0,
        sequence: 1,
        up: true,
      }])
    }))
})

describe("Scheduler forgets hosts", () => {
  it.scoped("a host silent for forgetAfter is dropped at that instant, after its HostDown", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({
        schema: Compute,
        serviceDownTime: "10 seconds",
        forgetAfter: "30 seconds",
      })
      const seen = yield* recordChanges(scheduler)
      yield* scheduler.ingest(report("node-1", 1, node(1)))
      yield* TestClock.adjust("30 seconds")
      expect((yield* scheduler.hosts).map((h) => [h.host, h.up])).toEqual([["node-1", false]])
      yield* TestClock.adjust("1 millis")
      expect(yield* scheduler.hosts).toEqual([])
      yield* scheduler.ingest(report("node-1", 7, node(2)))
      yield* Effect.yieldNow()
      expect(seen).toEqual([
        ["HostAdded", "node-1", 0],
        ["HostDown", "node-1", 10_001],
        ["HostForgotten", "node-1", 30_001],
        ["HostAdded", "node-1", 30_001],
      ])
    }))

  it.scoped("by default a host is forgotten 10 × serviceDownTime after its last report", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Compute, serviceDownTime: "10 seconds" })
      expect(Duration.toMillis(scheduler.forgetAfter)).toBe(100_000)
      yield* scheduler.ingest(report("node-1", 1, node(1)))
      yield* TestClock.adjust("100 seconds")
      expect((yield* scheduler.hosts).length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* scheduler.hosts).length).toBe(0)
      const defaults = yield* Scheduler.make({ schema: Compute })
      expect(Duration.toMillis(defaults.forgetAfter)).toBe(600_000)
    }))

  it.scoped("a burst of bogus names holds the places of maxHosts only until forgetAfter", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({
        schema: Compute,
        serviceDownTime: "1 second",
        forgetAfter: "5 seconds",
        maxHosts: 3,
      })
      yield* scheduler.ingestAll(
        ["bogus-1", "bogus-2", "bogus-3"].map((h) => report(h, 1, node(1))),
      )
      const refused = yield* Effect.flip(scheduler.ingest(report("real", 1, node(4096))))
      expect(refused._tag).toBe("TooManyHosts")
      yield* TestClock.adjust("5001 millis")
      expect(yield* scheduler.ingest(report("real", 1, node(4096)))).toBe("accepted")
      expect((yield* scheduler.hosts).map((h) => h.host)).toEqual(["real"])
    }))

  it.scoped("a report finding maxHosts full drops the hosts past forgetAfter the sweeper missed", () =>
    Effect.gen(function* () {
      // A clock whose sleeps never end: the sweeper fiber never wakes.
      let now = 0
      const frozenSleeps: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => now,
        currentTimeMillis: Effect.sync(() => now),
        unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
        sleep: () => Effect.never,
      }
      yield* Effect.gen(function* () {
        const scheduler = yield* Scheduler.make({
          schema: Compute,
          serviceDownTime: "1 second",
          forgetAfter: "5 seconds",
          maxHosts: 2,
        })
        yield* scheduler.ingestAll([report("bogus-1", 1, node(1)), report("bogus-2", 1, node(1))])
        now = 3_000
        yield* scheduler.ingest(report("bogus-2", 2, node(1)))
        now = 5_001
        expect((yield* scheduler.hosts).map((h) => h.host)).toEqual(["bogus-2"])
        expect(yield* scheduler.ingest(report("real", 1, node(4096)))).toBe("accepted")
        expect((yield* scheduler.hosts).map((h) => h.host)).toEqual(["bogus-2", "real"])
      }).pipe(Effect.withClock(frozenSleeps))
    }))
})

describe("Scheduler announces a host down on time", () => {
  // The sweeper sleeps until node-a is to be forgotten (600 s) when the second report comes.
  const cases = [
    ["a host that reports while only down hosts are kept", report("node-b", 1, node(1)), [
      ["HostAdded", "node-a", 0],
      ["HostDown", "node-a", 60_001],
      ["HostAdded", "node-b", 100_000],
      ["HostDown", "node-b", 160_001],
      ["HostForgotten", "node-a", 600_001],
      ["HostForgotten", "node-b", 700_001],
    ]],
    ["a host that comes back up and stops again", report("node-a", 2, node(1)), [
      ["HostAdded", "node-a", 0],
      ["HostDown", "node-a", 60_001],
      ["HostBackUp", "node-a", 100_000],
      ["HostDown", "node-a", 160_001],
      ["HostForgotten", "node-a", 700_001],
    ]],
  ] as const
  for (const [what, second, expected] of cases) {
    it.scoped(`${what} goes down serviceDownTime after its report`, () =>
      Effect.gen(function* () {
        const scheduler = yield* Scheduler.make({ schema: Compute })
        const seen = yield* recordChanges(scheduler)
        yield* scheduler.ingest(report("node-a", 1, node(1)))
        yield* TestClock.adjust("100 seconds")
        yield* scheduler.ingest(second)
        yield* TestClock.adjust("600001 millis")
        expect(seen).toEqual(expected)
      }))
  }

  it.scoped("down and forget times longer than a platform timer holds still take effect", () =>
    Effect.gen(function* () {
      const clock = yield* platformTimers
      const scheduler = yield* Scheduler.make({ schema: Compute, serviceDownTime: "30 days" })
        .pipe(Effect.withClock(clock))
      const seen = yield* recordChanges(scheduler)
      yield* scheduler.ingest(report("node-1", 1, node(1)))
      yield* TestClock.adjust("300 days")
      expect((yield* scheduler.hosts).map((h) => [h.host, h.up])).toEqual([["node-1", false]])
      yield* TestClock.adjust("1 millis")
      expect(yield* scheduler.hosts).toEqual([])
      expect(seen).toEqual([
        ["HostAdded", "node-1", 0],
        ["HostDown", "node-1", 2_592_000_001],
        ["HostForgotten", "node-1", 25_920_000_001],
      ])
    }))
})

describe("Scheduler faults: a wall clock that is stepped", () => {
  for (const [direction, millis] of [["back", 3_600_000], ["forward", -3_600_000]] as const) {
    it.scoped(`a wall clock set ${direction} an hour keeps every host up exactly as long`, () =>
      Effect.gen(function* () {
        const { clock, shift } = yield* steppedWallClock
        const scheduler = yield* Scheduler.make({
          schema: Compute,
          serviceDownTime: "10 seconds",
          forgetAfter: "30 seconds",
        }).pipe(Effect.withClock(clock))
        // Seen at instants of the test clock, which is not stepped.
        const seen = yield* recordChanges(scheduler)
        yield* Effect.gen(function* () {
          yield* scheduler.ingest(report("node-a", 1, node(1)))
          yield* TestClock.adjust("5 seconds")
          shift.millis = millis
          yield* TestClock.adjust("1 second")
          yield* scheduler.ingest(report("node-b", 1, node(1)))
          // receivedAt is the wall clock's reading: after the step, the stepped one.
          expect((yield* scheduler.hosts).map((h) => [h.host, h.receivedAt, h.up])).toEqual([
            ["node-a", 0, true],
            ["node-b", 6_000 - millis, true],
          ])
          yield* TestClock.adjust("4 seconds")
          expect((yield* scheduler.upHosts).map((h) => h.host)).toEqual(["node-a", "node-b"])
          yield* TestClock.adjust("1 millis")
          expect((yield* scheduler.select({}, {})).host).toBe("node-b")
          yield* TestClock.adjust("25999 millis")
          expect((yield* scheduler.hosts).map((h) => [h.host, h.up])).toEqual([["node-b", false]])
          yield* TestClock.adjust("1 millis")
          expect(yield* scheduler.hosts).toEqual([])
        }).pipe(Effect.withClock(clock))
        expect(seen).toEqual([
          ["HostAdded", "node-a", 0],
          ["HostAdded", "node-b", 6_000],
          ["HostDown", "node-a", 10_001],
          ["HostDown", "node-b", 16_001],
          ["HostForgotten", "node-a", 30_001],
          ["HostForgotten", "node-b", 36_001],
        ])
      }))
  }
})

describe("Scheduler options: forgetAfter", () => {
  const bad: ReadonlyArray<readonly [unknown, string]> = [
    [-1, "-1 must be a finite duration ≥ 0"],
    [NaN, "NaN must be a finite duration ≥ 0"],
    [Infinity, "Infinity must be a finite duration ≥ 0"],
    ["abc", `"abc" is not a duration`],
    ["5 seconds", `"5 seconds" must not be shorter than serviceDownTime (10s)`],
  ]
  for (const [forgetAfter, reason] of bad) {
    it.scoped(`forgetAfter ${String(forgetAfter)} fails make with InvalidOption`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Scheduler.make({
          schema: Compute,
          serviceDownTime: "10 seconds",
          forgetAfter: forgetAfter as Duration.DurationInput,
        }))
        expect(error.message).toBe(`Invalid option forgetAfter of Scheduler: ${reason}`)
      }))
  }
})

describe("Scheduler names are data", () => {
  const tricky = ["__proto__", "constructor", "toString", "hasOwnProperty"]

  it.scoped("hosts, services and managers named like object keys are kept, placed and forgotten", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({
        schema: Compute,
        serviceDownTime: "1 second",
        forgetAfter: "2 seconds",
      })
      yield* scheduler.ingestAll(tricky.flatMap((name, i) => [
        report(name, 1, node(100 * (i + 1))),
        { ...report("node-1", 1, node(1)), service: name, manager: name },
      ]))
      const names = (hosts: ReadonlyArray<Scheduler.HostState<unknown>>) =>
        hosts.map((h) => `${h.host}/${h.service}/${h.manager}`)
      expect(names(yield* scheduler.hosts)).toEqual([
        "__proto__/compute/Compute",
        "constructor/compute/Compute",
        "hasOwnProperty/compute/Compute",
        "node-1/__proto__/__proto__",
        "node-1/constructor/constructor",
        "node-1/hasOwnProperty/hasOwnProperty",
        "node-1/toString/toString",
        "toString/compute/Compute",
      ])
      const best = yield* scheduler.select({}, {
        weighers: [Scheduler.numericWeigher("ram", "ramMb")],
      })
      expect(best.host).toBe("hasOwnProperty")
      yield* TestClock.adjust("2001 millis")
      expect(yield* scheduler.hosts).toEqual([])
      expect(yield* scheduler.ingest(report("__proto__", 1, node(1)))).toBe("accepted")
    }))

  it.scoped("a payload's own __proto__ key stays a key of the scheduler's copy", () =>
    Effect.gen(function* () {
      const scheduler = yield* Scheduler.make({ schema: Schema.Unknown })
      const payload = JSON.parse(`{"__proto__": {"polluted": true}, "ramMb": 1}`)
      yield* scheduler.ingest(report("node-1", 1, payload))
      const [state] = yield* scheduler.hosts
      const kept = state!.capabilities as Record<string, unknown>
      expect(Object.getPrototypeOf(kept)).toBe(Object.prototype)
      expect(Object.keys(kept)).toEqual(["__proto__", "ramMb"])
      expect(Object.getOwnPropertyDescriptor(kept, "__proto__")?.value).toEqual({ polluted: true })
      expect(kept["polluted"]).toBe(undefined)
    }))
})

/** Every change seen from now on, with the instant of the test clock it was seen at. */
const recordChanges = <A>(scheduler: Scheduler.Scheduler<A>) =>
  Effect.gen(function* () {
    const seen: Array<[string, string, number]> = []
    yield* (yield* scheduler.subscribeChanges).pipe(
      Stream.runForEach((change) =>
        Effect.map(TestClock.currentTimeMillis, (now) => {
          seen.push([change._tag, change.host.host, now])
        })
      ),
      Effect.forkScoped,
    )
    return seen
  })
