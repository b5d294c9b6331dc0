// The WebSocket and HTTP transports in one process: a compute service served on 127.0.0.1
// (port 0), called by Remote.client over real sockets, on the runtime the suite runs on.
import * as Rpc from "@effect/rpc/Rpc"
import { RpcClientError } from "@effect/rpc/RpcClientError"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Socket from "@effect/platform/Socket"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Manager, Service, ServiceRegistry } from "../mod.ts"
import * as Remote from "../src/Remote.ts"
import type * as NodeSocket from "@effect/platform-node/NodeSocket"
import type * as NodePlatform from "../src/platform/node.ts"
import { detectRuntime } from "./support/runtime.ts"

const runtime = detectRuntime()

const netModule = "node:net"

/** What is used of `node:net`. */
interface Net {
  readonly connect: (port: number, host: string) => {
    on(event: "data", listener: (chunk: Uint8Array) => void): unknown
    on(event: "end" | "close", listener: () => void): unknown
    write(data: string | Uint8Array): unknown
    end(): unknown
    destroy(): unknown
  }
}
// workerd serves no sockets; it also must not bundle the Node platform module.
const live = runtime === "workerd" ? it.scopedLive.skip : it.scopedLive

// Not a static import: workerd's bundle of this file must not pull in node:http.
const platformModule = `../src/platform/${runtime === "deno" ? "deno" : "node"}.ts`
const platform = Effect.promise(() => import(platformModule) as Promise<typeof NodePlatform>)

class InstanceNotFound extends Schema.TaggedError<InstanceNotFound>()("InstanceNotFound", {
  id: Schema.String,
}) {}

const methods = [
  Rpc.make("build", { payload: { id: Schema.String }, success: Schema.Number }),
  Rpc.make("get", {
    payload: { id: Schema.String },
    success: Schema.Number,
    error: InstanceNotFound,
  }),
  Rpc.make("slow", { payload: { millis: Schema.Number }, success: Schema.String }),
  Rpc.make("ticks", { payload: { count: Schema.Number }, success: Schema.Number, stream: true }),
  Rpc.make("store", { payload: { blob: Schema.String }, success: Schema.Number }),
] as const

const ComputeApi = Remote.api(RpcGroup.make(...methods), { since: "6.0" })
/** What a newer client knows: one method more than the server serves. */
const NewerComputeApi = Remote.api(
  RpcGroup.make(...methods, Rpc.make("evacuate", { success: Schema.String })),
  { since: "6.0" },
)

class Compute extends Context.Tag("Compute")<Compute, { readonly ready: Effect.Effect<void> }>() {}

/** ComputeApi's handlers; `started` is told of each `slow` call as it starts. */
const handlers = (started?: Deferred.Deferred<void>) => {
  const built: Array<string> = []
  return {
    build: ({ id }: { readonly id: string }) => Effect.sync(() => built.push(id)),
    get: ({ id }: { readonly id: string }) =>
      built.includes(id) ? Effect.succeed(built.indexOf(id)) : new InstanceNotFound({ id }),
    slow: ({ millis }: { readonly millis: number }) =>
      Effect.zipRight(
        started === undefined ? Effect.void : Deferred.succeed(started, undefined),
        Effect.as(Effect.sleep(millis), `slept ${millis}`),
      ),
    ticks: ({ count }: { readonly count: number }) =>
      Stream.range(1, count).pipe(Stream.tap(() => Effect.sleep("20 millis"))),
    store: ({ blob }: { readonly blob: string }) => Effect.succeed(blob.length),
  }
}

/** A compute manager serving ComputeApi. */
const computeManager = (started?: Deferred.Deferred<void>) =>
  Manager.layer(
    Compute,
    Effect.gen(function* () {
      return {
        service: { ready: Effect.void },
        apiVersion: "6.1",
        api: yield* Remote.endpoint(ComputeApi, handlers(started)),
      }
    }),
  )

/**
 * The context's transport, and `crash`: every server it started stops listening and drops its
 * connections at once, as when its process dies (a service's stop would drain and answer).
 */
const crashable = Effect.gen(function* () {
  const transport = yield* Remote.Transport
  const listening: Array<Scope.CloseableScope> = []
  const wrapped: Remote.Transport = {
    ...transport,
    serve: (listen) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        listening.push(scope)
        return yield* Scope.extend(transport.serve(listen), scope)
      }),
  }
  return {
    transport: wrapped,
    crash: Effect.forEach(listening, (scope) => Scope.close(scope, Exit.void), { discard: true }),
  }
})

const MAX_REQUEST_BYTES = 64 * 1024

type Kind = "websocket" | "http"

const transport = (kind: Kind) =>
  Layer.unwrapEffect(
    Effect.map(platform, (module) =>
      (kind === "websocket" ? module.layerWebSocket : module.layerHttp)({
        maxRequestBytes: MAX_REQUEST_BYTES,
      })),
  )

const network = (kind: Kind) =>
  Layer.mergeAll(Layer.orDie(transport(kind)), ServiceRegistry.layerMemory)

/** The compute service on `host` in `scope`: its address, from its record. */
const startCompute = (host: string, scope: Scope.Scope, started?: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    yield* Layer.buildWithScope(
      Service.layer({ host, topic: "compute" }, computeManager(started)).pipe(
        Layer.provide(Remote.layerServer()),
      ),
      scope,
    )
    const registry = yield* ServiceRegistry.ServiceRegistry
    const record = Option.getOrThrow(yield* registry.get(host, "compute"))
    return record.endpoint!.address
  })

/** Fails the test if `effect` has not completed within `limit` of real time. */
const within = <A, E, R>(limit: Duration.DurationInput, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: limit,
    onTimeout: () => new Error(`still running after ${Duration.format(limit)}`),
  })

for (const kind of ["websocket", "http"] as const) {
  const scheme = kind === "websocket" ? "ws" : "http"

  describe(`Remote over ${kind} (${runtime})`, () => {
    live(
      "a call answers with its result and a typed method error; the record has the bound address",
      () =>
        Effect.gen(function* () {
          const address = yield* startCompute("node-1", yield* Effect.scope)
          expect(address).toMatch(new RegExp(`^${scheme}://127\\.0\\.0\\.1:[1-9]\\d*/rpc$`))
          const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
          expect(yield* compute.call("node-1", "build", { id: "vm-1" })).toBe(1)
          expect(yield* compute.call("node-1", "get", { id: "vm-1" })).toBe(0)
          const missing = yield* Effect.flip(compute.call("node-1", "get", { id: "vm-9" }))
          expect(missing).toEqual(new InstanceNotFound({ id: "vm-9" }))
        }).pipe(Effect.provide(network(kind))),
    )

    live(
      "an unknown method is NoSuchMethod for that call alone; a stream on the same connection goes on",
      () =>
        Effect.gen(function* () {
          yield* startCompute("node-1", yield* Effect.scope)
          const compute = yield* Remote.client(NewerComputeApi, { topic: "compute" })
          const ticks = yield* Effect.fork(
            Stream.runCollect(compute.stream("node-1", "ticks", { count: 10 })),
          )
          yield* Effect.sleep("50 millis")
          const refused = yield* Effect.flip(compute.call("node-1", "evacuate", undefined))
          expect(refused).toEqual(new Remote.NoSuchMethod({ method: "evacuate", requested: "6.0" }))
          expect(Chunk.toReadonlyArray(yield* Fiber.join(ticks))).toEqual(
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
          )
        }).pipe(Effect.provide(network(kind))),
    )

    live(
      `a request over maxRequestBytes fails at once (${
        kind === "http" ? "413: RequestTooLarge" : "1009: RpcClientError"
      }); the next call works`,
      () =>
        Effect.gen(function* () {
          yield* startCompute("node-1", yield* Effect.scope)
          const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
          expect(yield* compute.call("node-1", "store", { blob: "small" })).toBe(5)
          const refused = yield* within(
            "2 seconds",
            Effect.flip(compute.call("node-1", "store", { blob: "x".repeat(MAX_REQUEST_BYTES) })),
          )
          if (kind === "http") {
            expect(refused).toEqual(
              new Remote.RequestTooLarge({
                host: "node-1",
                topic: "compute",
                method: "store",
                limitBytes: MAX_REQUEST_BYTES,
              }),
            )
          } else {
            expect(refused).toBeInstanceOf(RpcClientError)
            expect(String((refused as RpcClientError).cause)).toContain("1009")
          }
          expect(yield* compute.call("node-1", "store", { blob: "again" })).toBe(5)
        }).pipe(Effect.provide(network(kind))),
    )

    live(
      "a server whose sockets drop mid-call fails the call with an RpcClientError at once; a new server at a new address answers the next",
      () =>
        Effect.gen(function* () {
          const started = yield* Deferred.make<void>()
          const first = yield* Scope.make()
          const network = yield* crashable
          const before = yield* startCompute("node-1", first, started).pipe(
            Effect.provideService(Remote.Transport, network.transport),
          )
          const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
          const call = yield* Effect.fork(compute.call("node-1", "slow", { millis: 60_000 }))
          yield* Deferred.await(started)
          yield* network.crash
          const failed = yield* within("2 seconds", Effect.flip(Fiber.join(call)))
          expect(failed).toBeInstanceOf(RpcClientError)
          yield* Scope.close(first, Exit.void)
          const after = yield* startCompute("node-1", yield* Effect.scope)
          expect(after).not.toBe(before)
          expect(yield* compute.call("node-1", "build", { id: "vm-2" })).toBe(1)
        }).pipe(Effect.provide(network(kind))),
    )

    live(
      "a cast to a host whose server is gone fails at once with an RpcClientError (it has no answer to wait for)",
      () =>
        Effect.gen(function* () {
          const network = yield* crashable
          yield* startCompute("node-1", yield* Effect.scope).pipe(
            Effect.provideService(Remote.Transport, network.transport),
          )
          const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
          expect(yield* compute.call("node-1", "build", { id: "vm-1" })).toBe(1)
          yield* network.crash
          yield* Effect.sleep("50 millis") // the client sees its connection drop
          const failed = yield* within(
            "2 seconds",
            Effect.flip(compute.cast("node-1", "build", { id: "vm-2" })),
          )
          expect(failed).toBeInstanceOf(RpcClientError)
        }).pipe(Effect.provide(network(kind))),
    )
  })
}

// Not a static import either: a raw WebSocket client for the malformed frames (Node 20 has no
// global WebSocket).
const nodeSocketModule = "@effect/platform-node/NodeSocket"
const webSocketConstructor = Layer.unwrapEffect(
  Effect.map(
    Effect.promise(() => import(nodeSocketModule) as Promise<typeof NodeSocket>),
    (module) => module.layerWebSocketConstructor,
  ),
)

describe(`Remote over websocket: malformed frames (${runtime})`, () => {
  live(
    "a malformed frame is logged and answered on its own connection; others are served",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const address = yield* startCompute("node-1", yield* Effect.scope).pipe(
          Effect.provide(Logger.replace(
            Logger.defaultLogger,
            Logger.make(({ message }) => lines.push(String(message))),
          )),
        )
        const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
        const streaming = yield* Effect.fork(
          Stream.runCollect(compute.stream("node-1", "ticks", { count: 10 })),
        )
        const parser = RpcSerialization.msgPack.unsafeMake()
        for (const frame of [new Uint8Array([0xc1]), parser.encode({ _tag: "Launch" })!]) {
          const answer = yield* Deferred.make<ReadonlyArray<unknown>>()
          const socket = yield* Socket.makeWebSocket(address)
          yield* Effect.forkScoped(
            socket.runRaw((data) => Deferred.succeed(answer, parser.decode(data))),
          )
          yield* (yield* socket.writer)(frame)
          const [reply] = yield* within("2 seconds", Deferred.await(answer))
          expect(reply).toMatchObject({ _tag: "Defect" })
        }
        expect(lines.filter((line) => line.startsWith("Refused a malformed frame"))).toHaveLength(2)
        expect(yield* compute.call("node-1", "build", { id: "vm-1" })).toBe(1)
        expect(Chunk.size(yield* Fiber.join(streaming))).toBe(10)
      }).pipe(Effect.provide(Layer.merge(network("websocket"), webSocketConstructor))),
  )

  // Bun answers WebSocket upgrades with its own server, not the `ws` package the header check
  // reads ahead of: there the message is refused once read (the test above).
  const headerCheck = runtime === "bun" ? it.scopedLive.skip : live
  headerCheck(
    "a message declared over maxRequestBytes is refused at its frame's header: 1009 before any of its payload is sent",
    () =>
      Effect.gen(function* () {
        const address = yield* startCompute("node-1", yield* Effect.scope)
        const port = Number(/:(\d+)\/rpc$/.exec(address)![1])
        // Not a static import: workerd's bundle of this file must not pull in node:net.
        const net = yield* Effect.promise(() => import(netModule) as Promise<Net>)
        // A raw client: the upgrade, then one frame header declaring a byte over the limit (64-bit
        // length, masked), and no payload. A server that waited for the payload would not answer.
        const length = MAX_REQUEST_BYTES + 1
        const declared = [0, 0, 0, 0, 0, length >> 16, (length >> 8) & 0xff, length & 0xff]
        const received = yield* Effect.async<{ status: string; after: ReadonlyArray<number> }>(
          (resume) => {
            const connection = net.connect(port, "127.0.0.1")
            let bytes: Array<number> = []
            let status: string | undefined
            connection.on("data", (chunk) => {
              bytes.push(...chunk)
              const end = bytes.findIndex((_, i) => bytes.slice(i, i + 4).join() === "13,10,13,10")
              if (status === undefined && end >= 0) {
                status = String.fromCharCode(...bytes.slice(0, bytes.indexOf(13)))
                bytes = bytes.slice(end + 4)
                connection.write(Uint8Array.of(0x82, 0x80 | 127, ...declared, 1, 2, 3, 4))
              }
            })
            connection.on("end", () => connection.end())
            connection.on("close", () => resume(Effect.succeed({ status: status!, after: bytes })))
            connection.write(
              `GET /rpc HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
                `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
                `Sec-WebSocket-Version: 13\r\n\r\n`,
            )
            return Effect.sync(() => connection.destroy())
          },
        ).pipe((effect) => within("2 seconds", effect))
        expect(received).toEqual({
          status: "HTTP/1.1 101 Switching Protocols",
          after: [0x88, 0x02, 0x03, 0xf1], // close, 1009
        })
        // the server serves on
        const compute = yield* Remote.client(ComputeApi, { topic: "compute" })
        expect(yield* compute.call("node-1", "build", { id: "vm-1" })).toBe(1)
      }).pipe(Effect.provide(network("websocket"))),
  )
})
