/**
 * A scheduler served over RPC: nova's `select_destinations`, as a versioned method whose request
 * schema is the user's and whose refusal is the scheduler's own `NoValidHost` (how many hosts
 * there were, how many each filter removed).
 *
 * @internal
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as SchedulerApi from "../../Scheduler.ts"
import { NoValidHost } from "../scheduler.ts"
import { api, endpoint, type Guard } from "./api.ts"
import type { Endpoint } from "./endpoint.ts"
import type { InvalidRemoteOption } from "./errors.ts"

/** @internal The host a `select` chose: its name, and the service and manager that reported it. */
export const Placement: Schema.Struct<{
  host: typeof Schema.String
  service: typeof Schema.String
  manager: typeof Schema.String
}> = Schema.Struct({ host: Schema.String, service: Schema.String, manager: Schema.String })

/** @internal */
export type Placement = Schema.Schema.Type<typeof Placement>

/** @internal The method of a scheduler API for requests of schema `Request`. */
export type SelectRpc<Request extends Schema.Schema.Any> = Rpc.Rpc<
  "select",
  Request,
  typeof Placement,
  typeof NoValidHost,
  typeof Guard
>

/** @internal The options of `schedulerApi`. */
export interface SchedulerApiOptions {
  /** The API's namespace; "scheduler" by default. */
  readonly namespace?: string | undefined
  /** The version `select` appeared in; "1.0" by default. */
  readonly since?: string | undefined
}

/**
 * @internal A scheduler's remote API for requests of schema `request`: `select` answers the
 * chosen host, or fails with `NoValidHost`.
 */
export const schedulerApi = <Request extends Schema.Schema.Any>(
  request: Request,
  options?: SchedulerApiOptions,
): RpcGroup.RpcGroup<SelectRpc<Request>> =>
  api(
    RpcGroup.make(
      Rpc.make("select", { payload: request, success: Placement, error: NoValidHost }),
    ),
    { namespace: options?.namespace ?? "scheduler", since: options?.since ?? "1.0" },
  ) as unknown as RpcGroup.RpcGroup<SelectRpc<Request>>

/**
 * @internal The endpoint that serves `group` with `scheduler`: `select` runs the scheduler's
 * filters and weighers on the decoded request. A weigher that breaks its contract
 * (`InvalidWeigher`) is the server's bug: the call dies (its caller sees a masked defect).
 */
export const schedulerEndpoint = <A, Request extends Schema.Schema.Any>(
  group: RpcGroup.RpcGroup<SelectRpc<Request>>,
  scheduler: SchedulerApi.Scheduler<A>,
  options: SchedulerApi.SelectOptions<A, Schema.Schema.Type<Request>>,
): Effect.Effect<Endpoint, InvalidRemoteOption> =>
  // The group is generic in its request schema, which `@effect/rpc`'s handler types cannot
  // follow: the signature above ties the scheduler's request type to the schema instead.
  endpoint(group as unknown as RpcGroup.RpcGroup<SelectRpc<Schema.Schema<unknown>>>, {
    select: (request: unknown) =>
      scheduler.select(request as Schema.Schema.Type<Request>, options).pipe(
        Effect.map(({ host, manager, service }) => ({ host, service, manager })),
        Effect.catchTag("InvalidWeigher", (error) => Effect.die(error)),
      ),
  } as never) as Effect.Effect<Endpoint, InvalidRemoteOption>
