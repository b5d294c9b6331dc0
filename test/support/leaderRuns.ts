// Leader-task runs across runner processes (test/support/clusterRunner.ts) on PostgreSQL: starting
// runners, finding the leader from the `runs` table, and checking the runs; shared by
// test/clusterProcesses.test.ts and bench/cluster.ts.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { bundledOnce, root, startCollecting } from "./nodeBundle.ts"

/** The leader task's period in the runners. */
export const PERIOD = 1_000

const netModule = "node:net"

/** A port the OS has just given out on 127.0.0.1. */
export const freePort = Effect.promise(async () => {
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

export type Environment = CommandExecutor.CommandExecutor | FileSystem.FileSystem

export interface Runner {
  readonly host: string
  /** Every line it has printed so far. */
  readonly lines: Effect.Effect<ReadonlyArray<string>>
  readonly kill: Effect.Effect<void, PlatformError>
  readonly terminate: Effect.Effect<void, PlatformError>
}

/** Starts a runner under `which` runtime; waits for its READY line (a cold Deno compiles first). */
export const startRunner = (
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
    const { process, output } = yield* startCollecting(command)
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
      lines: SubscriptionRef.get(output),
      kill: process.kill("SIGKILL"),
      terminate: Effect.asVoid(process.kill("SIGTERM")),
    }
  })

export interface Run {
  readonly runner: string
  readonly start: number
  readonly end: number | null
}

export const runsSince = (sql: SqlClient.SqlClient, since: number) =>
  sql<Run>`SELECT runner, (extract(epoch from started_at) * 1000)::float8 AS start,
    (extract(epoch from ended_at) * 1000)::float8 AS "end"
    FROM runs WHERE started_at >= to_timestamp(${since}::float8 / 1000) ORDER BY started_at`.pipe(
    Effect.orDie,
  )

/** The first run by another runner than `host` started after `since`, waited for up to `limit`. */
export const nextLeader = (
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
export const settledLeader = (sql: SqlClient.SqlClient) =>
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
export const overlaps = (runs: ReadonlyArray<Run>, killedAt: ReadonlyMap<string, number>) => {
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
