/**
 * Concurrent mode: every due task starts in a fiber of its own, as soon as it is due. A task
 * never overlaps itself: a fixed task's slot that finds the previous run still going is skipped.
 *
 * The driver keeps the tasks in a heap by due instant, starts the due ones in one batch fiber per
 * wake-up (see `StartNowScheduler` and the design note `docs/design/periodic-engine.md`) and
 * sleeps until the earliest next instant.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import { DueHeap } from "./dueHeap.ts"
import { StartNowScheduler } from "./startNowScheduler.ts"
import { type DueIndex, type Engine, ignoreCause, type RunnerCore } from "./core.ts"
import type { PeriodicTaskFailed, TaskTimedOut } from "./errors.ts"
import { recordExit, recordSkip, recordSuccess } from "./record.ts"
import { mayRun, type RunnerTask } from "./task.ts"
import { IDLE_CAP_MILLIS, MIN_STEP_MILLIS } from "./timing.ts"

/** @internal */
export interface ConcurrentSettings {
  /** Runs started in one batch before the driver yields to the event loop. */
  readonly maxBatch: number
  /** Caps every sleep of the driver. */
  readonly maxSleep: number
  /** Whether run fibers count in Effect's built-in fiber metrics. */
  readonly fiberMetrics: boolean
}

type RunFiber = Fiber.RuntimeFiber<void, never>

/**
 * The heap of the tasks the driver may start: those that may run, except a spaced or
 * schedule-timed task while it runs (a running fixed task keeps its next slot in the heap).
 */
const heapIndex = <E, R>(core: RunnerCore<E, R>, heap: DueHeap<RunnerTask<R>>): DueIndex<R> => {
  const place = (task: RunnerTask<R>): void => {
    // A removed task is out of the heap already, and its slot may be another task's now.
    if (task.removed) return
    if (!mayRun(task) || (task.running && task.kind !== "Fixed")) heap.remove(task)
    else heap.update(task)
  }
  return {
    place,
    reschedule: (task) => {
      if (task.running || task.removed) return
      if (!mayRun(task)) return heap.remove(task)
      heap.update(task)
      if (task.nextDue < core.alarm.plannedWakeAt) core.alarm.wake()
    },
    runEnded: () => {},
    grow: (size) => heap.ensureCapacity(size),
  }
}

/** Whether a task is due at `at` and may start: the runner accepts starts, and the heap's top is due. */
const isDue = <E, R>(core: RunnerCore<E, R>, heap: DueHeap<RunnerTask<R>>, at: number): boolean => {
  if (!core.accepting()) return false
  const top = heap.peek()
  return top !== undefined && top.nextDue <= at
}

/** How a batch's loop ended (with how many due tasks it took), once it has; also signalled. */
interface BatchResult {
  exit: Exit.Exit<number> | undefined
  readonly signal: Deferred.Deferred<number>
}

/**
 * The batch fibers' runtime. Runs are children of a batch fiber per wake-up, which they take
 * their flags from: a run's fiber starts uninterruptible and only the run itself is made
 * interruptible (when the runtime's fibers are), one change of flags per run where a mask makes
 * two. Unless asked to, run fibers stay out of Effect's built-in fiber metrics (`effect_fiber_*`):
 * five metric updates and a clock read per run, for counts that `status` keeps per task.
 */
const batchRuntime = <R>(runtime: Runtime.Runtime<R>, fiberMetrics: boolean) =>
  Runtime.disableRuntimeFlag(
    fiberMetrics ? runtime : Runtime.disableRuntimeFlag(runtime, RuntimeFlags.RuntimeMetrics),
    RuntimeFlags.Interruption,
  )

/** @internal */
export const makeConcurrentEngine = <E, R>(
  core: RunnerCore<E, R>,
  settings: ConcurrentSettings,
): Engine<E, R> => new ConcurrentEngine(core, settings)

class ConcurrentEngine<E, R> implements Engine<E, R> {
  private readonly heap: DueHeap<RunnerTask<R>>
  private readonly starter: StartNowScheduler
  private readonly forkBatch: ReturnType<typeof Runtime.runFork<R>>
  private readonly runsInterruptible: boolean
  private readonly startBatch: ReturnType<typeof makeBatchStart<E, R>>
  /**
   * The driver's wake-ups (and ticks) so far. A task comes up at most once per wake-up, however
   * many batches it takes: one due again at once (a zero-delay schedule, a run that triggers
   * itself) waits for the next, which is at least `MIN_STEP_MILLIS` later.
   */
  private wave = 0
  readonly drive: Effect.Effect<void, PeriodicTaskFailed<E>>
  readonly tick: Effect.Effect<number, PeriodicTaskFailed<E>>
  readonly passFinished = Effect.void
  // The driver's continuations, made once: the driver loops hundreds of times a second.
  private readonly afterSleep = () => this.driveFrom(true)
  private readonly afterYield = () => this.driveFrom(false)

  constructor(
    private readonly core: RunnerCore<E, R>,
    private readonly settings: ConcurrentSettings,
  ) {
    this.heap = new DueHeap<RunnerTask<R>>(core.tasks.length)
    core.index = heapIndex(core, this.heap)
    const runtime = core.runtime
    this.forkBatch = Runtime.runFork(batchRuntime(runtime, settings.fiberMetrics))
    this.starter = new StartNowScheduler(
      FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentScheduler),
    )
    this.runsInterruptible = RuntimeFlags.interruption(runtime.runtimeFlags)
    this.startBatch = makeBatchStart(core, this.heap, this.starter)
    this.drive = Effect.suspend(this.afterSleep)
    this.tick = Effect.suspend(() => this.tickNow())
  }

  prepare(task: RunnerTask<R>, run: Effect.Effect<unknown, E | TaskTimedOut, R>): void {
    const core = this.core
    // The bookkeeping cannot be interrupted (the run's fiber starts uninterruptible); the run
    // can be when the runtime's fibers can.
    task.body = Effect.matchCauseEffect(this.runsInterruptible ? Effect.interruptible(run) : run, {
      onFailure: (cause) => ignoreCause(recordExit(core, task, Exit.failCause(cause))),
      onSuccess: (value) => ignoreCause(recordSuccess(core, task, value)),
    })
    task.start = Effect.fork(task.body)
  }

  passInProgress(): undefined {
    return undefined
  }

  isOwnRun(task: RunnerTask<R>, fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean {
    // A running task's fiber is unknown only while its batch starts it, synchronously: no other
    // fiber runs then, so the caller is the run itself.
    return task.fiber === undefined || task.fiber === fiber
  }

  private untilNextDue(): number {
    const top = this.heap.peek()
    return top === undefined
      ? IDLE_CAP_MILLIS
      : Math.max(0, Math.min(IDLE_CAP_MILLIS, top.nextDue - this.core.now()))
  }

  /**
   * Starts the due tasks, at most `limit` of them, and succeeds with how many it took once it
   * has. The runs are children of one batch fiber that ends when they all have; it is pushed to
   * `collect` when given (for `tick`).
   */
  private dispatch(limit: number, collect: Array<RunFiber> | undefined): Effect.Effect<number> {
    if (!isDue(this.core, this.heap, this.core.now())) return Effect.succeed(0)
    const result: BatchResult = {
      exit: undefined,
      signal: Deferred.unsafeMake<number>(FiberId.none),
    }
    const batch = this.forkBatch(this.startBatch(limit, this.wave, result), {
      scheduler: this.starter,
    })
    if (collect !== undefined) collect.push(batch)
    // The batch has almost always taken its tasks by now: then the driver goes on at once.
    return result.exit ?? Deferred.await(result.signal)
  }

  /** The driver's loop from a wake-up (`woken`), or from a full batch's yield. */
  private driveFrom(woken: boolean): Effect.Effect<void, PeriodicTaskFailed<E>> {
    const core = this.core
    if (core.lifecycle._tag !== "Open") return Effect.void
    core.wakeups++
    core.passes++
    if (woken) {
      this.wave++
      core.followWallSteps()
    }
    return Effect.flatMap(this.dispatch(this.settings.maxBatch, undefined), (started) => {
      const raised = core.takeFailure()
      if (raised !== undefined) return Effect.fail(raised)
      // A full batch: let the event loop breathe, then go on with what is still due.
      if (started >= this.settings.maxBatch) {
        return Effect.flatMap(Effect.yieldNow(), this.afterYield)
      }
      if (core.lifecycle._tag !== "Open") return Effect.void
      const sleep = Math.max(Math.min(this.untilNextDue(), this.settings.maxSleep), MIN_STEP_MILLIS)
      return Effect.flatMap(core.alarm.sleep(sleep), this.afterSleep)
    })
  }

  private tickNow(): Effect.Effect<number, PeriodicTaskFailed<E>> {
    const core = this.core
    return Effect.gen(this, function* () {
      core.passes++
      this.wave++
      core.followWallSteps()
      const started: Array<RunFiber> = []
      yield* this.dispatch(Number.POSITIVE_INFINITY, started)
      // A batch whose runs all ended while they were started (the common case) needs no waiting.
      for (const fiber of started) if (fiber.unsafePoll() === null) yield* Fiber.await(fiber)
      const raised = core.takeFailure()
      if (raised !== undefined) return yield* Effect.fail(raised)
      return this.untilNextDue()
    })
  }
}

/**
 * The loop of a batch fiber: for each due task in turn it begins the occurrence (or records a
 * skipped slot) and forks the run, which starts at once, so a synchronous run has ended and been
 * recorded before the next task is looked at, and a `"fail"`-policy failure or a stop ends the
 * loop there. It is uninterruptible (its runs start so too) and does not yield until the loop is
 * over, so no task is left begun without a run; only the fibers of runs still going are kept.
 */
const makeBatchStart = <E, R>(
  core: RunnerCore<E, R>,
  heap: DueHeap<RunnerTask<R>>,
  starter: StartNowScheduler,
) =>
(limit: number, wave: number, result: BatchResult): Effect.Effect<void, never, R> =>
  Effect.withFiberRuntime<void, never, R>((batchFiber) => {
    const held = starter.hold(batchFiber)
    let started = 0
    let task: RunnerTask<R> = undefined!
    let at = 0
    /** The task begun whose run has not been forked yet. */
    let unstarted: RunnerTask<R> | undefined
    let stillRunning: Array<RunFiber> | undefined
    /** After a jitter draw: a stop may have come meanwhile; else arm just before the fork. */
    const startAfterDraw = Effect.suspend(() => {
      if (!core.accepting()) {
        core.abandon(task)
        unstarted = undefined
        return Effect.void
      }
      starter.arm()
      return task.start
    })
    const loop = Effect.whileLoop({
      while: () => {
        at = core.now()
        let top: RunnerTask<R>
        for (;;) {
          if (started >= limit || !isDue(core, heap, at)) return false
          top = heap.peek()!
          if (top.wave !== wave) break
          core.postpone(top, at)
        }
        top.wave = wave
        started++
        task = top
        return true
      },
      body: (): Effect.Effect<RunFiber | void, never, R> => {
        if (task.running) {
          const skipped = core.overlapped(task, task.nextDue)
          core.skipSlot(task, at)
          if (skipped === undefined) return Effect.void
          // Whatever publishing it returns, `step` must not take it for a run's fiber.
          return Effect.asVoid(recordSkip(core, task, skipped, at))
        }
        const jitterDraw = core.begin(task, at)
        unstarted = task
        if (jitterDraw !== undefined) return Effect.zipRight(jitterDraw, startAfterDraw)
        starter.arm()
        return task.start
      },
      step: (fiber) => {
        starter.disarm()
        unstarted = undefined
        if (fiber === undefined || fiber.unsafePoll() !== null) return
        task.fiber = fiber
        ;(stillRunning ??= []).push(fiber)
      },
    })
    return Effect.flatMap(Effect.exit(loop), (exit) => {
      starter.release(batchFiber, held)
      if (unstarted !== undefined) core.abandon(unstarted)
      // The driver learns how it ended, and fails with a defect of the loop's.
      result.exit = Exit.as(exit, started)
      Deferred.unsafeDone(result.signal, result.exit)
      return stillRunning === undefined ? Effect.void : Fiber.awaitAll(stillRunning)
    })
  })
