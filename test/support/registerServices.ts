// A child process of test/ServiceRegistry.processes.test.ts: registers `count` services named
// `<worker>-<i>` (topic "compute") in a ServiceRegistry.layerFileSystem directory, each with
// one heartbeat, while other processes do the same over the same directory; prints
// "registered <count>" when done.
//
//   registerServices.ts <directory> <worker> <count>
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ServiceRegistry from "../../src/ServiceRegistry.ts"

declare const process: {
  readonly argv: ReadonlyArray<string>
  exitCode?: number
} | undefined
declare const Deno: { readonly args: ReadonlyArray<string>; exitCode: number } | undefined
declare const console: { log(message: string): void; error(message: string): void }

const args = typeof Deno !== "undefined" ? Deno.args : process?.argv.slice(2) ?? []
const [directory = "", worker = "", count = "0"] = args

const program = Effect.gen(function* () {
  const registry = yield* ServiceRegistry.ServiceRegistry
  const hosts = Array.from({ length: Number(count) }, (_, i) => `${worker}-${i}`)
  yield* Effect.forEach(
    hosts,
    (host) => Effect.zipRight(registry.register(host, "compute"), registry.report(host, "compute")),
  )
  return hosts.length
}).pipe(
  Effect.provide(
    ServiceRegistry.layerFileSystem(directory).pipe(
      Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)),
    ),
  ),
)

Effect.runPromise(program).then(
  (registered) => console.log(`registered ${registered}`),
  (error) => {
    console.error(String(error))
    if (typeof Deno !== "undefined") Deno.exitCode = 1
    else if (process !== undefined) process.exitCode = 1
  },
)
