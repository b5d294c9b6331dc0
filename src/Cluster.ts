/**
 * Tasks that run once across a cluster, on `@effect/cluster`: with a `Cluster` in its context, a
 * runner (and so a `Service`) hands each task marked `"leader"` (`PeriodicTask.withCluster`) to the
 * cluster, which runs it in exactly one runner at a time. Without one, such a task runs locally:
 * one process is a cluster of one, and the same code scales out by adding the layer.
 *
 * @since 0.1.0
 */
import * as ClusterCron from "@effect/cluster/ClusterCron"
import * as Sharding from "@effect/cluster/Sharding"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import type * as Context from "effect/Context"
import type * as Cron from "effect/Cron"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/cluster.ts"
import type { InvalidOption } from "./internal/options.ts"

/**
 * The unique identifier of a cluster value.
 * @example
 * ```ts
 * import * as Cluster from "effect-manager/Cluster"
 * const id: Cluster.TypeId = Cluster.TypeId
 * ```
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * The unique identifier of a cluster value.
 * @example
 * ```ts
 * import * as Cluster from "effect-manager/Cluster"
 * console.log(typeof Cluster.TypeId) // "symbol"
 * ```
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * What a runner needs of a cluster: to run a task's loop in exactly one of its runners.
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Cluster from "effect-manager/Cluster"
 * const lead = Effect.flatMap(Cluster.Cluster, (cluster) =>
 *   cluster.leader("archive_deleted_rows", Effect.never)
 * )
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Cluster {
  /** Marks the value as a cluster. */
  readonly [TypeId]: TypeId
  /**
   * Runs `run` in one runner of the cluster at a time, from now until the scope closes: started
   * where the cluster places it, interrupted there when it moves, started again elsewhere.
   */
  readonly leader: (
    name: string,
    run: Effect.Effect<void>,
  ) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Runs `run` once for each instant of `cron` across the cluster, from now until the scope
   * closes, in the runner the cluster hands the instant to; again after a crash mid-run.
   */
  readonly cron: (
    name: string,
    cron: Cron.Cron,
    run: Effect.Effect<void>,
  ) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * The cluster in the context. Runners look for it (it is never required of them).
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Cluster from "effect-manager/Cluster"
 * const inCluster = Effect.map(Effect.serviceOption(Cluster.Cluster), (found) => found._tag === "Some")
 * ```
 * @since 0.1.0
 * @category tags
 */
export const Cluster: Context.Tag<Cluster, Cluster> = internal.tag

/**
 * The cluster of `@effect/cluster`'s `Sharding` in the context: a leader task is a
 * `Singleton` named after it, a cluster cron task a `ClusterCron` (which needs the cluster's
 * message storage: `SqlMessageStorage`, as `platform/nodeCluster` has). Any sharding works (`NodeClusterSocket.layer`, `HttpRunner`, a
 * test's `Sharding`); `effect-manager/platform/nodeCluster` puts one together on PostgreSQL.
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import * as Cluster from "effect-manager/Cluster"
 * import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
 * const sharding = Layer.unwrapEffect(
 *   Effect.map(Cluster.shardingConfig(), (shardingConfig) =>
 *     NodeClusterSocket.layer({ storage: "sql", shardingConfig }))
 * )
 * const cluster = Cluster.layer.pipe(Layer.provideMerge(sharding))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Cluster, never, Sharding.Sharding> = Layer.effect(
  internal.tag,
  Effect.map(Sharding.Sharding, (sharding) =>
    internal.make(
      (name, run) => sharding.registerSingleton(name, run),
      (name, cron, run) =>
        Effect.flatMap(Effect.scope, (scope) =>
          Effect.asVoid(Layer.buildWithScope(
            ClusterCron.make({ name, cron, execute: run }).pipe(
              Layer.provide(Layer.succeed(Sharding.Sharding, sharding)),
            ),
            scope,
          ))),
    )),
)

/**
 * The timing knobs of a cluster, as they trade speed against false alarms. Defaults are chosen for
 * a takeover of a few seconds after a runner dies (measured here: 2–4 s; `@effect/cluster`'s own
 * defaults take about 28 s):
 * - `lockRefresh` (default 1 s): how often a runner renews its shard locks. Shorter is more
 *   database load.
 * - `lockExpiry` (default 3 s): how long a dead runner's locks hold. Takeover after a crash takes
 *   about this long; shorter risks a false takeover when a runner stalls longer than this (a
 *   long GC pause, a slow database).
 * - `assignmentRefresh` (default 500 ms): how often runners read the shard assignments; up to this
 *   much is added to a takeover.
 * - `messagePoll` (default 500 ms): how often stored messages are polled (what a cluster cron's
 *   delivery waits for).
 * @example
 * ```ts
 * import type * as Cluster from "effect-manager/Cluster"
 * const patient: Cluster.Timing = { lockExpiry: "10 seconds", lockRefresh: "3 seconds" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Timing {
  readonly lockRefresh?: Duration.DurationInput | undefined
  readonly lockExpiry?: Duration.DurationInput | undefined
  readonly assignmentRefresh?: Duration.DurationInput | undefined
  readonly messagePoll?: Duration.DurationInput | undefined
}

/**
 * `@effect/cluster`'s sharding settings for {@link Timing} (defaults filled in), to give to
 * `NodeClusterSocket.layer`'s `shardingConfig` or `ShardingConfig.layer`, with your own fields
 * (a runner's address, say) spread in. A knob that is not a finite duration > 0, or a lock refresh
 * not shorter than the lock expiry (a runner's locks would lapse between refreshes), fails with
 * `InvalidOption` naming it.
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Cluster from "effect-manager/Cluster"
 * const config = Effect.runSync(Cluster.shardingConfig({ lockExpiry: "5 seconds" }))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const shardingConfig: (
  timing?: Timing,
) => Effect.Effect<Partial<ShardingConfig.ShardingConfig["Type"]>, InvalidOption> =
  internal.shardingConfig
