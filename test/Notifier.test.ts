import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberStatus from "effect/FiberStatus"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Notifier from "../src/Notifier.ts"

/** A stream's consumer waits for the next element once it has subscribed. */
const waitUntilSuspended = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Fiber.status(fiber).pipe(
    Effect.zipLeft(Effect.yieldNow()),
    Effect.repeat({ until: FiberStatus.isSuspended }),
  )

const compute = { host: "node-1", topic: "compute" } as const

/** Bytes 0x00…0x0f in order: the id is these bytes with the version and variant bits set. */
const countingRandom = Random.fixed([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])

/** A sink that keeps what it receives. */
const recordingSink = () => {
  const received: Array<Notifier.Notification> = []
  const sink: Notifier.NotificationSink = (notification) =>
    Effect.sync(() => {
      received.push(notification)
    })
  return { received, sink }
}

/** Every log line (all levels) as [level, message parts, annotations, failures of the cause]. */
const captureLogs = () => {
  const lines: Array<[string, unknown, Record<string, unknown>, Array<unknown>]> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push([
      logLevel.label,
      message,
      Object.fromEntries(annotations),
      Chunk.toArray(Cause.failures(cause)),
    ])
  })
  const layer = Layer.merge(
    Logger.replace(Logger.defaultLogger, logger),
    Logger.minimumLogLevel(LogLevel.All),
  )
  return { lines, layer }
}

describe("Notifier", () => {
  it.effect("the publisher id is <topic>.<host>, or the one given", () =>
    Effect.gen(function* () {
      const fromParts = yield* Notifier.make({ ...compute, sinks: [] })
      const given = yield* Notifier.make({ publisherId: "api.node-2", sinks: [] })
      const sent = yield* fromParts.info("compute.instance.create.end", {})
      expect([fromParts.publisherId, sent.publisherId, given.publisherId]).toEqual([
        "compute.node-1",
        "compute.node-1",
        "api.node-2",
      ])
      expect(Notifier.publisherId("scheduler", "node-3")).toBe("scheduler.node-3")
    }).pipe(Effect.scoped))

  it.effect("a notification carries an id from Random and the time from the Clock", () =>
    Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      yield* TestClock.adjust("1500 millis")
      const sent = yield* notifier.notify("compute.instance.create.end", "INFO", { id: "i-1" })
      expect(sent).toEqual({
        messageId: "00010203-0405-4607-8809-0a0b0c0d0e0f",
        publisherId: "compute.node-1",
        eventType: "compute.instance.create.end",
        priority: "INFO",
        payload: { id: "i-1" },
        timestamp: 1_500,
      })
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer({ ...compute, sinks: [] })),
    ))

  it.effect("message ids are distinct version 4 UUIDs that a seed repeats", () =>
    Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const ids = (seed: string) =>
        Effect.all([
          notifier.info("a", {}),
          notifier.info("b", {}),
          notifier.info("c", {}),
        ]).pipe(
          Effect.map((sent) => sent.map((n) => n.messageId)),
          Effect.withRandom(Random.make(seed)),
        )
      const first = yield* ids("node-1")
      expect(first).toEqual([
        "d21f790f-0331-4f81-b843-be9de2b678b8",
        "30faebec-4f04-423d-8fe2-b76e25af6232",
        "99263108-84ae-45f0-a9a7-cdd12e84ec2a",
      ])
      expect(yield* ids("node-1")).toEqual(first)
    }).pipe(Effect.provide(Notifier.layer({ ...compute, sinks: [] }))))

  it.effect("each shortcut sends at its priority", () =>
    Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const sent = yield* Effect.all([
        notifier.audit("e", 1),
        notifier.debug("e", 2),
        notifier.info("e", 3),
        notifier.warn("e", 4),
        notifier.error("e", 5),
        notifier.critical("e", 6),
        notifier.sample("e", 7),
      ])
      expect(sent.map((n) => [n.priority, n.payload])).toEqual([
        ["AUDIT", 1],
        ["DEBUG", 2],
        ["INFO", 3],
        ["WARN", 4],
        ["ERROR", 5],
        ["CRITICAL", 6],
        ["SAMPLE", 7],
      ])
    }).pipe(Effect.provide(Notifier.layer({ ...compute, sinks: [] }))))

  it.effect("a subscriber sees, in order, what is sent after it subscribed", () =>
    Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      yield* notifier.info("before", {})
      const seen = yield* notifier.notifications.pipe(
        Stream.map((n) => [n.eventType, n.timestamp]),
        Stream.take(3),
        Stream.runCollect,
        Effect.fork,
      )
      yield* waitUntilSuspended(seen)
      yield* notifier.info("first", {})
      yield* TestClock.adjust("1 second")
      yield* notifier.warn("second", {})
      yield* TestClock.adjust("1 second")
      yield* notifier.error("third", {})
      expect(Chunk.toArray(yield* Fiber.join(seen))).toEqual([
        ["first", 0],
        ["second", 1_000],
        ["third", 2_000],
      ])
    }).pipe(Effect.provide(Notifier.layer({ ...compute, sinks: [] }))))

  it.effect("the log sink logs at the priority's level, annotated with event type and publisher", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      for (
        const priority of ["AUDIT", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "SAMPLE"] as const
      ) {
        yield* notifier.notify("compute.instance.update", priority, { state: "active" })
      }
      const annotations = {
        eventType: "compute.instance.update",
        publisherId: "compute.node-1",
        messageId: "00010203-0405-4607-8809-0a0b0c0d0e0f",
      }
      const message = ["Notification compute.instance.update", { state: "active" }]
      expect(logs.lines).toEqual(
        ["INFO", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "DEBUG"].map((level) => [
          level,
          message,
          annotations,
          [],
        ]),
      )
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer(compute)),
      Effect.provide(logs.layer),
    )
  })

  it.effect("given sinks replace the log sink, and a failing sink fails neither notify nor the others", () => {
    const logs = captureLogs()
    const recording = recordingSink()
    const failing: Notifier.NotificationSink = () => Effect.fail("bus unreachable")
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const sent = yield* notifier.info("compute.instance.delete.end", { id: "i-1" })
      expect(recording.received).toEqual([sent])
      expect(logs.lines.map(([level, message, , failures]) => [level, message, failures])).toEqual([
        [
          "ERROR",
          [
            `A notification sink (sinks[0] "failing") failed on compute.instance.delete.end (00010203-0405-4607-8809-0a0b0c0d0e0f)`,
          ],
          ["bus unreachable"],
        ],
      ])
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer({ ...compute, sinks: [failing, recording.sink] })),
      Effect.provide(logs.layer),
    )
  })

  it.effect("notifySchema sends the payload encoded by its schema", () => {
    const recording = recordingSink()
    const Usage = Schema.Struct({ diskBytes: Schema.NumberFromString })
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const sent = yield* notifier.notifySchema(Usage)("compute.usage", "SAMPLE", {
        diskBytes: 1024,
      })
      expect([sent.payload, recording.received.map((n) => n.payload)]).toEqual([
        { diskBytes: "1024" },
        [{ diskBytes: "1024" }],
      ])
    }).pipe(Effect.provide(Notifier.layer({ ...compute, sinks: [recording.sink] })))
  })

  it.effect("a payload its schema cannot encode fails with InvalidNotification and is not sent", () => {
    const recording = recordingSink()
    const Usage = Schema.Struct({ diskBytes: Schema.NonNegativeInt })
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const error = yield* Effect.flip(
        notifier.notifySchema(Usage)("compute.usage", "SAMPLE", { diskBytes: -1 }),
      )
      expect(error).toEqual(
        new Notifier.InvalidNotification({
          eventType: "compute.usage",
          reason: `{ readonly diskBytes: NonNegativeInt }
└─ ["diskBytes"]
   └─ NonNegativeInt
      └─ From side refinement failure
         └─ NonNegative
            └─ Predicate refinement failure
               └─ Expected a non-negative number, actual -1`,
        }),
      )
      expect(error.message.split("\n")[0]).toBe(
        `Notification "compute.usage" was not sent: its payload does not encode with its schema: { readonly diskBytes: NonNegativeInt }`,
      )
      expect(recording.received).toEqual([])
    }).pipe(Effect.provide(Notifier.layer({ ...compute, sinks: [recording.sink] })))
  })

  it.effect("a sink that hangs, even ignoring interruption, is left behind after sinkTimeout (default 5 s) and its grace, and logged", () => {
    const logs = captureLogs()
    const recording = recordingSink()
    const release = Deferred.unsafeMake<void>(FiberId.none)
    const ended: Array<string> = []
    // `Effect.never` would do, but it holds a timer that outlives the test.
    const hanging: Notifier.NotificationSink = () =>
      Effect.uninterruptible(Deferred.await(release)).pipe(
        Effect.ensuring(Effect.sync(() => ended.push("hanging"))),
      )
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const subscription = yield* notifier.subscribe
      const sending = yield* Effect.fork(
        notifier.info("compute.instance.delete.end", { id: "i-1" }),
      )
      // 5 s of sinkTimeout, then 1 s of grace for the interrupted sink to end.
      yield* TestClock.adjust("5999 millis")
      expect(yield* Fiber.poll(sending)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      const sent = Option.getOrThrow(yield* Fiber.poll(sending)).pipe(Exit.getOrElse(() => null))
      expect([
        recording.received,
        Chunk.toArray(yield* Stream.runCollect(Stream.take(subscription, 1))),
      ])
        .toEqual([[sent], [sent]])
      expect(logs.lines.map(([, , annotations]) => annotations.sink)).toEqual([
        `sinks[0] "hanging"`,
        `sinks[0] "hanging"`,
      ])
      expect(logs.lines.map(([level, message]) => [level, message])).toEqual([
        [
          "WARN",
          [
            `A notification sink (sinks[0] "hanging") ignored its interruption on compute.instance.delete.end (00010203-0405-4607-8809-0a0b0c0d0e0f); it is left running, detached`,
          ],
        ],
        [
          "ERROR",
          [
            `A notification sink (sinks[0] "hanging") did not finish compute.instance.delete.end (00010203-0405-4607-8809-0a0b0c0d0e0f) within 5000 ms; it was interrupted`,
          ],
        ],
      ])
      // The runaway goes on in the background until its own work ends.
      expect(ended).toEqual([])
      yield* Deferred.succeed(release, undefined)
      yield* Effect.yieldNow()
      expect(ended).toEqual(["hanging"])
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer({ ...compute, sinks: [hanging, recording.sink] })),
      Effect.provide(logs.layer),
      Effect.scoped,
    )
  })

  it.effect("sinkTimeout bounds each sink", () => {
    const logs = captureLogs()
    const slow: Notifier.NotificationSink = () => Effect.sleep("2 seconds")
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const sending = yield* Effect.fork(notifier.info("e", {}))
      yield* TestClock.adjust("1 second")
      expect(Option.isSome(yield* Fiber.poll(sending))).toBe(true)
      expect(logs.lines.map(([, message]) => message)).toEqual([[
        `A notification sink (sinks[0] "slow") did not finish e (00010203-0405-4607-8809-0a0b0c0d0e0f) within 1000 ms; it was interrupted`,
      ]])
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer({ ...compute, sinks: [slow], sinkTimeout: "1 second" })),
      Effect.provide(logs.layer),
    )
  })

  it.effect("a sink's own lines carry the notification's annotations, the notifier's lines about the sink the sink too", () => {
    const logs = captureLogs()
    const slow: Notifier.NotificationSink = () =>
      Effect.zipRight(Effect.logInfo("delivering"), Effect.sleep("2 seconds"))
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      yield* Effect.fork(notifier.info("compute.instance.update", {}))
      yield* TestClock.adjust("1 second")
      const notification = {
        publisherId: "compute.node-1",
        eventType: "compute.instance.update",
        messageId: "00010203-0405-4607-8809-0a0b0c0d0e0f",
      }
      expect(logs.lines.map(([level, , annotations]) => [level, annotations])).toEqual([
        ["INFO", notification],
        ["ERROR", { ...notification, sink: `sinks[0] "slow"` }],
      ])
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer({ ...compute, sinks: [slow], sinkTimeout: "1 second" })),
      Effect.provide(logs.layer),
    )
  })

  it.effect("sinkTimeout holds where notify is called from an uninterruptible region", () => {
    const release = Deferred.unsafeMake<void>(FiberId.none)
    const hanging: Notifier.NotificationSink = () => Effect.uninterruptible(Deferred.await(release))
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const sending = yield* Effect.fork(Effect.uninterruptible(notifier.info("e", {})))
      yield* TestClock.adjust("2999 millis")
      expect(yield* Fiber.poll(sending)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      expect(Option.map(yield* Fiber.poll(sending), Exit.isSuccess)).toEqual(Option.some(true))
      yield* Deferred.succeed(release, undefined)
    }).pipe(
      Effect.provide(Notifier.layer({ ...compute, sinks: [hanging], sinkTimeout: "2 seconds" })),
      Effect.provide(captureLogs().layer),
    )
  })

  it.effect("a sink called from the finalizer of an interrupted fiber gets its sinkTimeout", () => {
    const delivered: Array<string> = []
    const slow: Notifier.NotificationSink = (notification) =>
      Effect.zipRight(
        Effect.sleep("100 millis"),
        Effect.sync(() => delivered.push(notification.eventType)),
      )
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const fiber = yield* Effect.fork(
        Effect.onExit(Effect.never, () => notifier.info("compute.stopped", {})),
      )
      yield* Effect.yieldNow()
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(interrupting)
      expect(delivered).toEqual(["compute.stopped"])
    }).pipe(
      Effect.provide(Notifier.layer({ ...compute, sinks: [slow] })),
      Effect.provide(captureLogs().layer),
    )
  })

  it.effect("a sink that throws before returning an effect is logged like a failing sink", () => {
    const logs = captureLogs()
    const recording = recordingSink()
    const throwing: Notifier.NotificationSink = () => {
      throw new Error("no connection")
    }
    return Effect.gen(function* () {
      const notifier = yield* Notifier.Notifier
      const sent = yield* notifier.info("e", {})
      expect(recording.received).toEqual([sent])
      expect(logs.lines.map(([level, message]) => [level, message])).toEqual([[
        "ERROR",
        [
          `A notification sink (sinks[0] "throwing") failed on e (00010203-0405-4607-8809-0a0b0c0d0e0f)`,
        ],
      ]])
    }).pipe(
      Effect.withRandom(countingRandom),
      Effect.provide(Notifier.layer({ ...compute, sinks: [throwing, recording.sink] })),
      Effect.provide(logs.layer),
    )
  })

  it.effect("a stalled subscriber keeps only the latest `capacity` notifications", () =>
    Effect.gen(function* () {
      const notifier = yield* Notifier.make({ ...compute, sinks: [], capacity: 8 })
      const stalled = yield* notifier.subscribe
      for (let i = 0; i < 50_000; i++) yield* notifier.info("tick", i)
      yield* notifier.info("end", -1)
      const seen = yield* stalled.pipe(
        Stream.takeUntil((n) => n.eventType === "end"),
        Stream.map((n) => n.payload),
        Stream.runCollect,
      )
      expect(Chunk.toArray(seen)).toEqual([
        49_993,
        49_994,
        49_995,
        49_996,
        49_997,
        49_998,
        49_999,
        -1,
      ])
    }).pipe(Effect.scoped))

  it.effect("by default a subscriber buffers 4096 notifications", () =>
    Effect.gen(function* () {
      const notifier = yield* Notifier.make({ ...compute, sinks: [] })
      const stalled = yield* notifier.subscribe
      for (let i = 0; i < 5_000; i++) yield* notifier.info("tick", i)
      const seen = yield* stalled.pipe(
        Stream.map((n) => n.payload),
        Stream.takeUntil((i) => i === 4_999),
        Stream.runCollect,
      )
      expect([Chunk.size(seen), Chunk.unsafeHead(seen)]).toEqual([4096, 5_000 - 4096])
    }).pipe(Effect.scoped))

  it.effect("an invalid sinkTimeout or capacity fails with InvalidOption", () =>
    Effect.gen(function* () {
      const invalid = (options: Partial<Notifier.Options>) =>
        Effect.flip(Effect.scoped(Notifier.make({ ...compute, ...options })))
      const errors = yield* Effect.all([
        invalid({ sinkTimeout: -1 }),
        invalid({ sinkTimeout: "0 millis" }),
        invalid({ sinkTimeout: Infinity }),
        invalid({ sinkTimeout: "soon" as never }),
        invalid({ capacity: 0 }),
        invalid({ capacity: 1.5 }),
        invalid({ capacity: NaN }),
        invalid({ capacity: null as never }),
      ])
      expect(errors.map((error) => error.message)).toEqual([
        "Invalid option sinkTimeout of Notifier: -1 must be a finite duration > 0",
        `Invalid option sinkTimeout of Notifier: "0 millis" must be a finite duration > 0`,
        "Invalid option sinkTimeout of Notifier: Infinity must be a finite duration > 0",
        `Invalid option sinkTimeout of Notifier: "soon" is not a duration`,
        "Invalid option capacity of Notifier: 0 must be a positive integer",
        "Invalid option capacity of Notifier: 1.5 must be a positive integer",
        "Invalid option capacity of Notifier: NaN must be a positive integer",
        "Invalid option capacity of Notifier: null must be a positive integer",
      ])
      expect(errors[4]).toEqual(
        new Notifier.InvalidOption({
          module: "Notifier",
          option: "capacity",
          value: "0",
          reason: "must be a positive integer",
        }),
      )
    }))
})
