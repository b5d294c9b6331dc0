/**
 * What both engines share: the runner's tasks, clocks and lifecycle, and the timing rules applied
 * to a task when one of its occurrences begins and when its run ends.
 *
 * Invariants:
 * - a task is `running` from `begin` until its outcome is recorded (or its run is abandoned);
 * - `nextDue` is +∞ while a spaced or schedule-timed task runs (it learns its next instant when the
 *   run ends), and the next grid point while a fixed task runs;
 * - every change of `nextDue`, `running` or of what makes a task eligible goes through
 *   `index.place`, which keeps the engine's index of due tasks in step;
 * - after a run, a cron task records the `Skipped` instants the run missed, then the run's own
 *   outcome, then learns its next instant: a run's outcome is its task's last one.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as PubSub from "effect/PubSub"
import type * as Random from "effect/Random"
import type * as Runtime from "effect/Runtime"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type { SteadyClock } from "../steadyClock.ts"
import type { Alarm } from "./alarm.ts"
import type { PeriodicTaskFailed, TaskTimedOut } from "./errors.ts"
import { type Lifecycle, open } from "./lifecycle.ts"
import { recordSkip } from "./record.ts"
import type { RunnerTelemetry } from "./instrument.ts"
import type { RunnerTask } from "./task.ts"
import {
  type CronInstants,
  fixedLastRun,
  floorToGrid,
  jitterMillis,
  MAX_MISSED_INSTANTS,
  MIN_STEP_MILLIS,
  notTooSoon,
  spacedNextDue,
  stepSchedule,
} from "./timing.ts"

/** An engine's index of the tasks it may start, kept in step with their records. */
export interface DueIndex<R> {
  /** The task's next instant, its running state or its eligibility changed. */
  place(task: RunnerTask<R>): void
  /**
   * The task has a new next instant after a run, an abandoned start or a step of the wall clock:
   * `place`, and in concurrent mode wake the driver if the instant is sooner than its wake-up.
   */
  reschedule(task: RunnerTask<R>): void
  /** The task's run ended: it is free again (its next instant may come later, by `place`). */
  runEnded(task: RunnerTask<R>): void
  /** Room for tasks with indices below `size` (tasks added to a running runner). */
  grow(size: number): void
}

/** @internal */
export class RunnerCore<E, R> {
  lifecycle: Lifecycle<E>
  /** How often the driver woke up. */
  wakeups = 0
  /** Passes run, by the driver or by `tick`. */
  passes = 0
  /** Subscribers of `outcomes`: without any, outcomes are not published. */
  subscribers = 0
  /** The wall clock's offset from the steady one that cron tasks' instants are on. */
  private followedWallOffset: number
  /** Set by the engine once it is made. */
  index: DueIndex<R> = { place: () => {}, reschedule: () => {}, runEnded: () => {}, grow: () => {} }
  /** Slots of removed tasks, for tasks added later (once the removed task's run has ended). */
  private readonly removedSlots: Array<number> = []

  constructor(
    readonly mode: PeriodicRunner.Mode,
    /** Every task by index; a removed task stays until its slot is taken by an added one. */
    readonly tasks: Array<RunnerTask<R>>,
    readonly runtime: Runtime.Runtime<R>,
    readonly clock: Clock.Clock,
    readonly random: Random.Random,
    /**
     * Due instants are steady ones, so that a step of the wall clock neither stops the tasks nor
     * makes them all due at once. The instants users see or give (outcomes, status, `resume`) and
     * a cron rule are on the wall clock: `wallOffset` converts.
     */
    readonly steady: SteadyClock,
    readonly outcomes: PubSub.PubSub<PeriodicRunner.TaskOutcome>,
    readonly alarm: Alarm,
    driven: boolean,
    readonly telemetry: RunnerTelemetry,
  ) {
    this.lifecycle = open(driven)
    this.followedWallOffset = steady.wallOffset()
  }

  now(): number {
    return this.steady.now()
  }

  wallOffset(): number {
    return this.steady.wallOffset()
  }

  /** Whether a task may start now: the runner is open and no `"fail"`-policy failure is waiting. */
  accepting(): boolean {
    const lifecycle = this.lifecycle
    return lifecycle._tag === "Open" && lifecycle.failure === undefined
  }

  /** A `"fail"`-policy failure: no later task starts, and the driver (or a tick, or the stop) raises it. */
  fail(failure: PeriodicTaskFailed<E>): void {
    const lifecycle = this.lifecycle
    if (lifecycle._tag === "Stopped" || lifecycle.failure !== undefined) return
    this.lifecycle = { ...lifecycle, failure }
    this.alarm.wake()
  }

  /** The waiting `"fail"`-policy failure, once: whoever takes it raises it. */
  takeFailure(): PeriodicTaskFailed<E> | undefined {
    const lifecycle = this.lifecycle
    if (lifecycle._tag === "Stopped" || lifecycle.failure === undefined) return undefined
    this.lifecycle = { ...lifecycle, failure: undefined }
    return lifecycle.failure
  }

  /**
   * Marks an occurrence as begun at `at`. A fixed task's `lastRun` snaps to its grid here, before
   * the run (oslo P19): missed slots are skipped and the phase is kept. Returns an effect only
   * when a jitter draw is needed.
   */
  begin(task: RunnerTask<R>, at: number): Effect.Effect<void> | undefined {
    task.scheduledAt = task.nextDue
    task.startedAt = at
    task.running = true
    if (task.kind !== "Fixed") {
      if (task.cron !== undefined) task.scheduledWall = task.scheduledAt + this.followedWallOffset
      task.nextDue = Number.POSITIVE_INFINITY
      this.index.place(task)
      return undefined
    }
    const last = task.lastRun
    // oslo draws no jitter for the first run, which is its own grid point.
    if (Number.isNaN(last) || !task.jitter) {
      this.setLastRun(task, fixedLastRun(at, last, task.spacing, 0))
      return undefined
    }
    this.index.place(task)
    return Effect.map(this.random.next, (r) => {
      this.setLastRun(task, fixedLastRun(at, last, task.spacing, jitterMillis(task.spacing, r)))
    })
  }

  private setLastRun(task: RunnerTask<R>, lastRun: number): void {
    task.lastRun = lastRun
    task.nextDue = lastRun + task.spacing
    this.index.place(task)
  }

  /** A fixed task found still running at its next slot: that slot is skipped, the grid kept. */
  skipSlot(task: RunnerTask<R>, at: number): void {
    this.setLastRun(task, floorToGrid(at, task.lastRun, task.spacing))
  }

  /**
   * A fixed or spaced task learns its next due instant when a run ends (its outcome recorded).
   * Returns `undefined` when that was done at once (the common case, kept allocation-free).
   */
  afterRun(task: RunnerTask<R>, end: number): Effect.Effect<void> | undefined {
    if (this.takeWaiting(task) || task.kind === "Fixed") return undefined
    if (!task.jitter) {
      task.nextDue = spacedNextDue(end, task.startedAt, task.spacing, 0)
      this.index.reschedule(task)
      return undefined
    }
    return Effect.map(this.random.next, (r) => {
      const jitter = jitterMillis(task.spacing, r)
      task.nextDue = spacedNextDue(end, task.startedAt, task.spacing, jitter)
      this.index.reschedule(task)
    })
  }

  /**
   * A schedule-timed task's run ended at `end` with `output`, and `record` records its outcome.
   * A cron task's schedule steps then even when an occurrence waits for the run (overlap policy
   * `"queue"`), to tell the instants the run missed: their `Skipped` outcomes are recorded before
   * the run's own, so that the task's last outcome is the run's, as after a fixed task's skipped
   * slots. The run's outcome is recorded even when the step dies. The task is placed at its next
   * instant last, so that no outcome of its next occurrence can come before this run's.
   */
  afterScheduledRun(
    task: RunnerTask<R>,
    end: number,
    output: unknown,
    record: Effect.Effect<void>,
  ): Effect.Effect<void> {
    const placed = Effect.sync(() => {
      if (this.takeWaiting(task)) return
      task.nextDue = notTooSoon(task.nextDue, task.startedAt)
      this.index.reschedule(task)
    })
    // Any other schedule steps after the run of the occurrence that waited, not before it.
    if (task.cron === undefined && !Number.isNaN(task.waiting)) {
      return Effect.zipRight(record, placed)
    }
    const missed = Effect.flatMap(
      this.stepSchedule(task, end, output),
      () => this.recordMissed(task, end),
    )
    return Effect.zipRight(Effect.ensuring(missed, record), placed)
  }

  /** The occurrence that waited for the run's end (overlap policy `"queue"`) is due now, if any. */
  private takeWaiting(task: RunnerTask<R>): boolean {
    if (Number.isNaN(task.waiting)) return false
    task.nextDue = task.waiting
    task.waiting = Number.NaN
    this.index.reschedule(task)
    return true
  }

  /** Steps a schedule-timed task's schedule at `at`, on the wall clock (a cron rule is a wall-clock rule). */
  stepSchedule(task: RunnerTask<R>, at: number, input: unknown): Effect.Effect<void> {
    // Every steady instant of a cron task is on the offset followed so far.
    this.followWallSteps()
    const offset = this.followedWallOffset
    return Effect.map(
      stepSchedule(task.schedule!, task.scheduleState, at + offset, input),
      ({ next, state }) => {
        task.scheduleState = state
        if (next === undefined) {
          task.done = true
          task.nextDue = Number.POSITIVE_INFINITY
        } else {
          task.nextDue = next - offset
        }
      },
    )
  }

  /**
   * Each instant of a cron task's rule that its run missed is one `Skipped` occurrence, as a fixed
   * task's overrun slot is, recorded when the run ends, earliest first. With the `"queue"` overlap
   * policy the latest occurrence that came during the run waits for its end instead, as in
   * `overlapped`: the latest missed instant, or a trigger that came after it.
   */
  private recordMissed(task: RunnerTask<R>, end: number): Effect.Effect<void> {
    if (task.cron === undefined || task.done) return Effect.void
    // The instants were computed on the offset followed so far: converted back on the same one.
    const offset = this.followedWallOffset
    const skipped = this.missedInstants(task, task.cron).map((at) => at - offset)
    if (skipped.length === 0) return Effect.void
    const latest = skipped[skipped.length - 1]!
    // Only an instant that came while the run went on overlapped it: one before its (late)
    // start was missed, not overlapped, and is skipped.
    if (task.queues && latest >= task.startedAt && !(task.waiting > latest)) {
      skipped.pop()
      if (!Number.isNaN(task.waiting)) {
        // A trigger before that instant was overlapped by it: skipped, in its place among them.
        skipped.push(task.waiting)
        skipped.sort((a, b) => a - b)
      }
      task.waiting = latest
    }
    return Effect.forEach(skipped, (at) => recordSkip(this, task, at, end), { discard: true })
  }

  /**
   * The instants of a cron task's rule after the occurrence in progress and before its next one
   * (wall clock, earliest first, at most `MAX_MISSED_INSTANTS`, the latest), but for those that
   * came while the task was paused (its latest pause): a paused task was told not to run, and
   * misses nothing, as a paused fixed task skips no slot.
   */
  private missedInstants(task: RunnerTask<R>, cron: CronInstants): Array<number> {
    const after = task.scheduledWall
    const next = task.nextDue + this.followedWallOffset
    const sinceResumed = task.paused ? [] : cron(Math.max(after, task.resumedWall), next)
    if (!(task.pausedWall > after)) return sinceResumed
    const beforePause = Math.min(task.pausedWall, next)
    const limit = MAX_MISSED_INSTANTS - sinceResumed.length
    return cron(after, beforePause, limit).concat(sinceResumed)
  }

  /**
   * Pauses or resumes a task. A cron task notes when (wall clock): the instants of its rule that
   * come while it is paused are no missed ones (see `missedInstants`).
   */
  setPaused(task: RunnerTask<R>, paused: boolean): void {
    if (task.paused === paused) return
    task.paused = paused
    if (task.cron !== undefined) {
      this.followWallSteps()
      const at = this.now() + this.followedWallOffset
      if (paused) task.pausedWall = at
      else task.resumedWall = at
    }
    // A running spaced or schedule-timed task learns its next instant when its run ends.
    this.index.place(task)
  }

  /**
   * An occurrence due at `scheduledAt` found the task running: with the `"queue"` policy it
   * waits for the run's end (and an older waiting one is the one skipped); else it is skipped.
   * Returns the instant of the occurrence to record as `Skipped`, if any.
   */
  overlapped(task: RunnerTask<R>, scheduledAt: number): number | undefined {
    if (!task.queues) return scheduledAt
    const older = task.waiting
    task.waiting = scheduledAt
    return Number.isNaN(older) ? undefined : older
  }

  /**
   * A cron task's instants follow a wall-clock rule: when a step of the wall clock was taken out
   * of the steady time base, their steady instants move by the same amount. Checked at every
   * wake-up, and before any such instant is computed or shown, so such a task is at most a driver
   * sleep (`maxSleep`) late after a step. Other schedules measure delays, and keep theirs.
   */
  followWallSteps(): void {
    this.now()
    const offset = this.wallOffset()
    if (offset === this.followedWallOffset) return
    const moved = this.followedWallOffset - offset
    this.followedWallOffset = offset
    for (const task of this.tasks) {
      if (!task.followsWall || task.done || !Number.isFinite(task.nextDue)) continue
      task.nextDue += moved
      this.index.reschedule(task)
    }
  }

  /** An occurrence begun but never started (its batch died, or stopped first) is undone. */
  abandon(task: RunnerTask<R>): void {
    task.running = false
    if (!Number.isFinite(task.nextDue)) task.nextDue = task.scheduledAt
    this.index.reschedule(task)
  }

  /**
   * The slot for a task added now: that of a removed task whose run has ended, or a new one at
   * the end. (Checked here, not when runs end: the hot path keeps no bookkeeping for removals.)
   */
  takeSlot(): number {
    const free = this.removedSlots.findIndex((index) => !this.tasks[index]!.running)
    if (free >= 0) return this.removedSlots.splice(free, 1)[0]!
    const index = this.tasks.length
    this.index.grow(index + 1)
    return index
  }

  /** A removed task's slot, to be taken by a task added later. */
  freeSlot(task: RunnerTask<R>): void {
    this.removedSlots.push(task.index)
  }

  /** The tasks a user sees: not removed. */
  liveTasks(): Array<RunnerTask<R>> {
    return this.tasks.filter((task) => !task.removed)
  }

  /** A task is due again at once in the same wake-up: it waits the minimum step. */
  postpone(task: RunnerTask<R>, at: number): void {
    task.nextDue = at + MIN_STEP_MILLIS
    this.index.place(task)
  }
}

/** A mode's way of running tasks: the driver's loop, a tick, and each task's run. */
export interface Engine<E, R> {
  /** Builds the task's `body` (its run and bookkeeping), and `start` where the engine forks it. */
  prepare(task: RunnerTask<R>, run: Effect.Effect<unknown, E | TaskTimedOut, R>): void
  /** The driver fiber's work: passes and sleeps until the runner stops or a task fails it. */
  readonly drive: Effect.Effect<void, PeriodicTaskFailed<E>, R>
  /** One pass now, in the caller's fiber; then how long until the next task is due (ms). */
  readonly tick: Effect.Effect<number, PeriodicTaskFailed<E>, R>
  /**
   * A stop lets the pass in progress finish (sequential mode: a pass checks the lifecycle before
   * each task); waits for it.
   */
  readonly passFinished: Effect.Effect<void>
  /** Whether a pass is in progress, and whether a tick runs it (its runs belong to the caller). */
  passInProgress(): "driver" | "tick" | undefined
  /** Whether `fiber` is the one the task's run in progress executes in (a run removing itself). */
  isOwnRun(task: RunnerTask<R>, fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean
}

/** Whatever the bookkeeping after a run ends in, the run's fiber succeeds. */
export const ignoreCause = (effect: Effect.Effect<void>): Effect.Effect<void> =>
  effect === Effect.void ? effect : Effect.catchAllCause(effect, () => Effect.void)
