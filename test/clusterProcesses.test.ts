// A leader task across real processes on the suite's PostgreSQL: three "conductor" runners (Node
// and Deno, test/support/clusterRunner.ts) share `archive_deleted_rows`, fixed every second, each
// run recorded in the table `runs`. The runner holding it is killed (SIGKILL) and started again,
// then one is stopped (SIGTERM); the runs must never overlap, never repeat within a period, and
// move within the bounds below. The runners' records go through the SQL registry meanwhile.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { ServiceRegistry } from "../mod.ts"
import * as SqlServiceRegistry from "../src/SqlServiceRegistry.ts"
import { bundledOnce, NodeContextLive, root } from "./support/nodeBundle.ts"
import type * as Postgres from "./support/postgres.ts"
import { detectRuntime } from "./support/runtime.ts"

const runtime = detectRuntime()
// workerd has no processes and no sockets.
const live = runtime === "workerd" ? it.scopedLive.skip : it.scopedLive

// Not static imports: workerd's bundle of this file must not pull in `pg` or node:net.
const postgresModule = "./support/postgres.ts"
const postgres = Effect.promise(() => import(postgresModule) as Promise<typeof Postgres>)
const netModule = "node:net"

/** A port the OS has just given out on 127.0.0.1. */
const freePort = Effect.promise(async () => {
  const net = await import(netModule) as {
    createServer: () => {
      listen: (port: number, host: string, done: () => void) => void
      address: () => { port: number }
      close: (done: () => void) => void
    }
  }
  return new Promise<number>((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
})

const fixture = `${root}/test/support/clusterRunner.ts`
const bundled = bundledOnce("test/support/clusterRunner.ts", "cluster-processes", "clusterRunner")

type Environment = CommandExecutor.CommandExecutor | FileSystem.FileSystem

interface Runner {
  readonly host: string
  readonly kill: Effect.Effect<void, PlatformError>
  readonly terminate: Effect.Effect<void, PlatformError>
}

/** Starts a runner under `which` runtime; waits for its READY line (a cold Deno compiles first). */
const startRunner = (
  which: "node" | "deno",
  url: string,
  host: string,
): Effect.Effect<Runner, PlatformError | Error, Environment | Scope.Scope> =>
  Effect.gen(function* () {
    const port = String(yield* freePort)
    const command = which === "node"
      ? Command.make("node", "--enable-source-maps", yield* bundled, url, host, port)
      : Command.make(
        `${root}/node_modules/.bin/deno`,
        "run",
        `--config=${root}/deno.json`,
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "--allow-net=127.0.0.1",
        fixture,
        url,
        host,
        port,
      )
    const process = yield* Command.start(command)
    yield* Effect.addFinalizer(() =>
      Effect.ignore(Effect.flatMap(
        process.isRunning,
        (running) => running ? process.kill("SIGKILL") : Effect.void,
      ))
    )
    const output = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
    const lines = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
      stream.pipe(Stream.decodeText(), Stream.splitLines)
    yield* Stream.merge(lines(process.stdout), lines(process.stderr)).pipe(
      Stream.runForEach((line) => SubscriptionRef.update(output, (all) => [...all, line])),
      Effect.forkScoped,
    )
    yield* output.changes.pipe(
      Stream.filter((all) => all.some((line) => line === "READY")),
      Stream.runHead,
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => "timeout",
      }),
      Effect.catchAll(() =>
        Effect.flatMap(SubscriptionRef.get(output), (all) =>
          Effect.fail(
            new Error(`${which} runner ${host}: no READY within 30 s; output:\n${all.join("\n")}`),
          ))
      ),
    )
    return {
      host,
      kill: process.kill("SIGKILL"),
      terminate: Effect.asVoid(process.kill("SIGTERM")),
    }
  })

interface Run {
  readonly runner: string
  readonly start: number
  readonly end: number | null
}

const runsSince = (sql: SqlClient.SqlClient, since: number) =>
  sql<Run>`SELECT runner, (extract(epoch from started_at) * 1000)::float8 AS start,
    (extract(epoch from ended_at) * 1000)::float8 AS "end"
    FROM runs WHERE started_at >= to_timestamp(${since}::float8 / 1000) ORDER BY started_at`.pipe(
    Effect.orDie,
  )

/** The first run by another runner than `host` started after `since`, waited for up to `limit`. */
const nextLeader = (
  sql: SqlClient.SqlClient,
  host: string,
  since: number,
  limit: Duration.DurationInput,
) =>
  runsSince(sql, since).pipe(
    Effect.map((runs) => Option.fromNullable(runs.find((run) => run.runner !== host))),
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail("none yet"),
      onSome: Effect.succeed,
    })),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({
      duration: limit,
      onTimeout: () =>
        new Error(
          `no runner took archive_deleted_rows over from ${host} within ${Duration.format(limit)}`,
        ),
    }),
    Effect.orDie,
  )

/**
 * The runner that has led the task for its last two runs, the latest started within a period and
 * a bit: once the cluster has settled after a runner joined. Waited for up to 20 s.
 */
const settledLeader = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const runs = yield* runsSince(sql, now - 3 * PERIOD)
    const [before, last] = runs.slice(-2)
    if (before === undefined || last === undefined) return yield* Effect.fail("no runs")
    if (before.runner !== last.runner || now - last.start > PERIOD + 200) {
      return yield* Effect.fail("moving")
    }
    return last.runner
  }).pipe(
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({
      duration: "20 seconds",
      onTimeout: () => new Error("the lead did not settle within 20 s"),
    }),
    Effect.orDie,
  )

/** Pairs of runs by different runners whose times overlap; a killed run lasts until its kill. */
const overlaps = (runs: ReadonlyArray<Run>, killedAt: ReadonlyMap<string, number>) => {
  const found: Array<string> = []
  for (let i = 1; i < runs.length; i++) {
    const before = runs[i - 1]!
    const after = runs[i]!
    const end = before.end ?? killedAt.get(before.runner) ?? Infinity
    if (end > after.start) {
      found.push(`${before.runner} until ${end} / ${after.runner} from ${after.start}`)
    }
  }
  return found
}

const PERIOD = 1_000
// The Node suite kills five times; the Deno and Bun suites once, to keep the run short.
const KILLS = runtime === "node" ? 5 : 1

describe("a leader task across processes (Node and Deno runners, PostgreSQL)", () => {
  live(
    `SIGKILL of the leader ${KILLS}×: no overlap, no repeat, takeover ≤ 7 s; SIGTERM hands over in ≤ 1 s`,
    () =>
      Effect.gen(function* () {
        const { url } = yield* Effect.flatMap(postgres, (module) => module.freshDatabase("leader"))
        const context = yield* Layer.build(
          SqlServiceRegistry.layer().pipe(
            Layer.provideMerge(Layer.unwrapEffect(Effect.map(postgres, (m) => m.pgLayer(url)))),
          ),
        )
        const sql = Context.get(context, SqlClient.SqlClient)
        const registry = Context.get(context, ServiceRegistry.ServiceRegistry)
        yield* sql`CREATE TABLE runs (id serial PRIMARY KEY, runner text NOT NULL,
          started_at timestamptz NOT NULL, ended_at timestamptz)`.pipe(Effect.orDie)
        const kinds = ["node", "deno", "node"] as const
        let incarnation = 0
        const start = (slot: number) =>
          startRunner(kinds[slot]!, url, `${kinds[slot]}-${slot}-${incarnation++}`)
        // Started together: the cluster's tables are created under its advisory lock.
        const runners = yield* Effect.all([0, 1, 2].map(start), { concurrency: "unbounded" })
        const began = yield* Clock.currentTimeMillis
        let leader = (yield* nextLeader(sql, "", began - 60_000, "20 seconds")).runner
        const killedAt = new Map<string, number>()
        const takeovers: Array<number> = []
        for (let kill = 0; kill < KILLS; kill++) {
          // A runner that joins may take the lead over (the cluster rebalances): kill the leader
          // once its last two runs are its own, the latest within a period.
          leader = yield* settledLeader(sql)
          const slot = runners.findIndex((runner) => runner.host === leader)
          const at = yield* Clock.currentTimeMillis
          yield* runners[slot]!.kill
          killedAt.set(leader, at)
          const next = yield* nextLeader(sql, leader, at, "15 seconds")
          // A fixed task is timed from the takeover: its first run comes one period after it.
          takeovers.push(next.start - PERIOD - at)
          runners[slot] = yield* start(slot)
          // The cluster rebalances when a runner joins (within an assignment refresh or two).
          yield* Effect.sleep("3 seconds")
        }
        // A graceful stop hands the lead over at once.
        leader = yield* settledLeader(sql)
        const stopping = runners.findIndex((runner) => runner.host === leader)
        const termAt = yield* Clock.currentTimeMillis
        yield* runners[stopping]!.terminate
        const afterTerm = yield* nextLeader(sql, leader, termAt, "10 seconds")
        const handover = afterTerm.start - PERIOD - termAt
        yield* Effect.sleep("1500 millis")

        const runs = yield* runsSince(sql, began - 60_000)
        expect(overlaps(runs, killedAt)).toEqual([])
        // At most one run per period: two starts closer than half a period would be a repeat.
        const repeats = runs.filter((run, i) =>
          i > 0 && run.start - runs[i - 1]!.start < PERIOD / 2
        )
        expect(repeats).toEqual([])
        expect(takeovers.length).toBe(KILLS)
        for (const takeover of takeovers) expect(takeover).toBeLessThanOrEqual(7_000)
        expect(handover).toBeLessThanOrEqual(1_000)
        // The runners' records, through the SQL registry: the ones running are up, the stopped one
        // is marked down, the killed ones age out.
        const now = yield* Clock.currentTimeMillis
        const records = yield* registry.list
        const up = records.filter((record) => ServiceRegistry.isUp(record, now, "3 seconds"))
          .map((record) => record.host).sort()
        const running = runners.filter((_, i) => i !== stopping).map((r) => r.host).sort()
        expect(up).toEqual(running)
        expect(records.find((record) => record.host === leader)?.forcedDown).toBe(true)
        yield* Effect.logInfo(
          `leader takeovers after SIGKILL: ${
            takeovers.join(", ")
          } ms; after SIGTERM: ${handover} ms`,
        )
      }).pipe(Effect.provide(NodeContextLive)),
    KILLS * 20_000 + 60_000,
  )
})
