/**
 * A small compute service run as a process, to try signals by hand and for
 * test/platform.test.ts. Each hook logs "hook: <name>", one periodic task logs every second and
 * "ready" is printed once the service runs.
 *
 *   node scripts/run-ts.mjs examples/service.ts [flags]
 *   deno run --allow-env --allow-read examples/service.ts [flags]
 *
 * then `kill -HUP <pid>` (reset) and `kill -TERM <pid>` (stop). Flags:
 *
 *   --hang-cleanup   cleanup never finishes (and the shutdown deadline is 2 s)
 *   --fail-reset     reset fails
 *   --slow-init N    init takes N ms
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Manager from "../src/Manager.ts"
import * as PeriodicTask from "../src/PeriodicTask.ts"
import * as DenoPlatform from "../src/platform/deno.ts"
import * as NodePlatform from "../src/platform/node.ts"
import * as Service from "../src/Service.ts"
import * as ServiceRegistry from "../src/ServiceRegistry.ts"

declare const process: { readonly argv: ReadonlyArray<string> } | undefined
declare const Deno: { readonly args: ReadonlyArray<string> } | undefined

const isDeno = "Deno" in globalThis
const args = isDeno && typeof Deno !== "undefined" ? Deno.args : process?.argv.slice(2) ?? []
const hangCleanup = args.includes("--hang-cleanup")
const failReset = args.includes("--fail-reset")
const slowInit = args.includes("--slow-init") ? Number(args[args.indexOf("--slow-init") + 1]) : 0

class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{ readonly message: string }> {}

class Compute extends Context.Tag("Compute")<Compute, {
  readonly audits: Effect.Effect<number>
}>() {}

const ComputeManager = Manager.layer(
  Compute,
  Effect.sync(() => {
    let audits = 0
    return {
      service: { audits: Effect.sync(() => audits) },
      init: Effect.zipRight(Effect.log("hook: init"), Effect.sleep(slowInit)),
      preStart: Effect.log("hook: preStart"),
      postStart: Effect.log("hook: postStart"),
      cleanup: () =>
        Effect.zipRight(Effect.log("hook: cleanup"), hangCleanup ? Effect.never : Effect.void),
      reset: Effect.zipRight(
        Effect.log("hook: reset"),
        failReset
          ? new ConfigInvalid({ message: "the configuration cannot be re-read (--fail-reset)" })
          : Effect.void,
      ),
      tasks: [
        PeriodicTask.spaced(
          "update_available_resource",
          "1 second",
          Effect.suspend(() => Effect.log(`task: update_available_resource #${++audits}`)),
        ),
      ],
    }
  }),
)

const ComputeService = Service.layer(
  { host: "compute-1", topic: "compute", shutdownTimeout: hangCleanup ? "2 seconds" : undefined },
  ComputeManager,
).pipe(Layer.provide(ServiceRegistry.layerMemory))

// Built once the service runs, that is after every postStart.
const Main = Layer.effectDiscard(Console.log("ready")).pipe(Layer.provideMerge(ComputeService))

if (isDeno) DenoPlatform.runMain(Main)
else NodePlatform.runMain(Main)
