import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Manager from "../Manager.ts"
import type * as PeriodicRunnerApi from "../PeriodicRunner.ts"
import type * as Service from "../Service.ts"
import { ServiceRegistry } from "../ServiceRegistry.ts"
import * as Capabilities from "./capabilities.ts"
import * as CapabilityBus from "./capabilityBus.ts"
import { lifecycleTag, TypeId as ManagerTypeId } from "./manager.ts"
import * as PeriodicRunner from "./periodicRunner.ts"
import * as PeriodicTask from "./periodicTask.ts"
import { decodeMillis, show } from "./validate.ts"

// --- errors ------------------------------------------------------------------------------------

/** @internal */
export class InvalidServiceOption extends Schema.TaggedError<InvalidServiceOption>(
  "effect-manager/InvalidServiceOption",
)("InvalidServiceOption", {
  option: Schema.String,
  value: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Service option ${this.option} ${this.reason}, got ${this.value}`
  }
}

/** @internal */
export class HookTimedOut extends Schema.TaggedError<HookTimedOut>(
  "effect-manager/HookTimedOut",
)("HookTimedOut", {
  manager: Schema.String,
  hook: Schema.String,
  timeoutMillis: Schema.Number,
}) {
  override get message(): string {
    return `Manager ${JSON.stringify(this.manager)}: ${this.hook} did not finish within ${
      Duration.format(this.timeoutMillis)
    }`
  }
}

/** @internal */
export class ServiceStartFailed<E> extends Data.TaggedError("ServiceStartFailed")<{
  readonly host: string
  readonly topic: string
  readonly manager: string
  readonly phase: Service.StartPhase
  readonly cause: Cause.Cause<E | HookTimedOut>
}> {
  override get message(): string {
    return `Service ${this.topic} on ${this.host}: manager ${
      JSON.stringify(this.manager)
    } failed in ${this.phase}: ${Cause.pretty(this.cause)}`
  }
}

/** @internal */
export class ResetFailed<E> extends Data.TaggedError("ResetFailed")<{
  readonly manager: string
  readonly cause: Cause.Cause<E | HookTimedOut>
}> {
  override get message(): string {
    return `Manager ${
      JSON.stringify(this.manager)
    }: reset failed, the service keeps running on its previous state: ${Cause.pretty(this.cause)}`
  }
}

/** @internal */
export class ShutdownOverrun extends Schema.TaggedError<ShutdownOverrun>(
  "effect-manager/ShutdownOverrun",
)("ShutdownOverrun", {
  manager: Schema.String,
  hook: Schema.String,
  limitMillis: Schema.Number,
}) {
  override get message(): string {
    return `Manager ${JSON.stringify(this.manager)}: ${this.hook} used up its ${
      Duration.format(this.limitMillis)
    } of the shutdown deadline; the stop goes on without it`
  }
}

/** @internal */
export class CleanupFailed extends Data.TaggedError("CleanupFailed")<{
  readonly manager: string
  readonly cause: Cause.Cause<unknown>
}> {
  override get message(): string {
    return `Manager ${JSON.stringify(this.manager)}: cleanup failed: ${Cause.pretty(this.cause)}`
  }
}

// --- options -----------------------------------------------------------------------------------

const HOOKS = ["init", "preStart", "postStart", "cleanup", "reset"] as const

interface Resolved {
  readonly host: string
  readonly topic: string
  readonly shutdownTimeout: number
  readonly hookTimeouts: Partial<Record<Service.Hook, number>>
  readonly reportInterval: number
  readonly reportInitialDelay: number
  readonly periodicEnable: boolean
  readonly periodicFuzzyDelay: number
  readonly mode: PeriodicRunnerApi.Mode
  readonly publishInterval: number
}

const duration = (
  option: string,
  input: unknown,
  fallback: number,
  positive = false,
): Effect.Effect<number, InvalidServiceOption> =>
  input === undefined ? Effect.succeed(fallback) : Either.mapLeft(
    decodeMillis(input, positive ? "> 0" : "≥ 0"),
    (reason) => new InvalidServiceOption({ option, value: show(input), reason }),
  )

const name = (option: string, input: unknown): Effect.Effect<string, InvalidServiceOption> =>
  typeof input === "string" && input.trim() !== "" ? Effect.succeed(input) : Effect.fail(
    new InvalidServiceOption({ option, value: show(input), reason: "must be a non-empty string" }),
  )

/** @internal */
export const resolveOptions = (
  options: Service.Options,
): Effect.Effect<Resolved, InvalidServiceOption> =>
  Effect.gen(function* () {
    const host = yield* name("host", options.host)
    const topic = yield* name("topic", options.topic)
    const hookTimeouts: Partial<Record<Service.Hook, number>> = {}
    for (const hook of HOOKS) {
      const input = options.hookTimeouts?.[hook]
      if (input !== undefined) {
        hookTimeouts[hook] = yield* duration(`hookTimeouts.${hook}`, input, 0, true)
      }
    }
    const mode = options.mode ?? "concurrent"
    if (mode !== "concurrent" && mode !== "sequential") {
      return yield* new InvalidServiceOption({
        option: "mode",
        value: show(mode),
        reason: 'must be "concurrent" or "sequential"',
      })
    }
    return {
      host,
      topic,
      shutdownTimeout: yield* duration("shutdownTimeout", options.shutdownTimeout, 60_000),
      hookTimeouts,
      reportInterval: yield* duration("reportInterval", options.reportInterval, 10_000, true),
      reportInitialDelay: yield* duration("reportInitialDelay", options.reportInitialDelay, 5_000),
      periodicEnable: options.periodicEnable ?? true,
      periodicFuzzyDelay: yield* duration("periodicFuzzyDelay", options.periodicFuzzyDelay, 0),
      mode,
      publishInterval: yield* duration("publishInterval", options.publishInterval, 10_000, true),
    }
  })

// --- the service -------------------------------------------------------------------------------

/** @internal */
export const ServiceTag = Context.GenericTag<Service.Service, Service.Service>(
  "effect-manager/Service",
)

type AnyManager = Manager.ManagerLayer<any, any, any, any>

/** @internal */
export const layer = (
  options: Service.Options,
  ...managers: ReadonlyArray<AnyManager>
): Layer.Layer<any, any, any> =>
  Layer.scopedContext(Effect.gen(function* () {
    const config = yield* resolveOptions(options)
    const { host, topic } = config
    const registry = yield* ServiceRegistry
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()

    // Build the managers in the order given (nova constructs its manager with the service).
    let context = Context.empty() as Context.Context<unknown>
    for (const manager of managers) context = Context.merge(context, yield* Layer.build(manager))
    const lifecycles = managers.map((manager) =>
      Context.get(context, lifecycleTag(manager[ManagerTypeId].tag))
    )
    const phases = new Map<string, Service.ManagerPhase>(
      lifecycles.map((lifecycle) => [lifecycle.name, "created"]),
    )
    const setPhase = (lifecycle: Manager.Lifecycle<unknown>, phase: Service.ManagerPhase) =>
      Effect.sync(() => phases.set(lifecycle.name, phase))

    /** A hook with its timeout, if one is set. */
    const timed = (
      lifecycle: Manager.Lifecycle<unknown>,
      hook: Service.Hook,
      effect: Effect.Effect<void, unknown>,
      limit: number | undefined,
    ): Effect.Effect<void, unknown> =>
      limit === undefined ? effect : Effect.timeoutFail(effect, {
        duration: Duration.millis(limit),
        onTimeout: () => new HookTimedOut({ manager: lifecycle.name, hook, timeoutMillis: limit }),
      })

    // -- start: init (all) → record → preStart (all) → [RPC consumers] → postStart (all)

    const attempted: Array<Manager.Lifecycle<unknown>> = []
    /** Names the manager and phase of a start failure; an interruption stays an interruption. */
    const failedIn = (manager: string, phase: Service.StartPhase) =>
    <A>(
      effect: Effect.Effect<A, unknown>,
    ): Effect.Effect<A, ServiceStartFailed<unknown>> =>
      Effect.catchAllCause(effect, (cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.fail(new ServiceStartFailed({ host, topic, manager, phase, cause })))
    const startHook = (
      lifecycle: Manager.Lifecycle<unknown>,
      phase: "init" | "preStart" | "postStart",
    ) =>
      Effect.zipRight(
        setPhase(lifecycle, phase),
        timed(lifecycle, phase, lifecycle[phase], config.hookTimeouts[phase]),
      ).pipe(failedIn(lifecycle.name, phase))

    const cleanupAll = (start: Exit.Exit<void, unknown>, deadline: number) =>
      Effect.gen(function* () {
        const errors: Array<Service.StopError> = []
        for (const lifecycle of [...attempted].reverse()) {
          yield* setPhase(lifecycle, "cleanup")
          const left = Math.max(0, deadline - now())
          const own = config.hookTimeouts.cleanup
          const limit = own === undefined ? left : Math.min(own, left)
          yield* Effect.logInfo(`Stopping: cleanup of ${lifecycle.name}`)
          // The stop runs in a finalizer, which is uninterruptible: the cleanup must be made
          // interruptible for its time limit to work, and disconnected so that one ignoring
          // interruption cannot hold the stop past its time.
          const exit = yield* Effect.exit(
            Effect.interruptible(Effect.disconnect(lifecycle.cleanup(start))).pipe(
              Effect.timeoutFail({
                duration: Duration.millis(limit),
                onTimeout: () =>
                  new ShutdownOverrun({
                    manager: lifecycle.name,
                    hook: "cleanup",
                    limitMillis: limit,
                  }),
              }),
            ),
          )
          yield* setPhase(lifecycle, Exit.isSuccess(start) ? "stopped" : "failed")
          if (Exit.isSuccess(exit)) {
            continue
          }
          const overrun = Cause.failureOption(exit.cause).pipe(
            Option.filter((error): error is ShutdownOverrun =>
              error instanceof ShutdownOverrun
            ),
          )
          if (Option.isSome(overrun)) {
            errors.push(overrun.value)
            yield* Effect.logError(overrun.value.message)
          } else {
            // nova logs "Service error occurred during cleanup_host" and goes on.
            errors.push(new CleanupFailed({ manager: lifecycle.name, cause: exit.cause }))
            yield* Effect.logError(
              `Service error occurred during cleanup of ${lifecycle.name}`,
              exit.cause,
            )
          }
        }
        return errors
      })

    const startPhases = Effect.gen(function* () {
      for (const lifecycle of lifecycles) {
        attempted.push(lifecycle)
        yield* startHook(lifecycle, "init")
      }
      yield* registry.register(host, topic).pipe(failedIn("(service)", "register"))
      for (const lifecycle of lifecycles) yield* startHook(lifecycle, "preStart")
      // RPC consumers start here once the RPC step exists.
      for (const lifecycle of lifecycles) yield* startHook(lifecycle, "postStart")
    })

    // Bad tasks (an invalid duration, a name two managers share) fail before any hook runs.
    const tasks = config.periodicEnable ? lifecycles.flatMap((lifecycle) => lifecycle.tasks) : []
    yield* PeriodicRunner.resolveAll(tasks)

    // A failed or interrupted start still cleans up every manager whose init was attempted.
    yield* startPhases.pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit) ? Effect.void : cleanupAll(exit, now() + config.shutdownTimeout)
      ),
    )

    // -- running: heartbeat and periodic tasks

    let reportCount = 0
    let lastReportAt: number | undefined
    let connected = true
    const report = registry.report(host, topic).pipe(
      Effect.tap((record) =>
        Effect.suspend(() => {
          reportCount = record.reportCount
          lastReportAt = now()
          if (connected) return Effect.void
          connected = true
          return Effect.logInfo("Recovered from being unable to report status.")
        })
      ),
      Effect.catchAllCause((cause) =>
        Effect.suspend(() => {
          if (!connected) return Effect.void
          connected = false
          return Effect.logWarning("Unable to report the service's status", cause)
        })
      ),
    )
    const heartbeat = yield* PeriodicRunner.make([
      PeriodicTask.fixed("report_state", config.reportInterval, report, {
        runImmediately: true,
        offset: config.reportInitialDelay,
      }),
    ])

    const fuzzy = config.periodicFuzzyDelay > 0
      ? (yield* Random.nextIntBetween(0, Math.floor(config.periodicFuzzyDelay / 1000) + 1)) * 1000
      : 0
    const runner = yield* PeriodicRunner.make(
      tasks,
      { mode: config.mode, initialDelay: fuzzy, shutdownTimeout: config.shutdownTimeout },
    )

    // -- capabilities: published on the bus when the context has one, else not at all

    const bus = yield* Effect.serviceOption(CapabilityBus.tag)
    const publishers = Option.isNone(bus) ? [] : yield* Effect.forEach(
      lifecycles.flatMap((lifecycle) =>
        lifecycle.capabilities === undefined
          ? []
          : [{ manager: lifecycle.name, capabilities: lifecycle.capabilities }]
      ),
      ({ capabilities, manager }) =>
        Capabilities.reports({ host, service: topic, manager }, capabilities, {
          publishInterval: config.publishInterval,
        }).pipe(
          Stream.runForEach(bus.value.publish),
          // A bus shut down before the service interrupts the publisher: nothing to report.
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(
              `Manager ${
                JSON.stringify(manager)
              } of service ${topic} on host ${host}: its capabilities stream failed, they are no longer published`,
              cause,
            )
          ),
          Effect.forkScoped,
        ),
    )
    for (const lifecycle of lifecycles) yield* setPhase(lifecycle, "running")
    let state: Service.ServiceState = "running"

    // -- reset (SIGHUP): serialized, a failure leaves the service running

    const resetLock = yield* Effect.makeSemaphore(1)
    let lastReset: Service.ResetResult | undefined
    const reset = resetLock.withPermits(1)(Effect.gen(function* () {
      const at = now()
      let failure: ResetFailed<unknown> | undefined
      for (const lifecycle of lifecycles) {
        const exit = yield* Effect.exit(
          timed(lifecycle, "reset", lifecycle.reset, config.hookTimeouts.reset),
        )
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          const error = new ResetFailed({ manager: lifecycle.name, cause: exit.cause })
          yield* Effect.logError(error.message)
          failure ??= error
        }
      }
      lastReset = failure === undefined
        ? { at, succeeded: true, error: Option.none() }
        : { at, succeeded: false, error: Option.some(failure) }
      if (failure !== undefined) return yield* Effect.fail(failure)
    }))

    // -- stop: consumers → runner → cleanup → record marked down, under one deadline

    const stopped = yield* Deferred.make<Service.StopReport>()
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const started = now()
        const deadline = started + config.shutdownTimeout
        state = "stopping"
        for (const lifecycle of lifecycles) yield* setPhase(lifecycle, "stopping")
        yield* Effect.logInfo(`Stopping service ${topic} on ${host}: periodic tasks`)
        yield* runner.shutdown(Math.max(0, deadline - now()))
        yield* Fiber.interruptAll(publishers)
        yield* heartbeat.shutdown(0)
        const errors = yield* cleanupAll(Exit.void, deadline)
        yield* Effect.logInfo(`Stopping: marking the service record of ${topic} on ${host} down`)
        yield* registry.markDown(host, topic).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("Could not mark the service record down", cause)
          ),
        )
        state = "stopped"
        yield* Deferred.succeed(stopped, { errors, durationMillis: now() - started })
      })
    )

    const status = Effect.gen(function* () {
      const tasks = yield* runner.status
      const result: Service.ServiceStatus = {
        host,
        topic,
        state,
        managers: lifecycles.map((lifecycle) => ({
          name: lifecycle.name,
          apiVersion: `${lifecycle.apiVersion.major}.${lifecycle.apiVersion.minor}`,
          phase: phases.get(lifecycle.name)!,
        })),
        tasks: tasks.tasks,
        heartbeat: {
          reportCount,
          lastReportAt: Option.fromNullable(lastReportAt),
          connected,
        },
        lastReset: Option.fromNullable(lastReset),
      }
      return result
    })

    const service: Service.Service = {
      host,
      topic,
      managers: lifecycles.map((lifecycle) => lifecycle.name),
      reset,
      status,
      runner,
      stopped: Deferred.await(stopped),
      shutdownTimeoutMillis: config.shutdownTimeout,
    }
    let out = Context.make(ServiceTag, service) as Context.Context<unknown>
    for (const manager of managers) {
      const tag = manager[ManagerTypeId].tag
      out = Context.add(out, tag, Context.get(context, tag))
    }
    return out
  }))
