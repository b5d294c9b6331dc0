/**
 * Capability reports across processes: nova's services casting their capabilities to the
 * scheduler topic, over `Remote`.
 *
 * - `CapabilityApi` (namespace "capabilities", 1.0): `report`, a batch of reports, answered with
 *   a receipt: the receiver's incarnation and each refused report with its reason.
 * - The receiver (a scheduler service's endpoint) checks every report and publishes the good ones
 *   on its own process's `CapabilityBus`, which its `Scheduler` consumes as today.
 * - The publisher (`layerPublisher`) is a `CapabilityBus` for the services of another process:
 *   `publish` keeps the latest report per host, service and manager and never waits; one fiber
 *   per up scheduler of the topic sends each scheduler what it has not acknowledged, latest only.
 *
 * @internal
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type CapabilityReport, CapabilityReport as ReportSchema } from "../../Capabilities.ts"
import type * as CapabilityBus from "../../CapabilityBus.ts"
import type * as ServiceRegistry from "../../ServiceRegistry.ts"
import { MalformedReport, readReport } from "../capabilities.ts"
import { make as makeBus, tag as BusTag } from "../capabilityBus.ts"
import type { InvalidOption } from "../options.ts"
import { type Credentials, randomHex } from "../rpcAuth.ts"
import { isUp, tag as RegistryTag } from "../serviceRegistry.ts"
import { api, BaseApi, endpoint, type Guard, Principal } from "./api.ts"
import type { Endpoint } from "./endpoint.ts"
import { make as makeClient } from "./client.ts"
import { InvalidRemoteOption } from "./errors.ts"
import type { Transport } from "./transport.ts"

// --- the wire ----------------------------------------------------------------------------------

const REFUSAL_REASONS = [
  "malformed",
  "timestamp too far from the scheduler's clock",
  "sequence out of range",
  "host is not the sender's",
] as const

/**
 * The highest sequence a receiver takes: a million reports a second for 35 years. A report
 * with a larger one would hold its host's place (the scheduler ignores every older sequence)
 * until the host is seen down.
 */
const MAX_SEQUENCE = 2 ** 50

const reportRefusedFields: {
  host: typeof Schema.String
  service: typeof Schema.String
  manager: typeof Schema.String
  reason: Schema.Literal<typeof REFUSAL_REASONS>
  detail: typeof Schema.String
} = {
  host: Schema.String,
  service: Schema.String,
  manager: Schema.String,
  reason: Schema.Literal(...REFUSAL_REASONS),
  detail: Schema.String,
}

const ReportRefusedBase: Schema.TaggedErrorClass<
  ReportRefused,
  "ReportRefused",
  { readonly _tag: Schema.tag<"ReportRefused"> } & typeof reportRefusedFields
> = Schema.TaggedError<ReportRefused>()("ReportRefused", reportRefusedFields)

/** @internal A report the receiver would not take, and why. */
export class ReportRefused extends ReportRefusedBase {
  override get message(): string {
    return `Capability report of ${this.manager} of ${this.service} on ${
      JSON.stringify(this.host)
    } refused: ${this.reason} (${this.detail})`
  }
}

/** @internal What a receiver answers to a batch. */
export const ReportReceipt: Schema.Struct<{
  incarnation: typeof Schema.String
  accepted: typeof Schema.Number
  refused: Schema.Array$<typeof ReportRefused>
}> = Schema.Struct({
  /** Drawn when the receiver started: another one means it restarted and knows nothing sent. */
  incarnation: Schema.String,
  accepted: Schema.Number,
  refused: Schema.Array(ReportRefused),
})

/** @internal The methods of `CapabilityApi`. */
export type CapabilityApiRpcs = Rpc.Rpc<
  "report",
  Schema.Struct<{ reports: Schema.Array$<typeof ReportSchema> }>,
  typeof ReportReceipt,
  typeof Schema.Never,
  typeof Guard
>

/** @internal The API a scheduler service serves for capability reports. */
export const CapabilityApi: RpcGroup.RpcGroup<CapabilityApiRpcs> = api(
  RpcGroup.make(
    Rpc.make("report", {
      payload: { reports: Schema.Array(ReportSchema) },
      success: ReportReceipt,
    }),
  ),
  { namespace: "capabilities", since: "1.0" },
)

// --- the receiver ------------------------------------------------------------------------------

/** @internal The options of a receiver. */
export interface ReceiverOptions {
  /** How far a report's timestamp may be from the receiver's `Clock`; 5 minutes by default. */
  readonly maxSkew?: Duration.DurationInput | undefined
  /**
   * Principals that may report for any host (a relay, a test); any other authenticated sender
   * reports only for the host its principal is named after. Without authentication (a server
   * with `auth: "none"`) every sender is anonymous and may report for any host.
   */
  readonly anyHost?: ReadonlyArray<string> | undefined
}

/** Why `report` is refused from `principal` at `now`, or undefined when it is taken. */
const refusalOf = (
  report: CapabilityReport,
  principal: Principal,
  now: number,
  maxSkew: number,
  anyHost: ReadonlySet<string>,
): ReportRefused | undefined => {
  const refuse = (reason: (typeof REFUSAL_REASONS)[number], detail: string) =>
    new ReportRefused({
      host: String(report.host),
      service: String(report.service),
      manager: String(report.manager),
      reason,
      detail,
    })
  const malformed = readReport(report)
  if (malformed instanceof MalformedReport) return refuse("malformed", malformed.message)
  if (Math.abs(report.timestamp - now) > maxSkew) {
    return refuse(
      "timestamp too far from the scheduler's clock",
      `${report.timestamp - now} ms from it, at most ±${maxSkew} ms`,
    )
  }
  if (report.sequence > MAX_SEQUENCE) {
    return refuse("sequence out of range", `${report.sequence}, at most ${MAX_SEQUENCE}`)
  }
  if (
    principal.scheme !== "none" && principal.name !== report.host && !anyHost.has(principal.name)
  ) {
    return refuse("host is not the sender's", `sent by ${JSON.stringify(principal.name)}`)
  }
  return undefined
}

/**
 * @internal The receiver's endpoint: each report of a batch is checked (its envelope, its
 * timestamp against the `Clock`, its host against the sender's principal) and the good ones are
 * published on the context's `CapabilityBus`; the refused ones come back in the receipt, and a
 * batch with refusals is logged as a warning naming the sender and the first reason.
 */
export const receiver = (
  options?: ReceiverOptions,
): Effect.Effect<Endpoint, InvalidRemoteOption, CapabilityBus.CapabilityBus> =>
  Effect.gen(function* () {
    const maxSkew = yield* checkInterval("maxSkew", options?.maxSkew, 5 * 60_000)
    const anyHost = new Set(options?.anyHost ?? [])
    const bus = yield* BusTag
    const incarnation = yield* randomHex(8)
    const handlers: RpcGroup.HandlersFrom<CapabilityApiRpcs> = {
      report: ({ reports }) =>
        Effect.gen(function* () {
          const principal = yield* Principal
          const now = yield* Clock.currentTimeMillis
          const refused: Array<ReportRefused> = []
          for (const report of reports) {
            const refusal = refusalOf(report, principal, now, maxSkew, anyHost)
            if (refusal !== undefined) {
              refused.push(refusal)
              continue
            }
            yield* Effect.catchAll(bus.publish(report), (error) =>
              Effect.sync(() =>
                refused.push(
                  new ReportRefused({ ...report, reason: "malformed", detail: error.message }),
                )
              ))
          }
          if (refused.length > 0) {
            yield* Effect.logWarning(
              `Refused ${refused.length} of ${reports.length} capability reports from ${principal.scheme}:${principal.name}: ${
                refused[0]!.message
              }`,
            )
          }
          return { incarnation, accepted: reports.length - refused.length, refused }
        }),
    }
    return yield* endpoint<CapabilityApiRpcs, typeof handlers, never, never>(
      CapabilityApi,
      handlers,
    )
  })

// --- the publisher -----------------------------------------------------------------------------

/** @internal The options of a publisher. */
export interface PublisherOptions {
  /** The topic of the schedulers that get the reports; "scheduler" by default. */
  readonly topic?: string | undefined
  /** What the reports are signed with; none by default (a loopback scheduler with no auth). */
  readonly credentials?: Credentials | undefined
  /** A scheduler whose record is older than this is down; 60 s by default. */
  readonly serviceDownTime?: Duration.DurationInput | undefined
  /** How long one send to one scheduler may take; 10 s by default. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How often the registry is read for the topic's schedulers, and how long a scheduler that
   * could not be reached is left before the next try; 1 s by default.
   */
  readonly retryInterval?: Duration.DurationInput | undefined
  /** Reports buffered for each subscriber in this process (see `CapabilityBus`); 4096. */
  readonly capacity?: number | undefined
}

/** One scheduler: what it acknowledged (latest report per key), and its sender's wake-up. */
interface Target {
  readonly host: string
  readonly wake: Effect.Latch
  readonly sent: Map<string, CapabilityReport>
  incarnation: string | undefined
  reachable: boolean
  /** Whether the last receipt refused some reports (a warning when that starts). */
  refusing: boolean
}

const keyOf = (report: CapabilityReport): string =>
  JSON.stringify([report.host, report.service, report.manager])

const checkInterval = (option: string, value: Duration.DurationInput | undefined, millis: number) =>
  Effect.suspend(() => {
    if (value === undefined) return Effect.succeed(millis)
    const decoded = Duration.decodeUnknown(value)
    return decoded._tag === "Some" && Duration.isFinite(decoded.value) &&
        Duration.toMillis(decoded.value) > 0
      ? Effect.succeed(Duration.toMillis(decoded.value))
      : Effect.fail(
        new InvalidRemoteOption({ option, value: String(value), expected: "a duration above 0" }),
      )
  })

/** The most reports one request carries. */
const MAX_BATCH = 512

/**
 * Sends `target` the latest reports it has not acknowledged, in one batch (at most MAX_BATCH). A receipt from
 * another incarnation (the scheduler restarted) makes everything unacknowledged but the batch.
 */
const sendTo = (
  call: (host: string, reports: ReadonlyArray<CapabilityReport>) => Effect.Effect<
    typeof ReportReceipt.Type,
    unknown
  >,
  latest: ReadonlyMap<string, CapabilityReport>,
  target: Target,
) =>
  Effect.suspend(() => {
    const unsent = [...latest].filter(([key, report]) => target.sent.get(key) !== report)
    if (unsent.length === 0) return Effect.void
    // At most MAX_BATCH a request (a server refuses a request over its `maxRequestBytes`, and
    // would refuse the same batch for ever); the sender comes back at once for the rest.
    const batch = unsent.slice(0, MAX_BATCH)
    if (unsent.length > MAX_BATCH) target.wake.unsafeOpen()
    return Effect.flatMap(call(target.host, batch.map(([, report]) => report)), (receipt) => {
      if (target.incarnation !== undefined && target.incarnation !== receipt.incarnation) {
        target.sent.clear()
        target.wake.unsafeOpen()
      }
      target.incarnation = receipt.incarnation
      for (const [key, report] of batch) target.sent.set(key, report)
      const refusing = receipt.refused.length > 0
      const started = refusing && !target.refusing
      target.refusing = refusing
      // Refused reports are not sent again (they would be refused again): said once.
      return started
        ? Effect.logWarning(
          `Scheduler ${target.host} refused ${receipt.refused.length} of ${batch.length} reports: ${
            receipt.refused[0]!.message
          }`,
        )
        : Effect.void
    })
  })

/**
 * A scheduler's sender: waits for something to send, sends it; after a failure, waits
 * `retryMillis` and tries again. The first failure after a success is a warning, the first
 * success after failures an info line.
 */
const sender = (
  send: (target: Target) => Effect.Effect<void, unknown>,
  target: Target,
  retryMillis: number,
) =>
  Effect.forever(Effect.gen(function* () {
    yield* target.wake.await
    target.wake.unsafeClose()
    const sent = yield* Effect.either(send(target))
    if (sent._tag === "Right") {
      if (!target.reachable) {
        yield* Effect.logInfo(`Scheduler ${target.host} reached again: its reports are sent`)
      }
      target.reachable = true
      return
    }
    if (target.reachable) {
      const why = sent.left instanceof Error ? sent.left.message : String(sent.left)
      yield* Effect.logWarning(
        `Scheduler ${target.host} could not be reached (${why}); the latest report of each manager is kept for it`,
      )
    }
    target.reachable = false
    yield* Effect.sleep(retryMillis)
    target.wake.unsafeOpen()
  })).pipe(Effect.annotateLogs("scheduler", target.host))

/**
 * The topic's up schedulers, read from the registry every `retryMillis`: a sender is started for
 * each new one and stopped for each one gone. A registry that cannot be read leaves them as they
 * are, until the next read.
 */
const discovery = (
  topic: string,
  downMillis: number,
  retryMillis: number,
  targets: Map<string, { readonly target: Target; readonly fiber: Fiber.RuntimeFiber<never> }>,
  start: (host: string) => Effect.Effect<void>,
) =>
  Effect.gen(function* () {
    const registry = yield* RegistryTag
    const read = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const records = yield* Effect.either(registry.list)
      if (records._tag === "Left") return
      const up = new Set(
        records.right
          .filter((r) => r.topic === topic && r.endpoint !== undefined && isUp(r, now, downMillis))
          .map((r) => r.host),
      )
      for (const [host, { fiber }] of targets) {
        if (up.has(host)) continue
        targets.delete(host)
        yield* Fiber.interrupt(fiber)
      }
      for (const host of up) if (!targets.has(host)) yield* start(host)
    })
    return Effect.forever(Effect.zipRight(read, Effect.sleep(retryMillis)))
  })

/**
 * @internal A `CapabilityBus` whose reports go to the up schedulers of `options.topic` (and to
 * this process's own subscribers, as the local bus's). `publish` checks the report, keeps it as
 * its manager's latest and returns: it never waits for a scheduler.
 */
export const publisher = (
  options?: PublisherOptions,
): Effect.Effect<
  CapabilityBus.CapabilityBus,
  InvalidRemoteOption | InvalidOption,
  Scope.Scope | Transport | ServiceRegistry.ServiceRegistry
> =>
  Effect.gen(function* () {
    const topic = options?.topic ?? "scheduler"
    const downMillis = yield* checkInterval("serviceDownTime", options?.serviceDownTime, 60_000)
    const retryMillis = yield* checkInterval("retryInterval", options?.retryInterval, 1_000)
    const local = yield* makeBus({ capacity: options?.capacity })
    const client = yield* makeClient(CapabilityApi, {
      topic,
      credentials: options?.credentials,
      serviceDownTime: downMillis,
      timeout: options?.timeout ?? "10 seconds",
    })
    const latest = new Map<string, CapabilityReport>()
    const targets = new Map<
      string,
      { readonly target: Target; readonly fiber: Fiber.RuntimeFiber<never> }
    >()
    const send = (target: Target) =>
      sendTo((host, reports) => client.call(host, "report", { reports }), latest, target)
    const scope = yield* Effect.scope
    const start = (host: string) =>
      Effect.gen(function* () {
        const target: Target = {
          host,
          wake: yield* Effect.makeLatch(true),
          sent: new Map(),
          incarnation: undefined,
          reachable: true,
          refusing: false,
        }
        const fiber = yield* Effect.forkIn(sender(send, target, retryMillis), scope)
        targets.set(host, { target, fiber })
      })
    yield* Effect.forkScoped(yield* discovery(topic, downMillis, retryMillis, targets, start))
    return {
      ...local,
      publish: (input) => {
        const report = readReport(input)
        if (report instanceof MalformedReport) return Effect.fail(report)
        latest.set(keyOf(report), report)
        for (const { target } of targets.values()) target.wake.unsafeOpen()
        return local.publish(report)
      },
    }
  })

// --- the pull at a scheduler's start -----------------------------------------------------------

/** @internal The options of a pull. */
export interface PullOptions {
  /** What the calls are signed with; none by default. */
  readonly credentials?: Credentials | undefined
  /** How long each host is given; 10 s by default. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many hosts of a topic are asked at once; 16 by default. */
  readonly concurrency?: number | undefined
}

/**
 * @internal Asks every up service of `topics` for the latest report of each of its managers
 * (`BaseApi.capabilities`, one fan-out per topic, all at once) and publishes them on the
 * context's `CapabilityBus`: how many were published. A host that does not answer, or serves a
 * `BaseApi` older than 1.2, is skipped (a debug line); its next report comes as usual. Each
 * host answers for itself only: a report of another host in its answer is dropped (a warning).
 */
export const pull = (
  topics: ReadonlyArray<string>,
  options?: PullOptions,
): Effect.Effect<
  number,
  InvalidRemoteOption | ServiceRegistry.ServiceRegistryError,
  CapabilityBus.CapabilityBus | Transport | ServiceRegistry.ServiceRegistry
> =>
  Effect.gen(function* () {
    const bus = yield* BusTag
    const perTopic = yield* Effect.forEach(topics, (topic) =>
      Effect.gen(function* () {
        const client = yield* makeClient(BaseApi, { topic, credentials: options?.credentials })
        const answers = yield* client.fanout("capabilities", undefined, {
          timeout: options?.timeout ?? "10 seconds",
          concurrency: options?.concurrency,
        })
        let published = 0
        for (const { exit, host } of answers) {
          if (Exit.isFailure(exit)) {
            yield* Effect.logDebug(`No capabilities from ${host} of ${topic}`, exit.cause)
            continue
          }
          for (const report of exit.value) {
            // A service answers for itself: a report of another host in its answer is dropped.
            if (report.host !== host) {
              yield* Effect.logWarning(
                `Dropped a capability report of ${
                  JSON.stringify(report.host)
                } in the answer of ${host}`,
              )
              continue
            }
            if (Exit.isSuccess(yield* Effect.exit(bus.publish(report)))) published++
          }
        }
        return published
      }), { concurrency: "unbounded" })
    return perTopic.reduce((sum, count) => sum + count, 0)
  }).pipe(Effect.scoped)
