/**
 * Recording what an occurrence came to: exactly one outcome per occurrence, counted on its task,
 * published to subscribers, and for a `"fail"`-policy failure handed to the lifecycle. Runs in the
 * run's own fiber (concurrent mode) or inline in the pass (sequential mode).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type { RunnerCore } from "./core.ts"
import {
  Failed,
  Interrupted,
  PeriodicTaskFailed,
  Skipped,
  Succeeded,
  TaskTimedOut,
  TimedOut,
} from "./errors.ts"
import { runOutcome } from "./instrument.ts"
import type { RunnerTask } from "./task.ts"

const publish = <E, R>(
  core: RunnerCore<E, R>,
  task: RunnerTask<R>,
  outcome: PeriodicRunner.TaskOutcome,
): Effect.Effect<void> => {
  task.lastOutcome = outcome
  task.successUnbuilt = false
  const meters = task.meters
  if (meters !== undefined) {
    if (outcome._tag === "Skipped") meters.skipped()
    else meters.ran(runOutcome[outcome._tag], outcome.durationMillis, outcome.latenessMillis)
  }
  return core.subscribers > 0 ? PubSub.publish(core.outcomes, outcome) : Effect.void
}

/** An occurrence that found its task still running: recorded as skipped, at `at`. */
export const recordSkip = <E, R>(
  core: RunnerCore<E, R>,
  task: RunnerTask<R>,
  scheduledAt: number,
  at: number,
): Effect.Effect<void> => {
  task.skipped++
  const offset = core.wallOffset()
  return publish(
    core,
    task,
    Skipped({
      task: task.name,
      scheduledAt: scheduledAt + offset,
      startedAt: at + offset,
      durationMillis: 0,
      latenessMillis: at - scheduledAt,
    }),
  )
}

/** A run has ended and its task is free again; returns the instant. */
const ended = <E, R>(core: RunnerCore<E, R>, task: RunnerTask<R>): number => {
  const end = core.now()
  task.running = false
  task.fiber = undefined
  core.index.runEnded(task)
  return end
}

/** A run succeeded. With nobody subscribed it is kept as instants, and costs no allocation. */
export const recordSuccess = <E, R>(
  core: RunnerCore<E, R>,
  task: RunnerTask<R>,
  value: unknown,
): Effect.Effect<void> => {
  if (core.subscribers > 0 || task.detached) return recordExit(core, task, Exit.succeed(value))
  const end = ended(core, task)
  if (task.kind === "Schedule") {
    return core.afterScheduledRun(task, end, value, Effect.sync(() => noteSuccess(core, task, end)))
  }
  noteSuccess(core, task, end)
  return core.afterRun(task, end) ?? Effect.void
}

/** A success kept as its three instants, built into an outcome when `status` asks for it. */
const noteSuccess = <E, R>(core: RunnerCore<E, R>, task: RunnerTask<R>, end: number): void => {
  task.succeeded++
  task.meters?.ran("succeeded", end - task.startedAt, task.startedAt - task.scheduledAt)
  task.successUnbuilt = true
  const offset = core.wallOffset()
  task.successScheduledAt = task.scheduledAt + offset
  task.successStartedAt = task.startedAt + offset
  task.successEndedAt = end + offset
}

/** A run ended with `exit` (a detached run's outcome was recorded when it was detached). */
export const recordExit = <E, R>(
  core: RunnerCore<E, R>,
  task: RunnerTask<R>,
  exit: Exit.Exit<unknown, E | TaskTimedOut>,
): Effect.Effect<void> => {
  if (task.detached) return Effect.void
  const end = ended(core, task)
  const offset = core.wallOffset()
  const occurrence = {
    task: task.name,
    scheduledAt: task.scheduledAt + offset,
    startedAt: task.startedAt + offset,
    durationMillis: end - task.startedAt,
    latenessMillis: task.startedAt - task.scheduledAt,
  }
  let outcome: PeriodicRunner.TaskOutcome
  let report: Effect.Effect<void> | undefined
  if (Exit.isSuccess(exit)) {
    task.succeeded++
    outcome = Succeeded(occurrence)
  } else if (Cause.isInterruptedOnly(exit.cause)) {
    task.interrupted++
    outcome = Interrupted(occurrence)
  } else {
    const failure = recordFailure(core, task, exit.cause, occurrence)
    outcome = failure.outcome
    report = failure.report
  }
  const finished = task.kind === "Schedule"
    ? core.afterScheduledRun(
      task,
      end,
      Exit.isSuccess(exit) ? exit.value : undefined,
      Effect.suspend(() => publish(core, task, outcome)),
    )
    : publishThenReschedule(core, task, outcome, end)
  return report === undefined ? finished : Effect.zipRight(report, finished)
}

/** A fixed or spaced task's outcome, published, then its next instant. */
const publishThenReschedule = <E, R>(
  core: RunnerCore<E, R>,
  task: RunnerTask<R>,
  outcome: PeriodicRunner.TaskOutcome,
  end: number,
): Effect.Effect<void> => {
  const published = publish(core, task, outcome)
  const next = core.afterRun(task, end)
  return next === undefined ? published : Effect.zipRight(published, next)
}

/**
 * A failed or timed-out run: counted, and with the `"fail"` policy handed to the lifecycle, or
 * with `"log"` logged (the returned `report`).
 */
const recordFailure = <E, R>(
  core: RunnerCore<E, R>,
  task: RunnerTask<R>,
  cause: Cause.Cause<E | TaskTimedOut>,
  occurrence: PeriodicRunner.Occurrence,
): { outcome: PeriodicRunner.TaskOutcome; report: Effect.Effect<void> | undefined } => {
  const timeout = Cause.failureOption(cause).pipe(
    Option.filter((error): error is TaskTimedOut => error instanceof TaskTimedOut),
  )
  let outcome: PeriodicRunner.TaskOutcome
  if (Option.isSome(timeout)) {
    task.timedOut++
    outcome = TimedOut({ ...occurrence, timeoutMillis: timeout.value.timeoutMillis })
  } else {
    task.failed++
    outcome = Failed({ ...occurrence, cause })
  }
  if (task.onError === "fail") {
    core.fail(new PeriodicTaskFailed({ task: task.name, cause }))
    return { outcome, report: undefined }
  }
  const report = Effect.logError(
    Option.isSome(timeout) ? timeout.value.message : `Error during periodic task ${task.name}`,
    cause,
  ).pipe(Effect.annotateLogs("periodicTask", task.name))
  return { outcome, report }
}
