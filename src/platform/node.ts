/**
 * Runs a service as a Node.js process: SIGHUP resets it, SIGTERM or SIGINT stops it gracefully
 * and the process exits with the outcome (0 after a clean stop, 1 otherwise). Serves and calls
 * remote APIs over WebSocket or HTTP with `@effect/platform-node` (an optional peer dependency,
 * needed only by {@link layerWebSocket} and {@link layerHttp}).
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type { InvalidRemoteOption } from "../internal/remote/errors.ts"
import * as frameLimit from "../internal/remote/frameLimit.ts"
import * as socket from "../internal/remote/socket.ts"
import type { RunMainOptions } from "../internal/runMain.ts"
import * as internal from "../internal/runMain.ts"
import type { Transport } from "../Remote.ts"
import type { Service } from "../Service.ts"

// No Node types in this project: only what is used here.
declare const process: {
  on(signal: internal.Signal, listener: () => void): unknown
  off(signal: internal.Signal, listener: () => void): unknown
  exit(code: number): void
}

/**
 * Runs `layer` — a `Service.layer` with what it needs — as the program of this Node.js process.
 *
 * - start: the layer is built; a failure is logged and the process exits 1. A SIGTERM or
 *   SIGINT during the start interrupts it (the service cleans up every manager whose `init` was
 *   attempted) and the process exits 0 if that went cleanly, 1 otherwise.
 * - SIGHUP: `reset`, one at a time; a failed reset is logged and the service runs on.
 * - SIGTERM or SIGINT: the graceful stop; the process exits 0 when the service's stop report has
 *   no error, 1 otherwise. A second SIGTERM or SIGINT exits 1 at once; a stop still going
 *   `stopGrace` (5 s) after the service's shutdown deadline is logged with what it waits for and
 *   the process exits 1.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import { Manager, Service, ServiceRegistry } from "effect-manager"
 * import { runMain } from "effect-manager/platform/node"
 *
 * class Compute extends Context.Tag("Compute")<Compute, { readonly ping: Effect.Effect<string> }>() {}
 *
 * const ComputeManager = Manager.layer(Compute, Effect.succeed({
 *   service: { ping: Effect.succeed("pong") },
 *   cleanup: () => Effect.log("cleanup_host"),
 * }))
 *
 * runMain(
 *   Service.layer({ host: "compute-1", topic: "compute" }, ComputeManager).pipe(
 *     Layer.provide(ServiceRegistry.layerMemory),
 *   ),
 * )
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runMain: <E>(layer: Layer.Layer<Service, E>, options?: RunMainOptions) => void =
  internal.runMain({
    onSignal: (signal, handler) => {
      process.on(signal, handler)
      return () => process.off(signal, handler)
    },
    exit: (code) => process.exit(code),
  })

/**
 * The options of {@link layerWebSocket} and {@link layerHttp}: `maxRequestBytes`, the largest
 * request a server reads (1 MiB by default). A larger one is refused: 413 over HTTP (the call
 * fails with `Remote.RequestTooLarge`); over WebSocket the connection is closed (code 1009), which fails that client's calls in flight,
 * and its next call connects again.
 *
 * @example
 * ```ts
 * import { layerWebSocket, type TransportOptions } from "effect-manager/platform/node"
 *
 * const options: TransportOptions = { maxRequestBytes: 256 * 1024 }
 * const transport = layerWebSocket(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportOptions extends socket.SocketOptions {}

// Imported by a computed name: the project has no Node types on purpose, and `deno check` would
// look for them (npm:@types/node) to check a static import of node:http.
const nodeHttp = "node:http"

/** What is used of `node:http`. */
interface NodeHttp {
  readonly createServer: () => ReturnType<Parameters<typeof NodeHttpServer.make>[0]> & {
    on(event: "upgrade", listener: (request: unknown, connection: Connection) => void): unknown
    closeAllConnections(): void
  }
}

/** What is used of a connection of Node's HTTP server. */
interface Connection {
  destroy(): void
  end(data: Uint8Array): void
  once(event: "close" | "end", listener: () => void): void
  on(event: "newListener", listener: (event: string | symbol) => void): unknown
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown
  off(event: "newListener", listener: (event: string | symbol) => void): unknown
  removeAllListeners(event: "data"): unknown
}

/** A close frame with status 1009, "message too big" (RFC 6455, 5.5.1 and 7.4.1). */
const CLOSE_TOO_BIG = Uint8Array.of(0x88, 0x02, 0x03, 0xf1)

/**
 * Reads an upgraded connection's frame headers ahead of the WebSocket server: when the server
 * adds its data listener, ours goes first. A message over `maxBytes` is refused at the header
 * that declares it: the WebSocket server gets no more bytes (it keeps at most the chunk that
 * held that header), the client is sent 1009 and the connection ends; what the client still
 * sends is dropped until it ends its side. Without the hook (another runtime's sockets), the
 * server's parser still refuses the message once read.
 */
const limitFrames = (connection: Connection, maxBytes: number) => {
  const beforeData = (event: string | symbol) => {
    if (event !== "data") return
    connection.off("newListener", beforeData)
    const over = frameLimit.make(maxBytes)
    const watch = (chunk: Uint8Array) => {
      if (!over(chunk)) return
      connection.removeAllListeners("data")
      connection.on("data", () => {})
      connection.once("end", () => connection.destroy())
      connection.end(CLOSE_TOO_BIG)
    }
    connection.on("data", watch)
  }
  connection.on("newListener", beforeData)
}

// Node's HTTP server; WebSocket clients take the global WebSocket when there is one (Deno, Bun,
// Node 22) and the `ws` package otherwise (Node 20); HTTP clients use the global fetch.
const platform: socket.Platform = {
  listen: (listen, maxBytes) =>
    Effect.gen(function* () {
      const server = (yield* Effect.promise(() => import(nodeHttp) as Promise<NodeHttp>))
        .createServer()
      const upgraded = new Set<Connection>()
      server.on("upgrade", (_: unknown, connection: Connection) => {
        upgraded.add(connection)
        connection.once("close", () => upgraded.delete(connection))
        limitFrames(connection, maxBytes)
      })
      // Node's close waits for every connection to end, and so does the WebSocket server that
      // `NodeHttpServer` makes at the first upgrade (and releases first): end them all before,
      // so that the stop is prompt and the calls in flight fail at once.
      const inner = yield* Scope.make()
      yield* Effect.addFinalizer((exit) =>
        Effect.zipRight(
          Effect.sync(() => {
            server.closeAllConnections()
            for (const connection of upgraded) connection.destroy()
          }),
          Scope.close(inner, exit),
        )
      )
      return yield* Scope.extend(
        NodeHttpServer.make(() => server, { host: listen.hostname, port: listen.port }),
        inner,
      )
    }),
  clients: Layer.merge(NodeSocket.layerWebSocketConstructor, FetchHttpClient.layer),
}

/**
 * The WebSocket transport: servers listen at `ws://<hostname>:<port>/rpc` (the bound port goes
 * into the service record), one connection per client and address carries every call and
 * stream. Clients reach `ws://` and `http://` addresses alike. A connection that drops fails
 * its calls in flight at once with an `RpcClientError`; the next call connects again. Requests
 * are msgpack; one over `maxRequestBytes` closes its connection (1009); a malformed frame is
 * logged and closes only its own connection.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
 * import * as NodePath from "@effect/platform-node/NodePath"
 * import { Service, ServiceRegistry } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 * import { layerWebSocket, runMain } from "effect-manager/platform/node"
 *
 * const registry = ServiceRegistry.layerFileSystem("/var/lib/cloud/services").pipe(
 *   Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)),
 * )
 *
 * runMain(
 *   Service.layer({ host: "scheduler-1", topic: "scheduler" }).pipe(
 *     Layer.provide(Remote.layerServer({ hostname: "127.0.0.1", port: 0 })),
 *     Layer.provide(Layer.mergeAll(layerWebSocket({ maxRequestBytes: 256 * 1024 }), registry)),
 *   ),
 * )
 * ```
 *
 * @since 0.1.0
 * @category transports
 */
export const layerWebSocket = (
  options?: TransportOptions,
): Layer.Layer<Transport, InvalidRemoteOption> => socket.layer("websocket", platform, options)

/**
 * The HTTP transport: servers listen at `http://<hostname>:<port>/rpc` and each call is one
 * POST (a stream is the body of its reply). Clients reach `http://` and `ws://` addresses
 * alike; a reply that is not 2xx fails the call with an `RpcClientError`. A request over
 * `maxRequestBytes` is answered 413: the call fails with `Remote.RequestTooLarge`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { ServiceRegistry } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 * import { layerHttp } from "effect-manager/platform/node"
 *
 * const ping = Effect.gen(function*() {
 *   const client = yield* Remote.client(Remote.BaseApi, { topic: "compute" })
 *   return yield* client.call("compute-1", "ping", { arg: "hello" })
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(layerHttp()),
 *   Effect.provide(ServiceRegistry.layerMemory),
 * )
 * ```
 *
 * @since 0.1.0
 * @category transports
 */
export const layerHttp = (
  options?: TransportOptions,
): Layer.Layer<Transport, InvalidRemoteOption> => socket.layer("http", platform, options)

export type {
  /**
   * Options of {@link runMain}.
   *
   * @since 0.1.0
   * @category models
   */
  RunMainOptions,
} from "../internal/runMain.ts"
