// The service registry on PostgreSQL (the suite's throw-away server, a database per test).
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import { Manager, Service, ServiceRegistry } from "../mod.ts"
import * as SqlServiceRegistry from "../src/SqlServiceRegistry.ts"
import { captureLogs } from "./support/periodic.ts"
import type * as Postgres from "./support/postgres.ts"
import { detectRuntime } from "./support/runtime.ts"

// workerd has no sockets to reach a database with.
const pg = detectRuntime() === "workerd" ? it.scoped.skip : it.scoped
const pgLive = detectRuntime() === "workerd" ? it.scopedLive.skip : it.scopedLive

// Not a static import: workerd's bundle of this file must not pull in the `pg` driver.
const postgresModule = "./support/postgres.ts"
const postgres = Effect.promise(() => import(postgresModule) as Promise<typeof Postgres>)
const freshDatabase = (label: string) =>
  Effect.flatMap(postgres, (module) => module.freshDatabase(label))
const pgLayer = (url: string) =>
  Layer.unwrapEffect(Effect.map(postgres, (module) => module.pgLayer(url)))

// A server of its own for the outage test, stopped and started again (the suite's is shared).
// Typed here: Deno would type-check the script's Node imports.
interface ServerModule {
  readonly startPostgres: (options: { readonly signalHooks: boolean }) => Promise<{
    readonly url: string
    readonly stop: () => Promise<void>
    readonly pause: () => Promise<void>
    readonly restart: () => Promise<void>
  }>
}
const serverModule = "../scripts/postgres.mjs"
const ownServer = Effect.acquireRelease(
  Effect.promise(() => import(serverModule) as Promise<ServerModule>).pipe(
    Effect.flatMap((module) => Effect.promise(() => module.startPostgres({ signalHooks: false }))),
  ),
  (server) => Effect.promise(() => server.stop()),
)

const T0 = 1_764_800_000_123

class Conductor extends Context.Tag("Conductor")<Conductor, object>() {}

/** Polls `read` every 50 ms until `done` holds of it; dies naming `what` past `limit`. */
const waitUntil = <A>(
  what: string,
  read: Effect.Effect<A>,
  done: (a: A) => boolean,
  limit: Duration.DurationInput,
) =>
  Effect.flatMap(read, (a) => done(a) ? Effect.succeed(a) : Effect.fail("not yet")).pipe(
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({
      duration: limit,
      onTimeout: () => new Error(`${what} did not happen within ${Duration.format(limit)}`),
    }),
    Effect.orDie,
  )

/** A registry (and its client) on a fresh database, at `T0` on the TestClock. */
const registryOn = (url: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      SqlServiceRegistry.layer().pipe(Layer.provideMerge(Layer.fresh(pgLayer(url)))),
    )
    return {
      registry: Context.get(context, ServiceRegistry.ServiceRegistry),
      sql: Context.get(context, SqlClient.SqlClient),
    }
  })

describe("SqlServiceRegistry", () => {
  pg(
    "keeps nova's records: register, heartbeats, down, disabled, endpoint, list",
    () =>
      Effect.gen(function* () {
        const { url } = yield* freshDatabase("records")
        yield* TestClock.setTime(T0)
        const { registry } = yield* registryOn(url)
        const created = yield* registry.register("node-1", "compute")
        expect(created).toEqual({
          host: "node-1",
          topic: "compute",
          reportCount: 0,
          createdAt: T0,
          updatedAt: T0,
          disabled: false,
          forcedDown: false,
        })
        yield* TestClock.adjust("10 seconds")
        expect((yield* registry.report("node-1", "compute")).reportCount).toBe(1)
        const second = yield* registry.report("node-1", "compute")
        expect([second.reportCount, second.createdAt, second.updatedAt]).toEqual([
          2,
          T0,
          T0 + 10_000,
        ])
        const endpoint = {
          address: "ws://127.0.0.1:4000/rpc",
          apis: [{ version: "6.1" }, { namespace: "baseapi", version: "1.2" }],
        }
        expect((yield* registry.setEndpoint("node-1", "compute", endpoint)).endpoint).toEqual(
          endpoint,
        )
        expect((yield* registry.setDisabled("node-1", "compute", true)).disabled).toBe(true)
        expect((yield* registry.markDown("node-1", "compute")).forcedDown).toBe(true)
        // A registration after a stop clears forcedDown and keeps the rest.
        const again = yield* registry.register("node-1", "compute")
        expect(again).toEqual({
          host: "node-1",
          topic: "compute",
          reportCount: 2,
          createdAt: T0,
          updatedAt: T0 + 10_000,
          disabled: true,
          forcedDown: false,
          endpoint,
        })
        expect((yield* registry.setEndpoint("node-1", "compute", undefined)).endpoint)
          .toBeUndefined()
        yield* registry.register("node-0", "compute")
        yield* registry.register("__proto__", "conductor")
        expect((yield* registry.list).map((r) => `${r.topic}/${r.host}`)).toEqual([
          "compute/node-0",
          "compute/node-1",
          "conductor/__proto__",
        ])
        expect(yield* registry.get("node-9", "compute")).toEqual(Option.none())
        const missing = yield* Effect.flip(registry.report("node-9", "compute"))
        expect([missing._tag, missing.message]).toEqual([
          "ServiceNotFound",
          `No service record for topic "compute" on host "node-9"`,
        ])
      }),
  )

  pgLive(
    "a heartbeat is one atomic update: two processes' clients, 2 × 50 reports, count 100",
    () =>
      Effect.gen(function* () {
        const { url } = yield* freshDatabase("atomic")
        const a = yield* registryOn(url)
        const b = yield* registryOn(url)
        yield* a.registry.register("node-1", "compute")
        yield* Effect.all(
          [a, b].map(({ registry }) => Effect.repeatN(registry.report("node-1", "compute"), 49)),
          { concurrency: "unbounded" },
        )
        const record = yield* a.registry.get("node-1", "compute")
        expect(Option.map(record, (r) => r.reportCount)).toEqual(Option.some(100))
      }),
  )

  pgLive(
    "eight layers started at once on an empty database: one table, one migration",
    () =>
      Effect.gen(function* () {
        const { url } = yield* freshDatabase("concurrent")
        const started = yield* Effect.all(
          Array.from({ length: 8 }, () => registryOn(url)),
          { concurrency: "unbounded" },
        )
        yield* Effect.forEach(
          started,
          ({ registry }, i) => registry.register(`node-${i}`, "compute"),
        )
        expect((yield* started[0]!.registry.list).length).toBe(8)
        const migrations = yield* started[0]!.sql<{ migration_id: number; name: string }>`
        SELECT migration_id, name FROM services_migrations`
        expect(migrations).toEqual([{ migration_id: 1, name: "create_services" }])
      }),
  )

  pg(
    "a corrupt row is logged with its key and values, read as absent, and registered over",
    () =>
      Effect.gen(function* () {
        const lines = yield* captureLogs
        const { url } = yield* freshDatabase("corrupt")
        yield* TestClock.setTime(T0)
        const { registry, sql } = yield* registryOn(url)
        yield* registry.register("node-1", "compute")
        yield* registry.register("node-2", "compute")
        yield* sql`UPDATE services SET report_count = -5 WHERE host = 'node-1'`
        yield* sql`UPDATE services SET endpoint = '{"address": 42}' WHERE host = 'node-2'`
        expect(yield* registry.get("node-1", "compute")).toEqual(Option.none())
        expect(yield* registry.list).toEqual([])
        // A heartbeat finds no record (and registers again, as Service does).
        expect((yield* Effect.flip(registry.report("node-1", "compute")))._tag).toBe(
          "ServiceNotFound",
        )
        yield* TestClock.adjust("1 second")
        const fresh = yield* registry.register("node-1", "compute")
        expect([fresh.reportCount, fresh.createdAt]).toEqual([0, T0 + 1_000])
        expect((yield* registry.list).map((r) => r.host)).toEqual(["node-1"])
        const errors = lines.filter((line) => line.level === "ERROR").map((line) => line.message)
        expect(errors.length).toBeGreaterThanOrEqual(4)
        expect(errors[0]).toMatch(
          /^Service registry: the row "services\/compute\/node-1" is corrupt and is treated as absent; row: \{"host":"node-1","topic":"compute","report_count":"-5",/,
        )
        expect(
          errors.some((line) =>
            line.startsWith(`Service registry: the row "services/compute/node-2"`)
          ),
        )
          .toBe(true)
      }),
  )

  pg(
    "a table name that is not a non-empty string is a typed error at the layer",
    () =>
      Effect.gen(function* () {
        const { url } = yield* freshDatabase("badname")
        const error: ServiceRegistry.ServiceRegistryError = yield* Effect.flip(
          Layer.build(
            SqlServiceRegistry.layer({ table: "" }).pipe(Layer.provide(Layer.fresh(pgLayer(url)))),
          ),
        )
        expect([error._tag, error.operation, error.message]).toEqual([
          "ServiceRegistryError",
          "migrate",
          `Service registry could not migrate "": the table name must be a non-empty string, got ""`,
        ])
      }),
  )

  pgLive(
    "the database stopped for 10 s and started again: disconnected, then connected, the count right",
    () =>
      Effect.gen(function* () {
        const server = yield* ownServer
        const url = server.url
        const lines = yield* captureLogs
        const context = yield* Layer.build(
          Service.layer(
            {
              host: "conductor-1",
              topic: "conductor",
              reportInterval: "200 millis",
              reportTimeout: "1 second",
              reportInitialDelay: 0,
            },
            Manager.layer(Conductor, Effect.succeed({ service: {} })),
          ).pipe(
            Layer.provideMerge(SqlServiceRegistry.layer()),
            Layer.provideMerge(Layer.fresh(pgLayer(url))),
          ),
        )
        const service = Context.get(context, Service.Service)
        const registry = Context.get(context, ServiceRegistry.ServiceRegistry)
        const heartbeat = Effect.map(service.status, (status) => status.heartbeat)
        yield* waitUntil("three reports", heartbeat, (h) => h.reportCount >= 3, "5 seconds")
        yield* Effect.promise(() => server.pause())
        const cut = yield* waitUntil("disconnected", heartbeat, (h) => !h.connected, "5 seconds")
        yield* Effect.sleep("10 seconds")
        const during = yield* heartbeat
        expect([during.connected, during.reportCount]).toEqual([false, cut.reportCount])
        yield* Effect.promise(() => server.restart())
        const back = yield* waitUntil("connected", heartbeat, (h) => h.connected, "10 seconds")
        // The count went on from the stored one: every report that went through, none twice.
        expect(back.reportCount).toBe(cut.reportCount + 1)
        const stored = yield* registry.get("conductor-1", "conductor")
        expect(Option.map(stored, (r) => r.reportCount >= back.reportCount)).toEqual(
          Option.some(true),
        )
        const warnings = lines.filter((line) => line.level === "WARN").map((line) => line.message)
        expect(warnings.filter((m) => m === "Unable to report the service's status")).toEqual([
          "Unable to report the service's status",
        ])
        expect(
          lines.filter((line) => line.message === "Recovered from being unable to report status.")
            .length,
        ).toBe(1)
      }),
    40_000,
  )
})
