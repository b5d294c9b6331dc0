/**
 * The service registry in PostgreSQL, through `@effect/sql`: the registry for services on more
 * than one machine, as nova keeps its `services` table in the database every host shares.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/sqlServiceRegistry.ts"
import type { ServiceRegistry, ServiceRegistryError } from "./ServiceRegistry.ts"

/**
 * Options of {@link layer}.
 * @example
 * ```ts
 * import type * as SqlServiceRegistry from "effect-manager/SqlServiceRegistry"
 * const options: SqlServiceRegistry.Options = { table: "nova_services" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The table of the records (default `"services"`, nova's); its migrations are kept in
   * `<table>_migrations`.
   */
  readonly table?: string | undefined
}

/**
 * The `ServiceRegistry` over a PostgreSQL database (provide an `SqlClient`, e.g.
 * `@effect/sql-pg`'s `PgClient.layer`). The layer creates its table through `@effect/sql`'s
 * migrator, under an advisory lock: any number of processes may start at once on an empty
 * database. Columns: `topic`, `host` (the key), `report_count`, `disabled`, `forced_down`,
 * `created_at`, `updated_at` (`timestamptz`, written from the `Clock`), `endpoint` (`jsonb`).
 *
 * Every call is one statement or one transaction, so several processes share the table safely:
 * a heartbeat is one `UPDATE … SET report_count = report_count + 1`. A row that does not decode (a
 * negative count, a `NULL`, an endpoint of another shape, written by hand) is logged as an error
 * naming its key and values and treated as absent: `register` overwrites it, and a service's
 * heartbeat registers again when its report finds no record. A database that is away fails each
 * call with `ServiceRegistryError`; the service's status shows its registry disconnected until a
 * heartbeat goes through again.
 * @example
 * ```ts
 * import * as PgClient from "@effect/sql-pg/PgClient"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 * import * as SqlServiceRegistry from "effect-manager/SqlServiceRegistry"
 * const registry = SqlServiceRegistry.layer().pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://nova@db.example:5432/nova") }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options?: Options,
) => Layer.Layer<ServiceRegistry, ServiceRegistryError, SqlClient.SqlClient> = internal.layer
