import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Manager from "../Manager.ts"
import type { InvalidApiVersion } from "../Manager.ts"
import type * as PeriodicRunnerApi from "../PeriodicRunner.ts"
import type * as Service from "../Service.ts"
import type * as ServiceRegistryApi from "../ServiceRegistry.ts"
import type { ServiceRegistryError } from "../ServiceRegistry.ts"
import { ServiceRegistry } from "../ServiceRegistry.ts"
import * as bounded from "./bounded.ts"
import type { CapabilityReport } from "../Capabilities.ts"
import * as Capabilities from "./capabilities.ts"
import * as CapabilityBus from "./capabilityBus.ts"
import { lifecycleTagOf, TypeId as ManagerTypeId } from "./manager.ts"
import * as PeriodicRunner from "./runner/runner.ts"
import { decodeRunnerOptions } from "./runnerOptions.ts"
import * as PeriodicTask from "./periodicTask.ts"
import type { InvalidPeriodicTask, ResolvedTask } from "./periodicTask.ts"
import {
  decodeOptions,
  Flag,
  InvalidOption,
  Millis,
  NonEmptyString,
  OneOf,
  optional,
  Struct,
  withDefault,
} from "./options.ts"
import { RemoteServer, type RunningServer } from "./remote/serving.ts"
import { formatVersion } from "./rpcVersion.ts"
import { SteadyClock } from "./steadyClock.ts"
import * as telemetry from "./telemetry.ts"

// --- errors ------------------------------------------------------------------------------------

// Each error's base class has its type written out: JSR documents and type-checks
// the package from explicit types (no "slow types"), and cannot infer a call's.
const HookTimedOutBase: ReturnType<typeof Data.TaggedError<"HookTimedOut">> = Data.TaggedError(
  "HookTimedOut",
)

/** @internal */
export class HookTimedOut extends HookTimedOutBase<{
  readonly manager: string
  readonly hook: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `Manager ${JSON.stringify(this.manager)}: ${this.hook} did not finish within ${
      Duration.format(this.timeoutMillis)
    }`
  }
}

const ServiceStartFailedBase: ReturnType<typeof Data.TaggedError<"ServiceStartFailed">> = Data
  .TaggedError("ServiceStartFailed")

/** @internal */
export class ServiceStartFailed<E> extends ServiceStartFailedBase<{
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

const ResetFailedBase: ReturnType<typeof Data.TaggedError<"ResetFailed">> = Data.TaggedError(
  "ResetFailed",
)

/** @internal */
export class ResetFailed<E> extends ResetFailedBase<{
  readonly manager: string
  readonly cause: Cause.Cause<E | HookTimedOut>
}> {
  override get message(): string {
    return `Manager ${
      JSON.stringify(this.manager)
    }: reset failed, the service keeps running on its previous state: ${Cause.pretty(this.cause)}`
  }
}

const ShutdownOverrunBase: ReturnType<typeof Data.TaggedError<"ShutdownOverrun">> = Data
  .TaggedError(
    "ShutdownOverrun",
  )

/** @internal */
export class ShutdownOverrun extends ShutdownOverrunBase<{
  readonly manager: string
  readonly hook: string
  readonly limitMillis: number
}> {
  override get message(): string {
    return `Manager ${JSON.stringify(this.manager)}: ${this.hook} used up its ${
      Duration.format(this.limitMillis)
    } of the shutdown deadline; the stop goes on without it`
  }
}

const CleanupPastDeadlineBase: ReturnType<typeof Data.TaggedError<"CleanupPastDeadline">> = Data
  .TaggedError(
    "CleanupPastDeadline",
  )

/** @internal */
export class CleanupPastDeadline extends CleanupPastDeadlineBase<{
  readonly manager: string
}> {
  override get message(): string {
    return `Manager ${
      JSON.stringify(this.manager)
    }: cleanup began after the shutdown deadline had passed and did not finish at once; the stop did not wait for it`
  }
}

const DuplicateManagerBase: ReturnType<typeof Data.TaggedError<"DuplicateManager">> = Data
  .TaggedError(
    "DuplicateManager",
  )

/** @internal */
export class DuplicateManager extends DuplicateManagerBase<{
  readonly manager: string
}> {
  override get message(): string {
    return `Manager ${
      JSON.stringify(this.manager)
    } is given to the service more than once; a service runs each manager once`
  }
}

const RegistryTimedOutBase: ReturnType<typeof Data.TaggedError<"RegistryTimedOut">> = Data
  .TaggedError(
    "RegistryTimedOut",
  )

/** @internal */
export class RegistryTimedOut extends RegistryTimedOutBase<{
  readonly host: string
  readonly topic: string
  readonly operation: "register" | "report" | "markDown"
  readonly limitMillis: number
}> {
  override get message(): string {
    return `Service registry: ${this.operation} of ${this.topic} on ${this.host} did not finish within ${
      Duration.format(this.limitMillis)
    }`
  }
}

const MarkDownFailedBase: ReturnType<typeof Data.TaggedError<"MarkDownFailed">> = Data.TaggedError(
  "MarkDownFailed",
)

/** @internal */
export class MarkDownFailed extends MarkDownFailedBase<{
  readonly host: string
  readonly topic: string
  readonly cause: Cause.Cause<unknown>
}> {
  override get message(): string {
    const failure = Cause.failureOption(this.cause)
    const reason = Option.isSome(failure) && failure.value instanceof Error
      ? failure.value.message
      : Cause.pretty(this.cause)
    return `Service ${this.topic} on ${this.host}: its record could not be marked down (it reads as up until its last heartbeat ages out): ${reason}`
  }
}

const ServiceNotRunningBase: ReturnType<typeof Data.TaggedError<"ServiceNotRunning">> = Data
  .TaggedError(
    "ServiceNotRunning",
  )

/** @internal */
export class ServiceNotRunning extends ServiceNotRunningBase<{
  readonly host: string
  readonly topic: string
  readonly state: "stopping" | "stopped"
}> {
  override get message(): string {
    return `Service ${this.topic} on ${this.host} is ${this.state}: reset is refused`
  }
}

const CleanupFailedBase: ReturnType<typeof Data.TaggedError<"CleanupFailed">> = Data.TaggedError(
  "CleanupFailed",
)

/** @internal */
export class CleanupFailed extends CleanupFailedBase<{
  readonly manager: string
  readonly cause: Cause.Cause<unknown>
}> {
  override get message(): string {
    return `Manager ${JSON.stringify(this.manager)}: cleanup failed: ${Cause.pretty(this.cause)}`
  }
}

// --- options -----------------------------------------------------------------------------------

interface Resolved {
  readonly host: string
  readonly topic: string
  readonly shutdownTimeout: number
  readonly hookTimeouts: { readonly [H in Service.Hook]?: number | undefined }
  readonly reportInterval: number
  readonly reportTimeout: number
  readonly reportInitialDelay: number
  readonly periodicEnable: boolean
  readonly periodicFuzzyDelay: number
  readonly mode: PeriodicRunnerApi.Mode
  readonly runSpans: PeriodicRunnerApi.RunSpans
  readonly metrics: boolean
  readonly publishInterval: number
}

const HookTimeout = optional(Millis("> 0"))

const ServiceOptions = Struct({
  host: NonEmptyString,
  topic: NonEmptyString,
  hookTimeouts: withDefault(
    Struct({
      init: HookTimeout,
      preStart: HookTimeout,
      postStart: HookTimeout,
      cleanup: HookTimeout,
      reset: HookTimeout,
    }, "must be a record of hook names to durations"),
    () => ({}),
  ),
  mode: withDefault(OneOf("concurrent", "sequential"), () => "concurrent" as const),
  runSpans: withDefault(OneOf("linked", "root", "off"), () => "linked" as const),
  metrics: withDefault(Flag, () => true),
  reportInterval: withDefault(Millis("> 0"), () => 10_000),
  shutdownTimeout: withDefault(Millis("≥ 0"), () => 60_000),
  reportTimeout: optional(Millis("> 0")),
  reportInitialDelay: withDefault(Millis("≥ 0"), () => 5_000),
  periodicEnable: withDefault(Flag, () => true),
  periodicFuzzyDelay: withDefault(Millis("≥ 0"), () => 0),
  publishInterval: withDefault(Millis("> 0"), () => 10_000),
})

/** @internal The options with their defaults; `reportTimeout` defaults to `reportInterval`. */
export const resolveOptions = (
  options: Service.Options,
): Effect.Effect<Resolved, InvalidOption> =>
  Either.map(decodeOptions("Service", ServiceOptions, options), (decoded) => ({
    ...decoded,
    reportTimeout: decoded.reportTimeout ?? decoded.reportInterval,
  }))

// --- time limits -------------------------------------------------------------------------------

/**
 * `effect` held to `limit` milliseconds by the library's one rule (`bounded.withLimit`): at the
 * limit the work is interrupted and given the grace to end, then the caller gets `onTimeout()`;
 * work still going is left running, detached, with a warning naming `what`.
 */
const withLimit = <A, E, E2>(
  effect: Effect.Effect<A, E>,
  limit: number,
  onTimeout: () => E2,
  what: string,
): Effect.Effect<A, E | E2> =>
  // The exit is taken inside the work's fiber, which then never fails unobserved (a log line).
  bounded.withLimit(Effect.exit(effect), {
    millis: limit,
    onTimeout,
    runaway: `${what} ignored its interruption at its ${
      Duration.format(limit)
    } limit; it is left running, detached`,
  }).pipe(Effect.flatten)

// --- the service -------------------------------------------------------------------------------

/** @internal */
export const TypeId: Service.TypeId = Symbol.for("effect-manager/Service") as Service.TypeId

/** @internal */
export const ServiceTag = Context.GenericTag<Service.Service, Service.Service>(
  "effect-manager/Service",
)

type Lifecycle = Manager.Lifecycle<unknown>

/** What the steps of one service share. */
interface Run {
  readonly config: Resolved
  readonly registry: ServiceRegistryApi.ServiceRegistry
  readonly lifecycles: ReadonlyArray<Lifecycle>
  readonly phases: Map<string, Service.ManagerPhase>
  /**
   * The steady time (`SteadyClock`) that deadlines and durations are measured in: a step of the
   * wall clock neither stretches nor cuts a stop.
   */
  readonly now: () => number
  /** The wall clock, for the instants a person reads (last report, last reset). */
  readonly wallNow: () => number
  /** The managers whose init was attempted: the ones a stop cleans up. */
  readonly attempted: Array<Lifecycle>
  /** Set once the record is registered: a start that fails after that marks it down. */
  registered: boolean
  /** The RPC server of the context, if it has one: it serves the managers' endpoints. */
  readonly remote: RemoteServer | undefined
  /** The latest capability report each manager published, by manager (`BaseApi.capabilities`). */
  readonly published: Map<string, CapabilityReport>
  /** The server once it runs, and the scope it runs in (closed when a stop has drained it). */
  server: { readonly running: RunningServer; readonly scope: Scope.CloseableScope } | undefined
  state: Service.ServiceState
  /** The attributes of every span of the service: its host and topic. */
  readonly attributes: Record<string, string>
  /** `host` and `topic`, then the labels of the fiber that built the service (`Effect.tagMetrics`). */
  readonly metricLabels: ReadonlyArray<MetricLabel.MetricLabel>
}

/** The annotations of a service's log lines: an operator filters a host's or a topic's by them. */
const annotateService = (config: Resolved) =>
  Effect.annotateLogs({ host: config.host, topic: config.topic })

const setPhase = (run: Run, lifecycle: Lifecycle, phase: Service.ManagerPhase) =>
  Effect.sync(() => run.phases.set(lifecycle.name, phase))

/**
 * A hook in its span `<hook> <manager>`, timed into `effect_manager.hook.duration`; its log
 * lines, the hook's own too, name the manager.
 */
const observed = <A, E>(
  run: Run,
  manager: string,
  hook: Service.Hook,
  effect: Effect.Effect<A, E>,
): Effect.Effect<A, E> =>
  telemetry.span(
    telemetry.timed(
      effect,
      telemetry.updater(
        telemetry.Keys.hookDuration,
        telemetry.labels({ manager, hook }, run.metricLabels),
      ),
    ),
    `${hook} ${manager}`,
    { ...run.attributes, [telemetry.Attribute.manager]: manager, [telemetry.Attribute.hook]: hook },
  ).pipe(Effect.annotateLogs("manager", manager))

/** A hook with its time limit, if it has one, observed. */
const limitedHook = (
  run: Run,
  lifecycle: Lifecycle,
  hook: Service.Hook,
  effect: Effect.Effect<void, unknown>,
  limit: number | undefined,
): Effect.Effect<void, unknown> =>
  observed(
    run,
    lifecycle.name,
    hook,
    limit === undefined ? effect : withLimit(
      effect,
      limit,
      () => new HookTimedOut({ manager: lifecycle.name, hook, timeoutMillis: limit }),
      `Manager ${JSON.stringify(lifecycle.name)}: ${hook}`,
    ),
  )

/** Builds the managers in the order given (nova constructs its manager with the service). */
const buildManagers = (managers: ReadonlyArray<Manager.AnyManagerLayer>) =>
  Effect.gen(function* () {
    // Two layers of one manager would share its service and lifecycle: its hooks would run
    // twice, the other one's never.
    const names = new Set<string>()
    for (const manager of managers) {
      const name = manager[ManagerTypeId].tag.key
      if (names.has(name)) return yield* new DuplicateManager({ manager: name })
      names.add(name)
    }
    let context = Context.empty()
    for (const manager of managers) {
      const built = Layer.build(manager).pipe(
        Effect.annotateLogs("manager", manager[ManagerTypeId].tag.key),
      )
      context = Context.merge(context, yield* built)
    }
    // Each layer provides its manager's lifecycle next to its service: the lifecycles are for
    // this service to run, the managers' services for everyone.
    const lifecycleTags = managers.map(lifecycleTagOf)
    const lifecycles = lifecycleTags.map((tag) => Context.unsafeGet(context, tag))
    return { services: Context.omit(...lifecycleTags)(context), lifecycles }
  })

// -- start: init (all) → record → preStart (all) → [RPC consumers] → postStart (all)

/** Names the manager and phase of a start failure; an interruption stays an interruption. */
const failedIn = (run: Run, manager: string, phase: Service.StartPhase) =>
<A, R>(
  effect: Effect.Effect<A, unknown, R>,
): Effect.Effect<A, ServiceStartFailed<unknown>, R> =>
  Effect.catchAllCause(effect, (cause) => {
    const { host, topic } = run.config
    return Cause.isInterruptedOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : Effect.fail(new ServiceStartFailed({ host, topic, manager, phase, cause }))
  })

const startHook = (run: Run, lifecycle: Lifecycle, phase: "init" | "preStart" | "postStart") =>
  Effect.zipRight(
    setPhase(run, lifecycle, phase),
    limitedHook(run, lifecycle, phase, lifecycle[phase], run.config.hookTimeouts[phase]),
  ).pipe(failedIn(run, lifecycle.name, phase))

/**
 * A failed or interrupted start cleans up every manager whose init was attempted and marks a
 * registered record down, under one shutdown deadline.
 */
const start = (run: Run) =>
  Effect.gen(function* () {
    for (const lifecycle of run.lifecycles) {
      run.attempted.push(lifecycle)
      yield* startHook(run, lifecycle, "init")
    }
    const { host, topic, reportTimeout } = run.config
    // A registry that hangs fails the start at the heartbeat's limit, like a report would.
    yield* withLimit(
      run.registry.register(host, topic),
      reportTimeout,
      () =>
        new RegistryTimedOut({ host, topic, operation: "register", limitMillis: reportTimeout }),
      `Service registry: register of ${topic} on ${host}`,
    ).pipe(failedIn(run, "(service)", "register"))
    run.registered = true
    for (const lifecycle of run.lifecycles) yield* startHook(run, lifecycle, "preStart")
    yield* startServer(run)
    for (const lifecycle of run.lifecycles) yield* startHook(run, lifecycle, "postStart")
  }).pipe(
    Effect.onExit((exit) => {
      if (Exit.isSuccess(exit)) return Effect.void
      const deadline = run.now() + run.config.shutdownTimeout
      // A start that failed after the server began (a postStart) stops it before the cleanup,
      // as a stop does.
      return Effect.zipRight(
        Effect.zipRight(stopServer(run, deadline), cleanupAll(run, exit, deadline)),
        run.registered ? markDown(run, deadline) : Effect.void,
      )
    }),
  )

/**
 * nova starts its RPC consumers here: after every `preStart`, before any `postStart`. The record
 * then carries the bound address and what is served, so that clients find the service.
 */
const startServer = (run: Run) =>
  Effect.gen(function* () {
    if (run.remote === undefined) return
    const { host, topic } = run.config
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const running = yield* run.remote.serve({
      host,
      topic,
      endpoints: run.lifecycles.flatMap((lifecycle) => lifecycle.endpoints),
      state: Effect.sync(() => run.state),
      capabilities: Effect.sync(() => [...run.published.values()]),
    }).pipe(
      Scope.extend(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
    )
    run.server = { running, scope }
    yield* run.registry.setEndpoint(host, topic, { address: running.address, apis: running.apis })
    yield* Effect.logInfo(`Serving RPC for ${topic} on ${host} at ${running.address}`)
  }).pipe(failedIn(run, "(service)", "rpc"))

/**
 * The first step of a stop: new calls are refused with `ServiceStopping`, the calls in flight
 * get what is left of the deadline, then whatever still runs is interrupted.
 */
const stopServer = (run: Run, deadline: number) =>
  Effect.gen(function* () {
    if (run.server === undefined) return
    const { running, scope } = run.server
    yield* Effect.logInfo(`Stopping service ${run.config.topic} on ${run.config.host}: RPC server`)
    yield* running.stopAccepting
    const left = yield* running.drain(Math.max(0, deadline - run.now()))
    if (left > 0) {
      yield* Effect.logWarning(
        `${left} RPC call(s) still running at the deadline: answered ServiceStopping, interrupted`,
      )
    }
    // Closing waits for the handlers it interrupts: one that ignores its interruption is given
    // what is left of the deadline (at least the interrupt grace), then left to end by itself.
    yield* bounded.withLimit(Scope.close(scope, Exit.void), {
      millis: Math.max(bounded.INTERRUPT_GRACE_MILLIS, deadline - run.now()),
      onTimeout: () => undefined,
      runaway:
        `An RPC handler of ${run.config.topic} on ${run.config.host} ignored its interruption at the deadline; it goes on, detached`,
    }).pipe(Effect.catchAll(() => Effect.void))
  })

// -- stop

const isTimeout = (error: unknown): error is ShutdownOverrun | CleanupPastDeadline =>
  error instanceof ShutdownOverrun || error instanceof CleanupPastDeadline

/** One manager's cleanup, given what is left of the deadline (or its own limit if shorter). */
const cleanup = (
  run: Run,
  lifecycle: Lifecycle,
  start: Exit.Exit<void, unknown>,
  deadline: number,
): Effect.Effect<Option.Option<Service.StopError>> =>
  Effect.gen(function* () {
    yield* setPhase(run, lifecycle, "cleanup")
    const manager = lifecycle.name
    const left = Math.max(0, deadline - run.now())
    const own = run.config.hookTimeouts.cleanup
    const limit = own === undefined ? left : Math.min(own, left)
    yield* Effect.logInfo(`Stopping: cleanup of ${manager}`)
    const exit = yield* Effect.exit(observed(
      run,
      manager,
      "cleanup",
      withLimit(
        lifecycle.cleanup(start),
        limit,
        // With no time left, the step that used it up is the overrun, not this one.
        (): Service.StopError =>
          left === 0
            ? new CleanupPastDeadline({ manager })
            : new ShutdownOverrun({ manager, hook: "cleanup", limitMillis: limit }),
        `Manager ${JSON.stringify(manager)}: cleanup`,
      ),
    ))
    if (Exit.isSuccess(exit)) return Option.none()
    const overrun = Option.filter(Cause.failureOption(exit.cause), isTimeout)
    if (Option.isSome(overrun)) {
      yield* Effect.logError(overrun.value.message)
      return overrun
    }
    // nova logs "Service error occurred during cleanup_host" and goes on.
    yield* Effect.logError(`Service error occurred during cleanup of ${lifecycle.name}`, exit.cause)
    return Option.some(new CleanupFailed({ manager: lifecycle.name, cause: exit.cause }))
  }).pipe(Effect.annotateLogs("manager", lifecycle.name))

/** Every attempted manager's cleanup, in reverse order: what went wrong. */
const cleanupAll = (run: Run, start: Exit.Exit<void, unknown>, deadline: number) =>
  Effect.gen(function* () {
    const errors: Array<Service.StopError> = []
    for (const lifecycle of [...run.attempted].reverse()) {
      const error = yield* cleanup(run, lifecycle, start, deadline)
      yield* setPhase(run, lifecycle, Exit.isSuccess(start) ? "stopped" : "failed")
      if (Option.isSome(error)) errors.push(error.value)
    }
    return errors
  })

/**
 * The least time `markDown` gets, past the deadline if need be: periodic tasks or cleanups that
 * use up the deadline must not leave the record reading as up.
 */
const MARK_DOWN_RESERVE_MILLIS = 1_000

/**
 * Marks the record down within what is left of the deadline, but at least
 * `min(MARK_DOWN_RESERVE_MILLIS, reportTimeout)`; a failure is logged.
 */
const markDown = (run: Run, deadline: number): Effect.Effect<Option.Option<MarkDownFailed>> =>
  Effect.gen(function* () {
    const { host, reportTimeout, topic } = run.config
    yield* Effect.logInfo(`Stopping: marking the service record of ${topic} on ${host} down`)
    const reserve = Math.min(MARK_DOWN_RESERVE_MILLIS, reportTimeout)
    const limit = Math.max(reserve, deadline - run.now())
    const timedOut = () =>
      new RegistryTimedOut({ host, topic, operation: "markDown", limitMillis: limit })
    const exit = yield* Effect.exit(withLimit(
      run.registry.markDown(host, topic),
      limit,
      timedOut,
      `Service registry: markDown of ${topic} on ${host}`,
    ))
    if (Exit.isSuccess(exit)) return Option.none()
    const error = new MarkDownFailed({ host, topic, cause: exit.cause })
    yield* Effect.logError(error.message)
    return Option.some(error)
  })

/**
 * The heartbeat and the periodic tasks, started after `postStart` as nova starts its timers, the
 * tasks after `periodicFuzzyDelay`. The heartbeat counts in `heartbeat_failures`, not as a task.
 */
const startRunners = (
  run: Run,
  resolved: ReadonlyArray<ResolvedTask<unknown, never>>,
) =>
  Effect.gen(function* () {
    const { config } = run
    const beat = yield* withServiceLabels(run)(heartbeat(run))
    const fuzzy = config.periodicFuzzyDelay > 0
      ? (yield* Random.nextIntBetween(0, Math.floor(config.periodicFuzzyDelay / 1000) + 1)) * 1000
      : 0
    const runner = yield* PeriodicRunner.makeResolved(resolved, yield* runnerConfig(config, fuzzy))
      .pipe(withServiceLabels(run))
    return { beat, runner }
  })

/**
 * The runner's options. The service's options were checked by its own decoder: a runner option
 * out of range here is a defect.
 */
const runnerConfig = (
  config: Resolved,
  initialDelay: number,
) =>
  Effect.orDie(decodeRunnerOptions({
    mode: config.mode,
    initialDelay,
    shutdownTimeout: config.shutdownTimeout,
    runSpans: config.runSpans,
    metrics: config.metrics,
  }))

/** Runners made by `effect` take the service's metric labels (its host and topic). */
const withServiceLabels = (run: Run) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.locally(effect, FiberRef.currentMetricLabels, run.metricLabels)

/** One phase of a stop, in its span `stop <phase>`. */
const stopPhase = <A>(run: Run, phase: string, effect: Effect.Effect<A>): Effect.Effect<A> =>
  telemetry.span(effect, `stop ${phase}`, {
    ...run.attributes,
    [telemetry.Attribute.stopPhase]: phase,
  })

/** consumers → runner → cleanup → record marked down, under one deadline. */
const addStop = (
  run: Run,
  runner: PeriodicRunnerApi.PeriodicRunner<unknown>,
  heartbeat: PeriodicRunnerApi.PeriodicRunner<unknown>,
  stopPublishers: Effect.Effect<void>,
) =>
  Effect.gen(function* () {
    const stopped = yield* Deferred.make<Service.StopReport>()
    const { host, topic } = run.config
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const started = run.now()
        const deadline = started + run.config.shutdownTimeout
        run.state = "stopping"
        for (const lifecycle of run.lifecycles) yield* setPhase(run, lifecycle, "stopping")
        if (run.server !== undefined) yield* stopPhase(run, "rpc", stopServer(run, deadline))
        yield* Effect.logInfo(`Stopping service ${topic} on ${host}: periodic tasks`)
        yield* stopPhase(
          run,
          "periodic_tasks",
          Effect.orDie(runner.shutdown(Math.max(0, deadline - run.now()))),
        )
        yield* stopPhase(run, "capabilities", stopPublishers)
        yield* stopPhase(run, "heartbeat", Effect.orDie(heartbeat.shutdown(0)))
        const errors = yield* stopPhase(run, "cleanup", cleanupAll(run, Exit.void, deadline))
        const down = yield* stopPhase(run, "mark_down", markDown(run, deadline))
        run.state = "stopped"
        yield* Deferred.succeed(stopped, {
          errors: [...errors, ...Option.toArray(down)],
          durationMillis: run.now() - started,
        })
      }).pipe(telemetry.span(`stop ${topic}`, run.attributes))
    )
    return Deferred.await(stopped)
  })

// -- running: heartbeat, periodic tasks, capabilities

interface HeartbeatView {
  reportCount: number
  lastReportAt: number | undefined
  connected: boolean
}

/**
 * nova's `report_state`: a report every `reportInterval`, each given `reportTimeout`. A failed
 * or timed-out report shows the registry as disconnected until one succeeds; a record deleted
 * while the service runs is registered again. A report that ignored its interruption and goes
 * on detached holds the next heartbeats back until it ends: detached reports never pile up.
 */
const heartbeat = (run: Run) =>
  Effect.gen(function* () {
    const { host, topic, reportTimeout } = run.config
    const view: HeartbeatView = { reportCount: 0, lastReportAt: undefined, connected: true }
    const alive = { report: false, skipLogged: false }
    const reportOnce = run.registry.report(host, topic).pipe(
      Effect.catchTag("ServiceNotFound", () =>
        Effect.logWarning(`The service record of ${topic} on ${host} is gone: registering it again`)
          .pipe(
            Effect.zipRight(run.registry.register(host, topic)),
            Effect.zipRight(run.registry.report(host, topic)),
          )),
    )
    const tracked = Effect.suspend(() => {
      alive.report = true
      return reportOnce
    }).pipe(Effect.ensuring(Effect.sync(() => {
      alive.report = false
      alive.skipLogged = false
    })))
    const failed = telemetry.updater(
      telemetry.Keys.heartbeatFailures,
      run.metricLabels,
    )
    const report = withLimit(
      tracked,
      reportTimeout,
      () =>
        new RegistryTimedOut({ host, topic, operation: "report", limitMillis: reportTimeout }),
      `Service registry: report of ${topic} on ${host}`,
    ).pipe(
      Effect.tap((record) =>
        Effect.annotateCurrentSpan(telemetry.Attribute.reportCount, record.reportCount)
      ),
      telemetry.span(`heartbeat ${topic}`, run.attributes),
      Effect.tap((record) =>
        Effect.suspend(() => {
          view.reportCount = record.reportCount
          view.lastReportAt = run.wallNow()
          if (view.connected) {
            return Effect.void
          }
          view.connected = true
          return Effect.logInfo("Recovered from being unable to report status.")
        })
      ),
      Effect.catchAllCause((cause) =>
        Effect.suspend(() => {
          if (Cause.isInterruptedOnly(cause)) {
            return Effect.failCause(cause)
          }
          failed(1)
          if (!view.connected) {
            return Effect.void
          }
          view.connected = false
          return Effect.logWarning("Unable to report the service's status", cause)
        })
      ),
    )
    const skipWhileAlive = Effect.suspend(() => {
      if (!alive.report) {
        return report
      }
      if (alive.skipLogged) {
        return Effect.void
      }
      alive.skipLogged = true
      return Effect.logWarning(
        `The previous report of ${topic} on ${host} is still running, detached: heartbeats are skipped until it ends`,
      )
    })
    const runner = yield* PeriodicRunner.make([
      PeriodicTask.fixed("report_state", run.config.reportInterval, skipWhileAlive, {
        runImmediately: true,
        offset: run.config.reportInitialDelay,
      }),
    ], { runSpans: run.config.runSpans, metrics: false })
    return { runner, view }
  })

/**
 * Each manager's capabilities, published on the bus when the context has one. Returns the stop
 * of the publishers (run once, by the stop or else when the scope closes).
 */
const publishCapabilities = (run: Run): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { host, topic } = run.config
    const bus = yield* Effect.serviceOption(CapabilityBus.tag)
    if (Option.isNone(bus)) return Effect.void
    // Forked and registered with no gap in between: an interruption of the start cannot leave a
    // publisher running with nobody to stop it.
    return yield* Effect.uninterruptible(Effect.gen(function* () {
      const publishers = yield* Effect.forEach(
        run.lifecycles.flatMap((lifecycle) =>
          lifecycle.capabilities === undefined
            ? []
            : [{ manager: lifecycle.name, capabilities: lifecycle.capabilities }]
        ),
        ({ capabilities, manager }) =>
          Capabilities.reports({ host, service: topic, manager }, capabilities, {
            publishInterval: run.config.publishInterval,
          }).pipe(
            Stream.runForEach((report) =>
              Effect.tap(
                bus.value.publish(report),
                () => Effect.sync(() => run.published.set(manager, report)),
              )
            ),
            // A bus shut down before the service interrupts the publisher: nothing to report.
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(
                `Manager ${
                  JSON.stringify(manager)
                } of service ${topic} on host ${host}: its capabilities stream failed, they are no longer published`,
                cause,
              )
            ),
            Effect.annotateLogs("manager", manager),
            // Not forkScoped: closing the scope would wait forever for a stream that ignores
            // its interruption. Interruptible, although forked in an uninterruptible region.
            Effect.interruptible,
            Effect.forkDaemon,
            Effect.map((fiber) => ({ manager, fiber })),
          ),
      )
      const stop = yield* Effect.once(stopPublishers(run, publishers))
      yield* Effect.addFinalizer(() => stop)
      return stop
    }))
  })

/**
 * Interrupts the publishers and waits at most the grace for them: a capabilities stream that
 * ignores its interruption is left running, detached, with a warning, not holding the stop.
 */
const stopPublishers = (
  run: Run,
  publishers: ReadonlyArray<{ readonly manager: string; readonly fiber: Fiber.RuntimeFiber<void> }>,
): Effect.Effect<void> =>
  Effect.zipRight(
    bounded.interruptWithinGrace(publishers.map(({ fiber }) => fiber)),
    // Which publishers are still going is read once the grace is over, not when the stop is made.
    Effect.suspend(() =>
      Effect.forEach(
        publishers.filter(({ fiber }) => fiber.unsafePoll() === null),
        ({ manager }) =>
          Effect.logWarning(
            `Manager ${
              JSON.stringify(manager)
            } of service ${run.config.topic} on host ${run.config.host}: its capabilities stream ignored its interruption; it is left running, detached`,
          ).pipe(Effect.annotateLogs("manager", manager)),
        { discard: true },
      )
    ),
  )

// -- reset (SIGHUP): serialized, a failure leaves the service running, refused once stopping

const makeReset = (run: Run) =>
  Effect.gen(function* () {
    const lock = yield* Effect.makeSemaphore(1)
    const last: { value: Service.ResetResult | undefined } = { value: undefined }
    const reset = lock.withPermits(1)(Effect.gen(function* () {
      if (run.state !== "running") {
        const { host, topic } = run.config
        const refused = new ServiceNotRunning({ host, topic, state: run.state })
        yield* Effect.logWarning(refused.message)
        return yield* Effect.fail(refused)
      }
      const at = run.wallNow()
      let failure: ResetFailed<unknown> | undefined
      for (const lifecycle of run.lifecycles) {
        const exit = yield* Effect.exit(
          limitedHook(run, lifecycle, "reset", lifecycle.reset, run.config.hookTimeouts.reset),
        )
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          const error = new ResetFailed({ manager: lifecycle.name, cause: exit.cause })
          yield* Effect.logError(error.message).pipe(Effect.annotateLogs("manager", lifecycle.name))
          failure ??= error
        }
      }
      last.value = failure === undefined
        ? { at, succeeded: true, error: Option.none() }
        : { at, succeeded: false, error: Option.some(failure) }
      if (failure !== undefined) return yield* Effect.fail(failure)
    })).pipe(annotateService(run.config))
    return { reset, last }
  })

const status = (
  run: Run,
  runner: PeriodicRunnerApi.PeriodicRunner<unknown>,
  view: HeartbeatView,
  last: { readonly value: Service.ResetResult | undefined },
): Effect.Effect<Service.ServiceStatus> =>
  Effect.map(runner.status, (tasks) => ({
    host: run.config.host,
    topic: run.config.topic,
    state: run.state,
    managers: run.lifecycles.map((lifecycle) => ({
      name: lifecycle.name,
      apiVersion: formatVersion(lifecycle.apiVersion),
      phase: run.phases.get(lifecycle.name)!,
    })),
    tasks: tasks.tasks,
    heartbeat: {
      reportCount: view.reportCount,
      lastReportAt: Option.fromNullable(view.lastReportAt),
      connected: view.connected,
    },
    lastReset: Option.fromNullable(last.value),
  }))

/** What `layer` provides, fails with and needs, computed from its managers' types. */
type ServiceLayer<Managers extends ReadonlyArray<Manager.AnyManagerLayer>> = Layer.Layer<
  Service.Service | Service.ManagerId<Managers[number]>,
  | ServiceStartFailed<
    Service.HookError<Managers[number]> | ServiceRegistryError | RegistryTimedOut
  >
  | DuplicateManager
  | Service.BuildError<Managers[number]>
  | InvalidOption
  | InvalidPeriodicTask
  | InvalidApiVersion,
  Service.Requirements<Managers[number]> | ServiceRegistry
>

/**
 * The service layer with the type its managers give it. Sound: the context it builds holds the
 * `Service` and every manager's service under its tag (`buildManagers`); it fails with a
 * manager's build error, a `ServiceStartFailed` carrying a hook's error (or the registry's, in
 * phase register) or an error of its own; it needs what the managers need and the registry.
 * TypeScript cannot follow a loop over managers of different types: the body sees each as an
 * `AnyManagerLayer`, whose build error and requirements are `unknown`.
 */
const ofManagers = <Managers extends ReadonlyArray<Manager.AnyManagerLayer>>(
  layer: Layer.Layer<Service.Service, unknown, unknown>,
): ServiceLayer<Managers> => layer as ServiceLayer<Managers>

/** @internal */
export const layer = <const Managers extends ReadonlyArray<Manager.AnyManagerLayer>>(
  options: Service.Options,
  ...managers: Managers
): ServiceLayer<Managers> =>
  ofManagers<Managers>(Layer.scopedContext(Effect.flatMap(
    resolveOptions(options),
    (config) => annotateService(config)(build(config, managers)),
  )))

/**
 * The service's start, run and stop. Every log line of the start and the stop, the managers'
 * hooks and layers, the heartbeat, the periodic tasks and the capabilities publishers, is
 * annotated with the service's `host` and `topic` (`annotateService`): fibers inherit the
 * annotations where they are forked, and the stop's finalizer where it is added.
 */
const build = (config: Resolved, managers: ReadonlyArray<Manager.AnyManagerLayer>) =>
  Effect.gen(function* () {
    const registry = yield* ServiceRegistry
    const clock = yield* Effect.clock
    const steady = new SteadyClock(clock)
    const { lifecycles, services } = yield* buildManagers(managers)
    const run: Run = {
      config,
      registry,
      lifecycles,
      phases: new Map(lifecycles.map((lifecycle) => [lifecycle.name, "created"])),
      now: () => steady.now(),
      wallNow: () => clock.unsafeCurrentTimeMillis(),
      attempted: [],
      registered: false,
      remote: Option.getOrUndefined(yield* Effect.serviceOption(RemoteServer)),
      published: new Map(),
      server: undefined,
      state: "running",
      attributes: {
        [telemetry.Attribute.host]: config.host,
        [telemetry.Attribute.topic]: config.topic,
      },
      metricLabels: [
        MetricLabel.make("host", config.host),
        MetricLabel.make("topic", config.topic),
        ...yield* FiberRef.get(FiberRef.currentMetricLabels),
      ],
    }

    // Bad tasks (an invalid duration, a name two managers share) fail before any hook runs.
    const tasks = config.periodicEnable ? lifecycles.flatMap((lifecycle) => lifecycle.tasks) : []
    const resolved = yield* PeriodicRunner.resolveAll(tasks)
    // The runners are made in the start's span: their runs' spans link to it.
    const { beat, runner } = yield* telemetry.span(
      Effect.zipRight(start(run), startRunners(run, resolved)),
      `start ${config.topic}`,
      run.attributes,
    )
    const stopPublishers = yield* publishCapabilities(run)
    for (const lifecycle of lifecycles) yield* setPhase(run, lifecycle, "running")
    const { last, reset } = yield* makeReset(run)
    const stopped = yield* addStop(run, runner, beat.runner, stopPublishers)

    const service: Service.Service = {
      [TypeId]: TypeId,
      host: config.host,
      topic: config.topic,
      managers: lifecycles.map((lifecycle) => lifecycle.name),
      reset,
      status: status(run, runner, beat.view, last),
      runner,
      stopped,
      shutdownTimeoutMillis: config.shutdownTimeout,
    }
    return Context.merge(Context.make(ServiceTag, service), services)
  })
