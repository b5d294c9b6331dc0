// Remote across real processes: the compute service of test/support/remoteServer.ts runs as a
// child process of the other runtime than the suite's (a Deno server under vitest, a Node server
// under deno test and bun test), its record in a ServiceRegistry.layerFileSystem directory that
// the test's client reads; the test kills it and stops it with signals mid-call.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { RpcClientError } from "@effect/rpc/RpcClientError"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Remote from "../src/Remote.ts"
import * as Scheduler from "../src/Scheduler.ts"
import { CapabilityBus, Manager, Service } from "../mod.ts"
import * as ServiceRegistry from "../src/ServiceRegistry.ts"
import type * as NodePlatform from "../src/platform/node.ts"
import { ComputeApi, InstanceNotFound, NewerComputeApi, TOPIC } from "./support/remoteApi.ts"
import { bundledOnce, NodeContextLive, root, startCollecting } from "./support/nodeBundle.ts"
import { detectRuntime } from "./support/runtime.ts"

const runtime = detectRuntime()
// workerd has no processes and no sockets.
const live = runtime === "workerd" ? it.scopedLive.skip : it.scopedLive
// The other runtime than the suite's where there is one: Deno under vitest, Node otherwise.
const serverRuntime = runtime === "node" ? "deno" : "node"

const fixture = `${root}/test/support/remoteServer.ts`

// Not a static import: workerd's bundle of this file must not pull in node:http.
const platformModule = `../src/platform/${runtime === "deno" ? "deno" : "node"}.ts`
const clientTransport = Layer.orDie(Layer.unwrapEffect(
  Effect.map(
    Effect.promise(() => import(platformModule) as Promise<typeof NodePlatform>),
    (module) => module.layerWebSocket(),
  ),
))

type Environment = CommandExecutor.CommandExecutor | FileSystem.FileSystem

/** The fixture bundled for Node (which cannot run .ts), once per run. */
const bundled = bundledOnce("test/support/remoteServer.ts", "remote-processes", "remoteServer")

/** A server process. */
interface Server {
  /** Its address, from its "READY" line. */
  readonly address: string
  /** Waits (at most 5 s) for a line of its output that contains `text`. */
  readonly waitFor: (text: string) => Effect.Effect<void, Error>
  /** Sends SIGKILL and waits for the process to die. */
  readonly kill: Effect.Effect<void, PlatformError>
  /** Sends SIGTERM (a graceful stop) without waiting. */
  readonly terminate: Effect.Effect<void>
  /** Its exit code, waited for at most 10 s; a process killed by a signal fails with it. */
  readonly exitCode: Effect.Effect<number, PlatformError | Error>
}

/**
 * Starts the fixture as `host` of the registry in `directory`; killed with SIGKILL, if still
 * running, when the scope closes.
 */
const startServer = (
  directory: string,
  host: string,
  shutdownTimeoutMillis: number,
  freeRamMb: number | undefined,
  env: Record<string, string>,
): Effect.Effect<Server, PlatformError | Error, Environment | Scope.Scope> =>
  Effect.gen(function* () {
    const args = [directory, host, String(shutdownTimeoutMillis)]
    if (freeRamMb !== undefined) args.push(String(freeRamMb))
    // Absolute paths, no working directory: NodeCommandExecutor checks one with fs.access,
    // which Deno allows only with --allow-sys.
    const command = serverRuntime === "node"
      ? Command.make("node", "--enable-source-maps", yield* bundled, ...args)
      : Command.make(
        `${root}/node_modules/.bin/deno`,
        "run",
        `--config=${root}/deno.json`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-net=127.0.0.1",
        fixture,
        ...args,
      )
    const { process, output, reader } = yield* startCollecting(Command.env(command, env))
    const lineWith = (text: string, limit: Duration.DurationInput) =>
      output.changes.pipe(
        Stream.map((all) => all.find((line) => line.includes(text))),
        Stream.filter((line) => line !== undefined),
        Stream.runHead,
        Effect.map(Option.getOrThrow),
        Effect.timeoutFail({
          duration: limit,
          onTimeout: () => "timeout" as const,
        }),
        Effect.catchAll(() =>
          Effect.flatMap(SubscriptionRef.get(output), (all) =>
            Effect.fail(
              new Error(
                `${serverRuntime} server ${host}: no line with ${JSON.stringify(text)} within ${
                  Duration.format(limit)
                }; output:\n${all.join("\n")}`,
              ),
            ))
        ),
      )
    // A cold Deno compiles the fixture first.
    const ready = yield* lineWith("READY ", "15 seconds")
    const scope = yield* Effect.scope
    return {
      address: ready.slice(ready.indexOf("READY ") + "READY ".length),
      waitFor: (text) => Effect.asVoid(lineWith(text, "5 seconds")),
      kill: process.kill("SIGKILL"),
      // Process.kill waits for the exit: sent from a fiber of the servers' scope.
      terminate: Effect.asVoid(Effect.forkIn(Effect.ignore(process.kill("SIGTERM")), scope)),
      exitCode: Effect.zipLeft(process.exitCode, reader.await).pipe(
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error(`${serverRuntime} server ${host} did not exit within 10 s`),
        }),
      ),
    } satisfies Server
  })

type Cloud = Scope.Scope | Remote.Transport | ServiceRegistry.ServiceRegistry

/**
 * Runs `test` with a registry directory of its own, read by the test's clients (over the
 * suite's runtime's WebSocket transport) and by the servers `test` starts. The clients close
 * with `test`, before the servers still running are killed: these tests are about calls, not
 * about a client that closes while its server dies.
 */
const inCloud = <A, E>(
  test: (
    start: (
      host: string,
      shutdownTimeoutMillis?: number,
      freeRamMb?: number,
      env?: Record<string, string>,
    ) => Effect.Effect<Server, PlatformError | Error>,
  ) => Effect.Effect<A, E, Cloud>,
): Effect.Effect<A, E | PlatformError | ServiceRegistry.ServiceRegistryError, Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(`${root}/.tmp`, { recursive: true })
    const work = yield* fs.makeTempDirectoryScoped({ directory: `${root}/.tmp` })
    const directory = `${work}/services`
    const servers = yield* Effect.context<Environment | Scope.Scope>()
    return yield* test((host, shutdownTimeoutMillis = 5_000, freeRamMb, env = {}) =>
      Effect.provide(startServer(directory, host, shutdownTimeoutMillis, freeRamMb, env), servers)
    ).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(clientTransport, ServiceRegistry.layerFileSystem(directory))),
    )
  }).pipe(Effect.provide(NodeContextLive))

/** Fails the test if `effect` has not completed within `limit` of real time. */
const within = <A, E, R>(limit: Duration.DurationInput, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: limit,
    onTimeout: () => new Error(`still running after ${Duration.format(limit)}`),
  })

const host = "compute-1"

describe(`Remote across processes: a ${runtime} client, a ${serverRuntime} server`, () => {
  live(
    `a call answers with its typed result and a typed method error from the ${serverRuntime} process`,
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          const server = yield* start(host)
          expect(server.address).toMatch(/^ws:\/\/127\.0\.0\.1:[1-9]\d*\/rpc$/)
          const compute = yield* Remote.client(ComputeApi, { topic: TOPIC })
          expect(yield* compute.call(host, "runtime", undefined)).toBe(serverRuntime)
          expect(yield* compute.call(host, "build", { id: "vm-1" })).toBe(1)
          expect(yield* compute.call(host, "build", { id: "vm-2" })).toBe(2)
          expect(yield* compute.call(host, "resize", { id: "vm-1", ramMb: 2048 })).toBe(2048)
          const missing = yield* Effect.flip(
            compute.call(host, "resize", { id: "vm-9", ramMb: 2048 }),
          )
          expect(missing).toBeInstanceOf(InstanceNotFound)
          expect(missing).toEqual(new InstanceNotFound({ id: "vm-9" }))
        })
      ),
    30_000,
  )

  live(
    "SIGKILL of the server mid-call fails the call with an RpcClientError within 3 s; the same client calls the server started again at its new address",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          const first = yield* start(host)
          const compute = yield* Remote.client(ComputeApi, { topic: TOPIC })
          expect(yield* compute.call(host, "build", { id: "vm-1" })).toBe(1)
          const call = yield* Effect.fork(compute.call(host, "slow", { millis: 10_000 }))
          yield* first.waitFor("SLOW 10000")
          yield* first.kill
          const failed = yield* within("3 seconds", Effect.flip(Fiber.join(call)))
          expect(failed).toBeInstanceOf(RpcClientError)
          const died = yield* Effect.flip(first.exitCode)
          expect(String(died)).toContain("SIGKILL")

          const second = yield* start(host)
          expect(second.address).not.toBe(first.address)
          const record = yield* Effect.flatMap(
            ServiceRegistry.ServiceRegistry,
            (registry) => registry.get(host, TOPIC),
          )
          expect(Option.map(record, (found) => found.endpoint?.address)).toEqual(
            Option.some(second.address),
          )
          // A new process: its own count.
          expect(yield* compute.call(host, "build", { id: "vm-2" })).toBe(1)
        })
      ),
    30_000,
  )

  live(
    "SIGTERM with a call in flight: that call answers, a new call is ServiceStopping (not started), one after the exit HostUnavailable (down); exit 0",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          const server = yield* start(host, 5_000)
          const compute = yield* Remote.client(ComputeApi, { topic: TOPIC })
          const slow = yield* Effect.fork(compute.call(host, "slow", { millis: 1_000 }))
          yield* server.waitFor("SLOW 1000")
          yield* server.terminate
          // Logged just before the server refuses new calls.
          yield* server.waitFor(`Stopping service ${TOPIC} on ${host}: RPC server`)
          const refused = yield* within(
            "2 seconds",
            Effect.flip(compute.call(host, "build", { id: "vm-1" })),
          )
          expect(refused).toEqual(
            new Remote.ServiceStopping({ host, topic: TOPIC, started: false }),
          )
          expect(yield* within("3 seconds", Fiber.join(slow))).toBe("slept 1000")
          expect(yield* server.exitCode).toBe(0)
          // The record was marked down before the exit. A client that still holds the address
          // it read (it may reuse one briefly) finds nobody there, then reads the record again.
          const build = within(
            "2 seconds",
            Effect.flip(compute.call(host, "build", { id: "vm-2" })),
          )
          const gone = yield* build
          const down = new Remote.HostUnavailable({ host, topic: TOPIC, reason: "down" })
          if (gone instanceof RpcClientError) expect(yield* build).toEqual(down)
          else expect(gone).toEqual(down)
        })
      ),
    30_000,
  )

  live(
    "an unknown method is NoSuchMethod for that call alone; a stream on the same connection goes on to its end",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          yield* start(host)
          const compute = yield* Remote.client(NewerComputeApi, { topic: TOPIC })
          const COUNT = 25
          const received: Array<number> = []
          const first = yield* Deferred.make<void>()
          const watching = yield* Effect.fork(
            compute.stream(host, "watch", { count: COUNT }).pipe(
              Stream.tap((n) =>
                Effect.zipRight(
                  Effect.sync(() => received.push(n)),
                  Deferred.succeed(first, undefined),
                )
              ),
              Stream.runCollect,
            ),
          )
          yield* within("5 seconds", Deferred.await(first))
          const refused = yield* Effect.flip(compute.call(host, "evacuate", undefined))
          expect(refused).toEqual(new Remote.NoSuchMethod({ method: "evacuate", requested: "6.0" }))
          // The refusal came while the stream ran.
          expect(received.length).toBeLessThan(COUNT)
          expect(Chunk.toReadonlyArray(yield* within("5 seconds", Fiber.join(watching)))).toEqual(
            Array.from({ length: COUNT }, (_, i) => i + 1),
          )
        })
      ),
    30_000,
  )
})

class Placement extends Context.Tag("Placement")<Placement, object>() {}

/** The service "scheduler-1" of topic "scheduler", whose receiver publishes on `bus`, in `scope`. */
const serveReceiver = (
  bus: CapabilityBus.CapabilityBus,
  scope: Scope.Scope,
  server?: Remote.ServerOptions,
) =>
  Layer.buildWithScope(
    Service.layer(
      { host: "scheduler-1", topic: "scheduler" },
      Manager.layer(
        Placement,
        Effect.gen(function* () {
          return { service: {}, additionalEndpoints: [yield* Remote.capabilityReceiver()] }
        }),
      ),
    ).pipe(
      Layer.provide(Remote.layerServer(server)),
      Layer.provide(Layer.succeed(CapabilityBus.CapabilityBus, bus)),
    ),
    scope,
  )

/**
 * A scheduler service in this process, "scheduler-1" of topic "scheduler": its receiver
 * publishes on a bus its `Scheduler` reads (hosts down 2 s after their last report); at its start
 * it pulls every up compute's latest reports. Stopped when `scope` closes.
 */
const startScheduler = (scope: Scope.Scope, server?: Remote.ServerOptions) =>
  Effect.gen(function* () {
    const bus = yield* Scope.extend(CapabilityBus.make(), scope)
    const scheduler = yield* Scope.extend(
      Scheduler.make({
        schema: Schema.Struct({ freeRamMb: Schema.Number }),
        serviceDownTime: "2 seconds",
      }),
      scope,
    )
    yield* scheduler.consume(yield* Scope.extend(bus.subscribe, scope))
    yield* serveReceiver(bus, scope, server)
    const pulled = yield* Remote.pullCapabilities([TOPIC]).pipe(
      Effect.provideService(CapabilityBus.CapabilityBus, bus),
    )
    return { scheduler, pulled, bus }
  })

/** The scheduler's hosts as "host freeRamMb up|down", by host. */
const view = (scheduler: Scheduler.Scheduler<{ readonly freeRamMb: number }>) =>
  Effect.map(
    scheduler.hosts,
    (hosts) => hosts.map((h) => `${h.host} ${h.capabilities.freeRamMb} ${h.up ? "up" : "down"}`),
  )

/** Polls `effect` every 50 ms until its value equals `expected`; fails past `limit`. */
const until = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  expected: A,
  limit: Duration.DurationInput,
) =>
  Effect.gen(function* () {
    let last: A | undefined
    const reached = yield* Effect.gen(function* () {
      last = yield* effect
      return JSON.stringify(last) === JSON.stringify(expected)
    }).pipe(
      Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("50 millis") }),
      Effect.timeoutOption(limit),
    )
    if (Option.isNone(reached)) {
      return yield* Effect.fail(
        new Error(
          `not ${JSON.stringify(expected)} within ${Duration.format(limit)}: ${
            JSON.stringify(last)
          }`,
        ),
      )
    }
  })

describe(`capability reports across processes: ${serverRuntime} publishers, a ${runtime} scheduler`, () => {
  live(
    "a scheduler that starts has every compute's state after its pull; a compute killed goes down; one started later arrives",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          const computes = []
          for (const [index, ram] of [[1, 100], [2, 200], [3, 300]] as const) {
            computes.push(yield* start(`compute-${index}`, 5_000, ram))
          }
          const { pulled, scheduler } = yield* startScheduler(yield* Effect.scope)
          // One round trip: no publish interval waited for.
          expect(pulled).toBe(3)
          expect(yield* view(scheduler)).toEqual([
            "compute-1 100 up",
            "compute-2 200 up",
            "compute-3 300 up",
          ])
          yield* computes[1]!.kill
          yield* until(
            view(scheduler),
            ["compute-1 100 up", "compute-2 200 down", "compute-3 300 up"],
            "5 seconds",
          )
          yield* start("compute-4", 5_000, 400)
          yield* until(
            view(scheduler),
            ["compute-1 100 up", "compute-2 200 down", "compute-3 300 up", "compute-4 400 up"],
            "5 seconds",
          )
        })
      ),
    60_000,
  )

  live(
    "a scheduler stopped and started again has every host back after one round trip (its pull)",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          yield* Effect.all([start("compute-1", 5_000, 100), start("compute-2", 5_000, 200)], {
            concurrency: "unbounded",
          })
          const first = yield* Scope.make()
          const before = yield* within("15 seconds", startScheduler(first))
          expect(before.pulled).toBe(2)
          yield* within("15 seconds", Scope.close(first, Exit.void))
          const again = yield* within("15 seconds", startScheduler(yield* Effect.scope))
          expect(again.pulled).toBe(2)
          expect(yield* view(again.scheduler)).toEqual(["compute-1 100 up", "compute-2 200 up"])
        })
      ),
    60_000,
  )

  live(
    "a compute started while no scheduler runs has its state at the scheduler once one starts, without a pull",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          yield* start("compute-1", 5_000, 100)
          const scope = yield* Effect.scope
          const bus = yield* Scope.extend(CapabilityBus.make(), scope)
          const reports = yield* Scope.extend(bus.subscribe, scope)
          yield* serveReceiver(bus, scope)
          const first = yield* within("3 seconds", Stream.runHead(reports))
          expect(Option.map(first, (report) => [report.host, report.capabilities])).toEqual(
            Option.some(["compute-1", { freeRamMb: 100 }]),
          )
        })
      ),
    30_000,
  )

  live(
    "a report signed with another host's key is refused, and its publisher says so; the honest one goes on",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          const secret = "shared-secret-of-compute-1"
          const signed = { FIXTURE_SIGN_AS: "compute-1", FIXTURE_SECRET: secret }
          const { scheduler } = yield* startScheduler(yield* Effect.scope, {
            auth: { keys: [{ _tag: "Hmac", principal: "compute-1", secret }] },
          })
          yield* start("compute-1", 5_000, 100, signed)
          const forger = yield* start("compute-3", 5_000, 300, signed) // compute-1's key
          yield* forger.waitFor("refused 1 of 1 reports")
          yield* until(view(scheduler), ["compute-1 100 up"], "3 seconds")
          yield* Effect.sleep("1 second")
          expect(yield* view(scheduler)).toEqual(["compute-1 100 up"])
        })
      ),
    30_000,
  )

  live(
    "a report flood from one publisher delays another's reports by less than a second",
    () =>
      inCloud((start) =>
        Effect.gen(function* () {
          const { bus } = yield* startScheduler(yield* Effect.scope)
          const reports = yield* bus.subscribe
          yield* start("compute-2", 5_000, 200, { FIXTURE_FLOOD_HOSTS: "500" })
          yield* start("compute-1", 5_000, 100)
          let flooded = 0
          const delays = yield* reports.pipe(
            Stream.tap((report) => Effect.sync(() => report.host === "compute-1" || flooded++)),
            Stream.filter((report) => report.host === "compute-1"),
            Stream.mapEffect((report) =>
              Effect.map(Clock.currentTimeMillis, (now) => now - report.timestamp)
            ),
            Stream.take(6), // every 500 ms: 3 s
            Stream.runCollect,
            (collect) => within("10 seconds", collect),
          )
          // The flood did flood: thousands of its reports reached the scheduler meanwhile.
          expect(flooded).toBeGreaterThan(2_000)
          expect(Math.max(...Chunk.toReadonlyArray(delays))).toBeLessThan(1_000)
        })
      ),
    30_000,
  )
})
