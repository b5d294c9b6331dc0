import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as MetricLabel from "effect/MetricLabel"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { CapabilityReport } from "../Capabilities.ts"
import type * as Scheduler from "../Scheduler.ts"
import { MalformedReport, readReport } from "./capabilities.ts"
import { DEFAULT_SERVICE_DOWN_TIME_MILLIS, heardWithin } from "./liveness.ts"
import { copyPayload, samePayload } from "./payload.ts"
import { MAX_TIMER_MILLIS, SteadyClock } from "./steadyClock.ts"
import * as telemetry from "./telemetry.ts"
import {
  declare,
  decodeOptions,
  filter,
  InvalidOption,
  Millis,
  optional,
  PositiveInteger,
  Struct,
  withDefault,
} from "./options.ts"
import { isPositiveInteger, show } from "./validate.ts"

/** @internal */
export const TypeId: Scheduler.TypeId = Symbol.for("effect-manager/Scheduler") as Scheduler.TypeId

/** @internal */
export const tag: Context.Tag<Scheduler.Scheduler, Scheduler.Scheduler> = Context.GenericTag<
  Scheduler.Scheduler
>("effect-manager/Scheduler")

/** @internal */
export const HostChange = Data.taggedEnum<Scheduler.HostChangeDefinition>()

/** Who sent a report: the fields shared by the errors of a report. */
interface Reporter {
  readonly host: string
  readonly service: string
  readonly manager: string
}

const describeReporter = (report: Reporter) =>
  `manager ${JSON.stringify(report.manager)} (service ${JSON.stringify(report.service)}) on host ${
    JSON.stringify(report.host)
  }`

// Each error's base class has its type written out: JSR documents and type-checks
// the package from explicit types (no "slow types"), and cannot infer a call's.
const InvalidCapabilitiesBase: ReturnType<typeof Data.TaggedError<"InvalidCapabilities">> = Data
  .TaggedError(
    "InvalidCapabilities",
  )

/** @internal */
export class InvalidCapabilities extends InvalidCapabilitiesBase<
  Reporter & {
    readonly sequence: number
    readonly reason: string
  }
> {
  override get message(): string {
    return `Capabilities of ${describeReporter(this)}, report ${this.sequence}, ` +
      `are refused and the previous state is kept: ${this.reason}`
  }
}

const TooManyHostsBase: ReturnType<typeof Data.TaggedError<"TooManyHosts">> = Data.TaggedError(
  "TooManyHosts",
)

/** @internal */
export class TooManyHosts extends TooManyHostsBase<
  Reporter & {
    readonly maxHosts: number
  }
> {
  override get message(): string {
    return `Scheduler refused ${
      describeReporter(this)
    }: it already keeps ${this.maxHosts} host states (maxHosts)`
  }
}

const InvalidWeigherBase: ReturnType<typeof Data.TaggedError<"InvalidWeigher">> = Data.TaggedError(
  "InvalidWeigher",
)

/** @internal */
export class InvalidWeigher extends InvalidWeigherBase<{
  readonly weigher: string
  readonly field: "multiplier" | "weight"
  readonly host?: string | undefined
  readonly value: string
  readonly reason: string
}> {
  override get message(): string {
    const what = this.host === undefined
      ? `its ${this.field}`
      : `its ${this.field} of host ${JSON.stringify(this.host)}`
    return `Weigher ${
      JSON.stringify(this.weigher)
    } refused: ${what} ${this.reason}, got ${this.value}`
  }
}

const noValidHostFields: {
  hosts: typeof Schema.Number
  removed: Schema.Array$<
    Schema.Struct<{ filter: typeof Schema.String; removed: typeof Schema.Number }>
  >
} = {
  hosts: Schema.Number,
  removed: Schema.Array(Schema.Struct({ filter: Schema.String, removed: Schema.Number })),
}

// A schema class: a scheduler served over RPC answers a `select` with it (Remote.schedulerApi).
const NoValidHostBase: Schema.TaggedErrorClass<
  NoValidHost,
  "NoValidHost",
  { readonly _tag: Schema.tag<"NoValidHost"> } & typeof noValidHostFields
> = Schema.TaggedError<NoValidHost>()("NoValidHost", noValidHostFields)

/** @internal */
export class NoValidHost extends NoValidHostBase {
  override get message(): string {
    const removed = this.removed.map(({ filter, removed }) =>
      `${JSON.stringify(filter)} removed ${removed}`
    )
    return `No valid host: ${this.hosts} hosts${
      removed.length > 0 ? `; ${removed.join(", ")}` : ""
    }`
  }
}

// --- ready-made filters and weighers ----------------------------------------------------------

/** @internal */
export const resourcesFit = <const F extends string>(
  fields: ReadonlyArray<F>,
): Scheduler.Filter<{ readonly [K in F]: number }, { readonly [K in F]?: number | undefined }> => ({
  name: "resources",
  passes: (host, request) => {
    for (const field of fields) {
      const wanted = request[field]
      if (wanted !== undefined && !(wanted <= host.capabilities[field])) return false
    }
    return true
  },
})

/** @internal */
export const numericWeigher = <const F extends string>(
  name: string,
  field: F,
  multiplier = 1,
): Scheduler.Weigher<{ readonly [K in F]: number }> => ({
  name,
  multiplier,
  weigh: (host) => host.capabilities[field],
})

// --- the service -------------------------------------------------------------------------------

const DEFAULT_CHANGES_CAPACITY = 1024

/** Without a `forgetAfter`, a host is forgotten this many `serviceDownTime`s after its report. */
const DEFAULT_FORGET_AFTER_DOWN_TIMES = 10

/** Bounds the walk of decoded capabilities for non-finite numbers (and any cycle in them). */
const MAX_CAPABILITIES_DEPTH = 64

/**
 * One (host, service, manager): its current state and the payload it was decoded from. Each
 * entry is a link of one of two lists ordered by last report (see `EntryList`): the up list or,
 * once `down`, the down list.
 */
interface Entry<A> {
  state: Scheduler.HostState<A>
  /** Our own copy of the accepted report's encoded capabilities. */
  encoded: unknown
  /** The accepted report's own timestamp (the publisher's clock). */
  publishedAt: number
  /**
   * The steady instant (see `SteadyClock`) the accepted report arrived: what the host's
   * liveness is measured from. `state.receivedAt` is the wall clock's reading at that instant.
   */
  heardAt: number
  /** Set when a `HostDown` was published; cleared by the next accepted report. */
  down: boolean
  previous: Entry<A> | undefined
  next: Entry<A> | undefined
}

/**
 * Entries, oldest report first: an accepted report moves its entry to the end of the up list,
 * and the sweeper moves an entry that goes down to the end of the down list. Entries are
 * timed on the steady clock, which a step of the wall clock does not move, so the first entry
 * of each list is the next to go down or to be forgotten: one sweeper fiber needs no heap and
 * no timer per host, and moving an entry costs two pointer updates.
 */
class EntryList<A> {
  first: Entry<A> | undefined = undefined
  last: Entry<A> | undefined = undefined
  length = 0

  remove(entry: Entry<A>): void {
    this.length--
    if (entry.previous === undefined) this.first = entry.next
    else entry.previous.next = entry.next
    if (entry.next === undefined) this.last = entry.previous
    else entry.next.previous = entry.previous
    entry.previous = entry.next = undefined
  }

  append(entry: Entry<A>): void {
    this.length++
    entry.previous = this.last
    entry.next = undefined
    if (this.last === undefined) this.first = entry
    else this.last.next = entry
    this.last = entry
  }

  moveToEnd(entry: Entry<A>): void {
    if (this.last === entry) return
    this.remove(entry)
    this.append(entry)
  }
}

/**
 * The path to the first NaN or ±Infinity in decoded capabilities, ending with the number
 * itself; undefined when there is none. Only built on the way back from a find, so a clean
 * payload allocates nothing but its own keys.
 */
const nonFinite = (u: unknown, depth: number): Array<string> | undefined => {
  if (typeof u === "number") return Number.isFinite(u) ? undefined : [String(u)]
  if (typeof u !== "object" || u === null || depth === 0) return undefined
  if (Array.isArray(u)) {
    for (let i = 0; i < u.length; i++) {
      const path = nonFinite(u[i], depth - 1)
      if (path !== undefined) return (path.unshift(`[${i}]`), path)
    }
    return undefined
  }
  // `for in` rather than `Object.keys`: no array per object on the ingest path. Inherited
  // enumerable keys, if any, are only read.
  for (const key in u) {
    const path = nonFinite((u as Record<string, unknown>)[key], depth - 1)
    if (path !== undefined) {
      path.unshift(/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)
      return path
    }
  }
  return undefined
}

/** A report's capabilities, decoded from our own copy of the payload. */
interface Decoded<A> {
  readonly encoded: unknown
  readonly capabilities: A
}

type DecodeCapabilities<A> = (
  report: CapabilityReport,
  entry: Entry<A> | undefined,
) => Decoded<A> | InvalidCapabilities | undefined

/**
 * Decodes a report's capabilities, or says why they are refused; `undefined` when they are the
 * same as the entry's. Nothing here may throw out (a schema's transformation that throws, a
 * cyclic payload): one bad report must never end a consumer.
 */
const refuseCapabilities = (report: CapabilityReport, reason: string) =>
  new InvalidCapabilities({
    host: report.host,
    service: report.service,
    manager: report.manager,
    sequence: report.sequence,
    reason,
  })

const capabilitiesDecoder = <A, I>(schema: Schema.Schema<A, I>): DecodeCapabilities<A> => {
  const decode = Schema.decodeUnknownEither(schema)
  return (report, entry) => {
    try {
      // A manager re-sends unchanged capabilities every period (nova's C3).
      if (entry !== undefined && samePayload(entry.encoded, report.capabilities)) return undefined
      const encoded = copyPayload(report.capabilities)
      const decoded = decode(encoded)
      if (Either.isLeft(decoded)) {
        return refuseCapabilities(report, `they do not match the schema: ${decoded.left.message}`)
      }
      const path = nonFinite(decoded.right, MAX_CAPABILITIES_DEPTH)
      if (path !== undefined) {
        const value = path.pop()
        return refuseCapabilities(
          report,
          `capabilities${path.join("")} is ${value}, and only finite numbers are accepted ` +
            `(a placement must not depend on the order reports arrived)`,
        )
      }
      return { encoded, capabilities: decoded.right }
    } catch (error) {
      return refuseCapabilities(report, `they could not be decoded: ${String(error)}`)
    }
  }
}

const byName = (a: Scheduler.HostState<unknown>, b: Scheduler.HostState<unknown>): number =>
  a.host < b.host
    ? -1
    : a.host > b.host
    ? 1
    : a.service < b.service
    ? -1
    : a.service > b.service
    ? 1
    : a.manager < b.manager
    ? -1
    : a.manager > b.manager
    ? 1
    : 0

type Rejection = MalformedReport | InvalidCapabilities | TooManyHosts

/** The decoded options, durations in milliseconds. */
interface Settings {
  readonly downTime: number
  readonly forgetAfter: number
  readonly maxHosts: number
  readonly changesCapacity: number
}

/** A host limit: a positive integer, or no limit at all. */
const HostLimit = declare(
  (u): u is number => u === Infinity || isPositiveInteger(u),
  "must be a positive integer or Infinity",
)

const SchedulerOptions = filter(
  Struct({
    serviceDownTime: withDefault(Millis("≥ 0"), () => DEFAULT_SERVICE_DOWN_TIME_MILLIS),
    forgetAfter: optional(Millis("≥ 0")),
    maxHosts: withDefault(HostLimit, () => Infinity),
    changesCapacity: withDefault(PositiveInteger, () => DEFAULT_CHANGES_CAPACITY),
    schema: declare(Schema.isSchema, "must be a Schema"),
  }),
  ({ forgetAfter, serviceDownTime }) =>
    forgetAfter === undefined || forgetAfter >= serviceDownTime || {
      path: ["forgetAfter"],
      reason: `must not be shorter than serviceDownTime (${Duration.format(serviceDownTime)})`,
    },
)

const decodeSettings = <A, I>(
  options: Scheduler.Options<A, I>,
): Either.Either<Settings, InvalidOption> =>
  Either.map(decodeOptions("Scheduler", SchedulerOptions, options), (decoded) => ({
    downTime: decoded.serviceDownTime,
    forgetAfter: decoded.forgetAfter ?? DEFAULT_FORGET_AFTER_DOWN_TIMES * decoded.serviceDownTime,
    maxHosts: decoded.maxHosts,
    changesCapacity: decoded.changesCapacity,
  }))

/**
 * A refusal's warning, annotated with the keys of every line about a service: `host`, `topic`
 * (the report's `service`) and `manager`.
 */
const logRejection = (error: Rejection) =>
  Effect.logWarning(error.message).pipe(
    Effect.annotateLogs(
      error._tag !== "MalformedReport"
        ? { host: error.host, topic: error.service, manager: error.manager }
        : error.host === undefined
        ? {}
        : { host: error.host },
    ),
  )

/**
 * Every state the scheduler keeps, and the rules that change them. Plain mutable structures,
 * not a Ref: the ingest path runs hundreds of thousands of times a second, and each batch is
 * applied in one synchronous step, so no other fiber ever sees a half-applied batch. Keyed
 * host → service → manager in `Map`s (the names are data: `__proto__` is a host like any
 * other), with no key string to build per report.
 */
class HostTable<A> {
  private readonly states = new Map<string, Map<string, Map<string, Entry<A>>>>()
  private size = 0
  private readonly upList = new EntryList<A>()
  private readonly downList = new EntryList<A>()
  /** Changes are only built while someone listens. */
  subscribers = 0

  constructor(
    private readonly settings: Settings,
    private readonly decode: DecodeCapabilities<A>,
  ) {}

  /** How many states are listed up (until the sweeper reaches those past the down time). */
  upCount(): number {
    return this.upList.length
  }

  isFresh(entry: Entry<A>, now: number): boolean {
    return heardWithin(entry.heardAt, now, this.settings.downTime)
  }

  isKept(entry: Entry<A>, now: number): boolean {
    return heardWithin(entry.heardAt, now, this.settings.forgetAfter)
  }

  /**
   * The next steady instant a host is due to go down or to be forgotten, +∞ when none is kept:
   * a millisecond past the limit, which `heardWithin` still counts as heard.
   */
  nextDue(): number {
    const { downTime, forgetAfter } = this.settings
    const up = this.upList.first
    const down = this.downList.first
    return Math.min(
      up === undefined ? Infinity : up.heardAt + downTime + 1,
      down === undefined ? Infinity : down.heardAt + forgetAfter + 1,
    )
  }

  private insert(entry: Entry<A>, events: Array<Scheduler.HostChange<A>>): void {
    const { host, manager, service } = entry.state
    let services = this.states.get(host)
    if (services === undefined) this.states.set(host, services = new Map())
    let managers = services.get(service)
    if (managers === undefined) services.set(service, managers = new Map())
    managers.set(manager, entry)
    this.size++
    this.upList.append(entry)
    if (this.subscribers > 0) events.push(HostChange.HostAdded({ host: entry.state }))
  }

  private markDown(entry: Entry<A>, events: Array<Scheduler.HostChange<A>>): void {
    entry.down = true
    entry.state = { ...entry.state, up: false }
    this.upList.remove(entry)
    this.downList.append(entry)
    if (this.subscribers > 0) events.push(HostChange.HostDown({ host: entry.state }))
  }

  private forget(entry: Entry<A>, events: Array<Scheduler.HostChange<A>>): void {
    const { host, manager, service } = entry.state
    this.downList.remove(entry)
    const services = this.states.get(host)!
    const managers = services.get(service)!
    managers.delete(manager)
    if (managers.size === 0) services.delete(service)
    if (services.size === 0) this.states.delete(host)
    this.size--
    if (this.subscribers > 0) events.push(HostChange.HostForgotten({ host: entry.state }))
  }

  /**
   * Marks down every entry past its down time and forgets every one past `forgetAfter`;
   * returns the next instant one of them is due (see `nextDue`).
   */
  sweep(now: number, events: Array<Scheduler.HostChange<A>>): number {
    for (let entry = this.upList.first; entry !== undefined; entry = this.upList.first) {
      if (this.isFresh(entry, now)) break
      this.markDown(entry, events)
    }
    for (let entry = this.downList.first; entry !== undefined; entry = this.downList.first) {
      if (this.isKept(entry, now)) break
      this.forget(entry, events)
    }
    return this.nextDue()
  }

  /**
   * Applies one report received at the steady instant `now`, `receivedAt` on the wall clock;
   * returns whether it was accepted, or why it was refused.
   */
  apply(
    input: unknown,
    now: number,
    receivedAt: number,
    events: Array<Scheduler.HostChange<A>>,
  ): boolean | Rejection {
    const report = readReport(input)
    if (report instanceof MalformedReport) return report
    const { host, manager, sequence, service } = report
    const entry = this.states.get(host)?.get(service)?.get(manager)
    const expired = entry !== undefined && (entry.down || !this.isFresh(entry, now))
    // A host that has been down may have restarted its sequence: only an up host's reports
    // are ordered against the last one. A publisher that restarted within the down time
    // starts again at 1, with a newer timestamp: that is a new run, not an old report.
    const restarted = sequence === 1 && entry !== undefined &&
      report.timestamp > entry.publishedAt
    if (entry !== undefined && !expired && !restarted && sequence <= entry.state.sequence) {
      return false
    }
    const { maxHosts } = this.settings
    // The sweeper may not have reached the hosts past `forgetAfter` yet: they hold no place.
    if (entry === undefined && this.size >= maxHosts) this.sweep(now, events)
    if (entry === undefined && this.size >= maxHosts) {
      return new TooManyHosts({ host, service, manager, maxHosts })
    }
    const decoded = this.decode(report, entry)
    if (decoded instanceof InvalidCapabilities) return decoded
    const state: Scheduler.HostState<A> = {
      host,
      service,
      manager,
      capabilities: decoded === undefined ? entry!.state.capabilities : decoded.capabilities,
      receivedAt,
      sequence,
      up: true,
    }
    if (entry === undefined) {
      const { encoded } = decoded!
      const down = false
      const publishedAt = report.timestamp
      this.insert(
        { state, encoded, publishedAt, heardAt: now, down, previous: undefined, next: undefined },
        events,
      )
      return true
    }
    // The sweeper may not have run yet at this instant: say the host went down before it
    // came back, so that every HostBackUp follows a HostDown.
    if (expired && !entry.down) this.markDown(entry, events)
    entry.heardAt = now
    this.update(entry, state, decoded, report.timestamp, events)
    return true
  }

  private update(
    entry: Entry<A>,
    state: Scheduler.HostState<A>,
    decoded: Decoded<A> | undefined,
    publishedAt: number,
    events: Array<Scheduler.HostChange<A>>,
  ): void {
    const previous = entry.state
    entry.state = state
    if (decoded !== undefined) entry.encoded = decoded.encoded
    entry.publishedAt = publishedAt
    if (entry.down) {
      entry.down = false
      this.downList.remove(entry)
      this.upList.append(entry)
      if (this.subscribers > 0) events.push(HostChange.HostBackUp({ host: state }))
    } else {
      this.upList.moveToEnd(entry)
      if (this.subscribers > 0 && decoded !== undefined) {
        events.push(HostChange.HostUpdated({ host: state, previous }))
      }
    }
  }

  /** Every state kept at `now`, up or down, ordered by name. */
  hosts(now: number): Array<Scheduler.HostState<A>> {
    const all: Array<Scheduler.HostState<A>> = []
    for (const services of this.states.values()) {
      for (const managers of services.values()) {
        for (const entry of managers.values()) {
          const state = entry.state
          if (!this.isKept(entry, now)) continue
          const up = this.isFresh(entry, now)
          all.push(up === state.up ? state : { ...state, up })
        }
      }
    }
    return all.sort(byName)
  }

  /** The states up at `now`, ordered by name. */
  upHosts(now: number): Array<Scheduler.HostState<A>> {
    const up: Array<Scheduler.HostState<A>> = []
    for (let entry = this.upList.first; entry !== undefined; entry = entry.next) {
      if (this.isFresh(entry, now)) up.push(entry.state)
    }
    return up.sort(byName)
  }

  /**
   * Puts the up hosts that pass every filter into `passed`, counts in `removed` the hosts each
   * filter removed, and returns how many up hosts there were.
   */
  filter<R>(
    now: number,
    request: R,
    filters: ReadonlyArray<Scheduler.Filter<A, R>>,
    passed: Array<Scheduler.HostState<A>>,
    removed: Array<number>,
  ): number {
    let considered = 0
    for (let entry = this.upList.first; entry !== undefined; entry = entry.next) {
      if (!this.isFresh(entry, now)) continue
      const state = entry.state
      considered++
      let passes = true
      for (let i = 0; i < filters.length; i++) {
        if (!filters[i]!.passes(state, request)) {
          removed[i]!++
          passes = false
          break
        }
      }
      if (passes) passed.push(state)
    }
    return considered
  }
}

/** @internal */
export const make = <A, I>(
  options: Scheduler.Options<A, I>,
): Effect.Effect<Scheduler.Scheduler<A>, InvalidOption, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = yield* decodeSettings(options)
    const table = new HostTable<A>(settings, capabilitiesDecoder(options.schema))
    const scope = yield* Effect.scope
    const pubsub = yield* Effect.acquireRelease(
      PubSub.sliding<Scheduler.HostChange<A>>(settings.changesCapacity),
      PubSub.shutdown,
    )
    // Liveness is measured on steady instants (see `SteadyClock`), so that a step of the wall
    // clock neither marks every host down nor keeps a silent one up; `receivedAt` is the wall
    // clock's reading.
    const clock = yield* Effect.clock
    const steady = new SteadyClock(clock)

    const meters = schedulerMeters(yield* FiberRef.get(FiberRef.currentMetricLabels))
    // A scheduler that is gone holds no host up.
    yield* Effect.addFinalizer(() => Effect.sync(() => meters.hostsUp(0)))
    const sweeper = sweeperWith(table, clock, steady, pubsub, meters)
    const publish = (events: ReadonlyArray<Scheduler.HostChange<A>>) => {
      meters.hostsUp(table.upCount())
      sweeper.wakeIfDueEarlier()
      return events.length === 0 ? Effect.void : PubSub.publishAll(pubsub, events)
    }
    yield* Effect.forkIn(sweeper.run, scope)

    const listen = Effect.acquireRelease(
      Effect.sync(() => {
        table.subscribers++
      }),
      () =>
        Effect.sync(() => {
          table.subscribers--
        }),
    )
    const subscribeChanges = Effect.zipRight(listen, Stream.fromPubSub(pubsub, { scoped: true }))

    const ingestAll = ingestAllWith(table, steady, publish, meters)
    const service: Scheduler.Scheduler<A> = {
      [TypeId]: TypeId,
      serviceDownTime: Duration.millis(settings.downTime),
      forgetAfter: Duration.millis(settings.forgetAfter),
      ingest: ingestWith(table, steady, publish, meters),
      ingestAll,
      consume: (stream) =>
        Stream.runForEachChunk(stream, ingestAll).pipe(
          Effect.tapErrorCause((cause) =>
            Effect.logError("A capability stream consumed by the scheduler failed", cause)
          ),
          Effect.forkIn(scope),
        ),
      hosts: Effect.sync(() => table.hosts(steady.now())),
      upHosts: Effect.sync(() => table.upHosts(steady.now())),
      changes: Stream.unwrapScoped(subscribeChanges),
      subscribeChanges,
      select: observeSelect(selectWith(table, steady), meters),
    }
    return service
  })

/**
 * The sweeper: one fiber, asleep until the first instant a host goes down or is forgotten.
 * `wakeIfDueEarlier`, called after every batch of reports, wakes it when they bring an
 * earlier instant than the planned one: a host that appears, or comes back up, while only
 * down hosts are kept.
 */
const sweeperWith = <A>(
  table: HostTable<A>,
  clock: Clock.Clock,
  steady: SteadyClock,
  pubsub: PubSub.PubSub<Scheduler.HostChange<A>>,
  meters: SchedulerMeters,
) => {
  /** The steady instant the sweeper sleeps until (+∞: until woken); −∞ once woken. */
  let plannedAt = Infinity
  let wake = Deferred.unsafeMake<void>(FiberId.none)
  const wakeIfDueEarlier = () => {
    if (table.nextDue() < plannedAt) {
      plannedAt = -Infinity
      Deferred.unsafeDone(wake, Exit.void)
    }
  }
  const run = Effect.gen(function* () {
    for (;;) {
      const now = steady.now()
      const events: Array<Scheduler.HostChange<A>> = []
      const next = plannedAt = table.sweep(now, events)
      meters.hostsUp(table.upCount())
      const woken = Deferred.await(wake = Deferred.unsafeMake<void>(FiberId.none))
      if (events.length > 0) yield* PubSub.publishAll(pubsub, events)
      // A wait longer than a platform timer holds is slept in parts, planned again after each.
      yield* next === Infinity ? woken : Effect.race(
        clock.sleep(Duration.millis(Math.min(MAX_TIMER_MILLIS, Math.max(0, next - now)))),
        woken,
      )
    }
  })
  return { wakeIfDueEarlier, run }
}

/** The scheduler's metrics (see `Telemetry`), each an update function. */
interface SchedulerMeters {
  /** This scheduler's share of `hosts_up`: the host states it lists as up. */
  readonly hostsUp: (count: number) => void
  readonly applied: (count: number) => void
  readonly outOfOrder: (count: number) => void
  readonly refused: (count: number) => void
  readonly placements: (count: number) => void
  readonly noValidHost: (count: number) => void
}

const schedulerMeters = (base: ReadonlyArray<MetricLabel.MetricLabel>): SchedulerMeters => {
  const reports = (result: string) =>
    telemetry.updater(telemetry.Keys.reports, telemetry.labels({ result }, base))
  return {
    hostsUp: telemetry.gaugeShare(telemetry.Keys.hostsUp, base),
    applied: reports("applied"),
    outOfOrder: reports("out_of_order"),
    refused: reports("refused"),
    placements: telemetry.updater(telemetry.Keys.placements, base),
    noValidHost: telemetry.updater(telemetry.Keys.noValidHost, base),
  }
}

/**
 * `select` in a span `select` that names the host chosen, or how many hosts were considered when
 * none was valid; counted in `effect_manager.scheduler.placements` or `.no_valid_host`.
 */
const observeSelect = <A>(
  select: Scheduler.Scheduler<A>["select"],
  meters: SchedulerMeters,
): Scheduler.Scheduler<A>["select"] =>
(request, options) =>
  select(request, options).pipe(
    Effect.tap((chosen) => {
      meters.placements(1)
      return Effect.annotateCurrentSpan(telemetry.Attribute.chosenHost, chosen.host)
    }),
    Effect.tapError((error) => {
      if (error._tag !== "NoValidHost") return Effect.void
      meters.noValidHost(1)
      return Effect.annotateCurrentSpan(telemetry.Attribute.hostsConsidered, error.hosts)
    }),
    telemetry.span("select", {}),
  )

type Publish<A> = (events: ReadonlyArray<Scheduler.HostChange<A>>) => Effect.Effect<void>

const ingestWith =
  <A>(table: HostTable<A>, steady: SteadyClock, publish: Publish<A>, meters: SchedulerMeters) =>
  (report: CapabilityReport) =>
    Effect.suspend(() => {
      const now = steady.now()
      const events: Array<Scheduler.HostChange<A>> = []
      const result = table.apply(report, now, now + steady.wallOffset(), events)
      if (result === true) meters.applied(1)
      else if (result === false) meters.outOfOrder(1)
      else meters.refused(1)
      if (typeof result !== "boolean") {
        return Effect.zipRight(
          Effect.zipRight(logRejection(result), publish(events)),
          Effect.fail(result),
        )
      }
      return Effect.as(publish(events), result ? "accepted" as const : "outOfOrder" as const)
    })

const ingestAllWith =
  <A>(table: HostTable<A>, steady: SteadyClock, publish: Publish<A>, meters: SchedulerMeters) =>
  (reports: Iterable<CapabilityReport>) =>
    Effect.suspend(() => {
      const now = steady.now()
      const receivedAt = now + steady.wallOffset()
      const events: Array<Scheduler.HostChange<A>> = []
      const rejected: Array<Rejection> = []
      let accepted = 0
      let outOfOrder = 0
      for (const report of reports) {
        const result = table.apply(report, now, receivedAt, events)
        if (result === true) accepted++
        else if (result === false) outOfOrder++
        else rejected.push(result)
      }
      const summary: Scheduler.IngestSummary = { accepted, outOfOrder, rejected }
      if (accepted > 0) meters.applied(accepted)
      if (outOfOrder > 0) meters.outOfOrder(outOfOrder)
      if (rejected.length > 0) meters.refused(rejected.length)
      const published = publish(events)
      return Effect.as(
        rejected.length === 0
          ? published
          : Effect.zipRight(Effect.forEach(rejected, logRejection, { discard: true }), published),
        summary,
      )
    })

const selectWith = <A>(table: HostTable<A>, steady: SteadyClock) => {
  // Reused by every `select` (which runs in one synchronous step), so that choosing among
  // thousands of hosts allocates nothing per host.
  const scratch = new Weighing<A>()
  return <R>(request: R, options: Scheduler.SelectOptions<A, R>) =>
    Effect.suspend((): Effect.Effect<Scheduler.HostState<A>, NoValidHost | InvalidWeigher> => {
      const now = steady.now()
      const filters = options.filters ?? []
      const removed = new Array<number>(filters.length).fill(0)
      const candidates = scratch.candidates
      candidates.length = 0
      const considered = table.filter(now, request, filters, candidates, removed)
      if (candidates.length === 0) {
        return Effect.fail(
          new NoValidHost({
            hosts: considered,
            removed: filters.map((filter, i) => ({ filter: filter.name, removed: removed[i]! })),
          }),
        )
      }
      const chosen = scratch.best(request, options.weighers ?? [])
      candidates.length = 0
      return chosen instanceof InvalidWeigher ? Effect.fail(chosen) : Effect.succeed(chosen)
    })
}

/**
 * nova's weighing: each weigher's raw weights are normalised to [0, 1] across the candidates
 * (all 0 when they are equal), multiplied by the weigher's multiplier and summed; the highest
 * total wins, ties go to the first host by name. A multiplier or a weight that is not finite
 * is refused: NaN compares with nothing and ∞ − ∞ is NaN, so the winner would depend on the
 * candidates' order, which is the order reports arrived. Its arrays grow to the largest
 * candidate count seen and are reused.
 */
class Weighing<A> {
  readonly candidates: Array<Scheduler.HostState<A>> = []
  private totals = new Float64Array(0)
  private raw = new Float64Array(0)

  best<R>(
    request: R,
    weighers: ReadonlyArray<Scheduler.Weigher<A, R>>,
  ): Scheduler.HostState<A> | InvalidWeigher {
    const candidates = this.candidates
    const count = candidates.length
    if (this.totals.length < count) {
      this.totals = new Float64Array(count)
      this.raw = new Float64Array(count)
    }
    const totals = this.totals
    const raw = this.raw
    totals.fill(0, 0, count)
    for (const weigher of weighers) {
      if (!Number.isFinite(weigher.multiplier)) {
        return new InvalidWeigher({
          weigher: weigher.name,
          field: "multiplier",
          value: show(weigher.multiplier),
          reason: "must be a finite number",
        })
      }
      let min = Infinity
      let max = -Infinity
      let finite = true
      for (let i = 0; i < count; i++) {
        const weight = weigher.weigh(candidates[i]!, request)
        raw[i] = weight
        if (!Number.isFinite(weight)) finite = false
        if (weight < min) min = weight
        if (weight > max) max = weight
      }
      if (!finite) return this.refuse(weigher, count)
      if (max > min) {
        const scale = weigher.multiplier / (max - min)
        for (let i = 0; i < count; i++) totals[i] = totals[i]! + (raw[i]! - min) * scale
      }
    }
    let winner = 0
    for (let i = 1; i < count; i++) {
      const total = totals[i]!
      const winning = totals[winner]!
      if (
        total > winning || (total === winning && byName(candidates[i]!, candidates[winner]!) < 0)
      ) winner = i
    }
    return candidates[winner]!
  }

  /** The error for a weigher that gave a host a weight that is not finite: the first by name. */
  private refuse<R>(weigher: Scheduler.Weigher<A, R>, count: number): InvalidWeigher {
    let first = -1
    for (let i = 0; i < count; i++) {
      if (
        !Number.isFinite(this.raw[i]) &&
        (first === -1 || byName(this.candidates[i]!, this.candidates[first]!) < 0)
      ) first = i
    }
    return new InvalidWeigher({
      weigher: weigher.name,
      field: "weight",
      host: this.candidates[first]!.host,
      value: show(this.raw[first]),
      reason: "must be a finite number",
    })
  }
}

/** @internal */
export const layer: {
  <A, I>(options: Scheduler.Options<A, I>): Layer.Layer<Scheduler.Scheduler, InvalidOption>
  <Id, A, I>(
    tag: Context.Tag<Id, Scheduler.Scheduler<A>>,
    options: Scheduler.Options<A, I>,
  ): Layer.Layer<Id, InvalidOption>
} = (<Id, A, I>(
  tagOrOptions: Context.Tag<Id, Scheduler.Scheduler<A>> | Scheduler.Options<A, I>,
  options?: Scheduler.Options<A, I>,
) =>
  Context.isTag(tagOrOptions)
    ? Layer.scoped(tagOrOptions, make(options!))
    : Layer.scoped(tag, make(tagOrOptions as Scheduler.Options<A, I>))) as never
