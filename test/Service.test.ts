import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Manager, PeriodicTask, Service, ServiceRegistry } from "../mod.ts"

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
    },
  ] as const
  for (const { phase, log: expected } of failingStarts) {
    it.effect(`a failing ${phase} fails the layer, naming manager and phase, and cleans up`, () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const exit = yield* Layer.build(
          Service.layer(
            options,
            manager(Compute, log),
            manager(Network, log, { [phase]: Effect.fail(new HookError(phase)) }),
          ).pipe(Layer.provideMerge(loggingRegistry(log))),
        ).pipe(Effect.scoped, Effect.exit)
        expect(log).toEqual([...expected, "Network.cleanup(Failure)", "Compute.cleanup(Failure)"])
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        expect(Option.map(error, (e) => [e._tag, (e as any).manager, (e as any).phase])).toEqual(
          Option.some(["ServiceStartFailed", "Network", phase]),
        )
      }))
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
      expect(report.errors.map((e) => [e._tag, e.manager])).toEqual([["CleanupFailed", "Network"]])
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
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Service.layer(
          { ...options, shutdownTimeout: "10 seconds" },
          manager(Compute, log, { cleanup: Effect.never }),
          manager(Network, log),
        ).pipe(Layer.provideMerge(loggingRegistry(log))),
        scope,
      )
      log.length = 0
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      expect(log).toEqual(["Network.cleanup(Success)", "Compute.cleanup(Success)", "record.down"])
      const report = yield* Context.get(context, Service.Service).stopped
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

  it.effect("invalid options are typed errors naming the option and the value", () =>
    Effect.gen(function* () {
      const messages: Array<string> = []
      for (
        const bad of [
          { ...options, host: "" },
          { ...options, shutdownTimeout: -1 },
          { ...options, reportInterval: 0 },
          { ...options, hookTimeouts: { cleanup: Number.NaN } },
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
        `Service option host must be a non-empty string, got ""`,
        "Service option shutdownTimeout must be a finite duration ≥ 0, got -1",
        "Service option reportInterval must be a finite duration > 0, got 0",
        "Service option hookTimeouts.cleanup must be a finite duration > 0, got NaN",
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
          `Manager "Compute": apiVersion must be "major.minor" (e.g. "1.0"), got "2"`,
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
