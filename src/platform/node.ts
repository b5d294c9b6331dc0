/**
 * Runs a service as a Node.js process: SIGHUP resets it, SIGTERM or SIGINT stops it gracefully
 * and the process exits with the outcome (0 after a clean stop, 1 otherwise).
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { RunMainOptions } from "../internal/runMain.ts"
import * as internal from "../internal/runMain.ts"
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

export type {
  /**
   * Options of {@link runMain}.
   *
   * @since 0.1.0
   * @category models
   */
  RunMainOptions,
} from "../internal/runMain.ts"
