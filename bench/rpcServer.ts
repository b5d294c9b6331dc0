/**
 * The server side of `npm run bench:rpc` (bench/rpc.ts runs it in a child process, the same
 * bundle with `--serve DIRECTORY`): one small API served twice on loopback WebSocket.
 *
 * - bare: `@effect/rpc` alone, `RpcServer.layerProtocolWebsocket` on `@effect/platform-node`'s
 *   HTTP server, msgpack, no middleware, its default spans. Its address goes out on the ready
 *   line; so does a second one's, without spans (the breakdown's bare-untraced).
 * - ours: a `Service` whose manager's `api` is the same methods, served by `Remote.layerServer`
 *   with HMAC authentication over `layerWebSocket()`; its record, with its address, is in a
 *   `ServiceRegistry.layerFileSystem(DIRECTORY)` that the client reads, as a user's would.
 *   A second service (`OPEN_HOST`) serves the same with `auth: "none"`, for the breakdown.
 *
 * The HMAC secret comes in the environment (`SECRET_VARIABLE`). When every server listens, one
 * line goes out: `{"ready":true,"bare":"ws://127.0.0.1:PORT/rpc","bareUntraced":"ws://…"}`. The
 * server stops on SIGTERM or SIGINT, and when its standard input ends (its parent is gone).
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Manager, Service, ServiceRegistry } from "../mod.ts"
import { layerWebSocket } from "../src/platform/node.ts"
import * as Remote from "../src/Remote.ts"

declare const console: { log(line: string): void }
declare const process: {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdin: {
    on(event: "end" | "close", listener: () => void): unknown
    resume(): unknown
  }
}

/** The methods both servers serve: a call that answers once, and a stream of `n` numbers. */
export const BenchGroup = RpcGroup.make(
  Rpc.make("echo", { payload: { n: Schema.Number }, success: Schema.Number }),
  Rpc.make("count", { payload: { n: Schema.Number }, success: Schema.Number, stream: true }),
)

/** The same methods as a remote API of ours (the `Guard` added; version 1.0). */
export const BenchApi = Remote.api(BenchGroup)

export const TOPIC = "bench"
/** The service that asks for HMAC-signed requests. */
export const HOST = "bench-1"
/** The service that accepts anyone (`auth: "none"`): the cost of authentication, by difference. */
export const OPEN_HOST = "bench-open"
/** The key id the client signs with. */
export const PRINCIPAL = "bench-client"
/** The environment variable that carries the HMAC secret to the server. */
export const SECRET_VARIABLE = "EFFECT_MANAGER_BENCH_RPC_SECRET"

const handlers = {
  echo: ({ n }: { readonly n: number }) => Effect.succeed(n),
  count: ({ n }: { readonly n: number }) => Stream.range(1, n),
}

// Imported by a computed name, as src/platform/node.ts does: the project has no Node types.
const nodeHttp = "node:http"
interface NodeHttp {
  readonly createServer: () => ReturnType<Parameters<typeof NodeHttpServer.make>[0]>
}

/**
 * Bare `@effect/rpc` on loopback, with its spans (its default) or without (`tracing: false`, as
 * ours when no tracer is installed): its address.
 */
const serveBare = (tracing: boolean) =>
  Effect.gen(function* () {
    const http = yield* Effect.promise(() => import(nodeHttp) as Promise<NodeHttp>)
    const server = yield* NodeHttpServer.make(() => http.createServer(), {
      host: "127.0.0.1",
      port: 0,
    })
    yield* Layer.buildWithScope(
      HttpRouter.Default.serve().pipe(
        Layer.provide(RpcServer.layer(BenchGroup, { disableTracing: !tracing })),
        Layer.provide(BenchGroup.toLayer(handlers)),
        Layer.provide(RpcServer.layerProtocolWebsocket({ path: "/rpc" })),
        Layer.provide(RpcSerialization.layerMsgPack),
        Layer.provide(Layer.succeed(HttpServer.HttpServer, server)),
      ),
      yield* Effect.scope,
    )
    if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
    return `ws://127.0.0.1:${server.address.port}/rpc`
  })

class Bench extends Context.Tag("bench/Bench")<Bench, object>() {}

const BenchManager = Manager.layer(
  Bench,
  Effect.gen(function* () {
    return { service: {}, apiVersion: "1.0", api: yield* Remote.endpoint(BenchApi, handlers) }
  }),
)

/** The file-system registry both processes share. */
export const registryLayer = (directory: string) =>
  ServiceRegistry.layerFileSystem(directory).pipe(
    Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)),
  )

/** Both servers, until the scope closes. */
const serveAll = (directory: string, secret: string) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const bare = yield* serveBare(true)
    const bareUntraced = yield* serveBare(false)
    const network = yield* Layer.build(
      Layer.mergeAll(Layer.orDie(layerWebSocket()), registryLayer(directory)),
    )
    const key: Remote.Credentials = { _tag: "Hmac", principal: PRINCIPAL, secret }
    for (
      const [host, auth] of [[HOST, { keys: [key] }], [OPEN_HOST, "none"]] as const
    ) {
      yield* Layer.buildWithScope(
        Service.layer({ host, topic: TOPIC }, BenchManager).pipe(
          Layer.provide(Remote.layerServer({ auth })),
        ),
        scope,
      ).pipe(Effect.provide(network))
    }
    return { bare, bareUntraced }
  })

/** Resolves when standard input ends: the parent closed it, or died. */
const parentGone = Effect.async<void>((resume) => {
  process.stdin.on("end", () => resume(Effect.void))
  process.stdin.on("close", () => resume(Effect.void))
  process.stdin.resume()
})

/** The server process's program: serve, say so, and wait to be stopped. */
export const serverMain = (directory: string): Effect.Effect<void, unknown> =>
  Effect.gen(function* () {
    const secret = process.env[SECRET_VARIABLE]
    if (secret === undefined || secret === "") {
      return yield* Effect.dieMessage(`${SECRET_VARIABLE} is not set`)
    }
    const { bare, bareUntraced } = yield* serveAll(directory, secret)
    console.log(JSON.stringify({ ready: true, bare, bareUntraced }))
    yield* parentGone
  }).pipe(
    Effect.scoped,
    Logger.withMinimumLogLevel(LogLevel.Warning),
  )
