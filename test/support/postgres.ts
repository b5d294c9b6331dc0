// PostgreSQL for the tests: the suite's throw-away server (started by vitest's global set-up, or by
// scripts/test-deno.mjs and scripts/test-bun.mjs) is handed over by URL; each test makes its own
// database in it, dropped at the end, so that test files running side by side never meet.
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

const TEST_DATABASE_URL = "EFFECT_MANAGER_TEST_DATABASE_URL"

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env

/** The suite's server; a missing one is a loud failure, never a skip. */
export const serverUrl = (): string => {
  const url = env?.[TEST_DATABASE_URL]
  if (url === undefined || url === "") {
    throw new Error(
      `No PostgreSQL test server: ${TEST_DATABASE_URL} is not set. The test scripts start one ` +
        "(npm test; vitest's global set-up, scripts/test-deno.mjs, scripts/test-bun.mjs).",
    )
  }
  return url
}

/** A client of `url`: one connection is enough for a test and keeps the server's count low. */
export const pgLayer = (
  url: string,
  maxConnections = 4,
): Layer.Layer<SqlClient.SqlClient> =>
  PgClient.layer({ url: Redacted.make(url), maxConnections, connectTimeout: "5 seconds" }).pipe(
    Layer.orDie,
  )

const admin = <A, E>(
  effect: Effect.Effect<A, E, SqlClient.SqlClient>,
): Effect.Effect<A, unknown> =>
  Effect.scoped(Effect.provide(effect, Layer.fresh(pgLayer(serverUrl(), 1))))

/** The URL of `url` with another database. */
export const withDatabase = (url: string, database: string): string =>
  url.replace(/\/[^/?]*(\?.*)?$/, (_, query: string | undefined) => `/${database}${query ?? ""}`)

let counter = 0

/**
 * A new empty database in the suite's server for this scope, dropped (connections and all) when
 * the scope closes. The name holds the time and a counter, so test runs never share one.
 */
export const freshDatabase = (
  label: string,
): Effect.Effect<{ readonly url: string; readonly name: string }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const name = `t_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase().slice(0, 30)}_${
        Math.random().toString(36).slice(2, 10)
      }_${counter++}`
      return admin(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE "${name}"`)),
      ).pipe(
        Effect.as({ name, url: withDatabase(serverUrl(), name) }),
        Effect.orDie,
      )
    }),
    ({ name }) =>
      admin(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
      ).pipe(Effect.ignoreLogged),
  )
