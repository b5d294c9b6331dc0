/**
 * Notifications: oslo.messaging's notifier, which nova uses to tell the world that something
 * happened (`compute.instance.create.end`). Each notification carries an id, the publisher
 * (`"<topic>.<host>"`), an event type, a priority, a payload and a timestamp. It goes to every
 * subscriber of {@link Notifier.notifications} and to the notifier's sinks (by default, the
 * log).
 *
 * Neither a slow sink nor a slow subscriber can hold the sender up for long or grow memory:
 * each sink has `sinkTimeout` per notification, after which it is interrupted, given a grace
 * of one second to end, then left behind and logged; each subscriber has a sliding buffer of `capacity` notifications, so one that
 * stops reading loses the oldest.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidNotification } from "./internal/notifier.ts"
import type { InvalidOption } from "./internal/options.ts"
import * as internal from "./internal/notifier.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link Notifier}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Notifier from "effect-manager/Notifier"
 *
 * const marked = Effect.map(Notifier.Notifier, (notifier) => Notifier.TypeId in notifier) // true
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * oslo.messaging's priorities. `WARN` is oslo's spelling of warning.
 *
 * @example
 * ```ts
 * import type * as Notifier from "effect-manager/Notifier"
 *
 * const priority: Notifier.Priority = "WARN"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Priority = "AUDIT" | "DEBUG" | "INFO" | "WARN" | "ERROR" | "CRITICAL" | "SAMPLE"

/**
 * One notification, as oslo.messaging sends it.
 *
 * @example
 * ```ts
 * import type * as Notifier from "effect-manager/Notifier"
 *
 * const describe = (n: Notifier.Notification) => `${n.publisherId} ${n.priority} ${n.eventType}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Notification<out A = unknown> {
  /** A version 4 UUID drawn from Effect's `Random`. */
  readonly messageId: string
  /** `"<topic>.<host>"`, e.g. `"compute.node-1"`. */
  readonly publisherId: string
  /** What happened, e.g. `"compute.instance.create.end"`. */
  readonly eventType: string
  /** The oslo.messaging priority it was sent with (`INFO`, `WARN`, `ERROR`, …). */
  readonly priority: Priority
  /** The event's data: as given, or encoded by `notifySchema`'s schema. */
  readonly payload: A
  /** Epoch milliseconds of Effect's `Clock` when it was sent. */
  readonly timestamp: number
}

/**
 * Where notifications go besides the stream: the log, a message bus, a web hook. A sink that
 * fails (or throws before it returns its effect), or does not finish within the notifier's `sinkTimeout`, is logged and does not fail
 * the `notify` call or the other sinks. Log lines name a sink by its place in `sinks` and its
 * function name (`sinks[1] "audited"`), so a named function is easier to find.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import type * as Notifier from "effect-manager/Notifier"
 *
 * const console: Notifier.NotificationSink = (n) => Effect.sync(() => globalThis.console.log(n.eventType))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type NotificationSink<R = never> = (
  notification: Notification,
) => Effect.Effect<void, unknown, R>

/**
 * Who publishes (a `publisherId`, or the `host` and `topic` it is made of), the sinks
 * (default: {@link logSink} alone; an empty list means the stream only), how long a sink may
 * take and how far a subscriber may fall behind.
 *
 * @example
 * ```ts
 * import type * as Notifier from "effect-manager/Notifier"
 *
 * const options: Notifier.Options = {
 *   host: "node-1",
 *   topic: "compute",
 *   sinkTimeout: "2 seconds",
 *   capacity: 1024,
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Options<R = never> =
  & ({ readonly publisherId: string } | { readonly host: string; readonly topic: string })
  & {
    readonly sinks?: ReadonlyArray<NotificationSink<R>> | undefined
    /**
     * How long each sink may take per notification; then it is interrupted and given one
     * second to end (its finalizers run meanwhile), the timeout is logged and `notify` goes on
     * to the next sink. A sink still going after that ignores its interruption: it is left
     * running, detached, with a warning. The bound holds even where `notify` is called from an
     * uninterruptible region (`Effect.onExit`, a release). A finite duration > 0. Default 5
     * seconds.
     */
    readonly sinkTimeout?: Duration.DurationInput | undefined
    /**
     * Notifications buffered per subscriber before the oldest are dropped (a sliding buffer).
     * A positive integer. Default 4096.
     */
    readonly capacity?: number | undefined
  }

/**
 * Sends notifications. `notify` and its shortcuts never fail and wait for a sink at most
 * `sinkTimeout`: sinks' failures and timeouts are logged.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Notifier from "effect-manager/Notifier"
 *
 * const program = Effect.gen(function*() {
 *   const notifier = yield* Notifier.Notifier
 *   yield* notifier.info("compute.instance.create.end", { instanceId: "i-1" })
 * }).pipe(Effect.provide(Notifier.layer({ host: "node-1", topic: "compute" })))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Notifier {
  /** Marks the value as a notifier. */
  readonly [TypeId]: TypeId
  /** `"<topic>.<host>"`. */
  readonly publisherId: string
  /**
   * Sends a notification to the stream's subscribers, then to every sink in turn (each for
   * at most `sinkTimeout` and the one-second grace of its interruption), and returns it.
   */
  readonly notify: <A>(
    eventType: string,
    priority: Priority,
    payload: A,
  ) => Effect.Effect<Notification<A>>
  /**
   * Sends the payload encoded by `schema` (what goes over a wire); a payload that does not
   * encode is not sent and fails with {@link InvalidNotification}.
   */
  readonly notifySchema: <A, I, R>(
    schema: Schema.Schema<A, I, R>,
  ) => (
    eventType: string,
    priority: Priority,
    payload: A,
  ) => Effect.Effect<Notification<I>, InvalidNotification, R>
  /** `notify` with priority `AUDIT`. */
  readonly audit: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /** `notify` with priority `DEBUG`. */
  readonly debug: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /** `notify` with priority `INFO`. */
  readonly info: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /** `notify` with priority `WARN`. */
  readonly warn: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /** `notify` with priority `ERROR`. */
  readonly error: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /** `notify` with priority `CRITICAL`. */
  readonly critical: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /** `notify` with priority `SAMPLE`. */
  readonly sample: <A>(eventType: string, payload: A) => Effect.Effect<Notification<A>>
  /**
   * Every notification sent after the stream starts, in order. A subscriber that falls
   * `capacity` notifications behind loses the oldest.
   */
  readonly notifications: Stream.Stream<Notification>
  /**
   * Subscribes now and returns the notifications sent from now on, for as long as the scope
   * is open: nothing sent between this call and running the stream is missed. The same
   * sliding buffer of `capacity` applies.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<Notification>, never, Scope.Scope>
}

/**
 * The notifier in the context; {@link layer} provides it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Notifier from "effect-manager/Notifier"
 *
 * const started = Effect.flatMap(Notifier.Notifier, (notifier) => notifier.info("service.start", {}))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const Notifier: Context.Tag<Notifier, Notifier> = internal.tag

/**
 * nova's publisher id: `"<topic>.<host>"`.
 *
 * @example
 * ```ts
 * import * as Notifier from "effect-manager/Notifier"
 *
 * console.log(Notifier.publisherId("compute", "node-1")) // "compute.node-1"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const publisherId: (topic: string, host: string) => string = internal.publisherId

/**
 * The default sink: `Effect.log` at the priority's level (`AUDIT` and `INFO` at Info,
 * `DEBUG` and `SAMPLE` at Debug, `WARN` at Warning, `ERROR` at Error, `CRITICAL` at Fatal),
 * with the message `Notification <eventType>` and the payload, annotated with `eventType`,
 * `publisherId` and `messageId`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Notifier from "effect-manager/Notifier"
 *
 * const audited: Notifier.NotificationSink = (n) => Effect.log(`audit trail: ${n.messageId}`)
 * const layer = Notifier.layer({ publisherId: "api.node-1", sinks: [Notifier.logSink, audited] })
 * ```
 *
 * @since 0.1.0
 * @category sinks
 */
export const logSink: NotificationSink = internal.logSink

/**
 * A notifier in the current scope; its stream ends when the scope closes. An invalid
 * `sinkTimeout` or `capacity` fails with {@link InvalidOption}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Notifier from "effect-manager/Notifier"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const notifier = yield* Notifier.make({ host: "node-1", topic: "compute", sinks: [] })
 *   return yield* notifier.warn("compute.disk.low", { freeBytes: 1024 })
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <R = never>(
  options: Options<R>,
) => Effect.Effect<Notifier, InvalidOption, R | Scope.Scope> = internal.make

/**
 * A layer with a notifier; it needs what its sinks need and fails like {@link make}.
 *
 * @example
 * ```ts
 * import * as Notifier from "effect-manager/Notifier"
 *
 * const NotifierLive = Notifier.layer({ host: "node-1", topic: "compute" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <R = never>(
  options: Options<R>,
) => Layer.Layer<Notifier, InvalidOption, R> = internal.layer

export {
  /**
   * A payload that its schema cannot encode; names the event type and the reason.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Schema from "effect/Schema"
   * import * as Notifier from "effect-manager/Notifier"
   *
   * const Usage = Schema.Struct({ disk: Schema.NonNegativeInt })
   * const report = Effect.flatMap(Notifier.Notifier, (notifier) =>
   *   notifier.notifySchema(Usage)("compute.usage", "SAMPLE", { disk: -1 })
   * ).pipe(Effect.catchTag("InvalidNotification", (error) => Effect.logError(error.message)))
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidNotification,
} from "./internal/notifier.ts"

export {
  /**
   * A notifier option that makes no sense — a `sinkTimeout` that is not a finite duration > 0,
   * a `capacity` that is not a positive integer — names the module, the option, the value and
   * the rule; {@link make} and {@link layer} fail with it before anything starts. The same error
   * as every other module's options.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Notifier from "effect-manager/Notifier"
   *
   * const program = Effect.scoped(Notifier.make({ publisherId: "api.node-1", capacity: 0 })).pipe(
   *   Effect.catchTag("InvalidOption", (error) => Effect.logError(error.message)),
   * )
   * // Invalid option capacity of Notifier: 0 must be a positive integer
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
} from "./internal/options.ts"
