/**
 * The runner's record of one task: what it is, when it is next due, its current run and what its
 * runs came to. The runner owns it and updates it in place (a run allocates nothing for its
 * bookkeeping); the outside world only sees immutable `TaskStatus` snapshots.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type * as PeriodicTask from "../../PeriodicTask.ts"
import type { HeapEntry } from "./dueHeap.ts"
import type { ResolvedTask } from "../periodicTask.ts"
import type { TaskMeters } from "../telemetry.ts"
import { Succeeded } from "./errors.ts"
import { type CronInstants, fixedStart } from "./timing.ts"

/** @internal */
/** `R`: what the task's run needs, supplied by the runtime its fiber runs on. */
export interface RunnerTask<R> extends HeapEntry {
  // -- what the task is
  /** Its place in definition order. */
  readonly index: number
  readonly name: string
  readonly kind: "Spaced" | "Fixed" | "Schedule"
  /** Spacing in ms for spaced and fixed tasks (+∞ for a schedule): it caps a pass's idle time (oslo P16). */
  readonly spacing: number
  readonly jitter: boolean
  readonly onError: PeriodicTask.ErrorPolicy
  readonly enabled: boolean
  readonly schedule: Schedule.Schedule<unknown, unknown> | undefined
  /** A cron task: its next instant moves with a step of the wall clock. */
  readonly followsWall: boolean
  /** A cron task's rule: instants its runs miss are recorded as skipped. */
  readonly cron: CronInstants | undefined
  /** Overlap policy `"queue"`: an occurrence due while the task runs waits for the run's end. */
  readonly queues: boolean
  /** A run has a time limit (`bounded.withLimit`), which warns of its own runaway work. */
  readonly limited: boolean

  // -- when it is next due
  /** The next occurrence's instant (steady ms); +∞ while a spaced or schedule-timed task runs. */
  nextDue: number
  /**
   * oslo's `last_run`: the grid point of a fixed task's latest run; NaN before the first one.
   * Always a number, so that V8 keeps the field a double updated in place: a field that may hold
   * `undefined` boxes every new instant, and those boxes, kept for a whole spacing, are promoted
   * to the old generation by the thousands per second.
   */
  lastRun: number
  scheduleState: unknown
  /** Its schedule is over, or it was removed from the runner. */
  done: boolean
  /** Removed from the runner (`remove`): it starts no more; its slot is reused once its run ends. */
  removed: boolean
  paused: boolean
  /**
   * A cron task: when its latest pause began and ended (wall clock; -∞ before the first): the
   * instants of its rule in between are not missed ones. The end is stale while it is paused.
   */
  pausedWall: number
  resumedWall: number

  // -- its current run
  running: boolean
  scheduledAt: number
  /**
   * A cron task: the wall-clock instant of the occurrence in progress; the instants of its rule
   * after it and before the next occurrence are those its run missed.
   */
  scheduledWall: number
  /** Overlap policy `"queue"`: the instant of the occurrence waiting for the run to end; NaN if none. */
  waiting: number
  startedAt: number
  /** Concurrent mode: the run's fiber, while it is going. */
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  /** The run ignored its interruption at shutdown and got its outcome then. */
  detached: boolean
  /** Concurrent mode: the latest driver wake-up that started this task. */
  wave: number
  /** The run and its bookkeeping, built once by the engine. */
  body: Effect.Effect<void, never, R>
  /** Concurrent mode: forks `body`. */
  start: Effect.Effect<Fiber.RuntimeFiber<void, never>, never, R>

  // -- what its runs came to
  lastOutcome: PeriodicRunner.TaskOutcome | undefined
  /**
   * The latest success is only kept as the three instants below, not yet built into
   * `lastOutcome`: most runs succeed while nobody is subscribed, and their outcome would outlive
   * them until the next. `status` builds it when it asks.
   */
  successUnbuilt: boolean
  successScheduledAt: number
  successStartedAt: number
  successEndedAt: number
  succeeded: number
  failed: number
  timedOut: number
  skipped: number
  interrupted: number
  /** Its metrics (`effect_manager.task.*`), unless the runner records none. */
  meters: TaskMeters | undefined
}

/** Whether the runner may start the task: enabled, not paused, its schedule not over. */
export const mayRun = <R>(task: RunnerTask<R>): boolean =>
  task.enabled && !task.paused && !task.done

/**
 * A task's record at the runner's start instant `start` (steady ms): first due at `start` (plus
 * its offset) when it runs immediately or is schedule-timed (its schedule is stepped later), else
 * one spacing later; or at the instant `resumed` gives, on the wall clock.
 */
export const makeRunnerTask = <E, R>(
  resolved: ResolvedTask<E, R>,
  index: number,
  start: number,
  resumedAt: number | undefined,
): RunnerTask<R> => {
  const { task, timing, timeout, offset } = resolved
  const first = start + offset
  const spacing = timing._tag === "Schedule" ? Number.POSITIVE_INFINITY : timing.every
  const fixed = fixedStart(first, spacing, task.runImmediately)
  const runner: RunnerTask<R> = {
    index,
    name: task.name,
    kind: timing._tag,
    spacing,
    jitter: task.jitter && timing._tag !== "Schedule",
    onError: task.onError,
    enabled: task.enabled,
    schedule: timing._tag === "Schedule" ? timing.schedule : undefined,
    followsWall: timing._tag === "Schedule" && timing.wallClock,
    cron: timing._tag === "Schedule" ? timing.cron : undefined,
    queues: task.overlap === "queue",
    limited: timeout !== undefined,
    nextDue: timing._tag === "Schedule" ? first : fixed.nextDue,
    lastRun: timing._tag === "Fixed" ? fixed.lastRun : Number.NaN,
    scheduleState: timing._tag === "Schedule" ? timing.schedule.initial : undefined,
    done: false,
    removed: false,
    paused: false,
    pausedWall: Number.NEGATIVE_INFINITY,
    resumedWall: Number.NEGATIVE_INFINITY,
    running: false,
    scheduledAt: 0,
    scheduledWall: 0,
    waiting: Number.NaN,
    startedAt: 0,
    fiber: undefined,
    detached: false,
    wave: 0,
    body: Effect.void,
    start: Effect.never,
    lastOutcome: undefined,
    successUnbuilt: false,
    successScheduledAt: 0,
    successStartedAt: 0,
    successEndedAt: 0,
    succeeded: 0,
    failed: 0,
    timedOut: 0,
    skipped: 0,
    interrupted: 0,
    meters: undefined,
  }
  if (resumedAt !== undefined) {
    runner.nextDue = resumedAt
    if (runner.kind === "Fixed") runner.lastRun = resumedAt - spacing
  }
  return runner
}

/** The task's latest outcome, building a success that was only kept as instants. */
export const lastOutcome = <R>(task: RunnerTask<R>): PeriodicRunner.TaskOutcome | undefined => {
  if (task.successUnbuilt) {
    task.successUnbuilt = false
    task.lastOutcome = Succeeded({
      task: task.name,
      scheduledAt: task.successScheduledAt,
      startedAt: task.successStartedAt,
      durationMillis: task.successEndedAt - task.successStartedAt,
      latenessMillis: task.successStartedAt - task.successScheduledAt,
    })
  }
  return task.lastOutcome
}

/** A snapshot of the task; `wallOffset` turns its steady instants into wall-clock ones. */
export const taskStatus = <R>(
  task: RunnerTask<R>,
  wallOffset: number,
): PeriodicRunner.TaskStatus => ({
  name: task.name,
  state: !task.enabled
    ? "disabled"
    : task.running
    ? "running"
    : task.done
    ? "done"
    : task.paused
    ? "paused"
    : "scheduled",
  nextRunAt: task.enabled && !task.done && Number.isFinite(task.nextDue)
    ? Option.some(task.nextDue + wallOffset)
    : Option.none(),
  lastOutcome: Option.fromNullable(lastOutcome(task)),
  succeeded: task.succeeded,
  failed: task.failed,
  timedOut: task.timedOut,
  skipped: task.skipped,
  interrupted: task.interrupted,
})
