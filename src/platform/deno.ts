/**
 * Runs a service as a Deno process: SIGHUP resets it, SIGTERM or SIGINT stops it gracefully
 * and the process exits with the outcome (0 after a clean stop, 1 otherwise).
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { RunMainOptions } from "../internal/runMain.ts"
import * as internal from "../internal/runMain.ts"
import type { Service } from "../Service.ts"

// No Deno types in this project: only what is used here.
declare const Deno: {
  addSignalListener(signal: internal.Signal, handler: () => void): void
  removeSignalListener(signal: internal.Signal, handler: () => void): void
  exit(code: number): void
}

/**
 * Runs `layer` — a `Service.layer` with what it needs — as the program of this Deno process:
 * SIGHUP resets the service, SIGTERM or SIGINT stops it, and the process exits 0 after a clean
 * stop, 1 otherwise (a failed start, a stop with errors, a second SIGTERM or SIGINT, a stop
 * still going `stopGrace` after the shutdown deadline). The details are those of the Node
 * runner (`effect-manager/platform/node`). Signals need no permission.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import { Manager, Service, ServiceRegistry } from "effect-manager"
 * import { runMain } from "effect-manager/platform/deno"
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
      Deno.addSignalListener(signal, handler)
      return () => Deno.removeSignalListener(signal, handler)
    },
    exit: (code) => Deno.exit(code),
  })

export type {
  /**
   * Options of {@link runMain}.
   *
   * @since 0.1.0
   * @category models
   */
  RunMainOptions,
} from "../internal/runMain.ts"

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
   * import { layerHttp } from "effect-manager/platform/deno"
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
   * here on Deno's Node compatibility: servers at `ws://<hostname>:<port>/rpc`, clients on the
   * global WebSocket, requests over `maxRequestBytes` (1 MiB) closing their connection (1009).
   *
   * @example
   * ```ts
   * import * as Layer from "effect/Layer"
   * import { Service, ServiceRegistry } from "effect-manager"
   * import * as Remote from "effect-manager/Remote"
   * import { layerWebSocket, runMain } from "effect-manager/platform/deno"
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
   * The options of `layerWebSocket` and `layerHttp`: `maxRequestBytes` (1 MiB by default).
   *
   * @example
   * ```ts
   * import { layerHttp, type TransportOptions } from "effect-manager/platform/deno"
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
