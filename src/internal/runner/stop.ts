/**
 * How a runner stops: by `shutdown` (or its scope closing), within a deadline, or because a
 * `"fail"`-policy task failed the driver. Either way every run ends with one outcome, and `done`
 * completes.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import { interruptWithinGrace } from "../bounded.ts"
import { type Engine, ignoreCause, type RunnerCore } from "./core.ts"
import type { PeriodicTaskFailed } from "./errors.ts"
import { recordExit } from "./record.ts"

/** What stops a runner, sharing its `done` signal. */
export interface Stopper<E> {
  /** Completes when the runner has stopped: fails when a `"fail"`-policy task stopped it. */
  readonly done: Deferred.Deferred<void, PeriodicTaskFailed<E>>
  /** The driver fiber, once started. */
  driver: Fiber.RuntimeFiber<void, PeriodicTaskFailed<E>> | undefined
}

const runningFibers = <E, R>(core: RunnerCore<E, R>) =>
  core.tasks.flatMap((task) => (task.fiber === undefined ? [] : [task.fiber]))

/**
 * Runs still going after their interruption and its grace ignore it: each gets its one outcome
 * now (`Interrupted`), and what it records when it ends at last is dropped.
 */
const detachRunaways = <E, R>(core: RunnerCore<E, R>, engine: Engine<E, R>) =>
  Effect.suspend(() => {
    // Taken and marked in one step: a run that ends meanwhile cannot record a second outcome.
    // Only runs the runner interrupted count: a tick's run belongs to its caller.
    const runaways = engine.passInProgress() === "tick" ? [] : core.tasks.filter((t) => t.running)
    const recorded = runaways.map((task) => {
      const outcome = ignoreCause(recordExit(core, task, Exit.interrupt(FiberId.none)))
      task.detached = true
      // A run with a time limit warns of its own runaway work, once its grace is over.
      if (task.limited) return outcome
      return Effect.zipRight(
        outcome,
        Effect.logWarning(
          `Periodic task ${
            JSON.stringify(task.name)
          } ignored its interruption at shutdown; it goes on, detached`,
        ).pipe(Effect.annotateLogs("periodicTask", task.name)),
      )
    })
    return Effect.all(recorded, { discard: true })
  })

/** The driver ended: when a task failed it, the runner stops, and so do the other runs. */
export const onDriverExit = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  stopper: Stopper<E>,
) =>
(exit: Exit.Exit<void, PeriodicTaskFailed<E>>): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return Effect.void
    const cause = exit.cause
    core.lifecycle = { _tag: "Stopping", cause, failure: undefined }
    return Effect.all([
      Effect.logError("Periodic runner stopped", cause),
      Effect.zipRight(interruptWithinGrace(runningFibers(core)), detachRunaways(core, engine)),
    ], { discard: true }).pipe(Effect.ensuring(Effect.suspend(() => {
      core.lifecycle = { _tag: "Stopped", cause }
      return Deferred.failCause(stopper.done, cause)
    })))
  })

/**
 * Stops the runner within `limit` ms: a sequential pass in progress may finish (it checks the
 * lifecycle before each task), the driver stops, running tasks get the rest of the time, then
 * are interrupted; any that ignore it are detached. A second call waits for the first.
 */
export const stop = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  stopper: Stopper<E>,
  limit: number,
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const awaitDone = Deferred.await(stopper.done).pipe(Effect.ignore)
    const lifecycle = core.lifecycle
    if (lifecycle._tag !== "Open") return awaitDone
    core.lifecycle = { _tag: "Stopping", cause: undefined, failure: lifecycle.failure }
    const deadline = core.now() + limit
    // Scope finalizers run uninterruptibly; the wait itself must stay interruptible, or the
    // deadline could not cut it short.
    const waitAtMostRemaining = (wait: Effect.Effect<unknown>) =>
      Effect.interruptible(wait).pipe(
        Effect.timeout(Duration.millis(Math.max(0, deadline - core.now()))),
        Effect.ignore,
      )
    const steps = Effect.gen(function* () {
      if (engine.passInProgress() !== undefined) yield* waitAtMostRemaining(engine.passFinished)
      // Between passes the driver only sleeps: stop it now.
      if (stopper.driver !== undefined) yield* interruptWithinGrace([stopper.driver])
      yield* waitAtMostRemaining(Fiber.awaitAll(runningFibers(core)))
      yield* interruptWithinGrace(runningFibers(core))
      yield* detachRunaways(core, engine)
    }).pipe(
      Effect.catchAllCause((cause) => Effect.logError("Periodic runner: the stop failed", cause)),
      // Whatever happened, the stop is over: `shutdown`, `join` and the scope go on.
      Effect.ensuring(Effect.suspend(() => stopped(core, stopper))),
    )
    // Once begun, the stop goes to its end in a fiber of its own (each wait bounds itself): a
    // caller that gives up on it must not leave the runner stopping, `done` never completed.
    Runtime.runFork(core.runtime)(steps)
    return awaitDone
  })

/**
 * The end of a stop. A `"fail"`-policy failure that no pass raised (a run failed while the stop
 * waited for it) fails the runner now: the stop does not lose it.
 */
const stopped = <E, R>(core: RunnerCore<E, R>, stopper: Stopper<E>): Effect.Effect<void> => {
  const lifecycle = core.lifecycle
  if (
    lifecycle._tag === "Stopping" && lifecycle.cause === undefined &&
    lifecycle.failure !== undefined
  ) {
    const cause = Cause.fail(lifecycle.failure)
    core.lifecycle = { _tag: "Stopped", cause }
    return Effect.logError("Periodic runner stopped", cause).pipe(
      Effect.ensuring(Deferred.failCause(stopper.done, cause)),
    )
  }
  core.lifecycle = {
    _tag: "Stopped",
    cause: lifecycle._tag === "Open" ? undefined : lifecycle.cause,
  }
  return Deferred.done(stopper.done, Exit.void)
}
