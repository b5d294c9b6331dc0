import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { CapabilityReport } from "../Capabilities.ts"
import type * as Scheduler from "../Scheduler.ts"
import { DEFAULT_SERVICE_DOWN_TIME_MILLIS, heardWithin } from "./liveness.ts"
import { decodeMillis, isPositiveInteger, show } from "./validate.ts"

/** @internal */
export const TypeId: Scheduler.TypeId = Symbol.for("effect-manager/Scheduler") as Scheduler.TypeId

/** @internal */
export const tag: Context.Tag<Scheduler.Scheduler, Scheduler.Scheduler> = Context.GenericTag<
  Scheduler.Scheduler
>("effect-manager/Scheduler")

/** @internal */
export const HostChange = Data.taggedEnum<Scheduler.HostChangeDefinition>()

/** Who sent a report: the fields shared by the errors of a report. */
const reporter = {
  host: Schema.String,
  service: Schema.String,
  manager: Schema.String,
}

const describeReporter = (report: { host: string; service: string; manager: string }) =>
  `manager ${JSON.stringify(report.manager)} (service ${JSON.stringify(report.service)}) on host ${
    JSON.stringify(report.host)
  }`

/** @internal */
export class InvalidCapabilities extends Schema.TaggedError<InvalidCapabilities>(
  "effect-manager/InvalidCapabilities",
)("InvalidCapabilities", {
  ...reporter,
  sequence: Schema.Number,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Capabilities of ${describeReporter(this)}, report ${this.sequence}, ` +
      `do not match the schema; the previous state is kept: ${this.reason}`
  }
}

/** @internal */
export class TooManyHosts extends Schema.TaggedError<TooManyHosts>(
  "effect-manager/TooManyHosts",
)("TooManyHosts", { ...reporter, maxHosts: Schema.Number }) {
  override get message(): string {
    return `Scheduler refused ${
      describeReporter(this)
    }: it already keeps ${this.maxHosts} host states (maxHosts)`
  }
}

/** @internal */
export class InvalidSchedulerOption extends Schema.TaggedError<InvalidSchedulerOption>(
  "effect-manager/InvalidSchedulerOption",
)("InvalidSchedulerOption", {
  option: Schema.String,
  value: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Scheduler option ${this.option} ${this.reason}, got ${this.value}`
  }
}

/** @internal */
export class NoValidHost extends Schema.TaggedError<NoValidHost>(
  "effect-manager/NoValidHost",
)("NoValidHost", {
  hosts: Schema.Number,
  removed: Schema.Array(Schema.Struct({ filter: Schema.String, removed: Schema.Number })),
}) {
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

/**
 * One (host, service, manager): its current state and the payload it was decoded from. Up
 * entries are also links of a list ordered by last report (see `UpList`).
 */
interface Entry<A> {
  state: Scheduler.HostState<A>
  encoded: unknown
  /** The accepted report's own timestamp (the publisher's clock). */
  publishedAt: number
  /** Set when a `HostDown` was published; cleared by the next accepted report. */
  down: boolean
  previous: Entry<A> | undefined
  next: Entry<A> | undefined
}

/**
 * The entries not marked down, oldest report first: an accepted report moves its entry to the
 * end. With a monotonic clock the first entry is the next to go down, so one sweeper fiber
 * needs no heap and no timer per host, and moving an entry costs two pointer updates.
 */
class UpList<A> {
  first: Entry<A> | undefined = undefined
  last: Entry<A> | undefined = undefined

  remove(entry: Entry<A>): void {
    if (entry.previous === undefined) this.first = entry.next
    else entry.previous.next = entry.next
    if (entry.next === undefined) this.last = entry.previous
    else entry.next.previous = entry.previous
    entry.previous = entry.next = undefined
  }

  append(entry: Entry<A>): void {
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
 * Equality of encoded payloads (JSON-like data): a manager re-sends unchanged capabilities
 * every period (nova's C3), and an unchanged payload needs neither decoding nor a
 * `HostUpdated`. Anything that is not a plain array or object compares by identity.
 */
const sameEncoded = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameEncoded(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const protoA = Object.getPrototypeOf(a)
  if (
    (protoA !== Object.prototype && protoA !== null) || Object.getPrototypeOf(b) !== protoA
  ) return false
  const keysA = Object.keys(a)
  if (keysA.length !== Object.keys(b).length) return false
  for (const key of keysA) {
    if (
      !Object.prototype.hasOwnProperty.call(b, key) ||
      !sameEncoded((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
    ) return false
  }
  return true
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

type Rejection = InvalidCapabilities | TooManyHosts

/** @internal */
export const make = <A, I>(
  options: Scheduler.Options<A, I>,
): Effect.Effect<Scheduler.Scheduler<A>, InvalidSchedulerOption, Scope.Scope> =>
  Effect.gen(function* () {
    const invalid = (option: string, value: unknown) => (reason: string) =>
      new InvalidSchedulerOption({ option, value: show(value), reason })
    const downTime = options.serviceDownTime === undefined
      ? DEFAULT_SERVICE_DOWN_TIME_MILLIS
      : yield* Either.mapLeft(
        decodeMillis(options.serviceDownTime, "≥ 0"),
        invalid("serviceDownTime", options.serviceDownTime),
      )
    const maxHosts = options.maxHosts ?? Infinity
    if (!(maxHosts === Infinity || isPositiveInteger(maxHosts))) {
      return yield* Effect.fail(invalid("maxHosts", maxHosts)("must be a positive integer"))
    }
    const changesCapacity = options.changesCapacity ?? DEFAULT_CHANGES_CAPACITY
    if (!isPositiveInteger(changesCapacity)) {
      return yield* Effect.fail(
        invalid("changesCapacity", changesCapacity)("must be a positive integer"),
      )
    }
    if (!Schema.isSchema(options.schema)) {
      return yield* Effect.fail(invalid("schema", options.schema)("must be a Schema"))
    }
    const decode = Schema.decodeUnknownEither(options.schema)
    const scope = yield* Effect.scope
    const pubsub = yield* Effect.acquireRelease(
      PubSub.sliding<Scheduler.HostChange<A>>(changesCapacity),
      PubSub.shutdown,
    )

    // Plain mutable structures owned by this closure, not a Ref: the ingest path runs hundreds
    // of thousands of times a second, and each batch is applied in one synchronous step, so no
    // other fiber ever sees a half-applied batch. Keyed host → service → manager: no key string
    // to build per report.
    const states = new Map<string, Map<string, Map<string, Entry<A>>>>()
    let stateCount = 0
    const upList = new UpList<A>()
    let wakeSweeper: (() => void) | undefined
    // Changes are only built while someone listens.
    let subscribers = 0

    const isFresh = (receivedAt: number, now: number) => heardWithin(receivedAt, now, downTime)

    const find = (host: string, service: string, manager: string) =>
      states.get(host)?.get(service)?.get(manager)

    const insert = (entry: Entry<A>) => {
      const { host, manager, service } = entry.state
      let services = states.get(host)
      if (services === undefined) states.set(host, services = new Map())
      let managers = services.get(service)
      if (managers === undefined) services.set(service, managers = new Map())
      managers.set(manager, entry)
      stateCount++
    }

    const markDown = (entry: Entry<A>, events: Array<Scheduler.HostChange<A>>) => {
      entry.down = true
      entry.state = { ...entry.state, up: false }
      upList.remove(entry)
      if (subscribers > 0) events.push(HostChange.HostDown({ host: entry.state }))
    }

    /** Applies one report; returns whether it was accepted, or why it was rejected. */
    const apply = (
      report: CapabilityReport,
      now: number,
      events: Array<Scheduler.HostChange<A>>,
    ): boolean | Rejection => {
      const { host, manager, sequence, service } = report
      const entry = find(host, service, manager)
      const expired = entry !== undefined &&
        (entry.down || !isFresh(entry.state.receivedAt, now))
      // A host that has been down may have restarted its sequence: only an up host's reports
      // are ordered against the last one. A publisher that restarted within the down time
      // starts again at 1, with a newer timestamp: that is a new run, not an old report.
      const restarted = sequence === 1 && entry !== undefined &&
        report.timestamp > entry.publishedAt
      if (entry !== undefined && !expired && !restarted && sequence <= entry.state.sequence) {
        return false
      }
      if (entry === undefined && stateCount >= maxHosts) {
        return new TooManyHosts({ host, service, manager, maxHosts })
      }
      let capabilities: A
      if (entry !== undefined && sameEncoded(entry.encoded, report.capabilities)) {
        capabilities = entry.state.capabilities
      } else {
        const decoded = decode(report.capabilities)
        if (Either.isLeft(decoded)) {
          return new InvalidCapabilities({
            host,
            service,
            manager,
            sequence,
            reason: decoded.left.message,
          })
        }
        capabilities = decoded.right
      }
      const state: Scheduler.HostState<A> = {
        host,
        service,
        manager,
        capabilities,
        receivedAt: now,
        sequence,
        up: true,
      }
      if (entry === undefined) {
        const added: Entry<A> = {
          state,
          encoded: report.capabilities,
          publishedAt: report.timestamp,
          down: false,
          previous: undefined,
          next: undefined,
        }
        insert(added)
        upList.append(added)
        if (subscribers > 0) events.push(HostChange.HostAdded({ host: state }))
        return true
      }
      // The sweeper may not have run yet at this instant: say the host went down before it
      // came back, so that every HostBackUp follows a HostDown.
      if (expired && !entry.down) markDown(entry, events)
      const previous = entry.state
      entry.state = state
      entry.encoded = report.capabilities
      entry.publishedAt = report.timestamp
      if (entry.down) {
        entry.down = false
        upList.append(entry)
        if (subscribers > 0) events.push(HostChange.HostBackUp({ host: state }))
      } else {
        upList.moveToEnd(entry)
        if (subscribers > 0 && capabilities !== previous.capabilities) {
          events.push(HostChange.HostUpdated({ host: state, previous }))
        }
      }
      return true
    }

    const logRejection = (error: Rejection) =>
      Effect.logWarning(error.message).pipe(
        Effect.annotateLogs({
          host: error.host,
          service: error.service,
          manager: error.manager,
        }),
      )

    const publish = (events: ReadonlyArray<Scheduler.HostChange<A>>) => {
      if (upList.first !== undefined && wakeSweeper !== undefined) wakeSweeper()
      return events.length === 0 ? Effect.void : PubSub.publishAll(pubsub, events)
    }

    const ingest = (report: CapabilityReport) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const events: Array<Scheduler.HostChange<A>> = []
        const result = apply(report, now, events)
        if (typeof result !== "boolean") {
          return Effect.zipRight(logRejection(result), Effect.fail(result))
        }
        return Effect.as(publish(events), result ? "accepted" as const : "outOfOrder" as const)
      })

    const ingestAll = (reports: Iterable<CapabilityReport>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const events: Array<Scheduler.HostChange<A>> = []
        const rejected: Array<Rejection> = []
        let accepted = 0
        let outOfOrder = 0
        for (const report of reports) {
          const result = apply(report, now, events)
          if (result === true) accepted++
          else if (result === false) outOfOrder++
          else rejected.push(result)
        }
        const summary: Scheduler.IngestSummary = { accepted, outOfOrder, rejected }
        const published = publish(events)
        return Effect.as(
          rejected.length === 0
            ? published
            : Effect.zipRight(Effect.forEach(rejected, logRejection, { discard: true }), published),
          summary,
        )
      })

    const consume = <E, R>(stream: Stream.Stream<CapabilityReport, E, R>) =>
      Stream.runForEachChunk(stream, ingestAll).pipe(
        Effect.tapErrorCause((cause) =>
          Effect.logError("A capability stream consumed by the scheduler failed", cause)
        ),
        Effect.forkIn(scope),
      )

    // --- the sweeper: one fiber, asleep until the first instant a host would go down ---------

    /** Marks down every entry past its down time; returns the next such instant, if any. */
    const sweep = (now: number, events: Array<Scheduler.HostChange<A>>): number | undefined => {
      for (let entry = upList.first; entry !== undefined; entry = upList.first) {
        if (isFresh(entry.state.receivedAt, now)) {
          // Times are whole milliseconds: the first instant past the limit.
          return entry.state.receivedAt + downTime + 1
        }
        markDown(entry, events)
      }
      return undefined
    }

    const untilSomeHostIsUp = Effect.async<void>((resume) => {
      if (upList.first !== undefined) return resume(Effect.void)
      wakeSweeper = () => {
        wakeSweeper = undefined
        resume(Effect.void)
      }
      return Effect.sync(() => {
        wakeSweeper = undefined
      })
    })

    const sweeper = Effect.gen(function* () {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const events: Array<Scheduler.HostChange<A>> = []
        const next = sweep(now, events)
        if (events.length > 0) yield* PubSub.publishAll(pubsub, events)
        if (next === undefined) yield* untilSomeHostIsUp
        else yield* Clock.sleep(Duration.millis(Math.max(0, next - now)))
      }
    })
    yield* Effect.forkIn(sweeper, scope)

    // --- reading and selecting ---------------------------------------------------------------

    const hosts = Effect.map(Clock.currentTimeMillis, (now) => {
      const all: Array<Scheduler.HostState<A>> = []
      for (const services of states.values()) {
        for (const managers of services.values()) {
          for (const entry of managers.values()) {
            const state = entry.state
            const up = isFresh(state.receivedAt, now)
            all.push(up === state.up ? state : { ...state, up })
          }
        }
      }
      return all.sort(byName)
    })

    const upHosts = Effect.map(Clock.currentTimeMillis, (now) => {
      const up: Array<Scheduler.HostState<A>> = []
      for (let entry = upList.first; entry !== undefined; entry = entry.next) {
        if (isFresh(entry.state.receivedAt, now)) up.push(entry.state)
      }
      return up.sort(byName)
    })

    // Reused by every `select` (which runs in one synchronous step), so that choosing among
    // thousands of hosts allocates nothing per host.
    const scratch = new Weighing<A>()

    const select = <R>(request: R, selectOptions: Scheduler.SelectOptions<A, R>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const filters = selectOptions.filters ?? []
        const removed = new Array<number>(filters.length).fill(0)
        const candidates = scratch.candidates
        candidates.length = 0
        let considered = 0
        for (let entry = upList.first; entry !== undefined; entry = entry.next) {
          const state = entry.state
          if (!isFresh(state.receivedAt, now)) continue
          considered++
          let passed = true
          for (let i = 0; i < filters.length; i++) {
            if (!filters[i]!.passes(state, request)) {
              removed[i]!++
              passed = false
              break
            }
          }
          if (passed) candidates.push(state)
        }
        if (candidates.length === 0) {
          return Effect.fail(
            new NoValidHost({
              hosts: considered,
              removed: filters.map((filter, i) => ({ filter: filter.name, removed: removed[i]! })),
            }),
          )
        }
        const chosen = scratch.best(request, selectOptions.weighers ?? [])
        candidates.length = 0
        return Effect.succeed(chosen)
      })

    const listen = Effect.acquireRelease(
      Effect.sync(() => {
        subscribers++
      }),
      () =>
        Effect.sync(() => {
          subscribers--
        }),
    )
    const subscribeChanges = Effect.zipRight(listen, Stream.fromPubSub(pubsub, { scoped: true }))

    const service: Scheduler.Scheduler<A> = {
      [TypeId]: TypeId,
      serviceDownTime: Duration.millis(downTime),
      ingest,
      ingestAll,
      consume,
      hosts,
      upHosts,
      changes: Stream.unwrapScoped(subscribeChanges),
      subscribeChanges,
      select,
    }
    return service
  })

/**
 * nova's weighing: each weigher's raw weights are normalised to [0, 1] across the candidates
 * (all 0 when they are equal), multiplied by the weigher's multiplier and summed; the highest
 * total wins, ties go to the first host by name. Its arrays grow to the largest candidate
 * count seen and are reused.
 */
class Weighing<A> {
  readonly candidates: Array<Scheduler.HostState<A>> = []
  private totals = new Float64Array(0)
  private raw = new Float64Array(0)

  best<R>(request: R, weighers: ReadonlyArray<Scheduler.Weigher<A, R>>): Scheduler.HostState<A> {
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
      let min = Infinity
      let max = -Infinity
      for (let i = 0; i < count; i++) {
        const weight = weigher.weigh(candidates[i]!, request)
        raw[i] = weight
        if (weight < min) min = weight
        if (weight > max) max = weight
      }
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
}

/** @internal */
export const layer: {
  <A, I>(options: Scheduler.Options<A, I>): Layer.Layer<Scheduler.Scheduler, InvalidSchedulerOption>
  <Id, A, I>(
    tag: Context.Tag<Id, Scheduler.Scheduler<A>>,
    options: Scheduler.Options<A, I>,
  ): Layer.Layer<Id, InvalidSchedulerOption>
} = (<Id, A, I>(
  tagOrOptions: Context.Tag<Id, Scheduler.Scheduler<A>> | Scheduler.Options<A, I>,
  options?: Scheduler.Options<A, I>,
) =>
  Context.isTag(tagOrOptions)
    ? Layer.scoped(tagOrOptions, make(options!))
    : Layer.scoped(tag, make(tagOrOptions as Scheduler.Options<A, I>))) as never
