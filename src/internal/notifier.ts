import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as LogLevel from "effect/LogLevel"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Notifier from "../Notifier.ts"
import { withLimit } from "./bounded.ts"
import {
  decodeOptions,
  InvalidOption,
  Millis,
  PositiveInteger,
  Struct,
  withDefault,
} from "./options.ts"

/** @internal */
export const TypeId: Notifier.TypeId = Symbol.for("effect-manager/Notifier") as Notifier.TypeId

/** @internal */
export const tag: Context.Tag<Notifier.Notifier, Notifier.Notifier> = Context.GenericTag<
  Notifier.Notifier
>("effect-manager/Notifier")

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const InvalidNotificationBase: ReturnType<typeof Data.TaggedError<"InvalidNotification">> = Data
  .TaggedError("InvalidNotification")

/** @internal */
export class InvalidNotification extends InvalidNotificationBase<{
  readonly eventType: string
  readonly reason: string
}> {
  override get message(): string {
    return `Notification ${
      JSON.stringify(this.eventType)
    } was not sent: its payload does not encode with its schema: ${this.reason}`
  }
}

/** @internal */
export const defaultSinkTimeout: Duration.Duration = Duration.seconds(5)

/** @internal */
export const defaultCapacity = 4096

/** @internal */
export const publisherId = (topic: string, host: string): string => `${topic}.${host}`

const hex = (byte: number) => byte.toString(16).padStart(2, "0")

/**
 * A random (version 4, RFC 9562) UUID from Effect's `Random`, so a test's seed decides it:
 * 122 random bits, the version nibble 4 and the variant bits 10.
 */
const messageId: Effect.Effect<string> = Effect.map(
  Effect.replicateEffect(Random.nextIntBetween(0, 256), 16),
  (bytes) => {
    const text = bytes
      .map((byte, index) =>
        index === 6 ? (byte & 0x0f) | 0x40 : index === 8 ? (byte & 0x3f) | 0x80 : byte
      )
      .map(hex)
      .join("")
    return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${
      text.slice(20)
    }`
  },
)

// Effect has no audit or sample level: an audit record is information, a sample is detail.
const logLevels: Record<Notifier.Priority, LogLevel.LogLevel> = {
  AUDIT: LogLevel.Info,
  DEBUG: LogLevel.Debug,
  INFO: LogLevel.Info,
  WARN: LogLevel.Warning,
  ERROR: LogLevel.Error,
  CRITICAL: LogLevel.Fatal,
  SAMPLE: LogLevel.Debug,
}

/** What a log line about a notification is annotated with. */
const notificationAnnotations = (notification: Notifier.Notification) => ({
  publisherId: notification.publisherId,
  eventType: notification.eventType,
  messageId: notification.messageId,
})

/** @internal */
export const logSink: Notifier.NotificationSink = (notification) =>
  Effect.logWithLevel(
    logLevels[notification.priority],
    `Notification ${notification.eventType}`,
    notification.payload,
  ).pipe(Effect.annotateLogs(notificationAnnotations(notification)))

const NotifierOptions = Struct({
  sinkTimeout: withDefault(Millis("> 0"), () => Duration.toMillis(defaultSinkTimeout)),
  capacity: withDefault(PositiveInteger, () => defaultCapacity),
})

/** How a log line names a sink: its place in `sinks` and, when it has one, its function name. */
const sinkLabel = (sink: Notifier.NotificationSink<any>, index: number): string =>
  sink.name === "" ? `sinks[${index}]` : `sinks[${index}] ${JSON.stringify(sink.name)}`

/** A sink's overrun, told apart from the sink's own failures. */
class SinkTimedOut {
  readonly _tag = "SinkTimedOut"
}

/**
 * One sink's delivery, bounded by `timeoutMillis` under the library's one rule
 * (`bounded.withLimit`, which holds even when `notify` runs in a finalizer). A sink that fails,
 * throws or overruns is logged and the others still run: a notification is a side channel and
 * must not fail, or hang, the operation that sends it (oslo swallows driver errors too).
 */
const deliverTo = <R>(
  sink: Notifier.NotificationSink<R>,
  index: number,
  timeoutMillis: number,
) =>
(notification: Notifier.Notification): Effect.Effect<void, never, R> => {
  const label = sinkLabel(sink, index)
  const about = `A notification sink (${label})`
  const event = `${notification.eventType} (${notification.messageId})`
  // A function sink may throw before it returns an effect: that is its failure too. Its exit
  // is taken inside the work's fiber, which then never fails on its own (and is not logged as
  // a fiber that failed unobserved).
  return withLimit(Effect.exit(Effect.suspend(() => sink(notification))), {
    millis: timeoutMillis,
    onTimeout: () => new SinkTimedOut(),
    runaway: `${about} ignored its interruption on ${event}; it is left running, detached`,
    annotations: { sink: label },
  }).pipe(
    Effect.flatten,
    Effect.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      return (Option.isSome(failure) && failure.value instanceof SinkTimedOut
        ? Effect.logError(
          `${about} did not finish ${event} within ${timeoutMillis} ms; it was interrupted`,
        )
        : Effect.logError(`${about} failed on ${event}`, cause)).pipe(
          Effect.annotateLogs("sink", label),
        )
    }),
    // The sink's own lines too: a sink's log line is about the notification, not the sink.
    Effect.annotateLogs(notificationAnnotations(notification)),
  )
}

/** @internal */
export const make = <R = never>(
  options: Notifier.Options<R>,
): Effect.Effect<Notifier.Notifier, InvalidOption, R | Scope.Scope> =>
  Effect.gen(function* () {
    const { capacity, sinkTimeout } = yield* decodeOptions("Notifier", NotifierOptions, options)
    const publisher = "publisherId" in options
      ? options.publisherId
      : publisherId(options.topic, options.host)
    const sinks = (options.sinks ?? [logSink]).map((sink, index) =>
      deliverTo(sink, index, sinkTimeout)
    )
    const context = yield* Effect.context<R>()
    // Sliding: a subscriber that stops reading loses the oldest notifications, not memory.
    const pubsub = yield* Effect.acquireRelease(
      PubSub.sliding<Notifier.Notification>(capacity),
      PubSub.shutdown,
    )

    const deliver = (notification: Notifier.Notification) =>
      Effect.forEach(sinks, (sink) => sink(notification), { discard: true }).pipe(
        Effect.provide(context),
      )

    const notify = <A>(eventType: string, priority: Notifier.Priority, payload: A) =>
      Effect.gen(function* () {
        const notification: Notifier.Notification<A> = {
          messageId: yield* messageId,
          publisherId: publisher,
          eventType,
          priority,
          payload,
          timestamp: yield* Clock.currentTimeMillis,
        }
        yield* PubSub.publish(pubsub, notification)
        yield* deliver(notification)
        return notification
      })

    const notifySchema =
      <A, I, R>(schema: Schema.Schema<A, I, R>) =>
      (eventType: string, priority: Notifier.Priority, payload: A) =>
        Schema.encode(schema)(payload).pipe(
          Effect.mapError((error) => new InvalidNotification({ eventType, reason: error.message })),
          Effect.flatMap((encoded) => notify(eventType, priority, encoded)),
        )

    const at = (priority: Notifier.Priority) => <A>(eventType: string, payload: A) =>
      notify(eventType, priority, payload)

    return {
      [TypeId]: TypeId,
      publisherId: publisher,
      notify,
      notifySchema,
      audit: at("AUDIT"),
      debug: at("DEBUG"),
      info: at("INFO"),
      warn: at("WARN"),
      error: at("ERROR"),
      critical: at("CRITICAL"),
      sample: at("SAMPLE"),
      notifications: Stream.fromPubSub(pubsub),
      subscribe: Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue)),
    }
  })

/** @internal */
export const layer = <R = never>(
  options: Notifier.Options<R>,
): Layer.Layer<Notifier.Notifier, InvalidOption, R> => Layer.scoped(tag, make(options))
