// A child process of test/clusterProcesses.test.ts and bench/cluster.ts: a "conductor" service on
// PostgreSQL (SqlServiceRegistry for its record, NodeCluster for its runner), run by the `runMain`
// of the runtime it runs on. Its manager has one leader task, `archive_deleted_rows`, fixed every
// `periodMillis` (default 1000), which records each run in the table `runs` (created by the test
// before any runner starts): runner, start and end by the database's clock (the end also when the
// run is interrupted), each run taking 100 ms.
//
//   clusterRunner.ts <databaseUrl> <host> <runnerPort> [periodMillis]
//
// It also has a cluster cron task, `purge_expired`, every 2 s (UTC): each run is a row of the table
// `cron_runs` (runner, start, end), created by the test too.
//
// Prints "READY" once the service runs, "RUN <id>" as each run starts, and every second
// "PEERS <hosts>": the other conductors up by their records in the SQL registry, as it reads them; SIGTERM stops it
// gracefully (the lead moves at once).
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Manager, PeriodicTask, Service, ServiceRegistry } from "../../mod.ts"
import * as DenoPlatform from "../../src/platform/deno.ts"
import * as NodeCluster from "../../src/platform/nodeCluster.ts"
import * as NodePlatform from "../../src/platform/node.ts"
import * as SqlServiceRegistry from "../../src/SqlServiceRegistry.ts"
import { detectRuntime } from "./runtime.ts"

const args = (globalThis as { Deno?: { args: Array<string> } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: Array<string> } }).process.argv.slice(2)
const [url = "", host = "", runnerPort = "0", periodMillis = "1000"] = args

class Archiver extends Context.Tag("Archiver")<Archiver, object>() {}

// The end is written however the run ends: an interrupted run (the lead moved) has ended before
// the lead is given up, which is what the test checks against the next leader's start. The insert
// is not interruptible, so that a row written always gets its end.
const archive = Effect.uninterruptibleMask((restore) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: number }>`INSERT INTO runs (runner, started_at)
      VALUES (${host}, clock_timestamp()) RETURNING id`
    yield* restore(Effect.zipRight(Console.log(`RUN ${row!.id}`), Effect.sleep("100 millis"))).pipe(
      Effect.ensuring(
        Effect.ignore(sql`UPDATE runs SET ended_at = clock_timestamp() WHERE id = ${row!.id}`),
      ),
    )
  })
).pipe(Effect.orDie)

/** One instant of the cluster cron task: a row, its end written however the run ends. */
const purge = Effect.uninterruptibleMask((restore) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: number }>`INSERT INTO cron_runs (runner, started_at)
      VALUES (${host}, clock_timestamp()) RETURNING id`
    yield* restore(Effect.sleep("100 millis")).pipe(
      Effect.ensuring(
        Effect.ignore(sql`UPDATE cron_runs SET ended_at = clock_timestamp() WHERE id = ${row!.id}`),
      ),
    )
  })
).pipe(Effect.orDie)

/** The other conductors up by their records, as this one reads them, printed every second. */
const peers = Effect.gen(function* () {
  const registry = yield* ServiceRegistry.ServiceRegistry
  const now = yield* Clock.currentTimeMillis
  const up = (yield* registry.list).filter((record) =>
    record.topic === "conductor" && record.host !== host &&
    ServiceRegistry.isUp(record, now, "3 seconds")
  )
  yield* Console.log(`PEERS ${up.map((record) => record.host).sort().join(",")}`)
}).pipe(Effect.orDie)

const ArchiverLive = Manager.layer(
  Archiver,
  Effect.map(
    Effect.context<SqlClient.SqlClient | ServiceRegistry.ServiceRegistry>(),
    (context) => ({
      service: {},
      tasks: [
        PeriodicTask.spaced("report_peers", "1 second", Effect.provide(peers, context)),
        PeriodicTask.fixed(
          "archive_deleted_rows",
          `${Number(periodMillis)} millis`,
          Effect.provide(archive, context),
          { cluster: "leader" },
        ),
        PeriodicTask.cron(
          "purge_expired",
          "*/2 * * * * *",
          Effect.provide(purge, context),
          { timeZone: "UTC", cluster: "cron" },
        ),
      ],
    }),
  ),
)

const Database = PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })

const ConductorService = Service.layer(
  {
    host,
    topic: "conductor",
    reportInterval: "1 second",
    reportInitialDelay: 0,
    shutdownTimeout: "2 seconds",
  },
  ArchiverLive,
).pipe(
  Layer.provideMerge(SqlServiceRegistry.layer()),
  Layer.provideMerge(NodeCluster.layer({ port: Number(runnerPort) })),
  Layer.provideMerge(Database),
)

const Main = Layer.effectDiscard(Console.log("READY")).pipe(Layer.provideMerge(ConductorService))

if (detectRuntime() === "deno") DenoPlatform.runMain(Main)
else NodePlatform.runMain(Main)
