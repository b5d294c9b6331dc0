// The compute API of test/support/remoteServer.ts, shared by that fixture (the server) and
// test/remoteProcesses.test.ts (the client). Pure data: no platform module, so workerd can
// bundle the test that imports it.
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Schema from "effect/Schema"
import * as Remote from "../../src/Remote.ts"

/** The topic the fixture serves. */
export const TOPIC = "compute"

/** What `resize` fails with for an instance that was never built. */
export class InstanceNotFound extends Schema.TaggedError<InstanceNotFound>()("InstanceNotFound", {
  id: Schema.String,
}) {}

const methods = [
  /** Builds an instance: how many the server has built so far. */
  Rpc.make("build", { payload: { id: Schema.String }, success: Schema.Number }),
  /** Resizes a built instance: its new size; `InstanceNotFound` for another. */
  Rpc.make("resize", {
    payload: { id: Schema.String, ramMb: Schema.Number },
    success: Schema.Number,
    error: InstanceNotFound,
  }),
  /** Sleeps `millis` with the real clock: "slept <millis>". */
  Rpc.make("slow", { payload: { millis: Schema.Number }, success: Schema.String }),
  /** `count` numbers from 1, one every 20 ms. */
  Rpc.make("watch", { payload: { count: Schema.Number }, success: Schema.Number, stream: true }),
  /** The runtime the server runs on: "node", "deno" or "bun". */
  Rpc.make("runtime", { success: Schema.String }),
] as const

/** The fixture's API, as nova's compute API: 6.0. */
export const ComputeApi = Remote.api(RpcGroup.make(...methods), { since: "6.0" })

/** What a newer client knows: one method more than the fixture serves. */
export const NewerComputeApi = Remote.api(
  RpcGroup.make(...methods, Rpc.make("evacuate", { success: Schema.String })),
  { since: "6.0" },
)
