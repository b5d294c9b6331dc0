/**
 * Sequential mode: oslo's `run_periodic_tasks`. A pass examines every task in definition order,
 * runs each due one inline, to its end, before looking at the next, and returns its idle time:
 * how long until the next task is due, capped by every spacing and by 60 s (oslo P16). The driver
 * sleeps for it, and passes again.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import { PassTable } from "./passTable.ts"
import { type DueIndex, type Engine, ignoreCause, type RunnerCore } from "./core.ts"
import type { PeriodicTaskFailed, TaskTimedOut } from "./errors.ts"
import { recordExit, recordSuccess } from "./record.ts"
import { mayRun, type RunnerTask } from "./task.ts"
import { IDLE_CAP_MILLIS, MIN_STEP_MILLIS } from "./timing.ts"

/** @internal */
export interface SequentialSettings {
  /** Caps every sleep of the driver. */
  readonly maxSleep: number
}

/**
 * The pass in progress: passes are one at a time, so there is one, reused, and a pass is one
 * `whileLoop` over it (a run allocates no step of its own).
 */
interface Pass<R> {
  /** Who runs it: the driver or a `tick`; `undefined` between passes. */
  by: "driver" | "tick" | undefined
  /** The next task to examine, in definition order. */
  index: number
  /** The idle time so far (oslo P16). */
  idle: number
  /** The fiber the pass runs in (its runs run inline in it). */
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** The task this step runs, and the jitter draw that begins it, if any. */
  task: RunnerTask<R> | undefined
  jitterDraw: Effect.Effect<void> | undefined
  /** The task whose run has begun and whose outcome is not recorded yet. */
  unrecorded: RunnerTask<R> | undefined
  /** The bookkeeping of the latest run, while it is not done. */
  leftToRecord: Effect.Effect<void> | undefined
}

const tableIndex = <R>(table: PassTable): DueIndex<R> => {
  const place = (task: RunnerTask<R>) => {
    // A removed task is out of the table already, and its slot may be another task's now.
    if (!task.removed) table.set(task.index, mayRun(task), task.running, task.spacing, task.nextDue)
  }
  return {
    place,
    reschedule: place,
    runEnded: place,
    grow: (size) => table.ensureSize(size),
  }
}

/** @internal */
export const makeSequentialEngine = <E, R>(
  core: RunnerCore<E, R>,
  settings: SequentialSettings,
): Engine<E, R> => new SequentialEngine(core, settings)

class SequentialEngine<E, R> implements Engine<E, R> {
  private readonly pass: Pass<R> = {
    by: undefined,
    fiber: undefined,
    index: 0,
    idle: IDLE_CAP_MILLIS,
    task: undefined,
    jitterDraw: undefined,
    unrecorded: undefined,
    leftToRecord: undefined,
  }
  private readonly passLock = Effect.unsafeMakeSemaphore(1)
  /** The driver's continuation, made once: the driver loops hundreds of times a second. */
  private readonly afterSleep = () => this.driveOn()
  /** Does what the latest run left to record, which an interruption cannot cut short. */
  private readonly recordLeft: Effect.Effect<void>
  private readonly driverPass: Effect.Effect<number, PeriodicTaskFailed<E>, R>
  readonly drive: Effect.Effect<void, PeriodicTaskFailed<E>, R>
  readonly tick: Effect.Effect<number, PeriodicTaskFailed<E>, R>
  readonly passFinished: Effect.Effect<void>

  constructor(
    private readonly core: RunnerCore<E, R>,
    private readonly settings: SequentialSettings,
  ) {
    const table = new PassTable(core.tasks.length)
    core.index = tableIndex(table)
    const pass = this.pass
    this.recordLeft = Effect.uninterruptible(Effect.suspend(() => {
      const left = pass.leftToRecord ?? Effect.void
      pass.leftToRecord = undefined
      return left
    }))
    const passTasks = makePassLoop(core, table, pass)
    this.driverPass = this.passBy("driver", passTasks)
    this.tick = this.passBy("tick", passTasks)
    this.drive = Effect.suspend(this.afterSleep)
    this.passFinished = this.passLock.withPermits(1)(Effect.void)
  }

  // A pass runs each task inline without a mask around it (its two changes of flags were most of
  // what a run cost): the run keeps the interruptibility of the pass's fiber, and what an
  // interruption leaves undone, the pass's exit, which cannot be interrupted, does.
  prepare(task: RunnerTask<R>, run: Effect.Effect<unknown, E | TaskTimedOut, R>): void {
    task.body = Effect.matchCauseEffect(run, {
      onFailure: (cause) => this.finishRun(recordExit(this.core, task, Exit.failCause(cause))),
      onSuccess: (value) => this.finishRun(recordSuccess(this.core, task, value)),
    })
  }

  passInProgress(): "driver" | "tick" | undefined {
    return this.pass.by
  }

  isOwnRun(task: RunnerTask<R>, fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean {
    return this.pass.unrecorded === task && this.pass.fiber === fiber
  }

  /** Ends an inline run (`RunnerTask.body`) with what `recordExit` or `recordSuccess` left to do. */
  private finishRun(bookkeeping: Effect.Effect<void>): Effect.Effect<void> {
    this.pass.unrecorded = undefined
    if (bookkeeping === Effect.void) return bookkeeping
    this.pass.leftToRecord = ignoreCause(bookkeeping)
    return this.recordLeft
  }

  /** Records the run an interruption cut short (with the pass's exit), or what it left to do. */
  private finishPass(exit: Exit.Exit<number, PeriodicTaskFailed<E>>): Effect.Effect<void> {
    const task = this.pass.unrecorded
    this.pass.unrecorded = undefined
    if (task === undefined) return this.recordLeft
    // The run did not end by itself: its pass was interrupted or died. (A "fail"-policy failure
    // is raised after the last run is recorded, so no failure of the pass is the run's.)
    const cut = Exit.isFailure(exit) ? Cause.stripFailures(exit.cause) : Cause.empty
    return ignoreCause(recordExit(this.core, task, Exit.failCause(cut)))
  }

  /** One pass, by the driver or a tick: passes are one at a time. */
  private passBy(
    by: "driver" | "tick",
    passTasks: Effect.Effect<number, PeriodicTaskFailed<E>, R>,
  ): Effect.Effect<number, PeriodicTaskFailed<E>, R> {
    const pass = this.pass
    return this.passLock.withPermits(1)(
      Effect.withFiberRuntime<number, PeriodicTaskFailed<E>, R>((fiber) => {
        this.core.passes++
        this.core.followWallSteps()
        pass.by = by
        pass.fiber = fiber
        pass.index = 0
        pass.idle = IDLE_CAP_MILLIS
        return passTasks
      }).pipe(
        Effect.onExit((exit) => Effect.suspend(() => this.finishPass(exit))),
        Effect.ensuring(Effect.sync(() => {
          pass.by = undefined
          pass.fiber = undefined
          pass.task = undefined
        })),
      ),
    )
  }

  /** The driver's loop: a pass, then its idle time asleep. */
  private driveOn(): Effect.Effect<void, PeriodicTaskFailed<E>, R> {
    const core = this.core
    if (core.lifecycle._tag !== "Open") return Effect.void
    core.wakeups++
    return Effect.flatMap(this.driverPass, (idle) => {
      // After a pass that a stop let finish: stop now, not after the idle time.
      if (core.lifecycle._tag !== "Open") return Effect.void
      const sleep = Math.max(Math.min(idle, this.settings.maxSleep), MIN_STEP_MILLIS)
      return Effect.flatMap(core.alarm.sleep(sleep), this.afterSleep)
    })
  }
}

/** The loop of a pass: finds each due task in turn and runs it inline; ends with the idle time. */
const makePassLoop = <E, R>(
  core: RunnerCore<E, R>,
  table: PassTable,
  pass: Pass<R>,
): Effect.Effect<number, PeriodicTaskFailed<E>, R> => {
  const tasks = core.tasks
  /** Finds the pass's next due task and begins its occurrence; false when the pass is over. */
  const findDue = (): boolean => {
    // oslo P21 with raise_on_error: after a "fail"-policy failure the rest is not examined.
    if (!core.accepting()) return false
    const at = core.now()
    table.seek(pass, at)
    if (pass.index >= tasks.length) return false
    const task = tasks[pass.index++]!
    pass.task = task
    pass.jitterDraw = core.begin(task, at)
    pass.unrecorded = task
    return true
  }
  const run = (): Effect.Effect<void, never, R> =>
    pass.jitterDraw === undefined
      ? pass.task!.body
      : Effect.zipRight(pass.jitterDraw, pass.task!.body)
  /**
   * A schedule-timed task learns its next instant when its run ends: that lowers the idle time.
   * A task with the `"queue"` overlap policy that is due again at once (an occurrence waited for
   * the run) makes the next pass come at once.
   */
  const afterRun = (): void => {
    const task = pass.task!
    if (task.kind === "Schedule" && !task.done) {
      pass.idle = Math.min(pass.idle, Math.max(0, task.nextDue - core.now()))
    }
    if (task.queues && task.nextDue <= core.now()) pass.idle = 0
  }
  const end: Effect.Effect<number, PeriodicTaskFailed<E>> = Effect.suspend(() => {
    pass.task = undefined
    const raised = core.takeFailure()
    return raised === undefined ? Effect.succeed(pass.idle) : Effect.fail(raised)
  })
  return Effect.zipRight(Effect.whileLoop({ while: findDue, body: run, step: afterRun }), end)
}
