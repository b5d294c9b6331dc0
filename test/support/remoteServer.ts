// A child process of test/remoteProcesses.test.ts: a compute service serving ComputeApi
// (test/support/remoteApi.ts) over WebSocket on 127.0.0.1 (port 0), its record in a
// ServiceRegistry.layerFileSystem directory the test reads too, run by the `runMain` of the
// runtime it runs on (Deno's under Deno, Node's otherwise: Bun offers Node's signals).
//
//   remoteServer.ts <directory> <host> <shutdownTimeoutMillis> [freeRamMb]
//
// Prints "READY <address>" once the service runs (its record has the address), and
// "SLOW <millis>" as each `slow` call starts; SIGTERM stops it gracefully. Given `freeRamMb`, its
// manager reports that as its capabilities every 500 ms, through Remote.layerCapabilityPublisher
// to the schedulers of topic "scheduler" (looked for every 200 ms). With FIXTURE_SIGN_AS and
// FIXTURE_SECRET in its environment it signs them as that principal (HMAC); with
// FIXTURE_FLOOD_HOSTS=N it also publishes, every 10 ms, a report for each of N made-up hosts.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { CapabilityBus, Manager, Service, ServiceRegistry } from "../../mod.ts"
import * as DenoPlatform from "../../src/platform/deno.ts"
import * as NodePlatform from "../../src/platform/node.ts"
import * as Remote from "../../src/Remote.ts"
import { ComputeApi, InstanceNotFound, TOPIC } from "./remoteApi.ts"
import { detectRuntime } from "./runtime.ts"

declare const process: {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
} | undefined
declare const Deno: {
  readonly args: ReadonlyArray<string>
  readonly env: { get(name: string): string | undefined }
} | undefined

const runtime = detectRuntime()
const args = typeof Deno !== "undefined" ? Deno.args : process?.argv.slice(2) ?? []
const [directory = "", host = "", shutdownTimeout = "5000", freeRamMb] = args
const env = (name: string) => typeof Deno !== "undefined" ? Deno.env.get(name) : process?.env[name]
const signAs = env("FIXTURE_SIGN_AS")
const floodHosts = Number(env("FIXTURE_FLOOD_HOSTS") ?? 0)

class Compute extends Context.Tag("Compute")<Compute, object>() {}

const ComputeManager = Manager.layer(
  Compute,
  Effect.gen(function* () {
    const built: Array<string> = []
    return {
      service: {},
      apiVersion: "6.0",
      ...(freeRamMb === undefined ? {} : {
        capabilities: Manager.capabilities(
          Schema.Struct({ freeRamMb: Schema.Number }),
          Stream.make({ freeRamMb: Number(freeRamMb) }).pipe(Stream.concat(Stream.never)),
        ),
      }),
      api: yield* Remote.endpoint(ComputeApi, {
        build: ({ id }) => Effect.sync(() => built.push(id)),
        resize: ({ id, ramMb }) =>
          built.includes(id) ? Effect.succeed(ramMb) : new InstanceNotFound({ id }),
        slow: ({ millis }) =>
          Effect.zipRight(
            Console.log(`SLOW ${millis}`),
            Effect.as(Effect.sleep(millis), `slept ${millis}`),
          ),
        watch: ({ count }) =>
          Stream.range(1, count).pipe(Stream.tap(() => Effect.sleep("20 millis"))),
        runtime: () => Effect.succeed(runtime),
      }),
    }
  }),
)

const registry = ServiceRegistry.layerFileSystem(directory).pipe(
  Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)),
)

const ComputeService = Service.layer(
  { host, topic: TOPIC, shutdownTimeout: Number(shutdownTimeout), publishInterval: 500 },
  ComputeManager,
).pipe(
  Layer.provide(Remote.layerServer({ hostname: "127.0.0.1", port: 0 })),
  // Without a figure to report, a local bus: the manager has no capabilities to publish.
  Layer.provideMerge(
    freeRamMb === undefined ? CapabilityBus.layer() : Remote.layerCapabilityPublisher({
      retryInterval: "200 millis",
      credentials: signAs === undefined
        ? undefined
        : { _tag: "Hmac", principal: signAs, secret: env("FIXTURE_SECRET") ?? "" },
    }),
  ),
  Layer.provideMerge(Layer.mergeAll(Layer.orDie(NodePlatform.layerWebSocket()), registry)),
)

/** Every 10 ms, a report for each of `floodHosts` made-up hosts, on the service's bus. */
const flood = Effect.gen(function* () {
  const bus = yield* CapabilityBus.CapabilityBus
  let sequence = 0
  yield* Effect.forever(Effect.gen(function* () {
    sequence++
    const timestamp = yield* Clock.currentTimeMillis
    for (let i = 0; i < floodHosts; i++) {
      yield* bus.publish({
        host: `flood-${i}`,
        service: TOPIC,
        manager: "Flood",
        capabilities: { freeRamMb: sequence },
        timestamp,
        sequence,
      })
    }
    yield* Effect.sleep("10 millis")
  }))
})

// Built once the service runs, that is once its record has the address.
const Main = Layer.effectDiscard(
  Effect.gen(function* () {
    if (floodHosts > 0) yield* Effect.forkDaemon(flood)
    const record = yield* (yield* ServiceRegistry.ServiceRegistry).get(host, TOPIC)
    const address = Option.flatMap(record, (found) => Option.fromNullable(found.endpoint?.address))
    yield* Console.log(`READY ${Option.getOrElse(address, () => "(no address)")}`)
  }),
).pipe(Layer.provideMerge(ComputeService))

if (runtime === "deno") DenoPlatform.runMain(Main)
else NodePlatform.runMain(Main)
