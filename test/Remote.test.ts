import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Manager, Remote, Service, ServiceRegistry } from "../mod.ts"

class InstanceNotFound extends Schema.TaggedError<InstanceNotFound>()("InstanceNotFound", {
  id: Schema.String,
}) {}

const ComputeApi = Remote.api(
  RpcGroup.make(
    Rpc.make("build", { payload: { id: Schema.String }, success: Schema.Number }),
    Rpc.make("get", {
      payload: { id: Schema.String },
      success: Schema.Number,
      error: InstanceNotFound,
    }),
    Rpc.make("whoami", { success: Schema.String }),
    Rpc.make("resize", { payload: { id: Schema.String }, success: Schema.String })
      .annotate(Remote.Since, "6.1"),
    Rpc.make("slow", { payload: { millis: Schema.Number }, success: Schema.String }),
  ),
  { since: "6.0" },
)

class Compute extends Context.Tag("Compute")<Compute, {
  readonly built: Effect.Effect<ReadonlyArray<string>>
}>() {}

/** A compute manager serving ComputeApi at `apiVersion`; every hook appends to `log`. */
const computeManager = (log: Ref.Ref<ReadonlyArray<string>>, apiVersion: string) =>
  Manager.layer(
    Compute,
    Effect.gen(function* () {
      const built = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (line: string) => Ref.update(log, (lines) => [...lines, line])
      return {
        service: { built: Ref.get(built) },
        apiVersion,
        init: note("init"),
        preStart: note("preStart"),
        postStart: note("postStart"),
        cleanup: () => note("cleanup"),
        api: yield* Remote.endpoint(ComputeApi, {
          build: ({ id }) =>
            Ref.updateAndGet(built, (ids) => [...ids, id]).pipe(Effect.map((ids) => ids.length)),
          get: ({ id }) =>
            Effect.flatMap(Ref.get(built), (ids) =>
              ids.includes(id) ? Effect.succeed(ids.indexOf(id)) : new InstanceNotFound({ id })),
          whoami: () =>
            Effect.map(Remote.Principal, (p) =>
              `${p.scheme}:${p.name}`),
          resize: ({ id }) => Effect.succeed(`resized ${id}`),
          slow: ({ millis }) =>
            Effect.zipRight(
              Effect.sleep(millis),
              Effect.as(note(`slow ${millis} done`), `slept ${millis}`),
            ),
        }),
      }
    }),
  )

const network = Layer.mergeAll(Remote.layerMemory, ServiceRegistry.layerMemory)

/** A compute service on `host`, with an RPC server, built in `scope`. */
const startCompute = (
  host: string,
  log: Ref.Ref<ReadonlyArray<string>>,
  scope: Scope.Scope,
  apiVersion = "6.1",
) =>
  Layer.buildWithScope(
    Service.layer({ host, topic: "compute" }, computeManager(log, apiVersion)).pipe(
      Layer.provide(Remote.layerServer()),
    ),
    scope,
  )

describe("Remote: a manager's API served by its service", () => {
  it.scoped("a call reaches the manager's handler and answers with its typed result", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const scope = yield* Effect.scope
      yield* startCompute("node-1", log, scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      expect(yield* compute.call("node-1", "build", { id: "vm-1" })).toBe(1)
      expect(yield* compute.call("node-1", "build", { id: "vm-2" })).toBe(2)
      expect(yield* compute.call("node-1", "get", { id: "vm-2" })).toBe(1)
      const missing = yield* Effect.flip(compute.call("node-1", "get", { id: "vm-9" }))
      expect(missing).toBeInstanceOf(InstanceNotFound)
      expect(yield* compute.call("node-1", "whoami", undefined)).toBe("none:anonymous")
    }).pipe(Effect.provide(network)))

  it.scoped("start order: init, record, preStart, server up with its address in the record, postStart", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const scope = yield* Effect.scope
      yield* startCompute("node-1", log, scope)
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"])
      const registry = yield* ServiceRegistry.ServiceRegistry
      const record = Option.getOrThrow(yield* registry.get("node-1", "compute"))
      expect(record.endpoint).toEqual({
        address: "memory://127.0.0.1:1",
        apis: [{ version: "6.1" }, { namespace: "baseapi", version: "1.1" }],
      })
    }).pipe(Effect.provide(network)))
})
