/**
 * What our RPC layer costs over bare `@effect/rpc`: the same small methods called over WebSocket
 * on loopback, from this process to one server process, with real sockets and timers.
 *
 *   npm run bench:rpc -- [--seconds 0.5] [--pairs 10] [--warmup 1] [--breakdown]
 *                        [--profile-server DIRECTORY]
 *
 * - bare: `RpcClient` (socket protocol, msgpack) against `RpcServer` on `@effect/platform-node`'s
 *   HTTP server, neither with middleware.
 * - ours: `Remote.client(group, { topic, credentials })` against a `Service` whose manager serves
 *   the same methods with `Remote.layerServer({ auth: { keys: [hmacKey] } })` and
 *   `layerWebSocket()`: the client finds the host in a `ServiceRegistry.layerFileSystem` that both
 *   processes share (a temporary directory), signs each request with HMAC; the server
 *   authenticates, dispatches by version and checks the payload before the handler runs.
 *
 * For each, after a warm-up: sequential `echo` calls (latency p50 and p99, calls/s), `echo` with
 * `IN_FLIGHT` calls in flight (calls/s), and `count` streams of `STREAM_ITEMS` numbers (items/s),
 * each for `--seconds`; the table also shows the CPU time per call of both processes in the
 * concurrent measurement (the server's from Linux's /proc, "n/a" elsewhere). Pairs run bare and
 * ours one after the other, measurement by measurement, the first one swapping from pair to pair,
 * so that the machine's load hits both alike; the figures are medians over pairs, the ratios
 * ours / bare of those medians. Many short pairs (10 of 0.5 s by default) rather than a few long
 * ones: this machine's speed moves by 30 % within a minute, and 3 pairs of 3 s gave ratios that
 * moved by 0.3 from run to run.
 *
 * `--breakdown` adds three variants of ours, to show where its time goes: without authentication
 * (a second service with `auth: "none"`, a client without credentials), with registry lookups
 * cached for a second (the same client over a registry whose `get` remembers), and both; and
 * bare without spans (`bare-untraced`): @effect/rpc makes a span per call on each side by default,
 * which ours does only when a tracer is installed (none is here).
 * `--profile-server DIRECTORY` runs the server with `node --cpu-prof` into that directory.
 *
 * The server is this bundle again, run as a child process with `--serve DIRECTORY`
 * (bench/rpcServer.ts); it is stopped at the end, on failure and on Ctrl-C. Progress goes out as
 * readable lines, then a table; the last line is one JSON object.
 */
import * as Command from "@effect/platform/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ServiceRegistry } from "../mod.ts"
import { layerWebSocket } from "../src/platform/node.ts"
import * as Remote from "../src/Remote.ts"
import {
  BenchApi,
  BenchGroup,
  HOST,
  OPEN_HOST,
  PRINCIPAL,
  registryLayer,
  SECRET_VARIABLE,
  serverMain,
  TOPIC,
} from "./rpcServer.ts"
import { booleanFlag, collectGarbage, nodeProcess, numberFlag, stringFlag } from "./support.ts"

declare const console: {
  log(line: string): void
  error(line: string): void
}
declare const performance: { now(): number }
declare const process: {
  readonly execPath: string
  readonly execArgv: ReadonlyArray<string>
}

const seconds = numberFlag("--seconds", 0.5)
const pairs = numberFlag("--pairs", 10)
const warmupSeconds = numberFlag("--warmup", 1)
const breakdown = booleanFlag("--breakdown")
const profileDirectory = stringFlag("--profile-server")
if (!Number.isInteger(pairs)) throw new Error(`--pairs needs a whole number, got ${pairs}`)

/** Calls in flight in the concurrent measurement. */
const IN_FLIGHT = 32
/** Items of each streamed call. */
const STREAM_ITEMS = 10_000
/** How long the server is given to listen. */
const SERVER_START = Duration.seconds(30)

// --- the server process ------------------------------------------------------------------------

/** This bundle's file (scripts/run-ts.mjs made it): the server runs it again with `--serve`. */
const bundle = decodeURIComponent((import.meta as { readonly url: string }).url)
  .replace(/^file:\/\//, "")

/**
 * The server, a child process over `directory`, until the scope closes (then it gets SIGTERM and
 * is awaited); its process id and the bare servers' addresses, once it says it is ready.
 */
const startServer = (directory: string, secret: string) =>
  Effect.gen(function* () {
    const profile = profileDirectory === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${profileDirectory}`]
    const child = yield* Command.start(
      Command.make(
        process.execPath,
        ...process.execArgv,
        ...profile,
        bundle,
        "--serve",
        directory,
      ).pipe(Command.env({ [SECRET_VARIABLE]: secret }), Command.stderr("inherit")),
    )
    const ready = yield* Deferred.make<BareAddresses, Error>()
    yield* child.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => {
        const addresses = readyLine(line)
        return addresses === undefined
          ? Effect.sync(() => console.error(`[server] ${line}`))
          : Deferred.succeed(ready, addresses)
      }),
      Effect.ensuring(
        Deferred.fail(ready, new Error("the server's output ended before it was ready")),
      ),
      Effect.forkScoped,
    )
    const addresses = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: SERVER_START,
        onTimeout: () => new Error(`the server was not ready in ${Duration.format(SERVER_START)}`),
      }),
    )
    return { addresses, pid: child.pid }
  })

/** Where the bare servers listen: with @effect/rpc's spans (its default), and without. */
interface BareAddresses {
  readonly bare: string
  readonly bareUntraced: string
}

/** The bare servers' addresses, if `line` is the server's ready line. */
const readyLine = (line: string): BareAddresses | undefined => {
  try {
    const parsed: unknown = JSON.parse(line)
    if (typeof parsed !== "object" || parsed === null) return undefined
    const { ready, bare, bareUntraced } = parsed as Record<string, unknown>
    return ready === true && typeof bare === "string" && typeof bareUntraced === "string"
      ? { bare, bareUntraced }
      : undefined
  } catch {
    return undefined
  }
}

// --- the clients -------------------------------------------------------------------------------

/** What the measurements call, whichever client is behind. */
interface Caller {
  readonly echo: (n: number) => Effect.Effect<number, unknown>
  readonly count: (n: number) => Stream.Stream<number, unknown>
}

/**
 * Bare `RpcClient` over one WebSocket to `address`, closed with the scope; with its spans (its
 * default) unless `tracing` is false.
 */
const bareCaller = (
  address: string,
  tracing = true,
): Effect.Effect<Caller, never, Scope.Scope> =>
  Effect.gen(function* () {
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NodeSocket.layerWebSocket(address)),
        Layer.provide(RpcSerialization.layerMsgPack),
      ),
    )
    const client = yield* RpcClient.make(BenchGroup, { disableTracing: !tracing }).pipe(
      Effect.provide(protocol),
    )
    return { echo: (n) => client.echo({ n }), count: (n) => client.count({ n }) }
  })

/** Our client of `host`, signing with `credentials` when given. */
const oursCaller = (host: string, credentials: Remote.Credentials | undefined) =>
  Effect.gen(function* () {
    const client = yield* Remote.client(
      BenchApi,
      credentials === undefined ? { topic: TOPIC } : { topic: TOPIC, credentials },
    )
    const caller: Caller = {
      echo: (n) => client.call(host, "echo", { n }),
      count: (n) => client.stream(host, "count", { n }),
    }
    return caller
  })

/** How long the breakdown's cached lookups keep a record. */
const LOOKUP_CACHE_MILLIS = 1_000

/**
 * The context's registry with `get` remembered for `LOOKUP_CACHE_MILLIS`: what a client would
 * cost if it did not read the record at each call (breakdown only).
 */
const cachedLookups = Effect.map(
  ServiceRegistry.ServiceRegistry,
  (registry): ServiceRegistry.ServiceRegistry => {
    const cache = new Map<
      string,
      { readonly at: number; readonly found: Option.Option<ServiceRegistry.ServiceRecord> }
    >()
    return {
      ...registry,
      get: (host, topic) =>
        Effect.suspend(() => {
          const key = JSON.stringify([host, topic])
          const hit = cache.get(key)
          if (hit !== undefined && performance.now() - hit.at < LOOKUP_CACHE_MILLIS) {
            return Effect.succeed(hit.found)
          }
          return Effect.tap(
            registry.get(host, topic),
            (found) => Effect.sync(() => cache.set(key, { at: performance.now(), found })),
          )
        }),
    }
  },
)

// --- the measurements --------------------------------------------------------------------------

/** CPU time used so far, µs: this process's, and the server's when Linux's /proc tells it. */
interface CpuTimes {
  readonly client: number
  readonly server: number | undefined
}

/**
 * Reads both processes' CPU time: ours from `process.cpuUsage()`, the server's from
 * `/proc/<pid>/schedstat` (its first field: nanoseconds on a CPU), absent elsewhere.
 */
const cpuReader = (pid: number) =>
  Effect.map(FileSystem.FileSystem, (fs): Effect.Effect<CpuTimes> =>
    Effect.gen(function* () {
      const usage = nodeProcess.cpuUsage()
      const schedstat = yield* Effect.option(fs.readFileString(`/proc/${pid}/schedstat`))
      const nanos = schedstat._tag === "Some" ? Number(schedstat.value.split(" ")[0]) : NaN
      return {
        client: usage.user + usage.system,
        server: Number.isFinite(nanos) ? nanos / 1000 : undefined,
      }
    }))

interface Figures {
  p50Ms: number
  p99Ms: number
  callsPerSecond: number
  concurrentCallsPerSecond: number
  streamItemsPerSecond: number
  /** CPU time per call with `IN_FLIGHT` in flight, µs: this process's, and the server's. */
  clientCpuUsPerCall: number
  serverCpuUsPerCall: number
}

type Kind = "sequential" | "concurrent" | "stream"

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

const expectEcho = (sent: number, answer: number) =>
  answer === sent ? Effect.void : Effect.dieMessage(`echo ${sent} answered ${answer}`)

/** `echo`, one call at a time, for `millis`: latency percentiles and the call rate. */
const sequential = (caller: Caller, millis: number) =>
  Effect.gen(function* () {
    const latencies: Array<number> = []
    const started = performance.now()
    let now = started
    while (now - started < millis) {
      const sent = latencies.length
      const before = performance.now()
      yield* expectEcho(sent, yield* caller.echo(sent))
      now = performance.now()
      latencies.push(now - before)
    }
    latencies.sort((a, b) => a - b)
    return {
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      callsPerSecond: latencies.length / ((now - started) / 1000),
    }
  })

/** `echo` with `IN_FLIGHT` calls in flight for `millis`: the call rate, CPU time per call. */
const concurrent = (caller: Caller, millis: number, cpu: Effect.Effect<CpuTimes>) =>
  Effect.gen(function* () {
    let calls = 0
    const before = yield* cpu
    const started = performance.now()
    yield* Effect.forEach(
      Array.from({ length: IN_FLIGHT }, (_, worker) => worker),
      (worker) =>
        Effect.whileLoop({
          while: () => performance.now() - started < millis,
          body: () => Effect.flatMap(caller.echo(worker), (answer) => expectEcho(worker, answer)),
          step: () => calls++,
        }),
      { concurrency: "unbounded", discard: true },
    )
    const elapsed = performance.now() - started
    const after = yield* cpu
    return {
      concurrentCallsPerSecond: calls / (elapsed / 1000),
      clientCpuUsPerCall: (after.client - before.client) / calls,
      serverCpuUsPerCall: after.server === undefined || before.server === undefined
        ? NaN
        : (after.server - before.server) / calls,
    }
  })

/** `count` streams read to their end, one after the other, for `millis`: the item rate. */
const streamed = (caller: Caller, millis: number) =>
  Effect.gen(function* () {
    let items = 0
    const started = performance.now()
    while (performance.now() - started < millis) {
      const read = yield* Stream.runCount(caller.count(STREAM_ITEMS))
      if (read !== STREAM_ITEMS) {
        return yield* Effect.dieMessage(`a stream of ${STREAM_ITEMS} gave ${read}`)
      }
      items += read
    }
    return { streamItemsPerSecond: items / ((performance.now() - started) / 1000) }
  })

const measure = (
  kind: Kind,
  caller: Caller,
  millis: number,
  cpu: Effect.Effect<CpuTimes>,
): Effect.Effect<Partial<Figures>, unknown> =>
  Effect.suspend((): Effect.Effect<Partial<Figures>, unknown> => {
    // Each measurement starts without the previous one's garbage.
    collectGarbage()
    return kind === "sequential"
      ? sequential(caller, millis)
      : kind === "concurrent"
      ? concurrent(caller, millis, cpu)
      : streamed(caller, millis)
  })

const describe = (kind: Kind, figures: Partial<Figures>): string =>
  kind === "sequential"
    ? `p50 ${figures.p50Ms!.toFixed(3)} ms, p99 ${figures.p99Ms!.toFixed(3)} ms, ` +
      `${Math.round(figures.callsPerSecond!)} calls/s`
    : kind === "concurrent"
    ? `${Math.round(figures.concurrentCallsPerSecond!)} calls/s with ${IN_FLIGHT} in flight, ` +
      `CPU per call ${figures.clientCpuUsPerCall!.toFixed(0)} µs here, ` +
      `${figures.serverCpuUsPerCall!.toFixed(0)} µs in the server`
    : `${Math.round(figures.streamItemsPerSecond!)} items/s`

// --- the report --------------------------------------------------------------------------------

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const fields = [
  "p50Ms",
  "p99Ms",
  "callsPerSecond",
  "concurrentCallsPerSecond",
  "streamItemsPerSecond",
  "clientCpuUsPerCall",
  "serverCpuUsPerCall",
] as const

type Reported = Omit<Figures, "clientCpuUsPerCall" | "serverCpuUsPerCall">

/** The figures the last line reports for each variant, rounded. */
const rounded = (figures: Figures): Reported => ({
  p50Ms: Number(figures.p50Ms.toFixed(3)),
  p99Ms: Number(figures.p99Ms.toFixed(3)),
  callsPerSecond: Math.round(figures.callsPerSecond),
  concurrentCallsPerSecond: Math.round(figures.concurrentCallsPerSecond),
  streamItemsPerSecond: Math.round(figures.streamItemsPerSecond),
})

const ratios = (ours: Figures, bare: Figures) => ({
  p50: Number((ours.p50Ms / bare.p50Ms).toFixed(3)),
  callsPerSecond: Number((ours.callsPerSecond / bare.callsPerSecond).toFixed(3)),
  concurrentCallsPerSecond: Number(
    (ours.concurrentCallsPerSecond / bare.concurrentCallsPerSecond).toFixed(3),
  ),
  streamItemsPerSecond: Number(
    (ours.streamItemsPerSecond / bare.streamItemsPerSecond).toFixed(3),
  ),
})

const labels: Record<(typeof fields)[number], string> = {
  p50Ms: "p50 (ms)",
  p99Ms: "p99 (ms)",
  callsPerSecond: "calls/s, sequential",
  concurrentCallsPerSecond: `calls/s, ${IN_FLIGHT} in flight`,
  streamItemsPerSecond: "stream items/s",
  clientCpuUsPerCall: "client CPU µs/call",
  serverCpuUsPerCall: "server CPU µs/call",
}

/** The medians as a table, a column per variant, then each variant's ratio to bare. */
const table = (medians: ReadonlyArray<readonly [string, Figures]>): string => {
  const bare = medians[0]![1]
  const width = Math.max(...medians.map(([name]) => `${name}/bare`.length), 9) + 2
  const cell = (text: string) => text.padStart(width)
  const show = (field: (typeof fields)[number], value: number) =>
    field === "p50Ms" || field === "p99Ms"
      ? value.toFixed(3)
      : Number.isNaN(value)
      ? "n/a"
      : String(Math.round(value))
  const header = "".padEnd(24) + medians.map(([name]) => cell(name)).join("") +
    medians.slice(1).map(([name]) => cell(`${name}/bare`)).join("")
  const rows = fields.map((field) =>
    labels[field].padEnd(24) +
    medians.map(([, figures]) => cell(show(field, figures[field]))).join("") +
    medians.slice(1).map(([, figures]) => {
      const ratio = figures[field] / bare[field]
      return cell(Number.isNaN(ratio) ? "n/a" : ratio.toFixed(2))
    }).join("")
  )
  return [header, ...rows].join("\n")
}

/** Whether ours meets the targets: within 1.25× of bare on p50 and both call rates; p99 ≤ 3 ms. */
const targets = (ours: Figures, bare: Figures): string => {
  const check = (ok: boolean) => ok ? "met" : "MISSED"
  const p50 = ours.p50Ms / bare.p50Ms
  const calls = bare.callsPerSecond / ours.callsPerSecond
  const inFlight = bare.concurrentCallsPerSecond / ours.concurrentCallsPerSecond
  return [
    `p50 ours/bare ${p50.toFixed(2)} (≤ 1.25: ${check(p50 <= 1.25)})`,
    `calls/s bare/ours ${calls.toFixed(2)} (≤ 1.25: ${check(calls <= 1.25)})`,
    `${IN_FLIGHT} in flight bare/ours ${inFlight.toFixed(2)} (≤ 1.25: ${check(inFlight <= 1.25)})`,
    `p99 ${ours.p99Ms.toFixed(3)} ms (≤ 3 ms: ${check(ours.p99Ms <= 3)})`,
  ].join("; ")
}

// --- main --------------------------------------------------------------------------------------

const kinds: ReadonlyArray<Kind> = ["sequential", "concurrent", "stream"]

const hexSecret = Effect.map(
  Effect.replicateEffect(Random.nextIntBetween(0, 256), 32),
  (bytes) => bytes.map((byte) => byte.toString(16).padStart(2, "0")).join(""),
)

const clientMain = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  // Made first, removed last: after the clients have closed and the server has stopped.
  const directory = yield* fs.makeTempDirectoryScoped({ prefix: "effect-manager-bench-rpc-" })
  const secret = yield* hexSecret
  const server = yield* startServer(directory, secret)
  const cpu = yield* cpuReader(server.pid)
  const network = yield* Layer.build(
    Layer.mergeAll(Layer.orDie(layerWebSocket()), registryLayer(directory)),
  )
  const key: Remote.Credentials = { _tag: "Hmac", principal: PRINCIPAL, secret }
  const cached = Effect.provideServiceEffect(ServiceRegistry.ServiceRegistry, cachedLookups)
  const variants: ReadonlyArray<readonly [string, Caller]> = [
    ["bare", yield* bareCaller(server.addresses.bare)],
    ["ours", yield* Effect.provide(oursCaller(HOST, key), network)],
    ...(breakdown
      ? [
        ["ours-noauth", yield* Effect.provide(oursCaller(OPEN_HOST, undefined), network)],
        ["ours-cached", yield* Effect.provide(cached(oursCaller(HOST, key)), network)],
        [
          "ours-noauth-cached",
          yield* Effect.provide(cached(oursCaller(OPEN_HOST, undefined)), network),
        ],
        ["bare-untraced", yield* bareCaller(server.addresses.bareUntraced, false)],
      ] as const
      : []),
  ]
  console.log(
    `bench:rpc: ${variants.map(([name]) => name).join(", ")} over WebSocket on loopback, ` +
      `${pairs} pairs of ${seconds} s per measurement after ${warmupSeconds} s of warm-up; ` +
      `server ${server.addresses.bare} and the registry in ${directory}`,
  )
  for (const [name, caller] of variants) {
    for (const kind of kinds) yield* measure(kind, caller, warmupSeconds * 1000, cpu)
    console.log(`warmed up ${name}`)
  }
  const results = new Map(variants.map(([name]) => [name, [] as Array<Figures>]))
  for (let pair = 0; pair < pairs; pair++) {
    // Bare goes first in even pairs, ours in odd ones (the breakdown's variants rotate).
    const order = variants.map((_, i) => variants[(i + pair) % variants.length]!)
    const figures = new Map(variants.map(([name]) => [name, {} as Partial<Figures>]))
    for (const kind of kinds) {
      for (const [name, caller] of order) {
        const measured = yield* measure(kind, caller, seconds * 1000, cpu)
        Object.assign(figures.get(name)!, measured)
        console.log(
          `pair ${pair + 1}/${pairs} ${kind.padEnd(10)} ${name.padEnd(18)} ${
            describe(kind, measured)
          }`,
        )
      }
    }
    for (const [name, measured] of figures) results.get(name)!.push(measured as Figures)
  }
  const medians = variants.map(([name]): readonly [string, Figures] => {
    const runs = results.get(name)!
    const figures = Object.fromEntries(
      fields.map((field) => [field, median(runs.map((run) => run[field]))]),
    ) as unknown as Figures
    return [name, figures]
  })
  const bare = medians[0]![1]
  const ours = medians[1]![1]
  console.log(`\nmedians over ${pairs} pairs:\n${table(medians)}`)
  console.log(`targets: ${targets(ours, bare)}`)
  console.log(JSON.stringify({
    bare: rounded(bare),
    ours: rounded(ours),
    ratios: ratios(ours, bare),
    pairs,
    seconds,
    ...(breakdown
      ? {
        cpuUsPerCall: Object.fromEntries(medians.map(([name, figures]) => [name, {
          client: Math.round(figures.clientCpuUsPerCall),
          server: Number.isNaN(figures.serverCpuUsPerCall)
            ? null
            : Math.round(figures.serverCpuUsPerCall),
        }])),
        breakdown: Object.fromEntries(
          medians.slice(2).map(([name, figures]) => [
            name,
            { ...rounded(figures), ratios: ratios(figures, bare) },
          ]),
        ),
      }
      : {}),
  }))
})

const serveDirectory = stringFlag("--serve")

NodeRuntime.runMain(
  (serveDirectory === undefined ? Effect.scoped(clientMain) : serverMain(serveDirectory)).pipe(
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.provide(NodeContext.layer),
  ),
)
