import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Notifier from "../Notifier.ts"

/** @internal */
export const TypeId: Notifier.TypeId = Symbol.for("effect-manager/Notifier") as Notifier.TypeId

/** @internal */
export const tag: Context.Tag<Notifier.Notifier, Notifier.Notifier> = Context.GenericTag<
  Notifier.Notifier
>("effect-manager/Notifier")

/** @internal */
export class InvalidNotification extends Schema.TaggedError<InvalidNotification>(
  "effect-manager/InvalidNotification",
)("InvalidNotification", {
  eventType: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Notification ${
      JSON.stringify(this.eventType)
    } was not sent: its payload does not encode with its schema: ${this.reason}`
  }
}

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

/** @internal */
export const logSink: Notifier.NotificationSink = (notification) =>
  Effect.logWithLevel(
    logLevels[notification.priority],
    `Notification ${notification.eventType}`,
    notification.payload,
  ).pipe(
    Effect.annotateLogs({
      eventType: notification.eventType,
      publisherId: notification.publisherId,
      messageId: notification.messageId,
    }),
  )

/** @internal */
export const make = <R = never>(
  options: Notifier.Options<R>,
): Effect.Effect<Notifier.Notifier, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const publisher = "publisherId" in options
      ? options.publisherId
      : publisherId(options.topic, options.host)
    const sinks = options.sinks ?? [logSink]
    const context = yield* Effect.context<R>()
    const pubsub = yield* Effect.acquireRelease(
      PubSub.unbounded<Notifier.Notification>(),
      PubSub.shutdown,
    )

    // A sink that fails is logged and the others still run: a notification is a side
    // channel and must not fail the operation that sends it (oslo swallows driver errors too).
    const deliver = (notification: Notifier.Notification) =>
      Effect.forEach(sinks, (sink) =>
        sink(notification).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError(
              `A notification sink failed on ${notification.eventType} (${notification.messageId})`,
              cause,
            )
          ),
        ), { discard: true }).pipe(Effect.provide(context))

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
    }
  })

/** @internal */
export const layer = <R = never>(
  options: Notifier.Options<R>,
): Layer.Layer<Notifier.Notifier, never, R> => Layer.scoped(tag, make(options))
