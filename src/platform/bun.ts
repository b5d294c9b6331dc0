/**
 * Runs a service as a Bun process. Bun offers Node's `process` signals and `exit`, so this is
 * the Node runner under Bun's name.
 *
 * @since 0.1.0
 */
export {
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
} from "./node.ts"
