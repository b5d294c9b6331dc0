/**
 * Capability reports across processes at scale: one scheduler process, publisher processes that
 * report for `--hosts` simulated hosts (10,000: each host once a second, through the public
 * publishing API, `Remote.layerCapabilityPublisher`'s `publish`), for `--seconds` (10); and, in
 * this process afterwards, an in-process `Scheduler` ingesting as many reports from a local
 * `CapabilityBus` as the baseline.
 *
 *   npm run bench:cloud -- [--hosts 10000] [--seconds 10] [--publishers 4]
 *
 * - Each publisher signs as a relay (`relay-N`, HMAC), which the scheduler's receiver lets report
 *   for any host (`anyHost`); each publishes its hosts' reports in 10 slices a second.
 * - The scheduler process records, for each report as it reaches its `Scheduler`, the time since
 *   the report's timestamp (both processes read the same machine's clock): end-to-end latency.
 *   After the run it prints its figures, and each host's last sequence it holds.
 * - A latest state lost: a host whose last published sequence is not the one the scheduler holds
 *   once the publishers have stopped and a second has passed.
 *
 * The last line is one JSON object: `{"hosts","seconds","reportsSent","reportsApplied",
 * "latestStateLost","e2eP50Ms","e2eP99Ms","appliedWithin1s","schedulerCpuUsPerReport",
 * "inProcessCpuUsPerReport","schedulerRssMb"}`.
 */
import * as Command from "@effect/platform/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { CapabilityBus, Manager, Scheduler, Service, ServiceRegistry } from "../mod.ts"
import { layerWebSocket } from "../src/platform/node.ts"
import * as Remote from "../src/Remote.ts"
import { nodeProcess, numberFlag, startChild, stringFlag } from "./support.ts"

declare const console: { log(line: string): void; error(line: string): void }
declare const performance: { now(): number }
declare const process: {
  readonly execPath: string
  readonly execArgv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdin: { on(event: "data", listener: (chunk: { toString(): string }) => void): unknown }
}

/** How long the run warms up (connections, JIT) before the measured seconds. */
const WARMUP_MILLIS = 2_000

/**
 * The instant (epoch ms) the measured run starts, which the parent sends every child on its
 * standard input once all are ready ("GO <ms>").
 */
const go: Effect.Effect<number> = Effect.async((resume) => {
  let input = ""
  process.stdin.on("data", (chunk) => {
    input += chunk.toString()
    const found = /GO (\d+)\n/.exec(input)
    if (found !== null) resume(Effect.succeed(Number(found[1])))
  })
})

const hostCount = numberFlag("--hosts", 10_000)
const seconds = numberFlag("--seconds", 10)
const publisherCount = numberFlag("--publishers", 4)
const SECRET_VARIABLE = "EFFECT_MANAGER_BENCH_CLOUD_SECRET"
const secret = () => process.env[SECRET_VARIABLE] ?? ""
const relays = Array.from({ length: publisherCount }, (_, i) => `relay-${i}`)
const Free = Schema.Struct({ ramMb: Schema.Number })

const network = (directory: string) =>
  Layer.mergeAll(
    Layer.orDie(layerWebSocket()),
    ServiceRegistry.layerFileSystem(directory).pipe(
      Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)),
    ),
  )

const percentile = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

// --- the scheduler process ---------------------------------------------------------------------

class Placement extends Context.Tag("Placement")<Placement, object>() {}

/** Its figures for the reports stamped in the measured seconds; then it exits. */
const schedulerMain = (directory: string) =>
  Effect.gen(function* () {
    const bus = yield* CapabilityBus.make({ capacity: 1 << 16 })
    const scheduler = yield* Scheduler.make({ schema: Free, maxHosts: 2 * hostCount })
    const latencies = new Float64Array(hostCount * (seconds + 5))
    let received = 0
    let from = Infinity
    const measured = Stream.tap(yield* bus.subscribe, (report) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (report.timestamp < from) {
          return
        }
        if (received < latencies.length) {
          latencies[received] = now - report.timestamp
        }
        received++
      }))
    yield* scheduler.consume(measured)
    const manager = Manager.layer(
      Placement,
      Effect.map(Remote.capabilityReceiver({ anyHost: relays }), (receiver) => ({
        service: {},
        additionalEndpoints: [receiver],
      })),
    )
    yield* Layer.build(
      Service.layer({ host: "scheduler-1", topic: "scheduler" }, manager).pipe(
        Layer.provide(
          Remote.layerServer({
            auth: {
              keys: relays.map((principal) =>
                key(principal)
              ),
            },
          }),
        ),
        Layer.provide(Layer.succeed(CapabilityBus.CapabilityBus, bus)),
        Layer.provide(network(directory)),
      ),
    )
    console.log("READY")
    from = yield* go
    yield* Effect.sleep(Math.max(0, from - (yield* Clock.currentTimeMillis)))
    const cpuBefore = nodeProcess.cpuUsage()
    // The measured seconds, and 2 s for what was published last to arrive.
    yield* Effect.sleep(seconds * 1_000 + 2_000)
    const cpu = nodeProcess.cpuUsage()
    const cpuUs = cpu.user - cpuBefore.user + cpu.system - cpuBefore.system
    const kept = Math.min(received, latencies.length)
    const sorted = latencies.subarray(0, kept).sort()
    let within = 0
    for (let i = 0; i < kept; i++) if (sorted[i]! <= 1_000) within++
    const sequences = Object.fromEntries(
      (yield* scheduler.hosts).map((state) => [state.host, state.sequence]),
    )
    console.log(JSON.stringify({
      received,
      e2eP50Ms: percentile(sorted, 50),
      e2eP99Ms: percentile(sorted, 99),
      within1s: within,
      cpuUs,
      rssMb: Math.round(nodeProcess.memoryUsage.rss() / 1e5) / 10,
      sequences,
    }))
  }).pipe(Effect.scoped)

const key = (principal: string): Remote.Credentials => ({
  _tag: "Hmac",
  principal,
  secret: secret(),
})

// --- a publisher process -----------------------------------------------------------------------

/** Publishes for its share of the hosts, each once a second, for `seconds`; then its figures. */
const publisherMain = (directory: string, index: number) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      Remote.layerCapabilityPublisher({ credentials: key(relays[index]!) }).pipe(
        Layer.provide(network(directory)),
      ),
    )
    const bus = Context.get(context, CapabilityBus.CapabilityBus)
    const mine: Array<string> = []
    for (let i = index; i < hostCount; i += publisherCount) mine.push(`host-${i}`)
    const sequences = new Map<string, number>()
    let sent = 0
    console.log("READY")
    const from = yield* go
    const SLICES = 10
    // The warm-up's reports are published, not counted.
    const warmupTicks = Math.ceil((from - (yield* Clock.currentTimeMillis)) / 100)
    for (let tick = -warmupTicks; tick < seconds * SLICES; tick++) {
      const started = performance.now()
      const now = yield* Clock.currentTimeMillis
      for (let j = ((tick % SLICES) + SLICES) % SLICES; j < mine.length; j += SLICES) {
        const host = mine[j]!
        const sequence = (sequences.get(host) ?? 0) + 1
        sequences.set(host, sequence)
        yield* bus.publish({
          host,
          service: "compute",
          manager: "Compute",
          capabilities: { ramMb: yield* Random.nextIntBetween(0, 65_536) },
          timestamp: now,
          sequence,
        })
        if (now >= from) sent++
      }
      yield* Effect.sleep(Math.max(0, 100 - (performance.now() - started)))
    }
    yield* Effect.sleep("2 seconds") // what is still unsent goes out
    console.log(JSON.stringify({ sent, sequences: Object.fromEntries(sequences) }))
  }).pipe(Effect.scoped)

// --- the baseline: the same number of reports through a local bus ------------------------------

const inProcess = (reports: number) =>
  Effect.gen(function* () {
    const bus = yield* CapabilityBus.make({ capacity: 1 << 16 })
    const scheduler = yield* Scheduler.make({ schema: Free, maxHosts: 2 * hostCount })
    const done = yield* Deferred.make<void>()
    let got = 0
    yield* scheduler.consume(
      Stream.tap(yield* bus.subscribe, () =>
        ++got === reports ? Deferred.succeed(done, undefined) : Effect.void),
    )
    const before = nodeProcess.cpuUsage()
    const now = yield* Clock.currentTimeMillis
    for (let i = 0; i < reports; i++) {
      yield* bus.publish({
        host: `host-${i % hostCount}`,
        service: "compute",
        manager: "Compute",
        capabilities: { ramMb: i % 65_536 },
        timestamp: now,
        sequence: Math.floor(i / hostCount) + 1,
      })
      if (i % 1_000 === 999) {
        yield* Effect.yieldNow()
      }
    }
    yield* Deferred.await(done).pipe(Effect.timeout("30 seconds"), Effect.ignore)
    const after = nodeProcess.cpuUsage()
    return (after.user - before.user + after.system - before.system) / Math.max(1, got)
  }).pipe(Effect.scoped)

// --- this process: the children, the figures ---------------------------------------------------

/** This bundle's file (scripts/run-ts.mjs made it): each child runs it again with `--role`. */
const bundle = decodeURIComponent((import.meta as { readonly url: string }).url)
  .replace(/^file:\/\//, "")

/** What every child is told: the run's size. */
const shared = [
  "--hosts",
  String(hostCount),
  "--seconds",
  String(seconds),
  "--publishers",
  String(publisherCount),
]

/** A child: its "READY", then its last line (a JSON object) once it exits. */
const spawn = (name: string, roleArgs: ReadonlyArray<string>, secretValue: string) =>
  Effect.map(
    startChild<unknown>(
      name,
      Command.make(process.execPath, ...process.execArgv, bundle, ...roleArgs, ...shared).pipe(
        Command.env({ [SECRET_VARIABLE]: secretValue }),
      ),
      "30 seconds",
    ),
    (child) => ({ start: (from: number) => child.send(`GO ${from}`), figures: child.figures }),
  )

interface SchedulerFigures {
  readonly received: number
  readonly e2eP50Ms: number
  readonly e2eP99Ms: number
  readonly within1s: number
  readonly cpuUs: number
  readonly rssMb: number
  readonly sequences: Record<string, number>
}

interface PublisherFigures {
  readonly sent: number
  readonly sequences: Record<string, number>
}

const parentMain = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const directory = yield* fs.makeTempDirectoryScoped({ prefix: "effect-manager-bench-cloud-" })
  const secretValue = (yield* Effect.replicateEffect(Random.nextIntBetween(0, 256), 32))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("")
  console.log(
    `bench:cloud: ${hostCount} hosts over ${publisherCount} publisher processes, ${seconds} s, ` +
      `one scheduler process; registry in ${directory}`,
  )
  const scheduler = yield* spawn(
    "scheduler",
    ["--role", "scheduler", "--dir", directory],
    secretValue,
  )
  const publishers = yield* Effect.forEach(
    relays,
    (relay, index) =>
      spawn(
        relay,
        ["--role", "publisher", "--dir", directory, "--index", String(index)],
        secretValue,
      ),
    { concurrency: "unbounded" },
  )
  const from = (yield* Clock.currentTimeMillis) + WARMUP_MILLIS
  yield* Effect.forEach([scheduler, ...publishers], (child) => child.start(from), { discard: true })
  const published = (yield* Effect.forEach(publishers, (child) => child.figures)) as ReadonlyArray<
    PublisherFigures
  >
  const figures = (yield* scheduler.figures) as SchedulerFigures
  const reportsSent = published.reduce((sum, p) => sum + p.sent, 0)
  let latestStateLost = 0
  for (const { sequences } of published) {
    for (const [host, sequence] of Object.entries(sequences)) {
      if (figures.sequences[host] !== sequence) latestStateLost++
    }
  }
  const inProcessCpuUsPerReport = yield* inProcess(figures.received)
  const result = {
    hosts: hostCount,
    seconds,
    reportsSent,
    reportsApplied: figures.received,
    latestStateLost,
    e2eP50Ms: figures.e2eP50Ms,
    e2eP99Ms: figures.e2eP99Ms,
    appliedWithin1s: Math.round((figures.within1s / reportsSent) * 10_000) / 10_000,
    schedulerCpuUsPerReport: Math.round((figures.cpuUs / figures.received) * 10) / 10,
    inProcessCpuUsPerReport: Math.round(inProcessCpuUsPerReport * 10) / 10,
    schedulerRssMb: figures.rssMb,
  }
  const check = (ok: boolean) => ok ? "met" : "MISSED"
  console.log([
    `reports sent ${reportsSent}, applied ${figures.received}, latest states lost ${latestStateLost}`,
    `end to end: p50 ${result.e2eP50Ms} ms, p99 ${result.e2eP99Ms} ms; applied within 1 s: ` +
    `${(result.appliedWithin1s * 100).toFixed(2)} % of those sent`,
    `scheduler CPU per report ${result.schedulerCpuUsPerReport} µs (in process: ` +
    `${result.inProcessCpuUsPerReport} µs), RSS ${result.schedulerRssMb} MB`,
    `targets: lost 0 (${check(latestStateLost === 0)}); within 1 s ≥ 99 % (${
      check(result.appliedWithin1s >= 0.99)
    }); p99 ≤ 50 ms (${check(result.e2eP99Ms <= 50)}); CPU ≤ 3× in process (${
      check(result.schedulerCpuUsPerReport <= 3 * result.inProcessCpuUsPerReport)
    })`,
  ].join("\n"))
  console.log(JSON.stringify(result))
}).pipe(Effect.scoped)

const role = stringFlag("--role")
const directory = stringFlag("--dir") ?? ""
const main: Effect.Effect<void, unknown> = role === "scheduler"
  ? schedulerMain(directory)
  : role === "publisher"
  ? publisherMain(directory, Number(stringFlag("--index") ?? 0))
  : parentMain.pipe(Effect.provide(NodeContext.layer))

NodeRuntime.runMain(main.pipe(Logger.withMinimumLogLevel(LogLevel.Warning)) as Effect.Effect<void>)
