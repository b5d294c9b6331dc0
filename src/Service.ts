/**
 * A service runs one or more managers for a host and a topic, in nova's order:
 *
 * start: `init` (every manager) → service record registered → `preStart` → (RPC consumers, a
 * later step) → `postStart` → heartbeat and periodic tasks (after an optional fuzzy delay), and
 * each manager's capabilities published on the `CapabilityBus` if the context has one.
 *
 * stop (scope close, interruption, SIGTERM through a `platform/*` `runMain`): periodic tasks
 * (running ones get what is left of the deadline, then are interrupted) → capability
 * publishing → `cleanup` (every manager, in reverse order) → service record marked down, all
 * under one deadline, measured on a steady clock (a step of the wall clock neither stretches
 * nor cuts it). Every time limit holds even against work that ignores interruption: at the
 * limit the work is interrupted and given one second of grace to end (its finalizers run
 * meanwhile), then the caller gets its typed error; work still going is left running detached
 * and a warning names it. A capabilities stream that ignores its interruption holds the stop
 * for that grace at most.
 *
 * `reset` (SIGHUP) runs every manager's `reset`, one call at a time; once the stop has begun it
 * fails with {@link ServiceNotRunning}.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type {
  CleanupFailed,
  CleanupPastDeadline,
  DuplicateManager,
  MarkDownFailed,
  RegistryTimedOut,
  ResetFailed,
  ServiceNotRunning,
  ServiceStartFailed,
  ShutdownOverrun,
} from "./internal/service.ts"
import type { InvalidOption } from "./internal/options.ts"
import * as internal from "./internal/service.ts"
import type { AnyManagerLayer, InvalidApiVersion, ManagerLayer } from "./Manager.ts"
import type { Mode, PeriodicRunner, RunSpans, TaskStatus } from "./PeriodicRunner.ts"
import type { InvalidPeriodicTask } from "./PeriodicTask.ts"
import type { ServiceRegistry, ServiceRegistryError } from "./ServiceRegistry.ts"

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Marks a running {@link Service}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Service } from "effect-manager"
 *
 * const isService = Effect.map(Service.Service, (service) => Service.TypeId in service) // true
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * A lifecycle hook of a manager.
 *
 * @since 0.1.0
 * @category models
 */
export type Hook = "init" | "preStart" | "postStart" | "cleanup" | "reset"

/**
 * Where a start can fail: a manager hook, registering the service record, or starting the RPC
 * server (`rpc`: it could not listen, or the record did not take its endpoint).
 *
 * @since 0.1.0
 * @category models
 */
export type StartPhase = "init" | "register" | "preStart" | "rpc" | "postStart"

/**
 * Where a manager is in its life.
 *
 * @since 0.1.0
 * @category models
 */
export type ManagerPhase =
  | "created"
  | "init"
  | "preStart"
  | "postStart"
  | "running"
  | "stopping"
  | "cleanup"
  | "stopped"
  | "failed"

/**
 * Where a started service is: `"running"`, `"stopping"` once its stop has begun, `"stopped"`
 * when the stop is over.
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceState = "running" | "stopping" | "stopped"

/**
 * Options of {@link layer}: who the service is, its stop deadline, its heartbeat and its
 * periodic tasks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The host this service runs on (nova's `CONF.host`). */
  readonly host: string
  /** The service's topic, nova's binary without "nova-" (e.g. "compute"). */
  readonly topic: string
  /**
   * One deadline for the whole stop. Default 60 s (oslo's `graceful_shutdown_timeout`).
   * Marking the record down always gets at least `min(1 s, reportTimeout)`, past the deadline
   * if the steps before it used it up, so that a stop whose periodic tasks or cleanups overran
   * still leaves the record reading as down: a stop may take up to that much longer (plus the
   * one-second grace of work that ignores its interruption).
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Optional time limits per hook; a start hook over its limit fails the start. */
  readonly hookTimeouts?: Partial<Record<Hook, Duration.DurationInput>> | undefined
  /** Heartbeat period (nova's `report_interval`). Default 10 s. */
  readonly reportInterval?: Duration.DurationInput | undefined
  /**
   * How long one heartbeat may take: a report still going then counts as failed (the status
   * shows the registry disconnected). It is interrupted; one that ignores that is left to finish
   * on its own, and the heartbeats due meanwhile are skipped (with one warning), so that detached
   * reports never pile up. Default: `reportInterval`.
   */
  readonly reportTimeout?: Duration.DurationInput | undefined
  /** Wait before the first heartbeat. Default 5 s, as nova's service group. */
  readonly reportInitialDelay?: Duration.DurationInput | undefined
  /** `false` runs no periodic task (nova's `periodic_enable`). Default `true`. */
  readonly periodicEnable?: boolean | undefined
  /** The periodic tasks start after a random whole number of seconds in [0, this]. nova's default is 60 s; ours is 0. */
  readonly periodicFuzzyDelay?: Duration.DurationInput | undefined
  /** The periodic runner's mode. Default `"concurrent"`. */
  readonly mode?: Mode | undefined
  /** How the periodic runner traces its runs (`PeriodicRunner.RunSpans`). Default `"linked"`. */
  readonly runSpans?: RunSpans | undefined
  /**
   * Whether the periodic runner records its tasks' metrics (`Telemetry`). Default `true`. A
   * service's metrics are tagged with its `host` and `topic`.
   */
  readonly metrics?: boolean | undefined
  /**
   * How long after its last report an unchanged capabilities value is published again
   * (see `Capabilities.reports`); used when the context has a `CapabilityBus`. Default 10 s.
   */
  readonly publishInterval?: Duration.DurationInput | undefined
}

/**
 * What the stop could not do in time or at all; the stop went on.
 *
 * @since 0.1.0
 * @category models
 */
export type StopError = ShutdownOverrun | CleanupFailed | CleanupPastDeadline | MarkDownFailed

/**
 * How the stop went.
 *
 * @since 0.1.0
 * @category models
 */
export interface StopReport {
  /** What went wrong, in the order it happened; empty for a clean stop. */
  readonly errors: ReadonlyArray<StopError>
  /** How long the stop took, from its start to the record marked down. */
  readonly durationMillis: number
}

/**
 * The last `reset`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResetResult {
  /** When the reset began (epoch ms of the `Clock`). */
  readonly at: number
  /** Whether every manager's `reset` succeeded. */
  readonly succeeded: boolean
  /** The first manager's failure, when one failed. */
  readonly error: Option.Option<ResetFailed<unknown>>
}

/**
 * A snapshot of a service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceStatus {
  /** The host the service runs on. */
  readonly host: string
  /** The service's topic. */
  readonly topic: string
  /** Running, stopping or stopped. */
  readonly state: ServiceState
  /** Each manager, in start order. */
  readonly managers: ReadonlyArray<{
    /** The manager's name: its tag's key. */
    readonly name: string
    /** Its API version, as "major.minor". */
    readonly apiVersion: string
    /** Where the manager is in its life. */
    readonly phase: ManagerPhase
  }>
  /** A snapshot of every periodic task of every manager. */
  readonly tasks: ReadonlyArray<TaskStatus>
  /** How the service's heartbeats to the registry go. */
  readonly heartbeat: {
    /** The record's report count after the last heartbeat that succeeded. */
    readonly reportCount: number
    /** When the last heartbeat succeeded (epoch ms of the `Clock`); none before the first. */
    readonly lastReportAt: Option.Option<number>
    /** `false` after a failed or timed-out heartbeat, until the next one succeeds. */
    readonly connected: boolean
  }
  /** How the last `reset` went; none before the first. */
  readonly lastReset: Option.Option<ResetResult>
}

/**
 * A running service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Marks the value as a service. */
  readonly [TypeId]: TypeId
  /** The host the service runs on. */
  readonly host: string
  /** The service's topic. */
  readonly topic: string
  /** Manager names, in start order. */
  readonly managers: ReadonlyArray<string>
  /**
   * Every manager's `reset`, serialized; a failure is logged and returned, the service runs on.
   * Once the stop has begun, a reset is refused: it fails with `ServiceNotRunning` (logged as a
   * warning) and runs no hook.
   */
  readonly reset: Effect.Effect<void, ResetFailed<unknown> | ServiceNotRunning>
  /** A snapshot of the service, its managers, tasks, heartbeat and last reset. */
  readonly status: Effect.Effect<ServiceStatus>
  /** The runner of the managers' periodic tasks. */
  readonly runner: PeriodicRunner<unknown>
  /** Completes when the stop is over, with what went wrong in it. */
  readonly stopped: Effect.Effect<StopReport>
  /** The stop's deadline (`shutdownTimeout`), in milliseconds. */
  readonly shutdownTimeoutMillis: number
}

/**
 * The running service, provided by {@link layer}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Service } from "effect-manager"
 *
 * const showStatus = Effect.gen(function* () {
 *   const service = yield* Service.Service
 *   yield* Effect.log(yield* service.status)
 * })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const Service: Context.Tag<Service, Service> = internal.ServiceTag

/**
 * The service type of a manager layer.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ManagerId<M> = M extends ManagerLayer<infer I, infer _E, infer _EB, infer _R> ? I
  : never

/**
 * The hook error type of a manager layer.
 *
 * @since 0.1.0
 * @category type-level
 */
export type HookError<M> = M extends ManagerLayer<infer _I, infer E, infer _EB, infer _R> ? E
  : never

/**
 * The build error type of a manager layer.
 *
 * @since 0.1.0
 * @category type-level
 */
export type BuildError<M> = M extends ManagerLayer<infer _I, infer _E, infer EB, infer _R> ? EB
  : never

/**
 * The requirements of a manager layer.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Requirements<M> = M extends ManagerLayer<infer _I, infer _E, infer _EB, infer R> ? R
  : never

/**
 * Runs managers as one service. The layer provides {@link Service} and every manager's service;
 * it is ready once every `postStart` succeeded. It fails with {@link ServiceStartFailed} (naming
 * the manager and the phase, carrying the hook's error) when a start phase fails — after running
 * `cleanup` for every manager whose `init` was attempted, and marking the record down if it was
 * registered; invalid tasks (e.g. a task name two managers share) and a manager given twice
 * ({@link DuplicateManager}) fail it before any hook runs. Closing its scope stops it. A task with
 * `onError: "fail"` that fails stops the periodic runner and the service runs on without its
 * periodic tasks, as nova's does when its periodic timer dies (`service.runner.join` fails).
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import { Manager, PeriodicTask, Service, ServiceRegistry } from "effect-manager"
 *
 * class Compute extends Context.Tag("Compute")<Compute, { readonly ping: Effect.Effect<string> }>() {}
 *
 * const ComputeManager = Manager.layer(Compute, Effect.succeed({
 *   service: { ping: Effect.succeed("pong") },
 *   init: Effect.log("init_host"),
 *   cleanup: () => Effect.log("cleanup_host"),
 *   tasks: [PeriodicTask.spaced("update_available_resource", "1 minute", Effect.log("audit"))],
 * }))
 *
 * const ComputeService = Service.layer({ host: "compute-1", topic: "compute" }, ComputeManager).pipe(
 *   Layer.provide(ServiceRegistry.layerMemory),
 * )
 *
 * const program = Effect.gen(function* () {
 *   const compute = yield* Compute
 *   yield* Effect.log(yield* compute.ping)
 * }).pipe(Effect.provide(ComputeService))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <const Managers extends ReadonlyArray<AnyManagerLayer>>(
  options: Options,
  ...managers: Managers
) => Layer.Layer<
  Service | ManagerId<Managers[number]>,
  | ServiceStartFailed<HookError<Managers[number]> | ServiceRegistryError | RegistryTimedOut>
  | DuplicateManager
  | BuildError<Managers[number]>
  | InvalidOption
  | InvalidPeriodicTask
  | InvalidApiVersion,
  Requirements<Managers[number]> | ServiceRegistry
> = internal.layer

export {
  /**
   * A manager's cleanup failed during the stop (logged; the stop went on).
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { Service } from "effect-manager"
   *
   * const failedCleanups = Effect.gen(function* () {
   *   const service = yield* Service.Service
   *   const report = yield* service.stopped
   *   return report.errors.flatMap((error) =>
   *     error._tag === "CleanupFailed" ? [error.manager] : []
   *   )
   * })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  CleanupFailed,
  /**
   * A manager's cleanup began after an earlier step (a cleanup or the periodic tasks) had used
   * up the shutdown deadline, and did not finish at once: the stop went on without waiting, the
   * cleanup is left running. The step that used the time up is the {@link ShutdownOverrun}.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { Service } from "effect-manager"
   *
   * const skipped = Effect.gen(function* () {
   *   const service = yield* Service.Service
   *   const report = yield* service.stopped
   *   return report.errors.flatMap((error) => error._tag === "CleanupPastDeadline" ? [error.manager] : [])
   * })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  CleanupPastDeadline,
  /**
   * The same manager (two layers with one tag) was given to one service twice.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager, Service, ServiceRegistry } from "effect-manager"
   *
   * class Compute extends Context.Tag("Compute")<Compute, { readonly name: string }>() {}
   * const ComputeManager = Manager.layer(Compute, Effect.succeed({ service: { name: "compute" } }))
   *
   * const program = Layer.launch(
   *   Service.layer({ host: "compute-1", topic: "compute" }, ComputeManager, ComputeManager).pipe(
   *     Layer.provide(ServiceRegistry.layerMemory),
   *   ),
   * ).pipe(Effect.catchTag("DuplicateManager", (error) => Effect.logError(error.message)))
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  DuplicateManager,
  /**
   * A hook did not finish within its `hookTimeouts` limit.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager, Service, ServiceRegistry } from "effect-manager"
   *
   * class Compute extends Context.Tag("Compute")<Compute, {}>() {}
   * const ComputeManager = Manager.layer(
   *   Compute,
   *   Effect.succeed({ service: {}, init: Effect.never }),
   * )
   *
   * const program = Layer.launch(
   *   Service.layer(
   *     { host: "compute-1", topic: "compute", hookTimeouts: { init: "30 seconds" } },
   *     ComputeManager,
   *   ).pipe(Layer.provide(ServiceRegistry.layerMemory)),
   * ).pipe(
   *   Effect.catchTag("ServiceStartFailed", (error) => Effect.failCause(error.cause)),
   *   Effect.catchTag("HookTimedOut", (error) => Effect.logError(error.message)),
   * )
   * // logs: Manager "Compute": init did not finish within 30s
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  HookTimedOut,
  /**
   * The stop could not mark the service record down: the registry failed, or did not answer
   * within what was left of the shutdown deadline, or `min(1 s, reportTimeout)` if more (a
   * {@link RegistryTimedOut} in `cause`).
   * The record reads as up until its last heartbeat ages out.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { Service } from "effect-manager"
   *
   * const stillUp = Effect.map(
   *   Effect.flatMap(Service.Service, (service) => service.stopped),
   *   (report) => report.errors.some((error) => error._tag === "MarkDownFailed"),
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  MarkDownFailed,
  /**
   * A registry call of the service did not finish within its limit: a heartbeat within
   * `reportTimeout`, the stop's mark-down within what was left of the shutdown deadline (at
   * least `min(1 s, reportTimeout)`).
   *
   * @example
   * ```ts
   * import { Service } from "effect-manager"
   *
   * const describe = (error: Service.RegistryTimedOut) =>
   *   `${error.operation} of ${error.topic} on ${error.host}: over ${error.limitMillis} ms`
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  RegistryTimedOut,
  /**
   * A manager's reset failed; the service keeps running on its previous state.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { Service } from "effect-manager"
   *
   * // The service has logged the failure already; tell the operator what it means.
   * const reload = Effect.flatMap(Service.Service, (service) => service.reset).pipe(
   *   Effect.as("reloaded"),
   *   Effect.catchTag("ResetFailed", (error) =>
   *     Effect.succeed(`${error.manager} kept its previous state`)),
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ResetFailed,
  /**
   * `reset` was called once the service's stop had begun; no hook ran.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { Service } from "effect-manager"
   *
   * const resetIfRunning = Effect.flatMap(Service.Service, (service) => service.reset).pipe(
   *   Effect.catchTag("ServiceNotRunning", () => Effect.void),
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ServiceNotRunning,
  /**
   * A start phase failed; names the manager and the phase.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager, Service, ServiceRegistry } from "effect-manager"
   *
   * class Compute extends Context.Tag("Compute")<Compute, {}>() {}
   * const ComputeManager = Manager.layer(Compute, Effect.succeed({
   *   service: {},
   *   preStart: Effect.fail("hypervisor unreachable"),
   * }))
   *
   * const program = Layer.launch(
   *   Service.layer({ host: "compute-1", topic: "compute" }, ComputeManager).pipe(
   *     Layer.provide(ServiceRegistry.layerMemory),
   *   ),
   * ).pipe(
   *   Effect.catchTag("ServiceStartFailed", (error) =>
   *     Effect.logError(`${error.manager} failed in ${error.phase}`, error.cause)),
   * )
   * // logs: Compute failed in preStart
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ServiceStartFailed,
  /**
   * A hook used up its part of the shutdown deadline; the stop went on without it.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import { Service } from "effect-manager"
   *
   * const overruns = Effect.gen(function* () {
   *   const service = yield* Service.Service
   *   const report = yield* service.stopped
   *   return report.errors.flatMap((error) =>
   *     error._tag === "ShutdownOverrun"
   *       ? [`${error.manager}: ${error.hook} over ${error.limitMillis} ms`]
   *       : []
   *   )
   * })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ShutdownOverrun,
} from "./internal/service.ts"

export {
  /**
   * A manager's `apiVersion` is not "major.minor": the layer fails with it when it builds that
   * manager, before any hook runs. The same error as `Manager.InvalidApiVersion`.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager, Service, ServiceRegistry } from "effect-manager"
   *
   * class Compute extends Context.Tag("Compute")<Compute, {}>() {}
   * const ComputeManager = Manager.layer(Compute, Effect.succeed({ service: {}, apiVersion: "v1" }))
   *
   * const program = Layer.launch(
   *   Service.layer({ host: "compute-1", topic: "compute" }, ComputeManager).pipe(
   *     Layer.provide(ServiceRegistry.layerMemory),
   *   ),
   * ).pipe(Effect.catchTag("InvalidApiVersion", (error) => Effect.logError(error.message)))
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidApiVersion,
} from "./internal/manager.ts"

export {
  /**
   * A manager's periodic task is invalid, or two managers' tasks share a name: the layer fails
   * with it before any hook runs. The same error as `PeriodicTask.InvalidPeriodicTask`.
   *
   * @example
   * ```ts
   * import * as Context from "effect/Context"
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Manager, PeriodicTask, Service, ServiceRegistry } from "effect-manager"
   *
   * class Compute extends Context.Tag("Compute")<Compute, {}>() {}
   * class Network extends Context.Tag("Network")<Network, {}>() {}
   * const audit = PeriodicTask.spaced("audit", "1 minute", Effect.void)
   * const ComputeManager = Manager.layer(Compute, Effect.succeed({ service: {}, tasks: [audit] }))
   * const NetworkManager = Manager.layer(Network, Effect.succeed({ service: {}, tasks: [audit] }))
   *
   * const program = Layer.launch(
   *   Service.layer({ host: "node-1", topic: "compute" }, ComputeManager, NetworkManager).pipe(
   *     Layer.provide(ServiceRegistry.layerMemory),
   *   ),
   * ).pipe(Effect.catchTag("InvalidPeriodicTask", (error) => Effect.logError(error.message)))
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidPeriodicTask,
} from "./internal/periodicTask.ts"

export {
  /**
   * A service option that makes no sense — an empty `host` or `topic`, a duration that is not
   * finite or is negative (`reportInterval`, `reportTimeout`, `publishInterval` and every
   * `hookTimeouts` limit must be > 0), a `mode` other than `"concurrent"` or `"sequential"`, a
   * `periodicEnable` other than `true` or `false` — names the module, the option (a key path
   * such as `hookTimeouts.cleanup`), the value and the rule; the layer fails with it before any
   * manager is built. The same error as every other module's options.
   *
   * @example
   * ```ts
   * import * as Effect from "effect/Effect"
   * import * as Layer from "effect/Layer"
   * import { Service, ServiceRegistry } from "effect-manager"
   *
   * const program = Layer.launch(
   *   Service.layer({ host: "compute-1", topic: "compute", reportInterval: 0 }).pipe(
   *     Layer.provide(ServiceRegistry.layerMemory),
   *   ),
   * ).pipe(Effect.catchTag("InvalidOption", (error) => Effect.logError(error.message)))
   * // logs: Invalid option reportInterval of Service: 0 must be a finite duration > 0
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
} from "./internal/options.ts"
