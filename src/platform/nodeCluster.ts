/**
 * A cluster of runners on PostgreSQL for Node (and Deno, which runs the same `node:net` code):
 * `@effect/platform-node`'s `NodeClusterSocket` (a TCP runner server, health pings, msgpack) with
 * its runner and message storage in the database of the `SqlClient` given, timed by
 * `Cluster.Timing`, and the `Cluster` that runs leader tasks on it.
 *
 * @since 0.1.0
 */
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type * as RunnerStorage from "@effect/cluster/RunnerStorage"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import type { SocketServerError } from "@effect/platform/SocketServer"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { ConfigError } from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Cluster from "../Cluster.ts"
import {
  decodeOptions,
  filter,
  type InvalidOption,
  NonEmptyString,
  optional,
  PositiveInteger,
  Struct,
  withDefault,
} from "../internal/options.ts"

/**
 * Options of {@link layer}.
 * @example
 * ```ts
 * import type * as NodeCluster from "effect-manager/platform/nodeCluster"
 * const options: NodeCluster.Options = { port: 34431, lockExpiry: "5 seconds" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options extends Cluster.Timing {
  /** The address other runners reach this one at (default `"127.0.0.1"`). */
  readonly host?: string | undefined
  /** The runner's port: an integer from 1 to 65535, free on this machine. */
  readonly port: number
  /** The address the runner listens on, if not `host` (e.g. `"0.0.0.0"`). */
  readonly listenHost?: string | undefined
}

/**
 * The runner's `Sharding` and `Cluster`, with everything the cluster keeps in the database of the
 * `SqlClient` (provide `@effect/sql-pg`'s `PgClient.layer`). Runners that start at once on an
 * empty database create the tables one after the other (under an advisory lock): without it one
 * of them fails on PostgreSQL's `pg_type` unique index. Bad options fail with `InvalidOption`
 * before anything starts. Every setting comes from the options, none from the environment (a
 * stray `PORT` does not move the runner).
 * @example
 * ```ts
 * import * as PgClient from "@effect/sql-pg/PgClient"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 * import * as NodeCluster from "effect-manager/platform/nodeCluster"
 * const cluster = NodeCluster.layer({ port: 34431 }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://nova@db.example:5432/nova") }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: Options,
) => Layer.Layer<
  Cluster.Cluster | Sharding.Sharding,
  InvalidOption | SqlError | SocketServerError | ConfigError,
  SqlClient.SqlClient
> = (options) =>
  Layer.unwrapEffect(Effect.gen(function* () {
    const { host, port, listenHost } = yield* decodeOptions("NodeCluster", AddressOptions, options)
    const timing = yield* Cluster.shardingConfig(options)
    const shardingConfig = {
      ...timing,
      runnerAddress: Option.some(RunnerAddress.make(host, port)),
      runnerListenAddress: Option.some(RunnerAddress.make(listenHost ?? host, port)),
    }
    return Cluster.layer.pipe(
      Layer.provideMerge(NodeClusterSocket.layer({ storage: "byo", shardingConfig })),
      Layer.provide(layerStorage),
      Layer.provide(ShardingConfig.layer(shardingConfig)),
    )
  }))

const AddressOptions = Struct({
  host: withDefault(NonEmptyString, () => "127.0.0.1"),
  port: filter(PositiveInteger, (n) => n <= 65_535 || "must be at most 65535"),
  listenHost: optional(NonEmptyString),
})

/**
 * The cluster's storage alone (runner storage and message storage in SQL), its tables created
 * under the advisory lock; for a runner stack other than {@link layer}'s.
 * @example
 * ```ts
 * import * as NodeCluster from "effect-manager/platform/nodeCluster"
 * const storage = NodeCluster.layerStorage
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layerStorage: Layer.Layer<
  MessageStorage.MessageStorage | RunnerStorage.RunnerStorage,
  SqlError,
  SqlClient.SqlClient | ShardingConfig.ShardingConfig
> = Layer.unwrapScoped(Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const scope = yield* Effect.scope
  // A session lock on a connection of its own, held while the storage layers create their tables
  // (with other connections of the pool); released before the connection goes back.
  const context = yield* Effect.scoped(Effect.gen(function* () {
    const connection = yield* sql.reserve
    yield* connection.executeRaw(`SELECT pg_advisory_lock(hashtext($1))`, [STORAGE_LOCK])
    return yield* Layer.buildWithScope(
      Layer.merge(SqlRunnerStorage.layer, SqlMessageStorage.layer),
      scope,
    ).pipe(
      Effect.ensuring(
        Effect.ignore(
          connection.executeRaw(`SELECT pg_advisory_unlock(hashtext($1))`, [STORAGE_LOCK]),
        ),
      ),
    )
  }))
  return Layer.succeedContext(context)
}))

/** The advisory lock's key, shared by every runner of every version of this library. */
const STORAGE_LOCK = "effect-manager/cluster-storage"
