import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import type { FromClientEncoded } from "@effect/rpc/RpcMessage"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Manager, PeriodicTask, Service, ServiceRegistry } from "../mod.ts"
import * as Remote from "../src/Remote.ts"
import { captureLogs } from "./support/periodic.ts"
import { recordingTracer } from "./support/tracing.ts"
import { isTracing } from "../src/internal/telemetry.ts"

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
    Rpc.make("crash", { payload: { secret: Schema.String } }),
    Rpc.make("stubborn", { payload: { millis: Schema.Number } }),
  ),
  { since: "6.0" },
)

class Compute extends Context.Tag("Compute")<Compute, {
  readonly built: Effect.Effect<ReadonlyArray<string>>
}>() {}

/**
 * A compute manager serving ComputeApi at `apiVersion`; every hook appends to `log`, and so does
 * its task `audit` (every 2 s) when it has one.
 */
const computeManager = (
  log: Ref.Ref<ReadonlyArray<string>>,
  apiVersion: string,
  withAudit = false,
) =>
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
        tasks: withAudit ? [PeriodicTask.spaced("audit", "2 seconds", note("audit"))] : [],
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
          crash: ({ secret }) => Effect.die(new Error(`internal detail: ${secret}`)),
          stubborn: ({ millis }) =>
            Effect.uninterruptible(
              Effect.zipRight(Effect.sleep(millis), note(`stubborn ${millis} done`)),
            ),
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
  options: {
    readonly apiVersion?: string
    readonly server?: Remote.ServerOptions
    readonly withAudit?: boolean
  } = {},
) =>
  Layer.buildWithScope(
    Service.layer(
      { host, topic: "compute", shutdownTimeout: "10 seconds" },
      computeManager(log, options.apiVersion ?? "6.1", options.withAudit),
    ).pipe(Layer.provide(Remote.layerServer(options.server))),
    scope,
  )

const newLog = Ref.make<ReadonlyArray<string>>([])

type Request = Extract<FromClientEncoded, { readonly _tag: "Request" }>

/** `transport`, with every request its clients send passed through `rewrite` (as the wire may). */
const rewriting = (
  transport: Remote.Transport,
  rewrite: (request: Request) => Request,
): Remote.Transport => ({
  ...transport,
  connect: (address) =>
    Effect.map(transport.connect(address), (protocol) => ({
      ...protocol,
      send: (message, transferables) =>
        protocol.send(message._tag === "Request" ? rewrite(message) : message, transferables),
    })),
})

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
      // Each hook says what it sees: the service's record and its endpoint, and whether its own
      // server answers a ping.
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      class Probe extends Context.Tag("Probe")<Probe, object>() {}
      const ProbeManager = Manager.layer(
        Probe,
        Effect.gen(function* () {
          const registry = yield* ServiceRegistry.ServiceRegistry
          const base = yield* Remote.client(Remote.BaseApi, { topic: "probe", timeout: "1 second" })
          const seen = (hook: string) =>
            Effect.gen(function* () {
              const record = yield* registry.get("node-1", "probe")
              const endpoint = Option.match(record, {
                onNone: () => "no record",
                onSome: (r) => r.endpoint?.address ?? "no endpoint",
              })
              const ping = yield* Effect.either(base.call("node-1", "ping", { arg: "hi" }))
              const answer = Either.isRight(ping) ? ping.right.arg : ping.left._tag
              yield* Ref.update(log, (lines) => [...lines, `${hook}: ${endpoint}, ping ${answer}`])
            })
          return {
            service: {},
            apiVersion: "1.0",
            api: yield* Remote.endpoint(Remote.api(RpcGroup.make(Rpc.make("x"))), {
              x: () => Effect.void,
            }),
            init: seen("init"),
            preStart: seen("preStart"),
            postStart: seen("postStart"),
          }
        }),
      )
      yield* Service.layer({ host: "node-1", topic: "probe" }, ProbeManager).pipe(
        Layer.provide(Remote.layerServer()),
        Layer.build,
      )
      expect(yield* Ref.get(log)).toEqual([
        "init: no record, ping HostUnavailable",
        "preStart: no endpoint, ping HostUnavailable",
        "postStart: memory://127.0.0.1:1, ping hi",
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("the record carries the server's address and each API's namespace and version", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const scope = yield* Effect.scope
      yield* startCompute("node-1", log, scope)
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"])
      const registry = yield* ServiceRegistry.ServiceRegistry
      const record = Option.getOrThrow(yield* registry.get("node-1", "compute"))
      expect(record.endpoint).toEqual({
        address: "memory://127.0.0.1:1",
        apis: [{ version: "6.1" }, { namespace: "baseapi", version: "1.2" }],
      })
    }).pipe(Effect.provide(network)))
})

describe("Remote: spans of calls", () => {
  it.scoped("with a tracer installed, a call makes a client span and, under it, the server's; without one, none", () =>
    Effect.gen(function* () {
      expect(yield* isTracing).toBe(false)
      const { spans, tracer } = recordingTracer()
      expect(yield* Effect.withTracer(isTracing, tracer)).toBe(true)
      expect(yield* Effect.withTracer(isTracing, tracer).pipe(Effect.withTracerEnabled(false)))
        .toBe(false)
      const log = yield* newLog
      const scope = yield* Effect.scope
      yield* Effect.withTracer(startCompute("node-1", log, scope), tracer)
      const traced = yield* Effect.withTracer(
        Remote.client(ComputeApi, { topic: "compute" }),
        tracer,
      )
      expect(yield* Effect.withTracer(traced.call("node-1", "build", { id: "vm-1" }), tracer)).toBe(
        1,
      )
      const client = spans.find((span) => span.name === "RpcClient.build")
      const server = spans.find((span) => span.name === "RpcServer.build")
      expect(client?.ended).toBe("Success")
      expect(server?.ended).toBe("Success")
      // The server's span continues the client's trace, under the client's span.
      expect(server!.traceId).toBe(client!.traceId)
      expect(Option.map(server!.parent, (parent) => parent.spanId)).toEqual(
        Option.some(client!.spanId),
      )
      // A client made without a tracer makes no span, even when one is installed later.
      const untraced = yield* Remote.client(ComputeApi, { topic: "compute" })
      const before = spans.length
      yield* Effect.withTracer(untraced.call("node-1", "build", { id: "vm-2" }), tracer)
      expect(spans.slice(before).map((span) => span.name)).toEqual(["RpcServer.build"])
    }).pipe(Effect.provide(network)))
})

describe("Remote: oslo's version rules on the wire", () => {
  it.scoped("a request asks for its method's Since; the server accepts the same or an older minor of its major", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      expect(yield* compute.call("node-1", "build", { id: "a" })).toBe(1) // asks 6.0
      expect(yield* compute.call("node-1", "resize", { id: "a" })).toBe("resized a") // asks 6.1
      expect(yield* compute.call("node-1", "resize", { id: "a" }, { version: "6.0" })).toBe(
        "resized a",
      )
      for (const version of ["6.2", "5.9", "7.0", "6.1.1"]) {
        const error = yield* Effect.flip(compute.call("node-1", "build", { id: "a" }, { version }))
        expect(error).toEqual(
          new Remote.UnsupportedVersion({ method: "build", requested: version, served: ["6.1"] }),
        )
      }
    }).pipe(Effect.provide(network)))

  it.scoped("a server of an older minor refuses a method that appeared later; a method it lacks at a version it serves is NoSuchMethod", () =>
    Effect.gen(function* () {
      const OldApi = Remote.api(
        RpcGroup.make(
          Rpc.make("build", { payload: { id: Schema.String }, success: Schema.Number }),
        ),
        { since: "6.0" },
      )
      const OldManager = Manager.layer(
        Compute,
        Effect.gen(function* () {
          return {
            service: { built: Effect.succeed([]) },
            apiVersion: "6.0",
            api: yield* Remote.endpoint(OldApi, { build: () => Effect.succeed(7) }),
          }
        }),
      )
      yield* Layer.buildWithScope(
        Service.layer({ host: "old", topic: "compute" }, OldManager).pipe(
          Layer.provide(Remote.layerServer()),
        ),
        yield* Effect.scope,
      )
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      expect(yield* compute.call("old", "build", { id: "a" })).toBe(7)
      expect(yield* Effect.flip(compute.call("old", "resize", { id: "a" }))).toEqual(
        new Remote.UnsupportedVersion({ method: "resize", requested: "6.1", served: ["6.0"] }),
      )
      expect(yield* Effect.flip(compute.call("old", "resize", { id: "a" }, { version: "6.0" })))
        .toEqual(new Remote.NoSuchMethod({ method: "resize", requested: "6.0" }))
    }).pipe(Effect.provide(network)))

  it.scoped("a version cap refuses, before sending, a call that needs more; canSendVersion says so beforehand", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute", versionCap: "6.0" })
      expect(compute.canSendVersion("6.0")).toBe(true)
      expect(compute.canSendVersion("6.1")).toBe(false)
      expect(compute.canSendVersion("5.3")).toBe(false)
      expect(compute.canSendVersion("6.x")).toBe(false)
      expect(yield* Effect.flip(compute.call("node-1", "resize", { id: "a" }))).toEqual(
        new Remote.VersionCapExceeded({ method: "resize", version: "6.1", cap: "6.0" }),
      )
      // nova's fallback: the older form of the call, pinned to what the cap allows
      expect(yield* compute.call("node-1", "resize", { id: "a" }, { version: "6.0" })).toBe(
        "resized a",
      )
      // a host that does not exist is not even looked up when the cap refuses
      expect(yield* Effect.flip(compute.call("nowhere", "resize", { id: "a" })))
        .toBeInstanceOf(Remote.VersionCapExceeded)
    }).pipe(Effect.provide(network)))

  it.scoped("malformed versions are typed errors where they are given", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope)
      for (const versionCap of ["6", "6.x", "-1.0", "06.1", ""]) {
        const error = yield* Effect.flip(
          Remote.client(ComputeApi, { topic: "compute", versionCap }),
        )
        expect(error).toBeInstanceOf(Remote.InvalidRemoteOption)
        expect(error.option).toBe("versionCap")
        expect(error.value).toBe(JSON.stringify(versionCap))
      }
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const bad = yield* Effect.flip(compute.call("node-1", "build", { id: "a" }, { version: "1" }))
      expect(bad).toEqual(
        new Remote.InvalidRemoteOption({
          option: "version",
          value: '"1"',
          expected: `"major.minor" or "major.minor.revision" in whole numbers`,
        }),
      )
      const BadSince = Remote.api(RpcGroup.make(Rpc.make("x").annotate(Remote.Since, "1.x")))
      const endpointError = yield* Effect.flip(Remote.endpoint(BadSince, { x: () => Effect.void }))
      expect(endpointError.message).toBe(
        `Since of "x": expected "major.minor" or "major.minor.revision" in whole numbers, got "1.x"`,
      )
    }).pipe(Effect.provide(network)))

  it.scoped("a manager's own API is served at its apiVersion: an endpoint made with another version fails the layer; an additional one without a version is served at 1.0", () =>
    Effect.gen(function* () {
      class Other extends Context.Tag("Other")<Other, object>() {}
      const Small = Remote.api(RpcGroup.make(Rpc.make("x")), { namespace: "small" })
      const Mismatched = Manager.layer(
        Other,
        Effect.gen(function* () {
          return {
            service: {},
            apiVersion: "1.4",
            api: yield* Remote.endpoint(Small, { x: () => Effect.void }, { version: "1.3" }),
          }
        }),
      )
      const error = yield* Effect.flip(
        Layer.buildWithScope(
          Service.layer({ host: "h", topic: "t" }, Mismatched),
          yield* Effect.scope,
        ),
      )
      expect(error.message).toBe(
        `Manager "Other": its api was made with version 1.3, but a manager's own API is served at its apiVersion, 1.4: leave the version out, or make them equal`,
      )
      const Defaulted = Manager.layer(
        Other,
        Effect.gen(function* () {
          return {
            service: {},
            additionalEndpoints: [yield* Remote.endpoint(Small, { x: () => Effect.void })],
          }
        }),
      )
      yield* Layer.buildWithScope(
        Service.layer({ host: "h", topic: "t" }, Defaulted).pipe(
          Layer.provide(Remote.layerServer()),
        ),
        yield* Effect.scope,
      )
      const registry = yield* ServiceRegistry.ServiceRegistry
      expect(Option.getOrThrow(yield* registry.get("h", "t")).endpoint?.apis).toEqual([
        { namespace: "baseapi", version: "1.2" },
        { namespace: "small", version: "1.0" },
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("a manager whose apiVersion is older than one of its methods fails to build, naming both", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const error = yield* Effect.flip(
        startCompute("node-1", log, yield* Effect.scope, { apiVersion: "6.0" }),
      )
      expect(error._tag).toBe("InvalidApiVersion")
      expect(yield* Ref.get(log)).toEqual([]) // no hook ran
      const message = error.message
      expect(message).toBe(
        `Manager "Compute": an API served at 6.0 has method "resize", which appeared in 6.1: raise the version or lower the method's Since`,
      )
    }).pipe(Effect.provide(network)))
})

describe("Remote: calls, casts, fan-outs and streams", () => {
  it.scoped("an unknown method fails that request only: a call running on the same connection goes on", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope)
      // One client (one connection) of a newer API: it has a method this server lacks
      const NewerApi = Remote.api(
        ComputeApi.add(Rpc.make("migrate", { payload: { id: Schema.String } })),
        { since: "6.0" },
      )
      const newer = yield* Remote.client(NewerApi, { topic: "compute" })
      const slow = yield* Effect.fork(newer.call("node-1", "slow", { millis: 10_000 }))
      yield* TestClock.adjust(1)
      expect(yield* Effect.flip(newer.call("node-1", "migrate", { id: "a" }))).toEqual(
        new Remote.NoSuchMethod({ method: "migrate", requested: "6.0" }),
      )
      expect(yield* newer.call("node-1", "build", { id: "a" })).toBe(1)
      yield* TestClock.adjust(10_000)
      expect(yield* Fiber.join(slow)).toBe("slept 10000")
    }).pipe(Effect.provide(network)))

  it.scoped("names that begin with _ are never callable", () =>
    Effect.gen(function* () {
      const PrivateApi = Remote.api(RpcGroup.make(Rpc.make("_secret", { success: Schema.String })))
      class Private extends Context.Tag("Private")<Private, object>() {}
      const calls = yield* Ref.make(0)
      const PrivateManager = Manager.layer(
        Private,
        Effect.gen(function* () {
          return {
            service: {},
            api: yield* Remote.endpoint(PrivateApi, {
              _secret: () => Effect.as(Ref.update(calls, (n) => n + 1), "leaked"),
            }),
          }
        }),
      )
      yield* Layer.buildWithScope(
        Service.layer({ host: "node-1", topic: "private" }, PrivateManager).pipe(
          Layer.provide(Remote.layerServer()),
        ),
        yield* Effect.scope,
      )
      const client = yield* Remote.client(PrivateApi, { topic: "private" })
      expect(yield* Effect.flip(client.call("node-1", "_secret", undefined))).toEqual(
        new Remote.NoSuchMethod({ method: "_secret", requested: "1.0" }),
      )
      expect(yield* Ref.get(calls)).toBe(0)
    }).pipe(Effect.provide(network)))

  it.scoped("a cast returns once sent, before the handler has run", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      yield* compute.cast("node-1", "slow", { millis: 5_000 })
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"])
      yield* TestClock.adjust(5_000)
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart", "slow 5000 done"])
    }).pipe(Effect.provide(network)))

  it.scoped("a fan-out calls every host of the topic that is up, one exit per host, each within its time", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      for (const host of ["node-a", "node-b", "node-c"]) {
        yield* startCompute(host, log, yield* Effect.scope)
      }
      const stopped = yield* Scope.make()
      yield* startCompute("node-d", log, stopped)
      yield* Scope.close(stopped, Exit.void) // its record is marked down
      const base = yield* Remote.client(Remote.BaseApi, { topic: "compute" })
      const pings = yield* base.fanout("ping", { arg: "hi" })
      expect(pings.map(({ exit, host }) => [host, Exit.isSuccess(exit) ? exit.value : exit]))
        .toEqual([
          ["node-a", { host: "node-a", topic: "compute", arg: "hi" }],
          ["node-b", { host: "node-b", topic: "compute", arg: "hi" }],
          ["node-c", { host: "node-c", topic: "compute", arg: "hi" }],
        ])
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const fanout = yield* Effect.fork(
        compute.fanout("slow", { millis: 3_000 }, { timeout: "2 seconds" }),
      )
      yield* TestClock.adjust(2_000)
      const slow = yield* Fiber.join(fanout)
      expect(
        slow.map(({ exit, host }) => [host, Exit.isFailure(exit) ? Exit.causeOption(exit) : exit]),
      )
        .toEqual(["node-a", "node-b", "node-c"].map((host) => [
          host,
          Option.some(Cause.fail(
            new Remote.CallTimedOut({ host, topic: "compute", method: "slow", limitMillis: 2_000 }),
          )),
        ]))
      // at most `concurrency` hosts at once: three calls of 1 s, two at a time, take 2 s
      const paired = yield* Effect.fork(
        compute.fanout("slow", { millis: 1_000 }, { concurrency: 2 }),
      )
      yield* TestClock.adjust(1_999)
      expect(paired.unsafePoll()).toBeNull()
      yield* TestClock.adjust(1)
      expect((yield* Fiber.join(paired)).map(({ exit, host }) => [host, exit])).toEqual(
        ["node-a", "node-b", "node-c"].map((host) => [host, Exit.succeed("slept 1000")]),
      )
    }).pipe(Effect.provide(network)))

  it.scoped("a host with no record, down, or serving no RPC is HostUnavailable, and nothing is sent", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const stopped = yield* Scope.make()
      yield* startCompute("node-down", log, stopped)
      yield* Scope.close(stopped, Exit.void)
      yield* Layer.buildWithScope(
        Service.layer({ host: "node-plain", topic: "compute" }, computeManager(log, "6.1")),
        yield* Effect.scope,
      )
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      for (
        const [host, reason] of [["node-x", "unknown"], ["node-down", "down"], [
          "node-plain",
          "no endpoint",
        ]] as const
      ) {
        const error = yield* Effect.flip(compute.call(host, "build", { id: "a" }))
        expect(error).toEqual(new Remote.HostUnavailable({ host, topic: "compute", reason }))
      }
      // a host that keeps beating stays up past serviceDownTime (60 s)
      yield* startCompute("node-beating", log, yield* Effect.scope)
      yield* TestClock.adjust("61 seconds")
      expect(yield* compute.call("node-beating", "build", { id: "b" })).toBe(1)
    }).pipe(Effect.provide(network)))

  it.scoped("a server that goes away fails the calls in flight at once; a server started again is called at its new address", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const first = yield* Scope.make()
      yield* startCompute("node-1", log, first)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const slow = yield* Effect.fork(compute.call("node-1", "slow", { millis: 60_000 }))
      yield* TestClock.adjust(1)
      // the stop gives the call its deadline (10 s), then interrupts it and closes the transport
      const stopping = yield* Effect.fork(Scope.close(first, Exit.void))
      yield* Effect.yieldNow() // the stop starts now: its deadline is 10 s from here
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(stopping)
      expect(yield* Effect.flip(Fiber.join(slow))).toEqual(
        new Remote.ServiceStopping({ host: "node-1", topic: "compute", started: true }),
      )
      yield* startCompute("node-1", log, yield* Effect.scope)
      const registry = yield* ServiceRegistry.ServiceRegistry
      const record = Option.getOrThrow(yield* registry.get("node-1", "compute"))
      expect(record.endpoint?.address).toBe("memory://127.0.0.1:2")
      expect(yield* compute.call("node-1", "build", { id: "a" })).toBe(1)
    }).pipe(Effect.provide(network)))
})

describe("Remote: a service's stop", () => {
  it.scoped("refuses new calls with ServiceStopping, lets calls in flight finish, then stops its tasks and cleans up", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const scope = yield* Scope.make()
      // one call per connection: the refusal below says the service is stopping, not busy
      yield* startCompute("node-1", log, scope, {
        withAudit: true,
        server: { maxConcurrentPerConnection: 1 },
      })
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const slow = yield* Effect.fork(compute.call("node-1", "slow", { millis: 3_000 }))
      yield* TestClock.adjust(1)
      const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust(1)
      // the record is still up: the server itself refuses
      expect(yield* Effect.flip(compute.call("node-1", "build", { id: "a" }))).toEqual(
        new Remote.ServiceStopping({ host: "node-1", topic: "compute", started: false }),
      )
      // the task runs on while the call drains (at 2 s), and stops before the cleanup
      yield* TestClock.adjust(3_000)
      expect(yield* Fiber.join(slow)).toBe("slept 3000")
      yield* Fiber.join(stopping)
      yield* TestClock.adjust(10_000)
      expect(yield* Ref.get(log)).toEqual([
        "init",
        "preStart",
        "postStart",
        "audit",
        "slow 3000 done",
        "cleanup",
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("interrupts a call still running at the shutdown deadline", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const scope = yield* Scope.make()
      yield* startCompute("node-1", log, scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const slow = yield* Effect.fork(compute.call("node-1", "slow", { millis: 30_000 }))
      yield* TestClock.adjust(1)
      const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* Effect.yieldNow() // the stop starts now: its deadline is 10 s from here
      yield* TestClock.adjust(9_999)
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"])
      yield* TestClock.adjust(1)
      yield* Fiber.join(stopping)
      // the caller is told why, as a typed error, not left with an interruption
      expect(yield* Effect.flip(Fiber.join(slow))).toEqual(
        new Remote.ServiceStopping({ host: "node-1", topic: "compute", started: true }),
      )
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart", "cleanup"])
    }).pipe(Effect.provide(network)))
})

describe("Remote: a failed start", () => {
  it.scoped("a postStart that fails stops the RPC server before the cleanup", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      class Failing extends Context.Tag("Failing")<Failing, object>() {}
      const Small = Remote.api(RpcGroup.make(Rpc.make("x")))
      const FailingManager = Manager.layer(
        Failing,
        Effect.gen(function* () {
          return {
            service: {},
            api: yield* Remote.endpoint(Small, { x: () => Effect.void }),
            postStart: Effect.fail("no"),
            cleanup: () => Effect.logInfo("cleanup ran"),
          }
        }),
      )
      const exit = yield* Effect.exit(Layer.buildWithScope(
        Service.layer({ host: "node-1", topic: "failing" }, FailingManager).pipe(
          Layer.provide(Remote.layerServer()),
        ),
        yield* Effect.scope,
      ))
      expect(Exit.isFailure(exit)).toBe(true)
      const lines = logs.map((line) => line.message)
      const stopped = lines.indexOf("Stopping service failing on node-1: RPC server")
      expect(stopped).toBeGreaterThan(
        lines.indexOf("Serving RPC for failing on node-1 at memory://127.0.0.1:1"),
      )
      expect(stopped).toBeLessThan(lines.indexOf("cleanup ran"))
    }).pipe(Effect.provide(network)))
})

describe("Remote: BaseApi", () => {
  it.scoped("status says the service's state and what it serves", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope)
      const base = yield* Remote.client(Remote.BaseApi, { topic: "compute" })
      expect(yield* base.call("node-1", "status", undefined)).toEqual({
        host: "node-1",
        topic: "compute",
        state: "running",
        endpoints: [{ version: "6.1" }],
      })
    }).pipe(Effect.provide(network)))
})

describe("Remote: authentication", () => {
  const keys: ReadonlyArray<Remote.Credentials> = [
    { _tag: "Hmac", principal: "conductor", secret: "hmac-secret-1" },
    { _tag: "Token", principal: "operator", token: "token-secret-2" },
  ]

  it.scoped("HMAC-signed and token requests reach the handler with their principal; others are Unauthorized", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      const signed = yield* Remote.client(ComputeApi, { topic: "compute", credentials: keys[0]! })
      expect(yield* signed.call("node-1", "whoami", undefined)).toBe("hmac:conductor")
      const token = yield* Remote.client(ComputeApi, { topic: "compute", credentials: keys[1]! })
      expect(yield* token.call("node-1", "whoami", undefined)).toBe("token:operator")
      const anonymous = yield* Remote.client(ComputeApi, { topic: "compute" })
      expect(yield* Effect.flip(anonymous.call("node-1", "whoami", undefined))).toEqual(
        new Remote.Unauthorized({ reason: "missing credentials" }),
      )
      const wrong = yield* Remote.client(ComputeApi, {
        topic: "compute",
        credentials: { _tag: "Token", principal: "operator", token: "guess" },
      })
      const refused = yield* Effect.flip(wrong.call("node-1", "whoami", undefined))
      expect(refused).toEqual(new Remote.Unauthorized({ reason: "bad token" }))
      expect(JSON.stringify(refused)).not.toContain("guess")
      const forged = yield* Remote.client(ComputeApi, {
        topic: "compute",
        credentials: { _tag: "Hmac", principal: "conductor", secret: "not-the-secret" },
      })
      expect(yield* Effect.flip(forged.call("node-1", "whoami", undefined))).toEqual(
        new Remote.Unauthorized({ reason: "bad signature", principal: "conductor" }),
      )
    }).pipe(Effect.provide(network)))

  it.scoped("a signed request that reaches another service than the one it names is Unauthorized", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      yield* startCompute("node-2", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      // node-2's record is made to point at node-1 (a stale or forged record, or a redirect)
      const registry = yield* ServiceRegistry.ServiceRegistry
      const first = Option.getOrThrow(yield* registry.get("node-1", "compute"))
      yield* registry.setEndpoint("node-2", "compute", first.endpoint)
      const signed = yield* Remote.client(ComputeApi, { topic: "compute", credentials: keys[0]! })
      expect(yield* Effect.flip(signed.call("node-2", "whoami", undefined))).toEqual(
        new Remote.Unauthorized({ reason: "wrong target", principal: "conductor" }),
      )
      expect(yield* signed.call("node-1", "whoami", undefined)).toBe("hmac:conductor")
    }).pipe(Effect.provide(network)))

  it.scoped("a signed request sent again from the wire is replayed; one signed 30.001 s off the server's clock is stale", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_000_000)
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      // A transport that keeps the first request it carries and, when asked, sends that one's
      // signed headers and payload under the next request's id (what an eavesdropper can do).
      let captured: Request | undefined
      let replayNext = false
      const eavesdropped = rewriting(yield* Remote.Transport, (request) => {
        captured ??= request
        return replayNext
          ? { ...request, headers: captured.headers, payload: captured.payload }
          : request
      })
      const signed = yield* Remote.client(ComputeApi, { topic: "compute", credentials: keys[0]! })
        .pipe(Effect.provideService(Remote.Transport, eavesdropped))
      expect(yield* signed.call("node-1", "build", { id: "vm-1" })).toBe(1)
      replayNext = true
      expect(yield* Effect.flip(signed.call("node-1", "build", { id: "vm-2" }))).toEqual(
        new Remote.Unauthorized({ reason: "replayed", principal: "conductor" }),
      )
      replayNext = false
      expect(yield* signed.call("node-1", "build", { id: "vm-3" })).toBe(2) // vm-2 never built
      // A client whose clock is off by the skew window (30 s) is served; by 1 ms more, refused.
      const clock = yield* Effect.clock
      const offBy = (millis: number): Clock.Clock => ({
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis() + millis,
        currentTimeMillis: Effect.sync(() => clock.unsafeCurrentTimeMillis() + millis),
        unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos() + BigInt(millis) * 1_000_000n,
        currentTimeNanos: Effect.sync(() =>
          clock.unsafeCurrentTimeNanos() + BigInt(millis) * 1_000_000n
        ),
        sleep: (duration) => clock.sleep(duration),
      })
      const outcomes: Array<unknown> = []
      for (const millis of [-30_000, 30_000, -30_001, 30_001]) {
        const skewed = yield* Remote.client(ComputeApi, {
          topic: "compute",
          credentials: keys[0]!,
        }).pipe(Effect.withClock(offBy(millis)))
        outcomes.push(yield* Effect.either(skewed.call("node-1", "whoami", undefined)))
      }
      const stale = new Remote.Unauthorized({ reason: "stale timestamp", principal: "conductor" })
      expect(outcomes).toEqual([
        Either.right("hmac:conductor"),
        Either.right("hmac:conductor"),
        Either.left(stale),
        Either.left(stale),
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("refused credentials are logged as warnings that carry no secret", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      const attempts: ReadonlyArray<Remote.Credentials> = [
        { _tag: "Token", principal: "operator", token: "guessed-token-3" },
        { _tag: "Hmac", principal: "conductor", secret: "forged-secret-4" },
        keys[0]!,
        keys[1]!,
      ]
      for (const credentials of attempts) {
        const client = yield* Remote.client(ComputeApi, { topic: "compute", credentials })
        yield* Effect.exit(client.call("node-1", "whoami", undefined))
      }
      const warnings = logs.filter((line) => line.level === "WARN").map((line) => line.message)
      expect(warnings).toEqual([
        `Refused "whoami": Request refused: bad token`,
        `Refused "whoami": Request refused: bad signature (key conductor)`,
      ])
      const everything = JSON.stringify(
        logs.map((line) => [line.message, line.annotations, Cause.pretty(line.cause)]),
      )
      for (
        const secret of ["hmac-secret-1", "token-secret-2", "guessed-token-3", "forged-secret-4"]
      ) {
        expect(everything).not.toContain(secret)
      }
    }).pipe(Effect.provide(network)))

  it.scoped("a method that does not exist is Unauthorized without credentials: method names do not leak", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      const NewerApi = Remote.api(RpcGroup.make(Rpc.make("migrate")), { since: "6.0" })
      const anonymous = yield* Remote.client(NewerApi, { topic: "compute" })
      expect(yield* Effect.flip(anonymous.call("node-1", "migrate", undefined))).toEqual(
        new Remote.Unauthorized({ reason: "missing credentials" }),
      )
      const signed = yield* Remote.client(NewerApi, { topic: "compute", credentials: keys[0]! })
      expect(yield* Effect.flip(signed.call("node-1", "migrate", undefined))).toEqual(
        new Remote.NoSuchMethod({ method: "migrate", requested: "6.0" }),
      )
    }).pipe(Effect.provide(network)))

  it.scoped("a server not bound to loopback refuses to start without credentials", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      for (const hostname of ["0.0.0.0", "10.0.0.5", "compute-1.example"]) {
        const error = yield* Effect.flip(
          startCompute("node-1", log, yield* Effect.scope, { server: { hostname } }),
        )
        expect(error).toBeInstanceOf(Remote.InvalidRemoteOption)
        expect((error as Remote.InvalidRemoteOption).option).toBe("auth")
      }
      for (
        const [option, value] of [["port", -1], ["port", 70_000], ["port", 1.5], [
          "port",
          Number.NaN,
        ]] as const
      ) {
        const error = yield* Effect.flip(
          startCompute("node-1", log, yield* Effect.scope, { server: { [option]: value } }),
        )
        expect(error).toEqual(
          new Remote.InvalidRemoteOption({
            option,
            value: String(value),
            expected: "a whole number from 0 to 65535 (0: the system picks one)",
          }),
        )
      }
      // explicitly open, and loopback by default
      yield* startCompute("node-1", log, yield* Effect.scope, {
        server: { hostname: "0.0.0.0", auth: "none" },
      })
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"])
    }).pipe(Effect.provide(network)))
})

describe("Remote: limits and bad input", () => {
  it.scoped("a handler past its time limit is interrupted: HandlerTimedOut (the server's default, or its method's)", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope, {
        server: { handlerTimeout: "5 seconds" },
      })
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const slow = yield* Effect.fork(compute.call("node-1", "slow", { millis: 6_000 }))
      yield* TestClock.adjust(5_000)
      expect(yield* Effect.flip(Fiber.join(slow))).toEqual(
        new Remote.HandlerTimedOut({ method: "slow", limitMillis: 5_000 }),
      )
      yield* TestClock.adjust(1_000)
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"]) // never finished
      // within the limit it answers
      const quick = yield* Effect.fork(compute.call("node-1", "slow", { millis: 4_999 }))
      yield* TestClock.adjust(4_999)
      expect(yield* Fiber.join(quick)).toBe("slept 4999")
    }).pipe(Effect.provide(network)))

  it.scoped("a method's HandlerTimeout overrides the server's limit, shorter or longer; a stream has a limit only if its method says so", () =>
    Effect.gen(function* () {
      const TimedApi = Remote.api(
        RpcGroup.make(
          Rpc.make("wait", { payload: { millis: Schema.Number }, success: Schema.String }),
          Rpc.make("migrate", { payload: { millis: Schema.Number }, success: Schema.String })
            .annotate(Remote.HandlerTimeout, "2 seconds"),
          Rpc.make("rebuild", { payload: { millis: Schema.Number }, success: Schema.String })
            .annotate(Remote.HandlerTimeout, "10 seconds"),
          Rpc.make("watch", {
            payload: { count: Schema.Number },
            success: Schema.Number,
            stream: true,
          }),
          Rpc.make("glance", {
            payload: { count: Schema.Number },
            success: Schema.Number,
            stream: true,
          })
            .annotate(Remote.HandlerTimeout, "2500 millis"),
        ),
      )
      class Timed extends Context.Tag("Timed")<Timed, object>() {}
      const sleep = ({ millis }: { readonly millis: number }) =>
        Effect.as(Effect.sleep(millis), `slept ${millis}`)
      const ticks = ({ count }: { readonly count: number }) =>
        Stream.range(1, count).pipe(Stream.schedule(Schedule.spaced("1 second")))
      const TimedManager = Manager.layer(
        Timed,
        Effect.gen(function* () {
          return {
            service: {},
            api: yield* Remote.endpoint(TimedApi, {
              wait: sleep,
              migrate: sleep,
              rebuild: sleep,
              watch: ticks,
              glance: ticks,
            }),
          }
        }),
      )
      yield* Service.layer({ host: "node-1", topic: "timed" }, TimedManager).pipe(
        Layer.provide(Remote.layerServer({ handlerTimeout: "5 seconds" })),
        Layer.build,
      )
      const timed = yield* Remote.client(TimedApi, { topic: "timed" })
      const items = yield* Ref.make<ReadonlyArray<string>>([])
      const collect = <E>(name: string, stream: Stream.Stream<number, E>) =>
        stream.pipe(
          Stream.runForEach((n) => Ref.update(items, (all) => [...all, `${name} ${n}`])),
          Effect.either,
        )
      const calls = yield* Effect.all([
        Effect.either(timed.call("node-1", "wait", { millis: 6_000 })),
        Effect.either(timed.call("node-1", "migrate", { millis: 3_000 })),
        Effect.either(timed.call("node-1", "rebuild", { millis: 7_000 })),
        collect("watch", timed.stream("node-1", "watch", { count: 8 })),
        collect("glance", timed.stream("node-1", "glance", { count: 8 })),
      ], { concurrency: "unbounded" }).pipe(Effect.fork)
      yield* TestClock.adjust(1_999)
      expect(calls.unsafePoll()).toBeNull()
      yield* TestClock.adjust(10_000)
      const [wait, migrate, rebuild, watch, glance] = yield* Fiber.join(calls)
      expect(wait).toEqual(
        Either.left(new Remote.HandlerTimedOut({ method: "wait", limitMillis: 5_000 })),
      )
      expect(migrate).toEqual(
        Either.left(new Remote.HandlerTimedOut({ method: "migrate", limitMillis: 2_000 })),
      )
      expect(rebuild).toEqual(Either.right("slept 7000"))
      expect(watch).toEqual(Either.right(undefined))
      expect(glance).toEqual(
        Either.left(new Remote.HandlerTimedOut({ method: "glance", limitMillis: 2_500 })),
      )
      const seen = yield* Ref.get(items)
      expect(seen.filter((item) => item.startsWith("watch"))).toEqual(
        [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `watch ${n}`),
      )
      // items come at 1 s, 2 s, …: a limit of 2.5 s lets two through
      expect(seen.filter((item) => item.startsWith("glance"))).toEqual(["glance 1", "glance 2"])
    }).pipe(Effect.provide(network)))

  it.scoped("a timed-out call whose handler does not stop still counts until it ends", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope, {
        server: { handlerTimeout: "5 seconds", maxConcurrentPerConnection: 1 },
      })
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const stubborn = yield* Effect.fork(compute.call("node-1", "stubborn", { millis: 8_000 }))
      yield* TestClock.adjust(5_000)
      expect(yield* Effect.flip(Fiber.join(stubborn))).toEqual(
        new Remote.HandlerTimedOut({ method: "stubborn", limitMillis: 5_000 }),
      )
      // Its handler ignores the interruption: the connection's one place is still taken.
      expect(yield* Effect.flip(compute.call("node-1", "resize", { id: "vm-1" }))).toEqual(
        new Remote.TooManyRequests({ limit: 1, per: "connection" }),
      )
      yield* TestClock.adjust(3_000)
      expect(yield* Ref.get(log)).toContain("stubborn 8000 done")
      expect(yield* compute.call("node-1", "resize", { id: "vm-1" })).toBe("resized vm-1")
    }).pipe(Effect.provide(network)))

  it.scoped("a connection with as many calls running as allowed gets TooManyRequests for the next one", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { maxConcurrentPerConnection: 2 },
      })
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const running = yield* Effect.forEach(
        [1_000, 2_000],
        (millis) => Effect.fork(compute.call("node-1", "slow", { millis })),
      )
      yield* TestClock.adjust(1)
      expect(yield* Effect.flip(compute.call("node-1", "build", { id: "a" }))).toEqual(
        new Remote.TooManyRequests({ limit: 2, per: "connection" }),
      )
      yield* TestClock.adjust(1_000)
      expect(yield* compute.call("node-1", "build", { id: "a" })).toBe(1) // one slot free again
      yield* TestClock.adjust(1_000)
      expect(yield* Effect.forEach(running, Fiber.join)).toEqual(["slept 1000", "slept 2000"])
    }).pipe(Effect.provide(network)))

  it.scoped("the server as a whole has as many calls running as allowed: TooManyRequests for the next, whatever its connection", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { maxConcurrent: 2 },
      })
      const clients = yield* Effect.forEach(
        [1, 2, 3],
        () => Remote.client(ComputeApi, { topic: "compute" }),
      )
      const running = yield* Effect.forEach(
        clients.slice(0, 2),
        (client) => Effect.fork(client.call("node-1", "slow", { millis: 1_000 })),
      )
      yield* TestClock.adjust(1)
      expect(yield* Effect.flip(clients[2]!.call("node-1", "build", { id: "a" }))).toEqual(
        new Remote.TooManyRequests({ limit: 2, per: "server" }),
      )
      yield* TestClock.adjust(1_000)
      expect(yield* Effect.forEach(running, Fiber.join)).toEqual(["slept 1000", "slept 1000"])
      expect(yield* clients[2]!.call("node-1", "build", { id: "a" })).toBe(1)
    }).pipe(Effect.provide(network)))

  it.scoped("a flood of refused requests logs one warning a minute, then says how many it did not log", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const keys: ReadonlyArray<Remote.Credentials> = [{
        _tag: "Token",
        principal: "op",
        token: "right",
      }]
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { auth: { keys } },
      })
      const wrong = yield* Remote.client(ComputeApi, {
        topic: "compute",
        credentials: { _tag: "Token", principal: "op", token: "wrong" },
      })
      for (let i = 0; i < 50; i++) yield* Effect.exit(wrong.call("node-1", "build", { id: "a" }))
      yield* TestClock.adjust("1 minute")
      yield* Effect.exit(wrong.call("node-1", "build", { id: "a" }))
      expect(logs.filter((line) => line.level === "WARN").map((line) => line.message)).toEqual([
        `Refused "build": Request refused: bad token`,
        `Refused "build": Request refused: bad token (and 49 more refused like it, not logged)`,
      ])
    }).pipe(Effect.provide(network)))

  it.scoped("a payload that does not fit the method's schema is MalformedRequest, and the handler never runs", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope)
      // a client built from a different idea of the API: build takes a number
      const Confused = Remote.api(
        RpcGroup.make(
          Rpc.make("build", { payload: { id: Schema.Number }, success: Schema.Number }),
        ),
        { since: "6.0" },
      )
      const confused = yield* Remote.client(Confused, { topic: "compute" })
      const error = yield* Effect.flip(confused.call("node-1", "build", { id: 7 }))
      expect(error._tag).toBe("MalformedRequest")
      expect((error as Remote.MalformedRequest).method).toBe("build")
      expect((error as Remote.MalformedRequest).reason).toContain("Expected string, actual 7")
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      expect(yield* compute.call("node-1", "build", { id: "a" })).toBe(1) // the first build
    }).pipe(Effect.provide(network)))

  it.scoped("a version from the wire that does not parse is UnsupportedVersion for that request alone, and a warning", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope)
      let version: string | undefined
      const tampered = rewriting(
        yield* Remote.Transport,
        (request) =>
          version === undefined ? request : {
            ...request,
            headers: request.headers.map(([name, value]) =>
              name === "x-em-version" ? [name, version!] : [name, value]
            ),
          },
      )
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
        .pipe(Effect.provideService(Remote.Transport, tampered))
      // a call in flight on the same connection all along
      const slow = yield* Effect.fork(compute.call("node-1", "slow", { millis: 1_000 }))
      yield* TestClock.adjust(1)
      const absurd = ["1.x", "-1.0", "6", "6.1.2.3", "99999999999999999999.0", "", "6.1".repeat(40)]
      for (const bad of absurd) {
        version = bad
        const shown = JSON.stringify(bad.length > 64 ? `${bad.slice(0, 64)}…` : bad)
        expect(yield* Effect.flip(compute.call("node-1", "build", { id: "x" }))).toEqual(
          new Remote.UnsupportedVersion({ method: "build", requested: shown, served: ["6.1"] }),
        )
      }
      version = undefined
      yield* TestClock.adjust(999)
      expect(yield* Fiber.join(slow)).toBe("slept 1000")
      expect(yield* compute.call("node-1", "build", { id: "a" })).toBe(1) // none of "x" was built
      // one warning a minute for the kind; the next one counts those not logged
      const warnings = () =>
        logs.filter((line) => line.level === "WARN").map((line) => line.message)
      expect(warnings()).toEqual([
        `Refused "build": "build" asks for version "1.x", which the service does not serve (served: 6.1)`,
      ])
      yield* TestClock.adjust(60_000)
      version = "x"
      yield* Effect.flip(compute.call("node-1", "build", { id: "x" }))
      expect(warnings()[1]).toContain(
        `version "x", which the service does not serve (served: 6.1) (and 6 more refused like it, not logged)`,
      )
    }).pipe(Effect.provide(network)))

  it.scoped("method names a JavaScript object has (__proto__, constructor, toString) are NoSuchMethod", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope)
      for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
        const Odd = Remote.api(RpcGroup.make(Rpc.make(name)), { since: "6.0" })
        const odd = yield* Remote.client(Odd, { topic: "compute" })
        expect(yield* Effect.flip(odd.call("node-1", name as never, undefined as never))).toEqual(
          new Remote.NoSuchMethod({ method: name, requested: "6.0" }),
        )
      }
    }).pipe(Effect.provide(network)))

  it.scoped("a principal header sent by a client is dropped: only the server says who called", () =>
    Effect.gen(function* () {
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const who = yield* compute.call("node-1", "whoami", undefined).pipe(
        RpcClient.withHeaders({ "x-em-principal": "hmac:admin" }),
      )
      expect(who).toBe("none:anonymous")
    }).pipe(Effect.provide(network)))

  it.scoped("server options that cannot work are typed errors naming the option and value", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const cases: ReadonlyArray<readonly [Remote.ServerOptions, string, string]> = [
        [{ handlerTimeout: -1 }, "handlerTimeout", "-1"],
        [{ handlerTimeout: Number.NaN }, "handlerTimeout", "NaN"],
        [{ handlerTimeout: "soon" as never }, "handlerTimeout", '"soon"'],
        [{ maxConcurrentPerConnection: 0 }, "maxConcurrentPerConnection", "0"],
        [
          { maxConcurrentPerConnection: Number.POSITIVE_INFINITY },
          "maxConcurrentPerConnection",
          "Infinity",
        ],
        [{ hostname: "" }, "hostname", '""'],
        [
          { auth: { keys: [{ _tag: "Token", principal: "x", token: "" }] } },
          "auth.keys[0].token",
          '""',
        ],
      ]
      for (const [server, option, value] of cases) {
        const error = yield* Effect.flip(
          startCompute("node-1", log, yield* Effect.scope, { server }),
        )
        expect(error).toBeInstanceOf(Remote.InvalidRemoteOption)
        expect([
          (error as Remote.InvalidRemoteOption).option,
          (error as Remote.InvalidRemoteOption).value,
        ])
          .toEqual([option, value])
      }
      expect(yield* Ref.get(log)).toEqual([])
    }).pipe(Effect.provide(network)))
})

describe("Remote: the client's own limits", () => {
  it.scoped("a call waits at most the client's timeout: CallTimedOut, and the server stops its handler", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      yield* startCompute("node-1", log, yield* Effect.scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute", timeout: "5 seconds" })
      const slow = yield* Effect.fork(compute.call("node-1", "slow", { millis: 10_000 }))
      yield* TestClock.adjust(4_999)
      expect(slow.unsafePoll()).toBeNull()
      yield* TestClock.adjust(1)
      expect(yield* Effect.flip(Fiber.join(slow))).toEqual(
        new Remote.CallTimedOut({
          host: "node-1",
          topic: "compute",
          method: "slow",
          limitMillis: 5_000,
        }),
      )
      yield* TestClock.adjust(10_000)
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart"]) // interrupted
      // The connection goes on: the next call answers, a quick one well within the limit.
      const quick = yield* Effect.fork(compute.call("node-1", "slow", { millis: 4_000 }))
      yield* TestClock.adjust(4_000)
      expect(yield* Fiber.join(quick)).toBe("slept 4000")
    }).pipe(Effect.provide(network)))

  it.scoped("client options that cannot work are typed errors naming the option (never a secret)", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Remote.ClientOptions, string, string]> = [
        [{ topic: "compute", serviceDownTime: "nope" as never }, "serviceDownTime", `"nope"`],
        [{ topic: "compute", timeout: -1 }, "timeout", "-1"],
        [{ topic: "compute", timeout: 0 }, "timeout", "0"],
        [
          { topic: "compute", credentials: { _tag: "Hmac", principal: "c", secret: "" } },
          "credentials.secret",
          `""`,
        ],
        [
          { topic: "compute", credentials: { _tag: "Token", principal: " ", token: "t0ken" } },
          "credentials.principal",
          `" "`,
        ],
        [
          { topic: "compute", credentials: { _tag: "Token", principal: "p", token: 5 as never } },
          "credentials.token",
          "(hidden)",
        ],
      ]
      for (const [options, option, value] of cases) {
        const error = yield* Effect.flip(Remote.client(ComputeApi, options))
        expect([error.option, error.value]).toEqual([option, value])
      }
      const base = yield* Remote.client(Remote.BaseApi, { topic: "compute" })
      for (
        const [fanout, option, value] of [
          [{ concurrency: 0 }, "fanout concurrency", "0"],
          [{ concurrency: 1.5 }, "fanout concurrency", "1.5"],
          [{ timeout: "soon" as never }, "fanout timeout", `"soon"`],
        ] as const
      ) {
        const error = yield* Effect.flip(base.fanout("ping", { arg: "x" }, fanout))
        expect(error).toBeInstanceOf(Remote.InvalidRemoteOption)
        expect([
          (error as Remote.InvalidRemoteOption).option,
          (error as Remote.InvalidRemoteOption).value,
        ])
          .toEqual([option, value])
      }
    }).pipe(Effect.provide(network)))
})

describe("Remote: handlers that misbehave", () => {
  it.scoped("a handler that dies fails its own call, without its defect; the connection goes on", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      yield* startCompute("node-1", yield* newLog, yield* Effect.scope, {
        server: { maxConcurrentPerConnection: 1 },
      })
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      for (let i = 0; i < 3; i++) {
        const exit = yield* Effect.exit(compute.call("node-1", "crash", { secret: "hunter2" }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(JSON.stringify(exit)).not.toContain("hunter2")
        expect(Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause)).toContain(
          `The handler of "crash" died: see the server's log`,
        )
      }
      // the call was not left tracked: with one call allowed per connection, the next one runs
      expect(yield* compute.call("node-1", "build", { id: "a" })).toBe(1)
      const errors = logs.filter((line) => line.level === "ERROR")
      expect(errors.map((line) => line.message)).toEqual(
        Array.from({ length: 3 }, () => `The handler of "crash" died`),
      )
      expect(Cause.pretty(errors[0]!.cause)).toContain("internal detail: hunter2") // the server's log has it
    }).pipe(Effect.provide(network)))

  it.scoped("a HandlerTimeout annotation that is not a duration above 0 is refused where the endpoint is made", () =>
    Effect.gen(function* () {
      for (const value of [0, -5, Number.NaN, "soon", "infinite"] as const) {
        const Api = Remote.api(
          RpcGroup.make(Rpc.make("x").annotate(Remote.HandlerTimeout, value as never)),
        )
        const error = yield* Effect.flip(Remote.endpoint(Api, { x: () => Effect.void }))
        expect([error.option, error.value]).toEqual([
          `HandlerTimeout of "x"`,
          typeof value === "string" ? JSON.stringify(value) : String(value),
        ])
      }
      const Unlimited = Remote.api(
        RpcGroup.make(Rpc.make("x").annotate(Remote.HandlerTimeout, Duration.infinity)),
      )
      yield* Remote.endpoint(Unlimited, { x: () => Effect.void })
    }))

  it.scoped("a handler that ignores its interruption holds a stop at most the rest of the deadline and the grace", () =>
    Effect.gen(function* () {
      const log = yield* newLog
      const scope = yield* Scope.make()
      yield* startCompute("node-1", log, scope)
      const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
      const stubborn = yield* Effect.fork(compute.call("node-1", "stubborn", { millis: 3_600_000 }))
      yield* TestClock.adjust(1)
      const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* Effect.yieldNow()
      yield* TestClock.adjust(10_000) // the deadline: the caller is told
      expect(yield* Effect.flip(Fiber.join(stubborn))).toEqual(
        new Remote.ServiceStopping({ host: "node-1", topic: "compute", started: true }),
      )
      for (let i = 0; i < 4; i++) yield* TestClock.adjust(1_000) // the close's limit, then its grace
      yield* Fiber.join(stopping)
      // the stop went on (cleanup ran) while the handler, detached, still sleeps
      expect(yield* Ref.get(log)).toEqual(["init", "preStart", "postStart", "cleanup"])
    }).pipe(Effect.provide(network)))
})

describe("Remote: more than one API per service, and streams", () => {
  const AdminApi = Remote.api(
    RpcGroup.make(
      Rpc.make("ping", { success: Schema.String }),
      Rpc.make("drain", { success: Schema.String }).annotate(Remote.Since, "2.3"),
    ),
    { namespace: "admin", since: "2.0" },
  )
  const WatchApi = Remote.api(
    RpcGroup.make(
      Rpc.make("watch", {
        payload: { count: Schema.Number },
        success: Schema.Number,
        stream: true,
      }),
    ),
    { namespace: "watch" },
  )

  class Admin extends Context.Tag("Admin")<Admin, object>() {}
  const AdminManager = Manager.layer(
    Admin,
    Effect.gen(function* () {
      return {
        service: {},
        apiVersion: "6.1",
        additionalEndpoints: [
          yield* Remote.endpoint(AdminApi, {
            ping: () => Effect.succeed("admin pong"),
            drain: () => Effect.succeed("draining"),
          }, { version: "2.3" }),
          yield* Remote.endpoint(WatchApi, {
            watch: ({ count }) =>
              Stream.range(1, count).pipe(Stream.schedule(Schedule.spaced("1 second"))),
          }, { version: "1.0" }),
        ],
      }
    }),
  )
  const startAdmin = (scope: Scope.Scope) =>
    Layer.buildWithScope(
      Service.layer({ host: "node-1", topic: "admin" }, AdminManager).pipe(
        Layer.provide(Remote.layerServer()),
      ),
      scope,
    )

  it.scoped("each API is reached by its namespace and version; the same method name lives in several", () =>
    Effect.gen(function* () {
      yield* startAdmin(yield* Effect.scope)
      const admin = yield* Remote.client(AdminApi, { topic: "admin" })
      expect(yield* admin.call("node-1", "ping", undefined)).toBe("admin pong")
      expect(yield* admin.call("node-1", "drain", undefined)).toBe("draining")
      const base = yield* Remote.client(Remote.BaseApi, { topic: "admin" })
      expect(yield* base.call("node-1", "ping", { arg: "x" })).toEqual({
        host: "node-1",
        topic: "admin",
        arg: "x",
      })
      const registry = yield* ServiceRegistry.ServiceRegistry
      const record = Option.getOrThrow(yield* registry.get("node-1", "admin"))
      // R2's order: the managers' own APIs (none here), the built-in one, the additional ones
      expect(record.endpoint?.apis).toEqual([
        { namespace: "baseapi", version: "1.2" },
        { namespace: "admin", version: "2.3" },
        { namespace: "watch", version: "1.0" },
      ])
      // a namespace nobody serves
      const Lost = Remote.api(RpcGroup.make(Rpc.make("ping")), { namespace: "lost" })
      const lost = yield* Remote.client(Lost, { topic: "admin" })
      expect(yield* Effect.flip(lost.call("node-1", "ping", undefined))).toEqual(
        new Remote.UnsupportedVersion({
          method: "ping",
          namespace: "lost",
          requested: "1.0",
          served: [],
        }),
      )
    }).pipe(Effect.provide(network)))

  it.scoped("R2 over the wire: a request goes to the first endpoint of its namespace whose version accepts it and that has the method", () =>
    Effect.gen(function* () {
      // nova's compute: its manager's API at 6.1, and an additional endpoint of the same
      // namespace at 6.2 with a method the manager's lacks
      const Manager61 = Remote.api(RpcGroup.make(Rpc.make("build", { success: Schema.String })), {
        since: "6.0",
      })
      const Extra62 = Remote.api(RpcGroup.make(Rpc.make("shelve", { success: Schema.String })), {
        since: "6.0",
      })
      class Both extends Context.Tag("Both")<Both, object>() {}
      const BothManager = Manager.layer(
        Both,
        Effect.gen(function* () {
          return {
            service: {},
            apiVersion: "6.1",
            api: yield* Remote.endpoint(Manager61, { build: () => Effect.succeed("6.1 built") }),
            additionalEndpoints: [
              yield* Remote.endpoint(Extra62, { shelve: () => Effect.succeed("6.2 shelved") }, {
                version: "6.2",
              }),
            ],
          }
        }),
      )
      yield* Service.layer({ host: "node-1", topic: "both" }, BothManager).pipe(
        Layer.provide(Remote.layerServer()),
        Layer.build,
      )
      // A client that knows every method, all since 6.0
      const Client = Remote.api(
        RpcGroup.make(
          Rpc.make("build", { success: Schema.String }),
          Rpc.make("shelve", { success: Schema.String }),
          Rpc.make("unshelve", { success: Schema.String }),
        ),
        { since: "6.0" },
      )
      const both = yield* Remote.client(Client, { topic: "both" })
      // 6.1 matches both endpoints: build is the manager's, shelve falls through to the 6.2 one
      expect(yield* both.call("node-1", "build", undefined, { version: "6.1" })).toBe("6.1 built")
      expect(yield* both.call("node-1", "shelve", undefined, { version: "6.1" })).toBe(
        "6.2 shelved",
      )
      // 6.2 matches only the additional endpoint, which has no build
      expect(yield* Effect.flip(both.call("node-1", "build", undefined, { version: "6.2" })))
        .toEqual(new Remote.NoSuchMethod({ method: "build", requested: "6.2" }))
      expect(yield* Effect.flip(both.call("node-1", "unshelve", undefined)))
        .toEqual(new Remote.NoSuchMethod({ method: "unshelve", requested: "6.0" }))
      expect(yield* Effect.flip(both.call("node-1", "build", undefined, { version: "6.3" })))
        .toEqual(
          new Remote.UnsupportedVersion({
            method: "build",
            requested: "6.3",
            served: ["6.1", "6.2"],
          }),
        )
    }).pipe(Effect.provide(network)))

  it.scoped("a streamed method is a Stream on the client; an unknown method meanwhile leaves it intact", () =>
    Effect.gen(function* () {
      yield* startAdmin(yield* Effect.scope)
      // One client (one connection) of a newer API: it has a method this server lacks
      const NewerWatch = Remote.api(WatchApi.add(Rpc.make("unwatch")), { namespace: "watch" })
      const newer = yield* Remote.client(NewerWatch, { topic: "admin" })
      const items = yield* Effect.fork(
        Stream.runCollect(newer.stream("node-1", "watch", { count: 5 })),
      )
      yield* TestClock.adjust(2_000)
      expect(yield* Effect.flip(newer.call("node-1", "unwatch", undefined))).toEqual(
        new Remote.NoSuchMethod({ method: "unwatch", namespace: "watch", requested: "1.0" }),
      )
      yield* TestClock.adjust(10_000)
      expect([...(yield* Fiber.join(items))]).toEqual([1, 2, 3, 4, 5])
    }).pipe(Effect.provide(network)))
})
