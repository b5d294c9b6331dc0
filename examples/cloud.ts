/**
 * An in-process cloud on the real clock, for `npm start`. Four compute services, each a manager
 * over a fake hypervisor, publish their free resources on one capability bus; a scheduler reads
 * the bus and places a stream of requests with a filter and a weigher. Midway one host stops: the
 * scheduler sees it go DOWN `serviceDownTime` later and places nothing on it after that. Ends by
 * itself after about 20 s (`--seconds N`); Ctrl-C stops it gracefully. `--metrics` prints the
 * library's metrics (`Telemetry`) once everything has stopped.
 *
 *   deno run --allow-env --allow-read examples/cloud.ts [--seconds N] [--metrics]
 *   node scripts/run-ts.mjs examples/cloud.ts [--seconds N] [--metrics]
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import {
  CapabilityBus,
  Driver,
  Manager,
  PeriodicRunner,
  PeriodicTask,
  Scheduler,
  Service,
  ServiceRegistry,
} from "../mod.ts"

// The runtime's globals, declared here: the project has no Node or Deno types.
declare const console: { log(line: string): void }
declare const Deno: {
  readonly args: ReadonlyArray<string>
  readonly stdout: { isTerminal(): boolean }
  addSignalListener(signal: "SIGINT", handler: () => void): void
  removeSignalListener(signal: "SIGINT", handler: () => void): void
  exit(code: number): void
}
declare const process: {
  readonly argv: ReadonlyArray<string>
  readonly stdout: { readonly isTTY?: boolean }
  on(signal: "SIGINT", handler: () => void): void
  off(signal: "SIGINT", handler: () => void): void
  exit(code: number): void
}
const deno = typeof Deno === "undefined" ? undefined : Deno
const node = typeof process === "undefined" ? undefined : process
const args = deno?.args ?? node?.argv.slice(2) ?? []
const seconds = args.includes("--seconds") ? Number(args[args.indexOf("--seconds") + 1]) : 20
const showMetrics = args.includes("--metrics")
const tty = deno ? deno.stdout.isTerminal() : node?.stdout.isTTY === true
const exit = (code: number) => deno ? deno.exit(code) : node?.exit(code)
if (!(seconds > 0 && seconds < 86_400)) {
  console.log("usage: examples/cloud.ts [--seconds N] [--metrics]   (0 < N < 86400, default 20)")
  exit(2)
}
const onSigint = (handler: () => void): () => void => {
  deno ? deno.addSignalListener("SIGINT", handler) : node?.on("SIGINT", handler)
  return () => deno ? deno.removeSignalListener("SIGINT", handler) : node?.off("SIGINT", handler)
}

// --- the driver: a fake hypervisor whose free resources change as instances come and go -------

/** What a compute host tells the scheduler: its free resources. */
const Free = Schema.Struct({ ramMb: Schema.Number, vcpus: Schema.Number })
type Free = typeof Free.Type
interface Request extends Free {
  readonly id: number
  readonly lifetimeMillis: number
}
interface Instance extends Request {
  readonly endsAt: number
}
interface Usage {
  readonly instances: ReadonlyArray<Instance>
  readonly overheadMb: number
}

class Hypervisor extends Context.Tag("Hypervisor")<Hypervisor, {
  /** The free resources now, then after every change. */
  readonly free: Stream.Stream<Free>
  /** Claims an instance's resources; `false` when they are not free. */
  readonly boot: (request: Request) => Effect.Effect<boolean>
  /** Reclaims the instances that ended and measures the host's own overhead again. */
  readonly audit: Effect.Effect<void>
  readonly instances: Effect.Effect<number>
}>() {}

const fakeHypervisor = (total: Free) =>
  Layer.effect(
    Hypervisor,
    Effect.gen(function* () {
      const usage = yield* SubscriptionRef.make<Usage>({ instances: [], overheadMb: 0 })
      const freeOf = ({ instances, overheadMb }: Usage): Free => ({
        ramMb: Math.max(0, instances.reduce((free, i) => free - i.ramMb, total.ramMb - overheadMb)),
        vcpus: instances.reduce((free, i) => free - i.vcpus, total.vcpus),
      })
      return {
        free: Stream.map(usage.changes, freeOf),
        boot: (request) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            SubscriptionRef.modify(usage, (u) => {
              const free = freeOf(u)
              if (request.ramMb > free.ramMb || request.vcpus > free.vcpus) return [false, u]
              const instance = { ...request, endsAt: now + request.lifetimeMillis }
              return [true, { ...u, instances: [...u.instances, instance] }]
            })),
        audit: Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const overheadMb = 128 * (yield* Random.nextIntBetween(0, 4))
          yield* SubscriptionRef.update(usage, (u) => ({
            instances: u.instances.filter((i) => i.endsAt > now),
            overheadMb,
          }))
        }),
        instances: Effect.map(SubscriptionRef.get(usage), (u) => u.instances.length),
      }
    }),
  )

// nova's `compute_driver`: only "fake" here; COMPUTE_DRIVER=xen fails with UnknownDriver.
const HypervisorLive = (total: Free) =>
  Driver.fromConfig(Hypervisor, Config.string("COMPUTE_DRIVER").pipe(Config.withDefault("fake")), {
    fake: fakeHypervisor(total),
  })

// --- the compute manager, one service per host -----------------------------------------------

class NoCapacity extends Data.TaggedError("NoCapacity")<{ readonly request: Request }> {}

class Compute extends Context.Tag("Compute")<Compute, {
  readonly spawn: (request: Request) => Effect.Effect<void, NoCapacity>
}>() {}

const ComputeManager = Manager.layer(
  Compute,
  Effect.gen(function* () {
    const hypervisor = yield* Hypervisor
    return {
      service: {
        spawn: (request: Request) =>
          hypervisor.boot(request).pipe(
            Effect.filterOrFail((booted) => booted, () => new NoCapacity({ request })),
          ),
      },
      cleanup: () =>
        Effect.flatMap(
          hypervisor.instances,
          (n) => Effect.log(`cleanup_host: ${n} instance(s) still running`),
        ),
      tasks: [
        PeriodicTask.spaced("update_available_resource", "2 seconds", hypervisor.audit),
        // Now and then slower than its limit: recorded as TimedOut and logged; the service goes on.
        PeriodicTask.fixed(
          "sync_power_states",
          "3 seconds",
          Effect.flatMap(Random.nextIntBetween(100, 1200), (millis) => Effect.sleep(millis)),
          { timeout: "1 second" },
        ),
      ],
      capabilities: Manager.capabilities(Free, hypervisor.free),
    }
  }),
)

const computeService = (host: string, total: Free) =>
  Service.layer(
    {
      host,
      topic: "compute",
      publishInterval: "1 second",
      reportInterval: "1 second",
      reportInitialDelay: 0,
    },
    ComputeManager,
  ).pipe(Layer.provide(HypervisorLive(total)))

const HOSTS: ReadonlyArray<readonly [string, Free]> = [
  ["compute-1", { ramMb: 16384, vcpus: 16 }],
  ["compute-2", { ramMb: 16384, vcpus: 16 }],
  ["compute-3", { ramMb: 8192, vcpus: 8 }],
  ["compute-4", { ramMb: 8192, vcpus: 8 }],
]
const STOPPED = "compute-2"
const stopAt = Math.min(8, seconds / 2)
const select = {
  filters: [Scheduler.resourcesFit(["ramMb", "vcpus"])],
  weighers: [Scheduler.numericWeigher("ram", "ramMb")], // the most free RAM wins
}

// --- logs and events: printed as they come, or the last few shown in the live view ----------

let started = 0
let live = tty
const events: Array<string> = []
const at = (millis: number) => `${((millis - started) / 1000).toFixed(1)} s`
const ago = (now: number, millis: number) => `${((now - millis) / 1000).toFixed(1)} s ago`
const say = (line: string) => live ? events.push(line) : console.log(line)
const logger = Logger.make(({ annotations, date, logLevel, message }) => {
  const host = String(Option.getOrElse(HashMap.get(annotations, "host"), () => ""))
  const level = logLevel._tag === "Info" ? "" : `${logLevel.label} `
  say(`${at(date.getTime()).padStart(7)}  ${host.padEnd(9)}  ${level}${[message].flat().join(" ")}`)
})
const OUTCOME = {
  Succeeded: "ok",
  Failed: "failed",
  TimedOut: "timed out",
  Skipped: "skipped",
  Interrupted: "interrupted",
} as const

interface Host {
  readonly name: string
  readonly scope: Scope.CloseableScope
  readonly service: Service.Service
  readonly compute: Context.Tag.Service<Compute>
  stoppedAt?: number
  downAt?: number
  lastReportAt?: number
}
interface Placement {
  readonly at: number
  readonly request: Request
  readonly host: string
  /** Sent to a host whose service had stopped but that the scheduler did not see DOWN yet. */
  readonly lost: boolean
}

const program = Effect.gen(function* () {
  started = yield* Clock.currentTimeMillis
  const shared = yield* Layer.build(Layer.merge(ServiceRegistry.layerMemory, CapabilityBus.layer()))
  const scheduler = yield* Scheduler.make({ schema: Free, serviceDownTime: "3 seconds" })
  yield* scheduler.consume(yield* Context.get(shared, CapabilityBus.CapabilityBus).subscribe)
  const changes = yield* scheduler.subscribeChanges
  const downTime = Duration.format(scheduler.serviceDownTime)
  // The stopped host is seen DOWN `serviceDownTime` after its last report (reports come every
  // second): a run shorter than `minSeconds` ends before that, and what the scheduler sent it in
  // the meantime is lost.
  const downSeconds = Duration.toSeconds(scheduler.serviceDownTime)
  const minSeconds = Math.ceil(2 * (downSeconds + 1))
  const tooShort = `the scheduler sees a host DOWN only after ${downTime} without a report`
  if (seconds < minSeconds) {
    say(
      `note: ${STOPPED} stops at about ${stopAt} s; ${tooShort}, so this ${seconds} s run may end before ` +
        `it is seen DOWN (--seconds ${minSeconds} or more shows it)`,
    )
  }

  // Each host in its own scope: closed with the program's, or earlier to stop that host. Built
  // with Info logs on, since a service's stop logs with the log settings of its start.
  const hosts: Array<Host> = []
  for (const [name, total] of HOSTS) {
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const layer = computeService(name, total).pipe(Layer.provide(Layer.succeedContext(shared)))
    const context = yield* Layer.buildWithScope(layer, scope).pipe(
      Effect.annotateLogs("host", name),
      Logger.withMinimumLogLevel(LogLevel.Info),
    )
    const service = Context.get(context, Service.Service)
    hosts.push({ name, scope, service, compute: Context.get(context, Compute) })
  }
  const host = (name: string) => hosts.find((h) => h.name === name)!
  const stopOrder: Array<string> = []
  const stop = (h: Host) =>
    Effect.gen(function* () {
      h.stoppedAt = yield* Clock.currentTimeMillis
      yield* Scope.close(h.scope, Exit.void)
      const report = yield* h.service.stopped
      stopOrder.push(`${h.name} at ${at(h.stoppedAt)}`)
      yield* Effect.log(`stopped in ${report.durationMillis} ms`)
    }).pipe(
      Effect.uninterruptible,
      Effect.annotateLogs("host", h.name),
      Logger.withMinimumLogLevel(LogLevel.Info),
    )

  yield* Effect.forkScoped(
    Stream.runForEach(changes, (change) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const { capabilities: free, host: name } = change.host
        if (change._tag === "HostAdded") {
          say(`${at(now).padStart(7)}  ${name}  joined: ${free.ramMb} MB free`)
        }
        if (change._tag === "HostDown") {
          Object.assign(host(name), { downAt: now, lastReportAt: change.host.receivedAt })
          say(`${at(now).padStart(7)}  ${name}  DOWN: no report for ${downTime}`)
        }
      })),
  )

  // Placement requests, one every 400 ms: the scheduler selects a host, its manager spawns.
  const placements: Array<Placement> = []
  let noValidHost = 0
  let lastNoValidHost = ""
  let refused = 0
  let nextId = 0
  const request = Effect.all({
    id: Effect.sync(() => ++nextId),
    ramMb: Effect.map(Random.nextIntBetween(1, 9), (n) => n * 512),
    vcpus: Random.nextIntBetween(1, 5),
    lifetimeMillis: Random.nextIntBetween(2000, 7000),
  })
  const place = (request: Request) =>
    Effect.gen(function* () {
      const chosen = host((yield* scheduler.select(request, select)).host)
      const now = yield* Clock.currentTimeMillis
      // A stopped service consumes nothing: nova's cast to its topic is lost.
      if (chosen.stoppedAt === undefined) yield* chosen.compute.spawn(request)
      placements.push({ at: now, request, host: chosen.name, lost: chosen.stoppedAt !== undefined })
    }).pipe(Effect.catchTags({
      NoValidHost: (error) => Effect.sync(() => (noValidHost++, lastNoValidHost = error.message)),
      NoCapacity: () => Effect.sync(() => refused++), // the scheduler's view was behind
    }))
  const requests = yield* Stream.repeatEffectWithSchedule(request, Schedule.spaced("400 millis"))
    .pipe(Stream.runForEach(place), Effect.delay("1 second"), Effect.forkScoped)
  const placed = (name: string) => placements.filter((p) => p.host === name && !p.lost).length

  // The view: redrawn every second on a terminal, one status line per second otherwise.
  const render = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const states = yield* scheduler.hosts
    const lost = placements.filter((p) => p.lost).length
    const totals = `placed ${placements.length - lost} · NoValidHost ${noValidHost} · lost ${lost}`
    if (!tty) {
      const line = states.map(({ capabilities: free, host: name, up }) =>
        `${name} ${up ? `up ${free.ramMb}/${free.vcpus}` : "DOWN"}` +
        (up && host(name).stoppedAt !== undefined ? " (stopped)" : "")
      )
      return console.log(`${at(now).padStart(7)}  ${line.join("  ")}  | ${totals}`)
    }
    const lines = [
      `effect-manager: an in-process cloud · ${at(now)} of ${seconds} s · Ctrl-C stops`,
      "",
      "HOST       SERVICE   SCHEDULER (last report)   FREE RAM  FREE vCPUs  PLACED",
    ]
    for (const h of hosts) {
      const status = yield* h.service.status
      const s = states.find((s) => s.host === h.name)
      const seen = s ? `${s.up ? "up" : "DOWN"} (${ago(now, s.receivedAt)})` : "-"
      const [ram, vcpus] = s ? [`${s.capabilities.ramMb} MB`, `${s.capabilities.vcpus}`] : ["", ""]
      const outcome = Option.match({
        onNone: () => "-",
        onSome: (o: PeriodicRunner.TaskOutcome) =>
          `${OUTCOME[o._tag]} ${ago(now, o.startedAt + o.durationMillis)}`,
      })
      lines.push(
        `${h.name}  ${status.state.padEnd(8)}  ${seen.padEnd(24)}  ${ram.padStart(8)}  ` +
          `${vcpus.padStart(10)}  ${String(placed(h.name)).padStart(6)}`,
        `  ${status.tasks.map((task) => `${task.name} ${outcome(task.lastOutcome)}`).join(" · ")}`,
      )
    }
    const recent = placements.slice(-4).map(({ at: when, host, lost, request: r }) =>
      `  #${r.id} ${r.ramMb} MB, ${r.vcpus} vCPU → ${host}${lost ? " (lost)" : ""} at ${at(when)}`
    )
    lines.push("", totals, ...recent, "", ...events.slice(-6))
    console.log(`\x1b[H\x1b[2J${lines.join("\n")}`)
  })
  const view = yield* Effect.forkScoped(Effect.schedule(render, Schedule.spaced("1 second")))

  // Midway one host stops. The end comes after `seconds`, or at Ctrl-C (a second one exits).
  const midway = yield* Effect.forkScoped(Effect.delay(stop(host(STOPPED)), `${stopAt} seconds`))
  const ctrlC = yield* Deferred.make<boolean>()
  let sigints = 0
  yield* Effect.acquireRelease(
    Effect.sync(() =>
      onSigint(() => ++sigints > 1 ? exit(130) : Deferred.unsafeDone(ctrlC, Exit.succeed(true)))
    ),
    (remove) => Effect.sync(remove),
  )
  const byCtrlC = yield* Effect.race(
    Deferred.await(ctrlC),
    Effect.as(Effect.sleep(`${seconds} seconds`), false),
  )
  yield* Fiber.interruptAll([requests, view, midway])
  if (tty) yield* render
  live = false
  yield* Console.log(`\nStopping… (${byCtrlC ? "Ctrl-C" : "time is up"}), hosts in reverse order:`)
  for (const h of [...hosts].reverse()) if (h.stoppedAt === undefined) yield* stop(h)

  const now = yield* Clock.currentTimeMillis
  const down = host(STOPPED)
  const landed = placements.filter((p) => !p.lost).length
  const lost = placements.length - landed
  const downMillis = Duration.toMillis(scheduler.serviceDownTime)
  const lastReport = (yield* scheduler.hosts).find((s) => s.host === STOPPED)?.receivedAt ?? now
  const afterDown = placements.filter((p) =>
    p.host === STOPPED && down.downAt !== undefined && p.at >= down.downAt
  ).length
  yield* Console.log([
    `\nSummary after ${at(now)}${byCtrlC ? " (Ctrl-C)" : ""}:`,
    `  placements: ${landed} (${hosts.map((h) => `${h.name} ${placed(h.name)}`).join(", ")})`,
    `  NoValidHost: ${noValidHost}${noValidHost ? ` (last: ${lastNoValidHost})` : ""}`,
    ...(refused > 0 ? [`  refused by a host (the scheduler's view was behind): ${refused}`] : []),
    `  ${STOPPED}: stopped at ${down.stoppedAt === undefined ? "-" : at(down.stoppedAt)}, ` +
    (down.downAt === undefined
      ? `not seen DOWN before the end: ${tooShort}` +
        (down.stoppedAt === undefined || byCtrlC
          ? ""
          : ` (its last report at ${at(lastReport)}, so DOWN at ${at(lastReport + downMillis)}); ` +
            `--seconds ${minSeconds} or more shows it`)
      : `last report at ${at(down.lastReportAt ?? 0)}, DOWN at ${at(down.downAt)}; ` +
        `placements on it since: ${afterDown}${afterDown === 0 ? " (as expected)" : ""}`),
    `  lost: ${lost} sent to ${STOPPED} after it stopped, before it was DOWN` +
    (lost > 0
      ? ` (until ${downTime} pass without a report, the scheduler still counts it up and may ` +
        "choose it; a stopped service consumes nothing, so, as with nova's cast, they are lost)"
      : ""),
    `  stop order: ${stopOrder.join(", ")}`,
  ].join("\n"))
  if (afterDown > 0) return yield* Effect.dieMessage(`${afterDown} placements on a DOWN host`)
}).pipe(Effect.scoped)

/** One line per metric of the library (`effect_manager.*`), by name and tags. */
const printMetrics = Effect.gen(function* () {
  const lines = (yield* Metric.snapshot)
    .filter(({ metricKey }) => metricKey.name.startsWith("effect_manager."))
    .map(({ metricKey, metricState }) => {
      const tags = metricKey.tags.filter((tag) => tag.key !== "time_unit")
        .map((tag) => `${tag.key}=${tag.value}`).join(" ")
      const value = MetricState.isCounterState(metricState)
        ? `${metricState.count}`
        : MetricState.isGaugeState(metricState)
        ? `${metricState.value}`
        : MetricState.isHistogramState(metricState)
        ? `count ${metricState.count}, mean ${
          (metricState.sum / Math.max(1, metricState.count)).toFixed(1)
        } ms, max ${metricState.count === 0 ? "-" : metricState.max.toFixed(1)} ms`
        : "-"
      return `  ${metricKey.name}${tags === "" ? "" : ` {${tags}}`}: ${value}`
    })
    .sort()
  yield* Console.log(["\nMetrics (Telemetry):", ...lines].join("\n"))
})

Effect.runFork(
  Effect.zipRight(program, showMetrics ? printMetrics : Effect.void).pipe(
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Effect.catchAllCause((cause) =>
      Effect.zipRight(Console.error(Cause.pretty(cause)), Effect.sync(() => exit(1)))
    ),
  ),
)
