import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as ServiceRegistry from "../ServiceRegistry.ts"
import {
  byTopicThenHost,
  recordKey,
  ServiceEndpoint,
  ServiceNotFound,
  ServiceRegistryError,
  tag,
  TypeId,
} from "./serviceRegistry.ts"

type ServiceRecord = ServiceRegistry.ServiceRecord

/** @internal */
export interface Options {
  readonly table?: string | undefined
}

/** @internal */
export const DEFAULT_TABLE = "services"

/**
 * A row as PostgreSQL hands it over with the columns `SELECT_COLUMNS` names: the count as text
 * (a `bigint` would lose digits as a number), the times as epoch milliseconds, the endpoint as
 * JSON text. Anything else (a `NULL`, a negative count, an endpoint of another shape, written by
 * hand) is a corrupt row.
 */
const Row = Schema.Struct({
  host: Schema.String,
  topic: Schema.String,
  report_count: Schema.compose(Schema.NumberFromString, Schema.NonNegativeInt),
  disabled: Schema.Boolean,
  forced_down: Schema.Boolean,
  created_at: Schema.Number,
  updated_at: Schema.Number,
  endpoint: Schema.NullOr(Schema.parseJson(ServiceEndpoint)),
})

const decodeRow = Schema.decodeUnknownEither(Row)

const TEXT_LIMIT = 200

/**
 * The row as a record, or none when it is corrupt: the row is logged as an error naming its key
 * and its values, and `register` (which the heartbeat calls on `ServiceNotFound`) overwrites it.
 */
const toRecord = (table: string, row: unknown): Effect.Effect<Option.Option<ServiceRecord>> =>
  Either.match(decodeRow(row), {
    onRight: ({ endpoint, ...r }): Effect.Effect<Option.Option<ServiceRecord>> =>
      Effect.succeed(Option.some({
        host: r.host,
        topic: r.topic,
        reportCount: r.report_count,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        disabled: r.disabled,
        forcedDown: r.forced_down,
        ...(endpoint === null ? {} : { endpoint }),
      })),
    onLeft: (error) => {
      const { host, topic } = row as { host?: unknown; topic?: unknown }
      const key = `${table}/${String(topic)}/${String(host)}`
      const text = JSON.stringify(row)
      return Effect.as(
        Effect.logError(
          `Service registry: the row ${
            JSON.stringify(key)
          } is corrupt and is treated as absent; row: ${
            text.length <= TEXT_LIMIT ? text : `${text.slice(0, TEXT_LIMIT)}…`
          }`,
        ).pipe(Effect.annotateLogs({ key, reason: error.message })),
        Option.none(),
      )
    },
  })

/** The first migration: nova's `services` table, keyed by topic and host. */
const createTable = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
      topic text NOT NULL,
      host text NOT NULL,
      report_count bigint NOT NULL DEFAULT 0,
      disabled boolean NOT NULL DEFAULT false,
      forced_down boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      endpoint jsonb,
      PRIMARY KEY (topic, host)
    )`.withoutTransform)

/**
 * Runs the migrations once per database, however many processes start at once: a transaction-
 * scoped advisory lock keys them, so the second waits for the first and then finds nothing to do
 * (without it, two `CREATE TABLE`s race and one fails on `pg_type`'s unique index). The migrator's
 * own table is created here, as the migrator would: its probe for the table is a failing query
 * when the table is missing, which would abort our transaction.
 */
const migrate = (sql: SqlClient.SqlClient, table: string) => {
  const migrations = `${table}_migrations`
  return sql.withTransaction(
    Effect.all([
      sql`SELECT pg_advisory_xact_lock(hashtext(${`effect-manager/${table}`}))`.withoutTransform,
      sql`CREATE TABLE IF NOT EXISTS ${sql(migrations)} (
        migration_id integer primary key,
        created_at timestamp with time zone not null default now(),
        name text not null
      )`.withoutTransform,
      Migrator.make({})({
        loader: Migrator.fromRecord({ "1_create_services": createTable(table) }),
        table: migrations,
      }),
    ], { discard: true }),
  ).pipe(
    Effect.provideService(SqlClient.SqlClient, sql),
    Effect.mapError((cause) =>
      new ServiceRegistryError({ operation: "migrate", key: table, cause })
    ),
  )
}

const millis = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`

/** @internal */
export const layer = (
  options: Options = {},
): Layer.Layer<ServiceRegistry.ServiceRegistry, ServiceRegistryError, SqlClient.SqlClient> =>
  Layer.effect(
    tag,
    Effect.gen(function* () {
      const table = options.table ?? DEFAULT_TABLE
      if (typeof table !== "string" || table.length === 0) {
        return yield* new ServiceRegistryError({
          operation: "migrate",
          key: String(table),
          cause: new Error(
            `the table name must be a non-empty string, got ${JSON.stringify(table)}`,
          ),
        })
      }
      const sql = yield* SqlClient.SqlClient
      yield* migrate(sql, table)
      return make(sql, table)
    }),
  )

const failed = (operation: "read" | "write" | "list", key: string) => (cause: SqlError) =>
  new ServiceRegistryError({ operation, key, cause })

/** The statements of the registry over `table`: each one statement, so atomic on its own. */
const statements = (sql: SqlClient.SqlClient, table: string) => {
  const t = sql(table)
  const columns = sql.literal(
    `host, topic, report_count::text AS report_count, disabled, forced_down, ${
      millis("created_at")
    } AS created_at, ${millis("updated_at")} AS updated_at, endpoint::text AS endpoint`,
  )
  const at = (now: number) => sql`to_timestamp(${now}::float8 / 1000)`
  const empty = sql.literal("")

  const first = (rows: ReadonlyArray<unknown>) =>
    rows.length === 0 ? Effect.succeed(Option.none<ServiceRecord>()) : toRecord(table, rows[0])

  const read = (host: string, topic: string, lock: boolean) =>
    sql`SELECT ${columns} FROM ${t} WHERE topic = ${topic} AND host = ${host}${
      sql.literal(lock ? " FOR UPDATE" : "")
    }`.withoutTransform.pipe(
      Effect.mapError(failed("read", recordKey(host, topic))),
      Effect.flatMap(first),
    )

  /**
   * One statement that changes one row and returns it: atomic, whoever else writes. A `relaxed`
   * one (a heartbeat) commits without waiting for the write-ahead log to reach the disk
   * (`synchronous_commit` off for its transaction alone): a database crash may lose the last
   * heartbeats, which the next ones make good, and the wait for the disk (milliseconds, and tens of
   * them on a busy disk) leaves the heartbeat.
   */
  const change = (
    host: string,
    topic: string,
    set: (now: number) => unknown,
    relaxed = false,
  ) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`UPDATE ${t} SET ${set(now)} ${
        relaxed
          ? sql`FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed`
          : empty
      } WHERE topic = ${topic} AND host = ${host} RETURNING ${columns}`.withoutTransform.pipe(
        Effect.mapError(failed("write", recordKey(host, topic))),
      )
      const found = yield* first(rows)
      if (Option.isNone(found)) return yield* new ServiceNotFound({ host, topic })
      return found.value
    })

  /** A fresh record, over whatever row (a corrupt one) is there. */
  const insertFresh = (host: string, topic: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`INSERT INTO ${t}
        (topic, host, report_count, disabled, forced_down, created_at, updated_at, endpoint)
        VALUES (${topic}, ${host}, 0, false, false, ${at(now)}, ${at(now)}, NULL)
        ON CONFLICT (topic, host) DO UPDATE SET report_count = 0, disabled = false,
          forced_down = false, created_at = EXCLUDED.created_at,
          updated_at = EXCLUDED.updated_at, endpoint = NULL
        RETURNING ${columns}`.withoutTransform.pipe(
        Effect.mapError(failed("write", recordKey(host, topic))),
      )
      return yield* Effect.flatMap(first(rows), (found) =>
        Option.isSome(found)
          ? Effect.succeed(found.value)
          : Effect.die(new Error(`the row of ${topic} on ${host} just written does not decode`)))
    })

  const list = sql`SELECT ${columns} FROM ${t}`.withoutTransform.pipe(
    Effect.mapError(failed("list", table)),
    Effect.flatMap((rows) => Effect.forEach(rows, (row) => toRecord(table, row))),
    Effect.map((records) => Arr.sort(Arr.getSomes(records), byTopicThenHost)),
  )

  return { at, read, change, insertFresh, list }
}

const make = (sql: SqlClient.SqlClient, table: string): ServiceRegistry.ServiceRegistry => {
  const { at, read, change, insertFresh, list } = statements(sql, table)

  const register = (host: string, topic: string) =>
    sql.withTransaction(Effect.gen(function* () {
      const found = yield* read(host, topic, true)
      if (Option.isNone(found)) return yield* insertFresh(host, topic)
      if (!found.value.forcedDown) return found.value
      // An existing record keeps its last heartbeat, as in the other registries.
      return yield* change(host, topic, () => sql`forced_down = false`)
    })).pipe(
      Effect.catchTag("SqlError", (cause) => failed("write", recordKey(host, topic))(cause)),
      Effect.catchTag("ServiceNotFound", () => insertFresh(host, topic)),
      Effect.annotateLogs({ host, topic }),
    )

  return {
    [TypeId]: TypeId,
    register,
    report: (host, topic) =>
      change(
        host,
        topic,
        (now) => sql`report_count = report_count + 1, updated_at = ${at(now)}`,
        true,
      ).pipe(Effect.annotateLogs({ host, topic })),
    markDown: (host, topic) => change(host, topic, () => sql`forced_down = true`),
    setDisabled: (host, topic, disabled) => change(host, topic, () => sql`disabled = ${disabled}`),
    setEndpoint: (host, topic, endpoint) =>
      change(
        host,
        topic,
        () =>
          sql`endpoint = ${
            endpoint === undefined
              ? null
              : JSON.stringify(Schema.encodeSync(ServiceEndpoint)(endpoint))
          }::jsonb`,
      ),
    get: (host, topic) => read(host, topic, false).pipe(Effect.annotateLogs({ host, topic })),
    list,
  }
}
