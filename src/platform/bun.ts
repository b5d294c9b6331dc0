/**
 * Runs a service as a Bun process. Bun offers Node's `process` signals and `exit`, so this is
 * the Node runner under Bun's name.
 *
 * @since 0.1.0
 */
export {
  /**
   * The HTTP transport of the Node module: servers at `http://<hostname>:<port>/rpc`, a POST
   * per call, a request over `maxRequestBytes` answered 413 (the call fails with `RequestTooLarge`).
   *
   * @example
   * ```ts
   * import * as Layer from "effect/Layer"
   * import { Service, ServiceRegistry } from "effect-manager"
   * import * as Remote from "effect-manager/Remote"
   * import { layerHttp } from "effect-manager/platform/bun"
   *
   * const scheduler = Service.layer({ host: "scheduler-1", topic: "scheduler" }).pipe(
   *   Layer.provide(Remote.layerServer()),
   *   Layer.provide(Layer.mergeAll(layerHttp({ maxRequestBytes: 65536 }), ServiceRegistry.layerMemory)),
   * )
   * ```
   *
   * @since 0.1.0
   * @category transports
   */
  layerHttp,
  /**
   * The WebSocket transport of the Node module (`effect-manager/platform/node`), which runs
   * here on Bun's Node compatibility: servers at `ws://<hostname>:<port>/rpc`, clients on the
   * global WebSocket, requests over `maxRequestBytes` (1 MiB) closing their connection (1009).
   *
   * @example
   * ```ts
   * import * as Layer from "effect/Layer"
   * import { Service, ServiceRegistry } from "effect-manager"
   * import * as Remote from "effect-manager/Remote"
   * import { layerWebSocket, runMain } from "effect-manager/platform/bun"
   *
   * runMain(
   *   Service.layer({ host: "scheduler-1", topic: "scheduler" }).pipe(
   *     Layer.provide(Remote.layerServer()),
   *     Layer.provide(Layer.mergeAll(layerWebSocket(), ServiceRegistry.layerMemory)),
   *   ),
   * )
   * ```
   *
   * @since 0.1.0
   * @category transports
   */
  layerWebSocket,
  /**
   * Runs `layer` — a `Service.layer` with what it needs — as the program of this Bun process:
   * SIGHUP resets the service, SIGTERM or SIGINT stops it, and the process exits 0 after a clean
   * stop, 1 otherwise. The details are those of the Node runner (`effect-manager/platform/node`).
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager, Service, ServiceRegistry } from "effect-manager"
   * import { runMain } from "effect-manager/platform/bun"
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
  runMain,
  /**
   * Options of {@link runMain}.
   *
   * @since 0.1.0
   * @category models
   */
  type RunMainOptions,
  /**
   * The options of `layerWebSocket` and `layerHttp`: `maxRequestBytes` (1 MiB by default).
   *
   * @example
   * ```ts
   * import { layerHttp, type TransportOptions } from "effect-manager/platform/bun"
   *
   * const options: TransportOptions = { maxRequestBytes: 65536 }
   * const transport = layerHttp(options)
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  type TransportOptions,
} from "./node.ts"
