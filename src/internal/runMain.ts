// The process side of a service, shared by src/platform/*: a host (the runtime's signals and
// exit) drives the Service layer as oslo's ServiceLauncher drives nova's service — start,
// SIGHUP → reset, SIGTERM/SIGINT → graceful stop — and turns the outcome into an exit code.
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import type * as Service from "../Service.ts"
import { ServiceStartFailed, ServiceTag } from "./service.ts"

/** @internal */
export type Signal = "SIGTERM" | "SIGINT" | "SIGHUP"

/** @internal */
export interface Host {
  /** Calls `handler` on each `signal` until the returned function is called. */
  readonly onSignal: (signal: Signal, handler: () => void) => () => void
  /** Ends the process. */
  readonly exit: (code: number) => void
}

/** @internal */
export interface RunMainOptions {
  /**
   * How long the stop may run past the service's shutdown deadline before the process gives up
   * on it, logs what is still running and exits 1. Default 5 s. A stop during the start (or
   * after a failed one) counts from the default deadline, 60 s: the service, and its own
   * deadline, do not exist yet.
   */
  readonly stopGrace?: Duration.DurationInput | undefined
}

const SIGNALS: ReadonlyArray<Signal> = ["SIGTERM", "SIGINT", "SIGHUP"]

// A stop that interrupts the start cannot ask the service for its deadline (the service does
// not exist yet); it gets the service's default one.
const DEFAULT_SHUTDOWN_MILLIS = 60_000

interface Signals {
  /** The first SIGTERM or SIGINT. */
  readonly stop: Deferred.Deferred<Signal>
  /** A SIGTERM or SIGINT during the stop. */
  readonly force: Deferred.Deferred<Signal>
  readonly hangups: Queue.Queue<void>
}

/**
 * Runs the layer until SIGTERM or SIGINT, resets it on SIGHUP, then ends the process through
 * `host.exit` with 0 after a clean stop and 1 otherwise.
 *
 * @internal
 */
export const main = <E>(
  host: Host,
  layer: Layer.Layer<Service.Service, E>,
  options?: RunMainOptions,
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const graceMillis = Duration.toMillis(Duration.decode(options?.stopGrace ?? "5 seconds"))
    const signals: Signals = {
      stop: yield* Deferred.make<Signal>(),
      force: yield* Deferred.make<Signal>(),
      hangups: yield* Queue.unbounded<void>(),
    }
    let stopping = false
    // Plain callbacks: a signal must reach the fibers whatever they are doing.
    const onSignal = (signal: Signal) => () => {
      if (signal === "SIGHUP") signals.hangups.unsafeOffer(undefined)
      else if (!stopping) {
        stopping = true
        Deferred.unsafeDone(signals.stop, Exit.succeed(signal))
      } else Deferred.unsafeDone(signals.force, Exit.succeed(signal))
    }
    // The service logs the failures of the cleanup a stop runs during the start, but returns
    // only the interruption: count error logs to tell a clean stop from one that was not.
    let errorLogs = 0
    const errorCounter = Logger.make(({ logLevel }) => {
      if (LogLevel.greaterThanEqual(logLevel, LogLevel.Error)) errorLogs++
    })
    // Effect.never holds a timer: the process stays up while the service waits for a signal
    // (Node's signal listeners do not keep it alive). Interrupted when main ends.
    yield* Effect.fork(Effect.never)
    const code = yield* Effect.acquireUseRelease(
      Effect.sync(() => SIGNALS.map((signal) => host.onSignal(signal, onSignal(signal)))),
      () =>
        run(layer, signals, graceMillis, () => errorLogs).pipe(
          Effect.locallyWith(FiberRef.currentLoggers, HashSet.add(errorCounter)),
          Effect.catchAllCause((cause) => Effect.as(Effect.logError("runMain failed", cause), 1)),
        ),
      (unsubscribe) => Effect.sync(() => unsubscribe.forEach((f) => f())),
    )
    host.exit(code)
  })

/**
 * `main` for a platform's `runMain`: runs it as the process's root fiber.
 *
 * @internal
 */
export const runMain =
  (host: Host) => <E>(layer: Layer.Layer<Service.Service, E>, options?: RunMainOptions): void => {
    Effect.runFork(main(host, layer, options))
  }

/** Builds the layer; a stop during the start interrupts it, else the service runs until one. */
const run = <E>(
  layer: Layer.Layer<Service.Service, E>,
  signals: Signals,
  graceMillis: number,
  errorLogs: () => number,
): Effect.Effect<number> =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const build = yield* Effect.fork(Layer.buildWithScope(layer, scope))
    const first = yield* Effect.raceFirst(
      Effect.map(Fiber.await(build), (exit) => ({ _tag: "Started" as const, exit })),
      Effect.map(Deferred.await(signals.stop), (signal) => ({ _tag: "Stop" as const, signal })),
    )
    if (first._tag === "Stop") {
      yield* Effect.logInfo(`Caught ${first.signal} during the start: stopping`)
      return yield* stopDuringStart(build, scope, signals, graceMillis, errorLogs)
    }
    if (Exit.isFailure(first.exit)) {
      yield* logStartFailed(first.exit.cause)
      return yield* bounded(
        signals,
        DEFAULT_SHUTDOWN_MILLIS + graceMillis,
        Effect.succeed("the finalizers of the layer that failed to start"),
        Effect.as(Effect.exit(Scope.close(scope, first.exit)), 1),
      )
    }
    // Loggers and other fiber refs the layer set apply to what follows.
    yield* Fiber.inheritAll(build)
    return yield* serve(Context.get(first.exit.value, ServiceTag), scope, signals, graceMillis)
  })

/**
 * A failed start, annotated like the service's lines (`host`, `topic`, `manager`) when the
 * failure is a `ServiceStartFailed`: a layer that failed before the service began names none.
 */
const logStartFailed = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure) || !(failure.value instanceof ServiceStartFailed)) {
    return Effect.logError("The service failed to start", cause)
  }
  const { host, manager, phase, topic } = failure.value
  // A failed register is the service's own step: no manager to name.
  const annotations = phase === "register" ? { host, topic } : { host, topic, manager }
  return Effect.logError("The service failed to start", cause).pipe(
    Effect.annotateLogs(annotations),
  )
}

/**
 * A SIGTERM or SIGINT during the start: interrupts the build and closes its scope, under the
 * default deadline. Errors the service logged during its cleanup make the exit code 1.
 */
const stopDuringStart = <E>(
  build: Fiber.RuntimeFiber<Context.Context<Service.Service>, E>,
  scope: Scope.CloseableScope,
  signals: Signals,
  graceMillis: number,
  errorLogs: () => number,
): Effect.Effect<number> => {
  const before = errorLogs()
  return bounded(
    signals,
    DEFAULT_SHUTDOWN_MILLIS + graceMillis,
    Effect.succeed("the interrupted start (its cleanup or the layer's finalizers)"),
    Effect.gen(function* () {
      const exit = yield* Fiber.interrupt(build)
      // The start may have finished just before the interruption reached it.
      if (Exit.isSuccess(exit)) return yield* stop(Context.get(exit.value, ServiceTag), scope)
      const closed = yield* Effect.exit(Scope.close(scope, exit))
      if (!Cause.isInterruptedOnly(exit.cause)) {
        yield* logStartFailed(exit.cause)
        return 1
      }
      if (Exit.isFailure(closed)) {
        yield* Effect.logError("The stop failed", closed.cause)
        return 1
      }
      if (errorLogs() > before) {
        yield* Effect.logError("Stopped during the start, with errors (logged above)")
        return 1
      }
      yield* Effect.logInfo("Stopped during the start")
      return 0
    }),
  )
}

/**
 * A started service: resets it on each SIGHUP until SIGTERM or SIGINT, then stops it. Its lines
 * are annotated like the service's own (`host`, `topic`).
 */
const serve = (
  service: Service.Service,
  scope: Scope.CloseableScope,
  signals: Signals,
  graceMillis: number,
): Effect.Effect<number> =>
  Effect.gen(function* () {
    yield* Effect.logInfo(
      `Service ${service.topic} on ${service.host} started: SIGHUP resets it, SIGTERM or SIGINT stops it`,
    )
    const resets = yield* Effect.fork(Effect.forever(
      Effect.zipRight(
        Queue.take(signals.hangups),
        Effect.zipRight(
          Effect.logInfo("Caught SIGHUP: resetting"),
          // The service logs a failed reset and keeps running on its previous state.
          Effect.catchAllCause(service.reset, (cause) =>
            Cause.isFailType(cause) ? Effect.void : Effect.logError("The reset failed", cause)),
        ),
      ),
    ))
    const signal = yield* Deferred.await(signals.stop)
    yield* Effect.logInfo(`Caught ${signal}: stopping`)
    return yield* bounded(
      signals,
      service.shutdownTimeoutMillis + graceMillis,
      stillRunning(service),
      Effect.zipRight(Fiber.interrupt(resets), stop(service, scope)),
    )
  }).pipe(Effect.annotateLogs({ host: service.host, topic: service.topic }))

/** The graceful stop of a started service: close its scope, then read its report. */
const stop = (service: Service.Service, scope: Scope.CloseableScope): Effect.Effect<number> =>
  Effect.gen(function* () {
    const closed = yield* Effect.exit(Scope.close(scope, Exit.void))
    // A stop that failed may never have written its report: do not wait for it.
    if (Exit.isFailure(closed)) {
      yield* Effect.logError("The stop failed", closed.cause)
      return 1
    }
    const report = yield* service.stopped
    if (report.errors.length > 0) {
      yield* Effect.logError(
        `Stopped in ${report.durationMillis} ms with ${report.errors.length} error(s): ${
          report.errors.map((error) => error.message).join("; ")
        }`,
      )
      return 1
    }
    yield* Effect.logInfo(`Stopped in ${report.durationMillis} ms`)
    return 0
  })

/**
 * A stop with a backstop: past `limitMillis`, or at a second SIGTERM/SIGINT, the process exits 1
 * without waiting any longer for the stop (which may ignore interruption).
 */
const bounded = (
  signals: Signals,
  limitMillis: number,
  running: Effect.Effect<string>,
  stopping: Effect.Effect<number>,
): Effect.Effect<number> =>
  Effect.raceFirst(
    Effect.disconnect(stopping).pipe(
      Effect.timeoutTo({
        duration: Duration.millis(limitMillis),
        onSuccess: Effect.succeed,
        onTimeout: () =>
          Effect.flatMap(running, (what) =>
            Effect.as(
              Effect.logError(
                `The stop did not finish within ${
                  Duration.format(limitMillis)
                }; still running: ${what}. Exiting.`,
              ),
              1,
            )),
      }),
      Effect.flatten,
    ),
    Effect.flatMap(Deferred.await(signals.force), (signal) =>
      Effect.as(Effect.logError(`Caught ${signal} again during the stop: exiting at once`), 1)),
  )

/** What a stuck stop is waiting for, from the service's status. */
const stillRunning = (service: Service.Service): Effect.Effect<string> =>
  service.status.pipe(
    Effect.timeoutOption("1 second"),
    Effect.map((status) => {
      if (Option.isNone(status)) return "the service (its status does not answer)"
      const busy = [
        ...status.value.managers
          .filter((manager) => manager.phase === "stopping" || manager.phase === "cleanup")
          .map((manager) =>
            manager.phase === "cleanup"
              ? `manager ${JSON.stringify(manager.name)} in cleanup`
              : `manager ${JSON.stringify(manager.name)} (waiting for the periodic tasks)`
          ),
        ...status.value.tasks
          .filter((task) => task.state === "running")
          .map((task) => `periodic task ${JSON.stringify(task.name)}`),
      ]
      if (busy.length > 0) return busy.join(", ")
      return status.value.state === "stopped"
        ? "the finalizers of the other layers"
        : `the service (${status.value.state})`
    }),
  )
