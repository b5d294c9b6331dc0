import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as ClusterApi from "../Cluster.ts"
import { decodeOptions, InvalidOption, Millis, Struct, withDefault } from "./options.ts"

/** @internal */
export const TypeId: ClusterApi.TypeId = Symbol.for("effect-manager/Cluster") as ClusterApi.TypeId

/**
 * The cluster in the context, if any. A runner reads it through `Effect.serviceOption`: a program
 * without a cluster needs neither the tag in its requirements nor `@effect/cluster` installed.
 *
 * @internal
 */
export const tag: Context.Tag<ClusterApi.Cluster, ClusterApi.Cluster> = Context.GenericTag<
  ClusterApi.Cluster
>("effect-manager/Cluster")

/** @internal */
export const make = (
  leader: ClusterApi.Cluster["leader"],
  cron: ClusterApi.Cluster["cron"],
): ClusterApi.Cluster => ({ [TypeId]: TypeId, leader, cron })

/** @internal The cluster the runner is in, if it is in one. */
export const current: Effect.Effect<Option.Option<ClusterApi.Cluster>> = Effect.serviceOption(tag)

const TimingOptions = Struct({
  lockRefresh: withDefault(Millis("> 0"), () => 1_000),
  lockExpiry: withDefault(Millis("> 0"), () => 3_000),
  assignmentRefresh: withDefault(Millis("> 0"), () => 500),
  messagePoll: withDefault(Millis("> 0"), () => 500),
})

/** @internal */
export const shardingConfig = (
  timing: ClusterApi.Timing = {},
): Effect.Effect<Partial<ShardingConfig.ShardingConfig["Type"]>, InvalidOption> =>
  Effect.flatMap(
    decodeOptions("Cluster", TimingOptions, timing),
    (knobs) =>
      knobs.lockRefresh >= knobs.lockExpiry
        ? Effect.fail(
          new InvalidOption({
            module: "Cluster",
            option: "lockRefresh",
            value: Duration.format(knobs.lockRefresh),
            reason: `must be shorter than lockExpiry (${
              Duration.format(knobs.lockExpiry)
            }): locks would lapse between refreshes`,
          }),
        )
        : Effect.succeed({
          shardLockRefreshInterval: Duration.millis(knobs.lockRefresh),
          shardLockExpiration: Duration.millis(knobs.lockExpiry),
          refreshAssignmentsInterval: Duration.millis(knobs.assignmentRefresh),
          entityMessagePollInterval: Duration.millis(knobs.messagePoll),
        }),
  )
