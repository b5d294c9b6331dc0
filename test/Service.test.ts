import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Manager, PeriodicTask, Service, ServiceRegistry } from "../mod.ts"
import * as CapabilityBus from "../src/CapabilityBus.ts"
import { steppedWallClock } from "./support/clocks.ts"
import { captureLogs as captureLines } from "./support/periodic.ts"

class Compute extends Context.Tag("Compute")<Compute, { readonly ping: Effect.Effect<string> }>() {}
class Network extends Context.Tag("Network")<Network, { readonly ping: Effect.Effect<string> }>() {}

class HookError {
  readonly _tag = "HookError"
  constructor(readonly hook: string) {}
}

type Hook = "init" | "preStart" | "postStart" | "cleanup" | "reset"

/** A manager whose hooks append "<name>.<hook>" to `log`; `override` replaces a hook. */
const manager = <I>(
  tag: Context.Tag<I, { readonly ping: Effect.Effect<string> }>,
  log: Array<string>,
  override: Partial<Record<Hook, Effect.Effect<void, HookError>>> = {},
  extra: Partial<Manager.Definition<unknown, HookError>> = {},
) => {
  const name = tag.key
  const hook = (hook: Hook) =>
    Effect.zipRight(
      Effect.sync(() => log.push(`${name}.${hook}`)),
      override[hook] ?? Effect.void,
    )
  return Manager.layer(
    tag,
    Effect.succeed({
      service: { ping: Effect.succeed(`${name} pong`) },
      init: hook("init"),
      preStart: hook("preStart"),
      postStart: hook("postStart"),
      cleanup: (start: Exit.Exit<void, unknown>) =>
        Effect.zipRight(
          Effect.sync(() => log.push(`${name}.cleanup(${start._tag})`)),
          override.cleanup ?? Effect.void,
        ),
      reset: hook("reset"),
      ...extra,
    } as Manager.Definition<{ readonly ping: Effect.Effect<string> }, HookError>),
  )
}

/** A registry that logs registration and mark-down next to the hooks. */
const loggingRegistry = (log: Array<string>) =>
  Layer.effect(
    ServiceRegistry.ServiceRegistry,
    Effect.map(ServiceRegistry.ServiceRegistry, (registry) => ({
      ...registry,
      register: (host: string, topic: string) =>
        Effect.zipLeft(
          registry.register(host, topic),
          Effect.sync(() => log.push("record.register")),
        ),
      markDown: (host: string, topic: string) =>
        Effect.zipLeft(registry.markDown(host, topic), Effect.sync(() => log.push("record.down"))),
    })),
  ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory))

const options = { host: "host-1", topic: "compute" } as const

describe("Service", () => {
  it.effect("starts and stops managers in nova's order", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(options, manager(Compute, log), manager(Network, log)).pipe(
          Layer.provideMerge(loggingRegistry(log)),
        ),
        scope,
      )
      expect(log).toEqual([
        "Compute.init",
        "Network.init",
        "record.register",
        "Compute.preStart",
        "Network.preStart",
        "Compute.postStart",
        "Network.postStart",
      ])
      // The managers' services are ordinary tags.
      expect(yield* Context.get(context, Compute).ping).toBe("Compute pong")
      const service = Context.get(context, Service.Service)
      expect((yield* service.status).managers).toEqual([
        { name: "Compute", apiVersion: "1.0", phase: "running" },
        { name: "Network", apiVersion: "1.0", phase: "running" },
      ])
      log.length = 0
      yield* Scope.close(scope, Exit.void)
      expect(log).toEqual([
        "Network.cleanup(Success)",
        "Compute.cleanup(Success)",
        "record.down",
      ])
      const report = yield* service.stopped
      expect(report.errors).toEqual([])
      const registry = Context.get(context, ServiceRegistry.ServiceRegistry)
      const record = yield* registry.get("host-1", "compute")
      expect(Option.map(record, (r) => r.forcedDown)).toEqual(Option.some(true))
    }))

  // nova: a failing start hook ends the start there; cleanup still runs for every manager whose
  // init was attempted, given the failure.
  const failingStarts = [
    {
      phase: "init",
      log: ["Compute.init", "Network.init"],
    },
    {
      phase: "preStart",
      log: [
        "Compute.init",
        "Network.init",
        "record.register",
        "Compute.preStart",
        "Network.preStart",
      ],
      down: true,
    },
    {
      phase: "postStart",
      log: [
        "Compute.init",
        "Network.init",
        "record.register",
        "Compute.preStart",
        "Network.preStart",
        "Compute.postStart",
        "Network.postStart",
      ],
      down: true,
    },
  ] as const
  // A start that fails after the record was registered also marks it down.
  for (const { phase, log: expected, ...rest } of failingStarts) {
    const down = "down" in rest ? ["record.down"] : []
    it.effect(
      `a failing ${phase} fails the layer, naming manager and phase, and cleans up${
        down.length > 0 ? ", then marks the record down" : ""
      }`,
      () =>
        Effect.gen(function* () {
          const log: Array<string> = []
          const exit = yield* Layer.build(
            Service.layer(
              options,
              manager(Compute, log),
              manager(Network, log, { [phase]: Effect.fail(new HookError(phase)) }),
            ).pipe(Layer.provideMerge(loggingRegistry(log))),
          ).pipe(Effect.scoped, Effect.exit)
          expect(log).toEqual([
            ...expected,
            "Network.cleanup(Failure)",
            "Compute.cleanup(Failure)",
            ...down,
          ])
          const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
          expect(Option.map(error, (e) => [e._tag, (e as any).manager, (e as any).phase])).toEqual(
            Option.some(["ServiceStartFailed", "Network", phase]),
          )
        }),
    )
  }

  it.effect("a failing cleanup is reported and the stop goes on", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(
          options,
          manager(Compute, log),
          manager(Network, log, { cleanup: Effect.fail(new HookError("cleanup")) }),
        ).pipe(Layer.provideMerge(loggingRegistry(log))),
        scope,
      )
      log.length = 0
      yield* Scope.close(scope, Exit.void)
      expect(log).toEqual(["Network.cleanup(Success)", "Compute.cleanup(Success)", "record.down"])
      const report = yield* Context.get(context, Service.Service).stopped
      expect(report.errors.map((e) => [e._tag, "manager" in e ? e.manager : ""])).toEqual([
        ["CleanupFailed", "Network"],
      ])
    }))

  it.effect("a hanging init fails with HookTimedOut when it has a time limit", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const fiber = yield* Layer.build(
        Service.layer(
          { ...options, hookTimeouts: { init: "5 seconds" } },
          manager(Compute, log, { init: Effect.never }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.exit, Effect.fork)
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.join(fiber)
      expect(log).toEqual(["Compute.init", "Compute.cleanup(Failure)"])
      const message = Exit.isFailure(exit)
        ? Option.getOrThrow(Cause.failureOption(exit.cause)).message
        : ""
      expect(message).toContain(`manager "Compute" failed in init`)
      expect(message).toContain(`Manager "Compute": init did not finish within 5s`)
    }))

  it.effect("a cleanup that hangs uses the deadline; the stop goes on and reports it", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { stop } = yield* started(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds" },
          manager(Compute, log, { cleanup: Effect.never }),
          manager(Network, log),
        ).pipe(Layer.provideMerge(loggingRegistry(log))),
      )
      log.length = 0
      const report = yield* stop("10 seconds")
      expect(log).toEqual(["Network.cleanup(Success)", "Compute.cleanup(Success)", "record.down"])
      expect(report.errors.map((e) => e.message)).toEqual([
        `Manager "Compute": cleanup used up its 10s of the shutdown deadline; the stop goes on without it`,
      ])
      expect(report.durationMillis).toBe(10_000)
    }))

  it.effect("a task still running at shutdown gets the rest of the deadline, then is interrupted", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(
          { ...options, shutdownTimeout: "30 seconds" },
          manager(Compute, log, {}, {
            tasks: [
              PeriodicTask.spaced(
                "long",
                "1 second",
                Effect.onInterrupt(
                  Effect.never,
                  () => Effect.sync(() => log.push("task.interrupted")),
                ),
                { runImmediately: true },
              ),
            ],
          }),
        ).pipe(Layer.provideMerge(loggingRegistry(log))),
        scope,
      )
      yield* TestClock.adjust("1 second")
      log.length = 0
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("29 seconds")
      expect(log).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      expect(log).toEqual(["task.interrupted", "Compute.cleanup(Success)", "record.down"])
      const report = yield* Context.get(context, Service.Service).stopped
      expect(report.durationMillis).toBe(30_000)
    }))

  it.scoped("resets run one at a time; a failing reset is returned and the service runs on", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      let calls = 0
      const context = yield* Layer.build(
        Service.layer(
          options,
          manager(Compute, log, {
            reset: Effect.suspend(() =>
              ++calls === 1 ? Effect.sleep("1 second") : Effect.fail(new HookError("reset"))
            ),
          }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      )
      const service = Context.get(context, Service.Service)
      log.length = 0
      const first = yield* Effect.fork(service.reset)
      const second = yield* Effect.fork(Effect.exit(service.reset))
      yield* Effect.yieldNow()
      // The second reset waits for the first, which sleeps.
      expect(log).toEqual(["Compute.reset"])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      const exit = yield* Fiber.join(second)
      expect(log).toEqual(["Compute.reset", "Compute.reset"])
      expect(Exit.isFailure(exit)).toBe(true)
      const status = yield* service.status
      expect(status.state).toBe("running")
      expect(Option.map(status.lastReset, (r) => [r.at, r.succeeded])).toEqual(
        Option.some([1000, false]),
      )
    }))

  it.scoped("the heartbeat reports first after 5 s, then every 10 s", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        Service.layer(options, manager(Compute, [])).pipe(
          Layer.provideMerge(ServiceRegistry.layerMemory),
        ),
      )
      const service = Context.get(context, Service.Service)
      const registry = Context.get(context, ServiceRegistry.ServiceRegistry)
      const counts: Array<number> = []
      for (const step of [4_999, 1, 9_999, 1, 10_000]) {
        yield* TestClock.adjust(step)
        counts.push((yield* service.status).heartbeat.reportCount)
      }
      expect(counts).toEqual([0, 1, 1, 2, 3])
      const record = yield* registry.get("host-1", "compute")
      expect(Option.map(record, (r) => [r.reportCount, r.updatedAt])).toEqual(
        Option.some([3, 25_000]),
      )
    }))

  it.scoped("periodic tasks start after the fuzzy delay drawn from Random", () =>
    Effect.gen(function* () {
      const runs: Array<number> = []
      yield* Layer.build(
        Service.layer(
          { ...options, periodicFuzzyDelay: "60 seconds" },
          manager(Compute, [], {}, {
            tasks: [
              PeriodicTask.fixed(
                "audit",
                "10 seconds",
                Effect.flatMap(
                  Effect.clockWith((c) => c.currentTimeMillis),
                  (t) => Effect.sync(() => runs.push(t)),
                ),
                { runImmediately: true },
              ),
            ],
          }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.withRandom(Random.fixed([30])))
      yield* TestClock.adjust("60 seconds")
      // A fixed Random answers nextIntBetween(0, 61) with 30: the tasks start at 30 s.
      expect(runs).toEqual([30_000, 40_000, 50_000, 60_000])
    }))

  it.effect("invalid options are InvalidOption errors naming the option, the value and the rule", () =>
    Effect.gen(function* () {
      const messages: Array<string> = []
      for (
        const bad of [
          { ...options, host: "" },
          { ...options, shutdownTimeout: -1 },
          { ...options, reportInterval: 0 },
          { ...options, reportTimeout: -1 },
          { ...options, hookTimeouts: { cleanup: Number.NaN } },
          { ...options, hookTimeouts: null as never },
          { ...options, mode: "parallel" as never },
          { ...options, periodicEnable: "no" as never },
          { ...options, runSpans: "all" as never },
          { ...options, metrics: null as never },
          { host: "compute-1" } as Service.Options,
        ]
      ) {
        const exit = yield* Layer.build(
          Service.layer(bad, manager(Compute, [])).pipe(
            Layer.provideMerge(ServiceRegistry.layerMemory),
          ),
        ).pipe(Effect.scoped, Effect.exit)
        if (Exit.isFailure(exit)) {
          messages.push(Option.getOrThrow(Cause.failureOption(exit.cause)).message)
        }
      }
      expect(messages).toEqual([
        `Invalid option host of Service: "" must be a non-empty string`,
        "Invalid option shutdownTimeout of Service: -1 must be a finite duration ≥ 0",
        "Invalid option reportInterval of Service: 0 must be a finite duration > 0",
        "Invalid option reportTimeout of Service: -1 must be a finite duration > 0",
        "Invalid option hookTimeouts.cleanup of Service: NaN must be a finite duration > 0",
        "Invalid option hookTimeouts of Service: null must be a record of hook names to durations",
        `Invalid option mode of Service: "parallel" must be "concurrent" or "sequential"`,
        `Invalid option periodicEnable of Service: "no" must be true or false`,
        `Invalid option runSpans of Service: "all" must be "linked", "root" or "off"`,
        "Invalid option metrics of Service: null must be true or false",
        "Invalid option topic of Service: undefined must be a non-empty string",
      ])
    }))

  it.effect("tasks two managers name alike fail the layer before any hook runs", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const audit = PeriodicTask.spaced("audit", "1 minute", Effect.void)
      const exit = yield* Layer.build(
        Service.layer(
          options,
          manager(Compute, log, {}, { tasks: [audit] }),
          manager(Network, log, {}, { tasks: [audit] }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.exit)
      expect(log).toEqual([])
      expect(Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)).message : "")
        .toBe(`Periodic task "audit": name is used by another task of the same runner, got "audit"`)
    }))

  it.effect("a manager's apiVersion must be major.minor", () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(manager(Compute, [], {}, { apiVersion: "2" })).pipe(
        Effect.scoped,
        Effect.exit,
      )
      expect(Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)).message : "")
        .toBe(
          `Manager "Compute": apiVersion must be "major.minor" or "major.minor.revision" in whole numbers (e.g. "1.0", "6.1", "4.10.2"), got "2"`,
        )
    }))

  it.effect("a manager layer on its own provides its service without running hooks", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const pong = yield* Effect.flatMap(Compute, (compute) => compute.ping).pipe(
        Effect.provide(manager(Compute, log)),
      )
      expect(pong).toBe("Compute pong")
      expect(log).toEqual([])
    }))
})

describe("Service: time limits", () => {
  it.effect("a markDown that never returns is given up at the shutdown deadline and its grace, and reported", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const never = Effect.uninterruptible(Effect.zipRight(Deferred.await(release), hang))
      const { service, stop } = yield* started(
        Service.layer({ ...options, shutdownTimeout: "10 seconds" }, manager(Compute, [])).pipe(
          Layer.provideMerge(registryWith({ markDown: () => never })),
        ),
      )
      // The deadline, then the grace of 1 s for the interrupted markDown to end.
      const report = yield* stop("11 seconds")
      expect([report.durationMillis, report.errors.map((e) => [e._tag, e.message])]).toEqual([
        11_000,
        [[
          "MarkDownFailed",
          "Service compute on host-1: its record could not be marked down (it reads as up until its last heartbeat ages out): Service registry: markDown of compute on host-1 did not finish within 10s",
        ]],
      ])
      expect((yield* service.status).state).toBe("stopped")
      expect(capture.warnings()).toEqual([
        "Service registry: markDown of compute on host-1 ignored its interruption at its 10s limit; it is left running, detached",
      ])
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.provide(capture.layer))
  })

  it.effect("a register that hangs fails the start at reportTimeout, before preStart", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const building = yield* Effect.fork(
        Layer.buildWithScope(
          Service.layer(
            { ...options, reportTimeout: "3 seconds" },
            Manager.layer(
              Compute,
              Effect.succeed({
                service: { ping: Effect.succeed("pong") },
                preStart: Effect.sync(() => log.push("preStart")),
                cleanup: () => Effect.sync(() => log.push("cleanup")),
              }),
            ),
          ).pipe(Layer.provideMerge(registryWith({ register: () => hang }))),
          scope,
        ),
      )
      yield* TestClock.adjust("3 seconds")
      const exit = yield* Fiber.await(building)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.map(error, (e) => [e._tag, (e as { phase: string }).phase])).toEqual(
        Option.some(["ServiceStartFailed", "register"]),
      )
      expect(log).toEqual(["cleanup"])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a heartbeat that hangs shows the registry disconnected at reportTimeout", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer({ ...options, reportTimeout: "3 seconds" }, manager(Compute, [])).pipe(
          Layer.provideMerge(registryWith({ report: () => hang })),
        ),
        scope,
      )
      const service = Context.get(context, Service.Service)
      const connected = Effect.map(service.status, (status) => status.heartbeat.connected)
      // The first report starts at 5 s.
      yield* TestClock.adjust("7999 millis")
      expect(yield* connected).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* connected).toBe(false)
      expect(capture.warnings()).toEqual([
        `Unable to report the service's status: Service registry: report of compute on host-1 did not finish within 3s`,
      ])
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(capture.layer))
  })

  it.effect("a stop during a heartbeat that ignores interruption waits only for its grace", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const { stop } = yield* started(
        Service.layer(options, manager(Compute, [])).pipe(
          Layer.provideMerge(registryWith({
            report: () => Effect.uninterruptible(Effect.zipRight(Deferred.await(release), hang)),
          })),
        ),
      )
      // The first report starts at 5 s and hangs; the stop begins at 6 s.
      yield* TestClock.adjust("6 seconds")
      const report = yield* stop("1 second")
      expect([report.durationMillis, report.errors]).toEqual([1_000, []])
      yield* Deferred.succeed(release, undefined)
    }))

  it.effect("a record deleted while the service runs is registered again by the next heartbeat", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const store = yield* KeyValueStore.KeyValueStore
      const registry = yield* ServiceRegistry.ServiceRegistry
      const context = yield* Layer.build(Service.layer(options, manager(Compute, [])))
      yield* TestClock.adjust("5 seconds")
      yield* store.remove("service/compute/host-1")
      expect(yield* registry.get("host-1", "compute")).toEqual(Option.none())
      yield* TestClock.adjust("10 seconds")
      const record = yield* registry.get("host-1", "compute")
      expect(Option.map(record, (r) => [r.reportCount, r.createdAt, r.updatedAt, r.forcedDown]))
        .toEqual(Option.some([1, 15_000, 15_000, false]))
      expect(capture.warnings()).toEqual([
        "The service record of compute on host-1 is gone: registering it again",
      ])
      const { heartbeat } = yield* Context.get(context, Service.Service).status
      expect([heartbeat.reportCount, heartbeat.connected]).toEqual([1, true])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        ServiceRegistry.layerKeyValueStore.pipe(Layer.provideMerge(KeyValueStore.layerMemory)),
      ),
      Effect.provide(capture.layer),
    )
  })

  it.effect("a start interrupted during init still cleans up, within the cleanup's limit", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const fiber = yield* Layer.build(
        Service.layer(
          { ...options, hookTimeouts: { init: "1 minute" } },
          manager(Compute, log, { init: Effect.sleep("30 seconds") }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.fork)
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber)
      expect([log, Exit.isInterrupted(exit)]).toEqual([
        ["Compute.init", "Compute.cleanup(Failure)"],
        true,
      ])
    }))

  it.effect("a start interrupted during a timed init cleans up only once init has finalized", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const init = Effect.onInterrupt(
        hang,
        () =>
          Effect.zipRight(Effect.sleep("500 millis"), Effect.sync(() => log.push("init.ended"))),
      )
      const fiber = yield* Layer.build(
        Service.layer(
          { ...options, hookTimeouts: { init: "1 minute" } },
          manager(Compute, log, { init, cleanup: slowCleanup(log) }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.fork)
      yield* TestClock.adjust("1 second")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("499 millis")
      expect(log).toEqual(["Compute.init"])
      // The cleanup, which takes 100 ms, is not cut short by the start's interruption.
      yield* TestClock.adjust("101 millis")
      const exit = yield* Fiber.join(interrupting)
      expect([log, Exit.isInterrupted(exit)]).toEqual([
        ["Compute.init", "init.ended", "Compute.cleanup(Failure)", "cleanup.done"],
        true,
      ])
    }))

  it.effect("a hook time limit holds against a hook that ignores interruption", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const log: Array<string> = []
      const release = yield* Deferred.make<void>()
      const fiber = yield* Layer.build(
        Service.layer(
          { ...options, hookTimeouts: { init: "5 seconds" } },
          manager(Compute, log, { init: Effect.uninterruptible(Deferred.await(release)) }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.exit, Effect.fork)
      // The limit of 5 s, then the grace of 1 s for the interrupted init to end.
      yield* TestClock.adjust("5999 millis")
      expect([log, yield* Fiber.poll(fiber)]).toEqual([["Compute.init"], Option.none()])
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.join(fiber)
      expect(log).toEqual(["Compute.init", "Compute.cleanup(Failure)"])
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      const started = error as Option.Option<Service.ServiceStartFailed<unknown>>
      expect(Option.map(started, (e) => [e._tag, Option.getOrThrow(Cause.failureOption(e.cause))]))
        .toEqual(Option.some([
          "ServiceStartFailed",
          new Service.HookTimedOut({ manager: "Compute", hook: "init", timeoutMillis: 5_000 }),
        ]))
      expect(capture.warnings()).toEqual([
        `Manager "Compute": init ignored its interruption at its 5s limit; it is left running, detached`,
      ])
      // The runaway init ends with the test (Deno's sanitizers see leaked fibers' timers).
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.provide(capture.layer))
  })

  it.effect("a reset time limit holds against a reset that ignores interruption", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const context = yield* Layer.build(
        Service.layer(
          { ...options, hookTimeouts: { reset: "2 seconds" } },
          manager(Compute, [], { reset: Effect.uninterruptible(Deferred.await(release)) }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      )
      const reset = yield* Effect.fork(Effect.flip(Context.get(context, Service.Service).reset))
      // The limit of 2 s, then the grace of 1 s for the interrupted reset to end.
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(reset)
      expect(error._tag === "ResetFailed" ? error.message : error._tag).toContain(
        `Manager "Compute": reset did not finish within 2s`,
      )
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.scoped))

  it.effect("after one cleanup uses up the deadline, the report names that cleanup alone", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { stop } = yield* started(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds" },
          manager(Compute, log),
          manager(Network, log, { cleanup: hang }),
        ).pipe(Layer.provideMerge(loggingRegistry(log))),
      )
      log.length = 0
      const report = yield* stop("10 seconds")
      expect(log).toEqual(["Network.cleanup(Success)", "Compute.cleanup(Success)", "record.down"])
      expect(report.errors).toEqual([
        new Service.ShutdownOverrun({ manager: "Network", hook: "cleanup", limitMillis: 10_000 }),
      ])
    }))

  it.effect("a cleanup that must wait once the deadline has passed is left running and named as such", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { stop } = yield* started(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds" },
          manager(Compute, log, { cleanup: Effect.sleep("1 second") }),
          manager(Network, log, { cleanup: hang }),
        ).pipe(Layer.provideMerge(loggingRegistry(log))),
      )
      const report = yield* stop("10 seconds")
      expect(report.errors.map((e) => e.message)).toEqual([
        `Manager "Network": cleanup used up its 10s of the shutdown deadline; the stop goes on without it`,
        `Manager "Compute": cleanup began after the shutdown deadline had passed and did not finish at once; the stop did not wait for it`,
      ])
      expect(report.errors[1]).toEqual(new Service.CleanupPastDeadline({ manager: "Compute" }))
    }))
})

describe("Service: the stop's bounds", () => {
  it.effect("a capabilities stream that ignores interruption holds the stop only for the grace", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const log: Array<string> = []
      const release = yield* Deferred.make<void>()
      const stuck = Stream.fromEffect(
        Effect.as(Effect.uninterruptible(Deferred.await(release)), { freeRamMb: 1 }),
      )
      const { stop } = yield* started(
        Service.layer(
          options,
          manager(Compute, log, {}, {
            capabilities: Manager.capabilities(Schema.Struct({ freeRamMb: Schema.Number }), stuck),
          }),
        ).pipe(
          Layer.provideMerge(loggingRegistry(log)),
          Layer.provide(CapabilityBus.layer()),
        ),
      )
      log.length = 0
      const report = yield* stop("1 second")
      expect([log, report.durationMillis, report.errors]).toEqual([
        ["Compute.cleanup(Success)", "record.down"],
        1_000,
        [],
      ])
      expect(capture.warnings()).toEqual([
        `Manager "Compute" of service compute on host host-1: its capabilities stream ignored its interruption; it is left running, detached`,
      ])
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.provide(capture.layer))
  })

  it.effect("a capabilities stream that stops when interrupted is stopped without a warning", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const log: Array<string> = []
      const { stop } = yield* started(
        Service.layer(
          options,
          manager(Compute, log, {}, {
            capabilities: Manager.capabilities(
              Schema.Struct({ freeRamMb: Schema.Number }),
              Stream.concat(Stream.make({ freeRamMb: 1 }), Stream.never),
            ),
          }),
        ).pipe(
          Layer.provideMerge(loggingRegistry(log)),
          Layer.provide(CapabilityBus.layer()),
        ),
      )
      const report = yield* stop("1 second")
      expect([report.durationMillis, report.errors]).toEqual([0, []])
      expect(capture.warnings()).toEqual([])
    }).pipe(Effect.provide(capture.layer))
  })

  it.effect("a scope closed by an interrupted fiber still gives each cleanup its time", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const running = yield* Deferred.make<Service.Service>()
      const fiber = yield* Effect.flatMap(
        Service.Service,
        (service) => Effect.zipRight(Deferred.succeed(running, service), Effect.never),
      ).pipe(
        Effect.provide(
          Service.layer(options, manager(Compute, log, { cleanup: slowCleanup(log) })).pipe(
            Layer.provideMerge(ServiceRegistry.layerMemory),
          ),
        ),
        Effect.fork,
      )
      const service = yield* Deferred.await(running)
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(interrupting)
      const report = yield* service.stopped
      expect([log.slice(-2), report.durationMillis, report.errors]).toEqual([
        ["Compute.cleanup(Success)", "cleanup.done"],
        100,
        [],
      ])
    }))

  it.effect("a periodic task that uses up the deadline still leaves markDown its reserve", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const task = PeriodicTask.spaced("long", "1 second", hang, { runImmediately: true })
      const { context, service, stop } = yield* started(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds" },
          manager(Compute, log, {}, { tasks: [task] }),
        ).pipe(Layer.provideMerge(slowMarkDown("300 millis"))),
      )
      yield* TestClock.adjust("1 second")
      const report = yield* stop("10300 millis")
      expect([report.durationMillis, report.errors]).toEqual([10_300, []])
      const registry = Context.get(context, ServiceRegistry.ServiceRegistry)
      const record = yield* registry.get("host-1", "compute")
      expect(Option.map(record, (r) => r.forcedDown)).toEqual(Option.some(true))
      expect((yield* service.status).state).toBe("stopped")
    }))

  it.effect("markDown's reserve is reportTimeout when that is shorter than 1 s", () =>
    Effect.gen(function* () {
      const task = PeriodicTask.spaced("long", "1 second", hang, { runImmediately: true })
      const { stop } = yield* started(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds", reportTimeout: "200 millis" },
          manager(Compute, [], {}, { tasks: [task] }),
        ).pipe(Layer.provideMerge(slowMarkDown("300 millis"))),
      )
      yield* TestClock.adjust("1 second")
      const report = yield* stop("10200 millis")
      expect([report.durationMillis, report.errors.map((e) => e.message)]).toEqual([10_200, [
        "Service compute on host-1: its record could not be marked down (it reads as up until its last heartbeat ages out): Service registry: markDown of compute on host-1 did not finish within 200ms",
      ]])
    }))

  it.effect("a wall clock set back an hour during the stop does not stretch the deadline", () =>
    Effect.gen(function* () {
      const { clock, shift } = yield* steppedWallClock
      const stepBack = Effect.sync(() => {
        shift.millis = 3_600_000
      })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds" },
          manager(Compute, [], { cleanup: hang }),
          manager(Network, [], { cleanup: Effect.zipRight(Effect.sleep("2 seconds"), stepBack) }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
        scope,
      ).pipe(Effect.withClock(clock))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("10 seconds")
      expect(Option.isSome(yield* Fiber.poll(closing))).toBe(true)
      const report = yield* Context.get(context, Service.Service).stopped
      expect([report.durationMillis, report.errors]).toEqual([10_000, [
        new Service.ShutdownOverrun({ manager: "Compute", hook: "cleanup", limitMillis: 8_000 }),
      ]])
    }))

  it.effect("while a report goes on detached, heartbeats are skipped (logged once) until it ends", () => {
    const capture = captureLogs()
    return Effect.gen(function* () {
      const calls: Array<number> = []
      const release = yield* Deferred.make<void>()
      const report = () =>
        Effect.suspend(() => {
          calls.push(calls.length)
          return Effect.zipRight(
            Effect.uninterruptible(Deferred.await(release)),
            Effect.dieMessage("the registry went away"),
          )
        })
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        Service.layer({ ...options, reportTimeout: "3 seconds" }, manager(Compute, [])).pipe(
          Layer.provideMerge(registryWith({ report })),
        ),
        scope,
      )
      // Reports are due at 5, 15, 25 and 35 s; the first one hangs until 26 s.
      const seen: Array<[number, number]> = []
      for (const at of [5, 15, 26, 35]) {
        yield* TestClock.adjust(`${at * 1_000 - (seen.at(-1)?.[0] ?? 0) * 1_000} millis`)
        if (at === 26) yield* Deferred.succeed(release, undefined)
        seen.push([at, calls.length])
      }
      expect(seen).toEqual([[5, 1], [15, 1], [26, 1], [35, 2]])
      expect(capture.warnings()).toEqual([
        "Service registry: report of compute on host-1 ignored its interruption at its 3s limit; it is left running, detached",
        "Unable to report the service's status: Service registry: report of compute on host-1 did not finish within 3s",
        "The previous report of compute on host-1 is still running, detached: heartbeats are skipped until it ends",
      ])
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(capture.layer))
  })
})

describe("Service: log annotations", () => {
  const service = { host: "host-1", topic: "compute" }
  const compute = { ...service, manager: "Compute" }

  it.scoped("every line of the start, the tasks and the stop names the service; a manager's lines, its hooks' own too, name the manager", () =>
    Effect.gen(function* () {
      const lines = yield* captureLines
      const failing = PeriodicTask.spaced(
        "audit",
        "1 minute",
        Effect.fail(new HookError("audit")),
        {
          runImmediately: true,
        },
      )
      const { stop } = yield* started(
        Service.layer(
          options,
          manager(Compute, [], { init: Effect.logInfo("init_host") }, {
            cleanup: () => Effect.logInfo("cleanup_host"),
            tasks: [failing],
          }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      )
      yield* TestClock.adjust("1 millis")
      yield* stop("0 millis")
      expect(lines.map((line) => [line.level, line.message, line.annotations])).toEqual([
        ["INFO", "init_host", compute],
        ["ERROR", "Error during periodic task audit", { ...service, periodicTask: "audit" }],
        ["INFO", "Stopping service compute on host-1: periodic tasks", service],
        ["INFO", "Stopping: cleanup of Compute", compute],
        ["INFO", "cleanup_host", compute],
        ["INFO", "Stopping: marking the service record of compute on host-1 down", service],
      ])
    }))

  it.scoped("a reset hook that times out is logged with the service and the manager, also when reset is called from outside", () =>
    Effect.gen(function* () {
      const lines = yield* captureLines
      const { service: running } = yield* started(
        Service.layer(
          { ...options, hookTimeouts: { reset: "1 second" } },
          manager(Compute, [], { reset: Effect.sleep("1 minute") }),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      )
      const resetting = yield* Effect.fork(running.reset)
      yield* TestClock.adjust("1 second")
      expect(Exit.isFailure(yield* Fiber.await(resetting))).toBe(true)
      // The message's first line: the rest is the cause's stack.
      const firstLine = (message: string) => message.split("\n")[0]
      expect(lines.map((line) => [line.level, firstLine(line.message), line.annotations])).toEqual([
        [
          "ERROR",
          `Manager "Compute": reset failed, the service keeps running on its previous state: HookTimedOut: Manager "Compute": reset did not finish within 1s`,
          compute,
        ],
      ])
    }))

  it.scoped("a failed heartbeat is logged with the service", () =>
    Effect.gen(function* () {
      const lines = yield* captureLines
      yield* started(
        Service.layer(options, manager(Compute, [])).pipe(
          Layer.provideMerge(registryWith({ report: () => Effect.die("registry down") })),
        ),
      )
      // The first report is due 5 s after the start.
      yield* TestClock.adjust("5 seconds")
      expect(lines.map((line) => [line.level, line.message, line.annotations])).toEqual([
        ["WARN", "Unable to report the service's status", service],
      ])
    }))
})

describe("Service: bad control input", () => {
  it.effect("the same manager given twice fails the layer before any hook runs", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const exit = yield* Layer.build(
        Service.layer(options, manager(Compute, log), manager(Network, log), manager(Compute, log))
          .pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
      ).pipe(Effect.scoped, Effect.exit)
      expect(log).toEqual([])
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(error).toEqual(Option.some(new Service.DuplicateManager({ manager: "Compute" })))
      expect(Option.map(error, (e) => e.message)).toEqual(Option.some(
        `Manager "Compute" is given to the service more than once; a service runs each manager once`,
      ))
    }))

  it.effect("a start that fails after registering leaves the record marked down", () =>
    Effect.gen(function* () {
      const registry = yield* ServiceRegistry.ServiceRegistry
      const exit = yield* Layer.build(
        Service.layer(
          options,
          manager(Compute, [], { postStart: Effect.fail(new HookError("postStart")) }),
        ),
      ).pipe(Effect.scoped, Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      const record = yield* registry.get("host-1", "compute")
      expect(Option.map(record, (r) => r.forcedDown)).toEqual(Option.some(true))
    }).pipe(Effect.provide(ServiceRegistry.layerMemory)))

  it.effect("reset after the stop is refused with ServiceNotRunning and runs no hook", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(options, manager(Compute, log)).pipe(
          Layer.provideMerge(ServiceRegistry.layerMemory),
        ),
        scope,
      )
      const service = Context.get(context, Service.Service)
      yield* Scope.close(scope, Exit.void)
      log.length = 0
      const error = yield* Effect.flip(service.reset)
      expect(log).toEqual([])
      expect(error).toEqual(
        new Service.ServiceNotRunning({ host: "host-1", topic: "compute", state: "stopped" }),
      )
      expect(error.message).toBe("Service compute on host-1 is stopped: reset is refused")
      expect((yield* service.status).lastReset).toEqual(Option.none())
    }))

  it.effect("hosts, topics and manager names like Object.prototype members are plain data", () =>
    Effect.gen(function* () {
      class ToString extends Context.Tag("toString")<
        ToString,
        { readonly ping: Effect.Effect<string> }
      >() {}
      class Proto extends Context.Tag("__proto__")<
        Proto,
        { readonly ping: Effect.Effect<string> }
      >() {}
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(
          { host: "__proto__", topic: "constructor" },
          manager(ToString, log),
          manager(Proto, log),
        ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory)),
        scope,
      )
      const service = Context.get(context, Service.Service)
      yield* TestClock.adjust("5 seconds")
      const status = yield* service.status
      expect([status.host, status.topic, status.heartbeat.reportCount]).toEqual([
        "__proto__",
        "constructor",
        1,
      ])
      expect(status.managers.map((m) => [m.name, m.phase])).toEqual([
        ["toString", "running"],
        ["__proto__", "running"],
      ])
      expect(yield* Context.get(context, Proto).ping).toBe("__proto__ pong")
      yield* Scope.close(scope, Exit.void)
      expect(log.slice(-2)).toEqual(["__proto__.cleanup(Success)", "toString.cleanup(Success)"])
      const registry = Context.get(context, ServiceRegistry.ServiceRegistry)
      const record = yield* registry.get("__proto__", "constructor")
      expect(Option.map(record, (r) => [r.reportCount, r.forcedDown])).toEqual(
        Option.some([1, true]),
      )
    }))
})

// --- helpers -----------------------------------------------------------------------------------

/**
 * Builds a service layer in a scope of its own; `stop(after)` closes the scope while the
 * TestClock moves `after` on, and returns the stop's report.
 */
const started = <ROut, E>(layer: Layer.Layer<ROut | Service.Service, E>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    const service = Context.get(context as Context.Context<Service.Service>, Service.Service)
    const stop = (after: Duration.DurationInput) =>
      Effect.gen(function* () {
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust(after)
        yield* Fiber.join(closing)
        return yield* service.stopped
      })
    return { context, service, stop }
  })

/** Never ends, yet holds no timer (Effect.never's would trip Deno's sanitizers once detached). */
const hang: Effect.Effect<never> = Effect.flatMap(Deferred.make<never>(), Deferred.await)

/** The memory registry with some calls replaced. */
const registryWith = (
  overrides: Partial<
    Pick<ServiceRegistry.ServiceRegistry, "register" | "report" | "markDown">
  >,
) =>
  Layer.effect(
    ServiceRegistry.ServiceRegistry,
    Effect.map(ServiceRegistry.ServiceRegistry, (registry) => ({ ...registry, ...overrides })),
  ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory))

/** A cleanup that takes 100 ms, then logs "cleanup.done". */
const slowCleanup = (log: Array<string>) =>
  Effect.zipRight(Effect.sleep("100 millis"), Effect.sync(() => log.push("cleanup.done")))

/** The memory registry, with a `markDown` that takes `takes` before it marks the record down. */
const slowMarkDown = (takes: Duration.DurationInput) =>
  Layer.effect(
    ServiceRegistry.ServiceRegistry,
    Effect.map(ServiceRegistry.ServiceRegistry, (registry) => ({
      ...registry,
      markDown: (host: string, topic: string) =>
        Effect.zipRight(Effect.sleep(takes), registry.markDown(host, topic)),
    })),
  ).pipe(Layer.provideMerge(ServiceRegistry.layerMemory))

/** Replaces the default logger; `warnings` gives each warning's message and cause, joined. */
const captureLogs = () => {
  const logs: Array<{ readonly level: string; readonly text: string }> = []
  const logger = Logger.make(({ cause, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const failure = Cause.failureOption(cause)
    const reason = Option.isSome(failure) && failure.value instanceof Error
      ? [failure.value.message]
      : []
    logs.push({ level: logLevel.label, text: [...parts, ...reason].join(": ") })
  })
  return {
    layer: Logger.replace(Logger.defaultLogger, logger),
    warnings: () => logs.filter((log) => log.level === "WARN").map((log) => log.text),
  }
}
