import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Capabilities from "../src/Capabilities.ts"
import * as CapabilityBus from "../src/CapabilityBus.ts"

const report = (sequence: number): Capabilities.CapabilityReport => ({
  host: "compute-1",
  service: "compute",
  manager: "Compute",
  capabilities: { freeRamMb: sequence * 1024 },
  timestamp: sequence * 10_000,
  sequence,
})

/** The sequences a subscription received, once `count` reports arrived. */
const sequences = (stream: Stream.Stream<Capabilities.CapabilityReport>, count: number) =>
  Stream.runCollect(Stream.take(stream, count)).pipe(
    Effect.map((reports) => Array.from(reports, (report) => report.sequence)),
  )

describe("CapabilityBus", () => {
  it.scoped("delivers every report to two subscribers, in order", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make()
      const first = yield* bus.subscribe
      const second = yield* bus.subscribe
      yield* Effect.forEach([1, 2, 3], (sequence) => bus.publish(report(sequence)))
      expect(yield* sequences(first, 3)).toEqual([1, 2, 3])
      expect(yield* sequences(second, 3)).toEqual([1, 2, 3])
    }))

  it.scoped("a subscriber sees only what is published after it subscribed", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make()
      yield* bus.publish(report(1))
      const late = yield* bus.subscribe
      yield* bus.publish(report(2))
      expect(yield* sequences(late, 1)).toEqual([2])
    }))

  it.scoped("reports subscribes when the stream starts", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make()
      const reader = yield* Effect.fork(sequences(bus.reports, 2))
      // The test clock waits until every fiber of the test is suspended: the reader subscribed.
      yield* TestClock.adjust(0)
      yield* Effect.forEach([1, 2], (sequence) => bus.publish(report(sequence)))
      expect(yield* Fiber.join(reader)).toEqual([1, 2])
    }))

  it.scoped("a slow subscriber loses the oldest reports beyond the capacity", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make({ capacity: 2 })
      expect(bus.capacity).toBe(2)
      const slow = yield* bus.subscribe
      yield* Effect.forEach([1, 2, 3, 4, 5], (sequence) => bus.publish(report(sequence)))
      expect(yield* sequences(slow, 2)).toEqual([4, 5])
    }))

  it.effect("the default capacity is 4096", () =>
    Effect.gen(function* () {
      const bus = yield* Effect.scoped(CapabilityBus.make())
      expect(bus.capacity).toBe(4096)
    }))

  it.effect("subscriptions end when the bus's scope closes", () =>
    Effect.gen(function* () {
      const head = yield* CapabilityBus.CapabilityBus.pipe(
        Effect.flatMap((bus) => Effect.fork(Stream.runHead(bus.reports))),
        Effect.tap(() => TestClock.adjust(0)),
        Effect.provide(CapabilityBus.layer()),
      )
      expect(yield* Fiber.join(head)).toEqual(Option.none())
    }))

  it.scoped("a malformed report is refused with MalformedReport and reaches nobody", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make()
      const reports = yield* bus.subscribe
      const error = yield* Effect.flip(bus.publish({ ...report(1), sequence: Infinity }))
      expect(error).toEqual(
        new Capabilities.MalformedReport({
          host: "compute-1",
          field: "sequence",
          value: "Infinity",
          reason: "must be a non-negative safe integer",
        }),
      )
      const missing = yield* Effect.flip(bus.publish(null as never))
      expect(missing.message).toBe("Capability report refused: report must be an object, got null")
      yield* bus.publish(report(2))
      expect(yield* sequences(reports, 1)).toEqual([2])
    }))

  it.scoped("subscribers get the report as published, whatever the publisher changes later", () =>
    Effect.gen(function* () {
      const bus = yield* CapabilityBus.make()
      const reports = yield* bus.subscribe
      const sent = { ...report(1), host: "__proto__", manager: "constructor" }
      yield* bus.publish(sent)
      sent.sequence = 99
      sent.host = "other"
      const [received] = yield* Stream.runCollect(Stream.take(reports, 1))
      expect(received).toEqual({ ...report(1), host: "__proto__", manager: "constructor" })
    }))

  const badCapacities: ReadonlyArray<readonly [unknown, string, string]> = [
    [0, "0", "must be a positive integer"],
    [1.5, "1.5", "must be a positive integer"],
    [NaN, "NaN", "must be a positive integer"],
    [null, "null", "must be a positive integer"],
    [2 ** 53, "9007199254740992", "must be at most 2^53 − 1"],
  ]
  for (const [capacity, value, reason] of badCapacities) {
    it.effect(`a capacity of ${value} is rejected, naming the option, the value and the rule`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Effect.scoped(CapabilityBus.make({ capacity: capacity as number })),
        )
        expect(exit).toEqual(
          Exit.fail(
            new CapabilityBus.InvalidOption({
              module: "CapabilityBus",
              option: "capacity",
              value,
              reason,
            }),
          ),
        )
        if (Exit.isFailure(exit)) {
          expect(exit.cause._tag === "Fail" ? exit.cause.error.message : "").toBe(
            `Invalid option capacity of CapabilityBus: ${value} ${reason}`,
          )
        }
      }))
  }
})
