/**
 * The scheduler: nova's filter scheduler over capability reports. It consumes any number of
 * `Stream`s of {@link CapabilityReport}s, keeps the latest state of each host, service and
 * manager with the time it was received, tells up hosts from down ones by `serviceDownTime`
 * (nova's `service_is_up`), announces every host that appears, changes, goes down or comes
 * back on {@link Scheduler.changes}, and picks a host for a request with filters and weighers
 * ({@link Scheduler.select}).
 *
 * @since 0.1.0
 */
import type { CapabilityReport, MalformedReport } from "./Capabilities.ts"
import type * as Context from "effect/Context"
import type * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidOption } from "./internal/options.ts"
import type {
  InvalidCapabilities,
  InvalidWeigher,
  NoValidHost,
  TooManyHosts,
} from "./internal/scheduler.ts"
import * as internal from "./internal/scheduler.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a {@link Scheduler}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const marked = Effect.map(
 *   Scheduler.Scheduler,
 *   (scheduler) => Scheduler.TypeId in scheduler, // true
 * )
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * What the scheduler knows of one host's manager: its decoded capabilities, when the last
 * accepted report arrived (`receivedAt`: the wall clock's reading then, in epoch milliseconds
 * of the scheduler's `Clock`), that report's sequence, and whether the host is up (last report
 * at most `serviceDownTime` ago, limit included). Whether a host is up is measured on the
 * monotonic clock: a wall clock set back or forward keeps each host up exactly as long, and
 * `receivedAt` stays the reading before the step.
 *
 * @example
 * ```ts
 * import type * as Scheduler from "effect-manager/Scheduler"
 *
 * const describe = (state: Scheduler.HostState<{ readonly freeRamMb: number }>) =>
 *   `${state.manager}@${state.host}: ${state.capabilities.freeRamMb} MB free${state.up ? "" : " (down)"}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface HostState<out A> {
  /** The host that reported. */
  readonly host: string
  /** The topic of the service that reported. */
  readonly service: string
  /** The name of the manager that reported. */
  readonly manager: string
  /** The last accepted report's capabilities, decoded by the scheduler's `schema`. */
  readonly capabilities: A
  /** When the last accepted report arrived (epoch ms of the scheduler's `Clock`). */
  readonly receivedAt: number
  /** The last accepted report's sequence. */
  readonly sequence: number
  /** Whether the last report came at most `serviceDownTime` ago. */
  readonly up: boolean
}

/**
 * One change of the scheduler's view, in the order it happened:
 *
 * - `HostAdded`: the first accepted report of a host, service and manager.
 * - `HostUpdated`: an up host reported different capabilities (a report that repeats the
 *   previous payload only refreshes the host and announces nothing).
 * - `HostDown`: no report for longer than `serviceDownTime`; announced at that instant, with
 *   no report needed.
 * - `HostBackUp`: a host that was down reported again.
 * - `HostForgotten`: no report for longer than `forgetAfter`; the scheduler dropped the host's
 *   state (always after its `HostDown`). A later report of it is a `HostAdded` again.
 *
 * @example
 * ```ts
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const describe = Scheduler.HostChange.$match({
 *   HostAdded: ({ host }) => `${host.host} added`,
 *   HostUpdated: ({ host }) => `${host.host} updated`,
 *   HostDown: ({ host }) => `${host.host} down`,
 *   HostBackUp: ({ host }) => `${host.host} back up`,
 *   HostForgotten: ({ host }) => `${host.host} forgotten`,
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type HostChange<A> = Data.TaggedEnum<{
  HostAdded: { readonly host: HostState<A> }
  HostUpdated: { readonly host: HostState<A>; readonly previous: HostState<A> }
  HostDown: { readonly host: HostState<A> }
  HostBackUp: { readonly host: HostState<A> }
  HostForgotten: { readonly host: HostState<A> }
}>

/**
 * The generic definition behind {@link HostChange}, for `Data.taggedEnum`.
 *
 * @example
 * ```ts
 * import * as Data from "effect/Data"
 * import type * as Scheduler from "effect-manager/Scheduler"
 *
 * const HostChange = Data.taggedEnum<Scheduler.HostChangeDefinition>()
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface HostChangeDefinition extends Data.TaggedEnum.WithGenerics<1> {
  /** {@link HostChange} of the capabilities type `A`, as `Data.TaggedEnum.WithGenerics` asks. */
  readonly taggedEnum: HostChange<this["A"]>
}

/**
 * Constructors, guards (`$is`) and matchers (`$match`) of {@link HostChange}.
 *
 * @example
 * ```ts
 * import * as Stream from "effect/Stream"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const downs = (changes: Stream.Stream<Scheduler.HostChange<unknown>>) =>
 *   Stream.filter(changes, Scheduler.HostChange.$is("HostDown"))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const HostChange:
  & {
    readonly [Tag in HostChange<unknown>["_tag"]]: <A>(
      args: Data.TaggedEnum.Args<HostChange<A>, Tag>,
    ) => Data.TaggedEnum.Value<HostChange<A>, Tag>
  }
  & Data.TaggedEnum.GenericMatchers<HostChangeDefinition> = internal.HostChange

/**
 * A filter removes the hosts that cannot take a request (nova's `host_passes`). Filters run
 * in the order given; the first one that says no removes the host and is counted in
 * {@link NoValidHost}.
 *
 * @example
 * ```ts
 * import type * as Scheduler from "effect-manager/Scheduler"
 *
 * const enabled: Scheduler.Filter<{ readonly enabled: boolean }> = {
 *   name: "compute",
 *   passes: (host) => host.capabilities.enabled,
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Filter<in A, in R = unknown> {
  /** Names the filter in {@link NoValidHost}'s count of the hosts it removed. */
  readonly name: string
  /** Whether the host can take the request; `false` removes it. */
  readonly passes: (host: HostState<A>, request: R) => boolean
}

/**
 * A weigher scores the hosts that passed the filters. Its scores are normalised to [0, 1]
 * across those hosts (the lowest 0, the highest 1; all 0 when they are equal), then multiplied
 * by `multiplier` (negative to prefer low scores) and added to the other weighers'.
 *
 * The multiplier and every score must be finite numbers: {@link Scheduler.select} fails with
 * {@link InvalidWeigher} otherwise, since a NaN compares with nothing and ∞ − ∞ is NaN, which
 * would let the order the reports arrived in pick the winner.
 *
 * @example
 * ```ts
 * import type * as Scheduler from "effect-manager/Scheduler"
 *
 * // Spread instances: prefer the host with the fewest.
 * const fewestInstances: Scheduler.Weigher<{ readonly instances: number }> = {
 *   name: "instances",
 *   weigh: (host) => host.capabilities.instances,
 *   multiplier: -1,
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Weigher<in A, in R = unknown> {
  /** Names the weigher in {@link InvalidWeigher}. */
  readonly name: string
  /** The host's raw score for the request; a finite number. */
  readonly weigh: (host: HostState<A>, request: R) => number
  /** Scales the normalised scores; negative prefers low scores. A finite number. */
  readonly multiplier: number
}

/**
 * What {@link Scheduler.select} uses: filters (default none) and weighers (default none, so
 * the first up host by name wins).
 *
 * @example
 * ```ts
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const options: Scheduler.SelectOptions<{ readonly ramMb: number }, { readonly ramMb?: number }> = {
 *   filters: [Scheduler.resourcesFit(["ramMb"])],
 *   weighers: [Scheduler.numericWeigher("ram", "ramMb")],
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SelectOptions<A, R> {
  /** Run in order; a host any of them refuses is removed. Default none. */
  readonly filters?: ReadonlyArray<Filter<A, R>> | undefined
  /** Their weighted scores are summed; the highest total wins. Default none. */
  readonly weighers?: ReadonlyArray<Weigher<A, R>> | undefined
}

/**
 * How to build a scheduler.
 *
 * - `schema`: decodes each report's `capabilities`.
 * - `serviceDownTime`: how long after its last report a host is still up (default 60 s,
 *   nova's `service_down_time`; limit included).
 * - `forgetAfter`: how long after its last report a host's state is dropped altogether
 *   (announced as `HostForgotten`), so that a burst of bogus names cannot hold the places of
 *   `maxHosts` and memory does not grow with every name ever seen. A finite duration, at least
 *   `serviceDownTime`; default 10 × `serviceDownTime` (10 minutes with the default).
 * - `maxHosts`: the most states kept (one per host, service and manager); a report of a new
 *   one past it is refused with {@link TooManyHosts}. Default: no limit.
 * - `changesCapacity`: how many changes a slow subscriber may lag behind before the oldest
 *   are dropped (default 1024).
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import type * as Scheduler from "effect-manager/Scheduler"
 *
 * const Compute = Schema.Struct({ vcpus: Schema.Number, ramMb: Schema.Number })
 * const options: Scheduler.Options<typeof Compute.Type, typeof Compute.Encoded> = {
 *   schema: Compute,
 *   serviceDownTime: "30 seconds",
 *   forgetAfter: "1 hour",
 *   maxHosts: 10_000,
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, I> {
  /** Decodes each report's `capabilities`. */
  readonly schema: Schema.Schema<A, I>
  /** How long after its last report a host is still up. Default 60 s. */
  readonly serviceDownTime?: Duration.DurationInput | undefined
  /** How long after its last report a host's state is dropped. Default 10 × `serviceDownTime`. */
  readonly forgetAfter?: Duration.DurationInput | undefined
  /** The most host states kept; a report of a new one past it is refused. Default: no limit. */
  readonly maxHosts?: number | undefined
  /** Changes a slow subscriber may lag behind before the oldest are dropped. Default 1024. */
  readonly changesCapacity?: number | undefined
}

/**
 * The outcome of {@link Scheduler.ingestAll}: how many reports were accepted, how many were
 * ignored because they were not newer than the host's last one, and the rejected ones' errors
 * (each also logged).
 *
 * @example
 * ```ts
 * import type * as Scheduler from "effect-manager/Scheduler"
 *
 * const describe = (summary: Scheduler.IngestSummary) =>
 *   `${summary.accepted} accepted, ${summary.outOfOrder} out of order, ${summary.rejected.length} rejected`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface IngestSummary {
  /** Reports accepted. */
  readonly accepted: number
  /** Reports ignored because they were not newer than the host's last accepted one. */
  readonly outOfOrder: number
  /** The errors of the refused reports, in the order the reports came. */
  readonly rejected: ReadonlyArray<MalformedReport | InvalidCapabilities | TooManyHosts>
}

/**
 * A scheduler whose hosts' capabilities are `A`.
 *
 * A report is accepted when its sequence is greater than the last accepted one of the same
 * host, service and manager (or when that host is down: a restarted publisher starts its
 * sequence again); older reports are ignored. One bad report never stops the scheduler:
 *
 * - a report whose envelope breaks the rules of `CapabilityReport` (not an object; `host`,
 *   `service` or `manager` not a string; `timestamp` not finite; `sequence` not a
 *   non-negative safe integer) is refused with `MalformedReport`;
 * - a report whose capabilities do not decode, or hold a number that is not finite (NaN,
 *   ±Infinity, anywhere in the decoded value), is refused with {@link InvalidCapabilities},
 *   and the host keeps its previous state;
 *
 * each refusal is logged as a warning annotated with the host (and the topic and manager
 * when the report has them); `ingest` fails with it, `ingestAll` counts it and `consume` goes
 * on with the next report. The scheduler keeps its own copy of the envelope and of the
 * plain-data payload, never the caller's objects.
 *
 * Only the latest state of each host, service and manager is kept. Hosts go down
 * `serviceDownTime` after their last report and are forgotten `forgetAfter` after it, both
 * found by one background fiber that sleeps until the next such instant (woken early by a
 * report that brings an earlier one; any duration, also past the 24.8 days a platform timer
 * holds); a report of a new host that finds `maxHosts` states kept first drops those past
 * `forgetAfter` the fiber has not reached yet, and `hosts` never lists them. Every time is
 * read from the `Clock` of the fiber that made the scheduler, its wall clock made steady by
 * its monotonic one, so that a step of the wall clock changes no host's liveness.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import * as Stream from "effect/Stream"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const Compute = Schema.Struct({ ramMb: Schema.Number })
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const scheduler = yield* Scheduler.make({ schema: Compute })
 *   yield* scheduler.ingest({
 *     host: "node-1", service: "compute", manager: "Compute",
 *     capabilities: { ramMb: 4096 }, timestamp: 0, sequence: 1,
 *   })
 *   return yield* scheduler.select({ ramMb: 1024 }, {
 *     filters: [Scheduler.resourcesFit(["ramMb"])],
 *   })
 * }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Scheduler<out A = unknown> {
  /** Marks the value as a scheduler. */
  readonly [TypeId]: TypeId
  /** How long after its last report a host is still up. */
  readonly serviceDownTime: Duration.Duration
  /** How long after its last report a host's state is dropped. */
  readonly forgetAfter: Duration.Duration
  /**
   * Applies one report: `"accepted"`, or `"outOfOrder"` when it is not newer than the last;
   * fails with the refusal (also logged) of a malformed report, bad capabilities or a host
   * past `maxHosts`.
   */
  readonly ingest: (
    report: CapabilityReport,
  ) => Effect.Effect<
    "accepted" | "outOfOrder",
    MalformedReport | InvalidCapabilities | TooManyHosts
  >
  /** Applies reports received together (one clock reading), as one step; never fails. */
  readonly ingestAll: (reports: Iterable<CapabilityReport>) => Effect.Effect<IngestSummary>
  /**
   * Ingests a stream in a fiber of the scheduler's scope, chunk by chunk; returns that fiber.
   * A refused report is logged and skipped. A stream that fails is logged; it stops, the
   * scheduler does not.
   */
  readonly consume: <E, R>(
    stream: Stream.Stream<CapabilityReport, E, R>,
  ) => Effect.Effect<Fiber.RuntimeFiber<void, E>, never, R>
  /** Every host state kept, up or down, ordered by host, service, manager. */
  readonly hosts: Effect.Effect<ReadonlyArray<HostState<A>>>
  /** The up hosts, ordered by host, service, manager. */
  readonly upHosts: Effect.Effect<ReadonlyArray<HostState<A>>>
  /** The changes from the moment the stream is run; ends when the scheduler closes. */
  readonly changes: Stream.Stream<HostChange<A>>
  /** Subscribes now (in the scope), so no change made after this effect is missed. */
  readonly subscribeChanges: Effect.Effect<Stream.Stream<HostChange<A>>, never, Scope.Scope>
  /**
   * nova's filter scheduler: the up hosts go through the filters in order, the survivors are
   * weighed, and the best one is returned (ties go to the first by name). Fails with
   * {@link NoValidHost} when the filters leave no host, and with {@link InvalidWeigher} when a
   * weigher's multiplier or one of its scores is not a finite number.
   */
  readonly select: <R>(
    request: R,
    options: SelectOptions<A, R>,
  ) => Effect.Effect<HostState<A>, NoValidHost | InvalidWeigher>
}

/**
 * The scheduler of a service's layer. A scheduler with typed capabilities can live under a
 * tag of your own: see {@link layer}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const upHosts = Effect.flatMap(Scheduler.Scheduler, (scheduler) => scheduler.upHosts)
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const Scheduler: Context.Tag<Scheduler, Scheduler> = internal.tag

/**
 * A scheduler in the current scope: its sweeper and consumers stop and its `changes` end when
 * the scope closes.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const scheduler = yield* Scheduler.make({ schema: Schema.Struct({ ramMb: Schema.Number }) })
 *   return yield* scheduler.hosts
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, I>(
  options: Options<A, I>,
) => Effect.Effect<Scheduler<A>, InvalidOption, Scope.Scope> = internal.make

/**
 * A layer with a scheduler, under the {@link Scheduler} tag or, to keep the capabilities'
 * type, under a tag of your own.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Schema from "effect/Schema"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const Compute = Schema.Struct({ ramMb: Schema.Number })
 * class ComputeScheduler extends Context.Tag("ComputeScheduler")<
 *   ComputeScheduler,
 *   Scheduler.Scheduler<typeof Compute.Type>
 * >() {}
 *
 * const SchedulerLive = Scheduler.layer({ schema: Compute })
 * const ComputeSchedulerLive = Scheduler.layer(ComputeScheduler, { schema: Compute })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: {
  <A, I>(options: Options<A, I>): Layer.Layer<Scheduler, InvalidOption>
  <Id, A, I>(
    tag: Context.Tag<Id, Scheduler<A>>,
    options: Options<A, I>,
  ): Layer.Layer<Id, InvalidOption>
} = internal.layer

/**
 * A filter named `"resources"` that passes a host when, for each named field, the request asks
 * for at most what the host has (a field the request leaves out asks for nothing), like nova's
 * RAM, disk and core filters.
 *
 * @example
 * ```ts
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const fits = Scheduler.resourcesFit(["vcpus", "ramMb"])
 * ```
 *
 * @since 0.1.0
 * @category filters
 */
export const resourcesFit: <const F extends string>(
  fields: ReadonlyArray<F>,
) => Filter<{ readonly [K in F]: number }, { readonly [K in F]?: number | undefined }> =
  internal.resourcesFit

/**
 * A weigher whose score is a numeric capability, e.g. free RAM (nova's RAM weigher); the
 * multiplier defaults to 1, a negative one prefers low values.
 *
 * @example
 * ```ts
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const mostFreeRam = Scheduler.numericWeigher("ram", "freeRamMb")
 * const fewestInstances = Scheduler.numericWeigher("instances", "instances", -2)
 * ```
 *
 * @since 0.1.0
 * @category weighers
 */
export const numericWeigher: <const F extends string>(
  name: string,
  field: F,
  multiplier?: number,
) => Weigher<{ readonly [K in F]: number }> = internal.numericWeigher

export {
  /**
   * A report whose capabilities do not match the scheduler's schema, or hold a number that is
   * not finite (NaN, ±Infinity) anywhere in the decoded value; names the host, service,
   * manager, the report's sequence and the reason (the parse error, or the path and the
   * number). The host keeps its previous state.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import type { Capabilities } from "effect-manager"
   * import * as Scheduler from "effect-manager/Scheduler"
   *
   * const ingest = (report: Capabilities.CapabilityReport) =>
   *   Effect.flatMap(Scheduler.Scheduler, (scheduler) => scheduler.ingest(report)).pipe(
   *     Effect.catchTag("InvalidCapabilities", (error) => Effect.succeed(error.reason))
   *   )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidCapabilities,
  /**
   * A weigher that {@link Scheduler.select} cannot use fairly: its `multiplier`, or the score
   * it gave a host (the first such host by name), is NaN, ±Infinity or not a number. Names
   * the weigher, the field, the host and the value.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Scheduler from "effect-manager/Scheduler"
   *
   * class ComputeScheduler extends Context.Tag("ComputeScheduler")<
   *   ComputeScheduler,
   *   Scheduler.Scheduler<{ readonly freeRamMb: number }>
   * >() {}
   *
   * const place = Effect.flatMap(ComputeScheduler, (scheduler) =>
   *   scheduler.select({}, { weighers: [Scheduler.numericWeigher("ram", "freeRamMb", NaN)] })
   * ).pipe(
   *   Effect.catchTag("InvalidWeigher", (error) => Effect.die(error.message))
   * )
   * // dies with: Weigher "ram" refused: its multiplier must be a finite number, got NaN
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidWeigher,
  /**
   * {@link select} found no host: says how many up hosts there were and how many each
   * filter removed, e.g. `No valid host: 10 hosts; "resources" removed 7, "compute" removed 3`.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Option from "effect/Option"
   * import * as Scheduler from "effect-manager/Scheduler"
   *
   * const place = Effect.flatMap(Scheduler.Scheduler, (scheduler) => scheduler.select({}, {})).pipe(
   *   Effect.map(Option.some),
   *   Effect.catchTag("NoValidHost", (error) => Effect.as(Effect.logWarning(error.message), Option.none()))
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  NoValidHost,
  /**
   * A report of a new host, service and manager when the scheduler already keeps `maxHosts`
   * states; names them and the limit.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import type { Capabilities } from "effect-manager"
   * import * as Scheduler from "effect-manager/Scheduler"
   *
   * const ingest = (report: Capabilities.CapabilityReport) =>
   *   Effect.flatMap(Scheduler.Scheduler, (scheduler) => scheduler.ingest(report)).pipe(
   *     Effect.catchTag("TooManyHosts", (error) => Effect.logError(error.message))
   *   )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  TooManyHosts,
} from "./internal/scheduler.ts"

export {
  /**
   * A scheduler option that makes no sense — a negative or infinite `serviceDownTime` or
   * `forgetAfter`, a `forgetAfter` shorter than `serviceDownTime`, a `maxHosts` that is neither
   * a positive integer nor `Infinity`, a `changesCapacity` that is not a positive integer, a
   * `schema` that is not a Schema — names the module, the option, the value and the rule;
   * {@link make} and {@link layer} fail with it before anything starts. The same error as every
   * other module's options.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Schema from "effect/Schema"
   * import * as Scheduler from "effect-manager/Scheduler"
   *
   * const program = Scheduler.make({ schema: Schema.Struct({}), serviceDownTime: -1 }).pipe(
   *   Effect.catchTag("InvalidOption", (error) => Effect.die(error.message)),
   *   Effect.scoped
   * )
   * // dies with: Invalid option serviceDownTime of Scheduler: -1 must be a finite duration ≥ 0
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
} from "./internal/options.ts"
