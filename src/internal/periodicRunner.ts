import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Intervals from "effect/ScheduleIntervals"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as PeriodicRunner from "../PeriodicRunner.ts"
import type * as PeriodicTask from "../PeriodicTask.ts"
import { DueHeap, type HeapEntry } from "./dueHeap.ts"
import { type Pass, PassTable } from "./passTable.ts"
import { StartNowScheduler } from "./startNowScheduler.ts"
import { sleepLong, SteadyClock } from "./steadyClock.ts"
import { InvalidPeriodicTask, jitterMillis, resolve, type ResolvedTask } from "./periodicTask.ts"
import { decodeMillis, isPositiveInteger, show } from "./validate.ts"
import { interruptWithinGrace, withLimit } from "./bounded.ts"

/** oslo's `DEFAULT_INTERVAL`: a pass never reports more idle time than this. */
const IDLE_CAP_MILLIS = 60_000

/** The longest sleep of the driver that `wake` does not cut short (a timer's resolution). */
const UNSIGNALLED_SLEEP_MILLIS = 1

/**
 * The shortest sleep of the driver between two passes. A schedule that asks for no delay
 * (`Schedule.forever`, a run that triggers itself, a spacing below a millisecond) would otherwise
 * make the driver loop without ever leaving the event loop a turn: such a task runs at most once
 * per millisecond.
 */
const MIN_STEP_MILLIS = 1

/** The latest grid point `last + k·period` at or before `at` (also when `at` precedes `last`). */
const floorToGrid = (at: number, last: number, period: number): number => {
  const next = last + period
  // The common case, a start within one period of its slot, needs no remainder.
  if (at >= next && at < next + period) return next
  return at - ((((at - last) % period) + period) % period)
}

// --- outcomes and errors -------------------------------------------------------------------

/** @internal */
export const TaskOutcome = Data.taggedEnum<PeriodicRunner.TaskOutcome>()

// The enum is a Proxy that makes a new constructor on every property access: take them once.
const { Failed, Interrupted, Skipped, Succeeded, TimedOut } = TaskOutcome

/** @internal */
export class NoSuchTask
  extends Schema.TaggedError<NoSuchTask>("effect-manager/NoSuchTask")("NoSuchTask", {
    task: Schema.String,
    known: Schema.Array(Schema.String),
  }) {
  override get message(): string {
    return `No periodic task named ${JSON.stringify(this.task)}; known tasks: ${
      this.known.map((name) => JSON.stringify(name)).join(", ") || "none"
    }`
  }
}

/** @internal */
export class CannotTrigger
  extends Schema.TaggedError<CannotTrigger>("effect-manager/CannotTrigger")("CannotTrigger", {
    task: Schema.String,
    reason: Schema.String,
  }) {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} cannot be triggered: ${this.reason}`
  }
}

/** @internal */
export class TaskTimedOut extends Data.TaggedError("TaskTimedOut")<{
  readonly task: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} timed out after ${
      Duration.format(this.timeoutMillis)
    }`
  }
}

/** @internal */
export class PeriodicTaskFailed<E> extends Data.TaggedError("PeriodicTaskFailed")<{
  readonly task: string
  readonly cause: Cause.Cause<E | TaskTimedOut>
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} failed and its error policy is "fail": ${
      Cause.pretty(this.cause)
    }`
  }
}

// --- per-task state ------------------------------------------------------------------------

type Kind = "Spaced" | "Fixed" | "Schedule"

/**
 * The runner's state for one task. It is owned by the runner: the driver and the task's run
 * fiber update it in place (the hot path allocates nothing per run), and the outside world only
 * sees immutable `TaskStatus` snapshots.
 */
interface Slot extends HeapEntry {
  readonly index: number
  readonly name: string
  readonly kind: Kind
  /** Spacing in ms for spaced and fixed tasks; what a pass's idle time is capped by (oslo P16). */
  readonly period: number
  /** When the next occurrence is due (epoch ms); +∞ while a spaced or schedule-timed task runs. */
  nextDue: number
  readonly jitter: boolean
  readonly onError: PeriodicTask.ErrorPolicy
  readonly enabled: boolean
  readonly schedule: Schedule.Schedule<unknown, unknown> | undefined
  /** A cron task: its next instant moves with a step of the wall clock (`followWallSteps`). */
  readonly followsWall: boolean
  /** A run has a time limit (`bounded.withLimit`), which warns of its own runaway work. */
  readonly limited: boolean
  paused: boolean
  done: boolean
  running: boolean
  /**
   * oslo's `last_run`: the grid point of a fixed task's latest run; NaN before the first one.
   * Always a number, so that V8 keeps the field a double updated in place: a field that may hold
   * `undefined` boxes every new instant, and those boxes, kept for a whole spacing, are promoted
   * to the old generation by the thousands per second.
   */
  lastRun: number
  scheduleState: unknown
  scheduledAt: number
  startedAt: number
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  /**
   * The run, its timeout and its bookkeeping, built once: inline in a pass (sequential mode), or
   * in a fiber of its own that starts uninterruptible (concurrent mode).
   */
  body: Effect.Effect<void>
  /** Concurrent mode: the latest wake-up that took this task (see `wave`). */
  batch: number
  /** Concurrent mode: forks `body` (to start at once when the scheduler is armed, see `dispatch`). */
  start: Effect.Effect<Fiber.RuntimeFiber<void, never>>
  lastOutcome: PeriodicRunner.TaskOutcome | undefined
  /** The run ignored its interruption at shutdown and got its outcome then (see `shutdown`). */
  detached: boolean
  /**
   * A success that nobody was subscribed to is only noted, and made into `lastOutcome` when a
   * status asks for it: most runs succeed, and their outcome would outlive them until the next.
   */
  notedSuccess: boolean
  notedScheduledAt: number
  notedStartedAt: number
  notedEndedAt: number
  succeeded: number
  failed: number
  timedOut: number
  skipped: number
  interrupted: number
}

const considered = (slot: Slot) => slot.enabled && !slot.paused && !slot.done

/** Whatever the bookkeeping after a run ends in, the run's fiber succeeds. */
const settled = (effect: Effect.Effect<void>): Effect.Effect<void> =>
  effect === Effect.void ? effect : Effect.catchAllCause(effect, () => Effect.void)

// --- the runner ----------------------------------------------------------------------------

/** @internal */
export const make = <E, R>(
  tasks: Iterable<PeriodicTask.PeriodicTask<E, R>>,
  options: PeriodicRunner.Options = {},
): Effect.Effect<PeriodicRunner.PeriodicRunner<E>, InvalidPeriodicTask, R | Scope.Scope> =>
  Effect.gen(function* () {
    const resolved = yield* resolveAll(tasks)
    const mode = options.mode ?? "concurrent"
    if (mode !== "concurrent" && mode !== "sequential") {
      return yield* new InvalidPeriodicTask({
        task: "(runner)",
        field: "mode",
        value: JSON.stringify(mode),
        reason: `must be "concurrent" or "sequential"`,
      })
    }
    const initialDelay = yield* optionMillis("initialDelay", options.initialDelay, 0)
    const maxSleep = yield* optionMillis("maxSleep", options.maxSleep, IDLE_CAP_MILLIS)
    const shutdownTimeout = yield* optionMillis("shutdownTimeout", options.shutdownTimeout, 60_000)
    const maxBatch = yield* countOption("maxBatch", options.maxBatch, 1024)
    const outcomeBuffer = yield* countOption("outcomeBuffer", options.outcomeBuffer, 16_384)
    const resume = yield* resumeInstants(options.resume)

    const runtime = yield* Effect.runtime<R>()
    const runFork = Runtime.runFork(runtime)
    // Concurrent runs are children of a batch fiber per pass (see `StartNowScheduler`), which
    // they take their flags from. A run's fiber starts uninterruptible and only the run itself is
    // made interruptible (when the runtime's fibers are): one change of flags per run where a
    // mask makes two. Unless asked to, run fibers stay out of Effect's built-in fiber metrics
    // (`effect_fiber_*`): five metric updates and a clock read per run, for counts that `status`
    // keeps per task.
    const runForkBatch = Runtime.runFork(
      Runtime.disableRuntimeFlag(
        options.fiberMetrics === true
          ? runtime
          : Runtime.disableRuntimeFlag(runtime, RuntimeFlags.RuntimeMetrics),
        RuntimeFlags.Interruption,
      ),
    )
    const starter = new StartNowScheduler(
      FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentScheduler),
    )
    const runsInterruptible = RuntimeFlags.interruption(runtime.runtimeFlags)
    const clock: Clock.Clock = yield* Effect.clock
    const random: Random.Random = yield* Effect.random
    // Due instants are steady ones (see `SteadyClock`), so that a step of the wall clock neither
    // stops the tasks nor makes them all due at once. The instants users see or give (outcomes,
    // status, `resume`) and a `Schedule`'s own rules (cron) are on the wall clock: `wallOffset`
    // converts.
    const steady = new SteadyClock(clock)
    const now = () => steady.now()
    const wallOffset = () => steady.wallOffset()
    const outcomes = yield* PubSub.sliding<PeriodicRunner.TaskOutcome>(outcomeBuffer)
    let subscribers = 0
    const heap = new DueHeap<Slot>(resolved.length)
    /** What a sequential pass reads of every task, kept in step with the slots by `track`. */
    const table = new PassTable(mode === "sequential" ? resolved.length : 0)
    const track = (slot: Slot) =>
      table.set(slot.index, considered(slot), slot.running, slot.period, slot.nextDue)
    const anchor = now()

    let state: PeriodicRunner.RunnerState = "idle"
    let stopping = false
    let failure: PeriodicTaskFailed<E> | undefined
    let wakeups = 0
    let passes = 0
    /** Sequential mode: who runs the pass in progress, if one is (the driver, or a `tick`). */
    let passBy: "driver" | "tick" | undefined
    let plannedWakeAt = Number.POSITIVE_INFINITY
    let wakeSignal: Deferred.Deferred<void> | undefined
    const done = yield* Deferred.make<void, PeriodicTaskFailed<E>>()

    const wake = () => {
      if (wakeSignal !== undefined) {
        Deferred.unsafeDone(wakeSignal, Exit.void)
        wakeSignal = undefined
      }
    }

    // -- recording outcomes (runs in the task's own fiber, or inline in sequential mode)

    const publish = (slot: Slot, outcome: PeriodicRunner.TaskOutcome): Effect.Effect<void> => {
      slot.lastOutcome = outcome
      slot.notedSuccess = false
      return subscribers > 0 ? PubSub.publish(outcomes, outcome) : Effect.void
    }

    const recordSkip = (slot: Slot, scheduledAt: number, at: number) => {
      slot.skipped++
      const offset = wallOffset()
      return publish(
        slot,
        Skipped({
          task: slot.name,
          scheduledAt: scheduledAt + offset,
          startedAt: at + offset,
          durationMillis: 0,
          latenessMillis: at - scheduledAt,
        }),
      )
    }

    /** A run has ended and its task is free again; returns the instant. */
    const ended = (slot: Slot): number => {
      const end = now()
      slot.running = false
      slot.fiber = undefined
      if (mode === "sequential") track(slot)
      return end
    }

    /** A run succeeded. With nobody subscribed that is only noted, and costs no allocation. */
    const recordSuccess = (slot: Slot, value: unknown): Effect.Effect<void> => {
      if (subscribers > 0 || slot.detached) return record(slot, Exit.succeed(value))
      const end = ended(slot)
      slot.succeeded++
      slot.notedSuccess = true
      const offset = wallOffset()
      slot.notedScheduledAt = slot.scheduledAt + offset
      slot.notedStartedAt = slot.startedAt + offset
      slot.notedEndedAt = end + offset
      return afterRun(slot, end, value) ?? Effect.void
    }

    const record = (slot: Slot, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
      if (slot.detached) return Effect.void
      const end = ended(slot)
      const offset = wallOffset()
      const occurrence = {
        task: slot.name,
        scheduledAt: slot.scheduledAt + offset,
        startedAt: slot.startedAt + offset,
        durationMillis: end - slot.startedAt,
        latenessMillis: slot.startedAt - slot.scheduledAt,
      }
      let outcome: PeriodicRunner.TaskOutcome
      let report: Effect.Effect<void> | undefined
      if (Exit.isSuccess(exit)) {
        slot.succeeded++
        outcome = Succeeded(occurrence)
      } else if (Cause.isInterruptedOnly(exit.cause)) {
        slot.interrupted++
        outcome = Interrupted(occurrence)
      } else {
        const cause = exit.cause as Cause.Cause<E | TaskTimedOut>
        const timeout = Cause.failureOption(cause).pipe(
          Option.filter((error): error is TaskTimedOut => error instanceof TaskTimedOut),
        )
        if (Option.isSome(timeout)) {
          slot.timedOut++
          outcome = TimedOut({
            ...occurrence,
            timeoutMillis: timeout.value.timeoutMillis,
          })
        } else {
          slot.failed++
          outcome = Failed({ ...occurrence, cause })
        }
        if (slot.onError === "fail") {
          if (failure === undefined) failure = new PeriodicTaskFailed({ task: slot.name, cause })
          wake()
        } else {
          report = Effect.logError(
            Option.isSome(timeout)
              ? timeout.value.message
              : `Error during periodic task ${slot.name}`,
            cause,
          ).pipe(Effect.annotateLogs("periodicTask", slot.name))
        }
      }
      const published = publish(slot, outcome)
      const next = afterRun(slot, end, Exit.isSuccess(exit) ? exit.value : undefined)
      const finished = next === undefined ? published : Effect.zipRight(published, next)
      return report === undefined ? finished : Effect.zipRight(report, finished)
    }

    /** A "fail"-policy failure is raised once, by whoever runs the pass or the driver. */
    const takeFailure = (): PeriodicTaskFailed<E> | undefined => {
      const taken = failure
      failure = undefined
      return taken
    }

    /**
     * Spaced and schedule-timed tasks learn their next due instant when a run ends. Returns
     * `undefined` when that was done synchronously (the common case, kept allocation-free).
     */
    const afterRun = (
      slot: Slot,
      end: number,
      output: unknown,
    ): Effect.Effect<void> | undefined => {
      switch (slot.kind) {
        case "Fixed":
          return undefined
        case "Spaced":
          if (!slot.jitter) {
            slot.nextDue = Math.max(end + slot.period, slot.startedAt + MIN_STEP_MILLIS)
            reschedule(slot)
            return undefined
          }
          return Effect.map(random.next, (r) => {
            slot.nextDue = Math.max(
              end + slot.period + jitterMillis(slot.period, r),
              slot.startedAt + MIN_STEP_MILLIS,
            )
            reschedule(slot)
          })
        case "Schedule":
          return Effect.map(stepSchedule(slot, end, output), () => {
            slot.nextDue = Math.max(slot.nextDue, slot.startedAt + MIN_STEP_MILLIS)
            reschedule(slot)
          })
      }
    }

    /** A schedule steps on the wall clock (a cron rule is a wall-clock rule). */
    const stepSchedule = (slot: Slot, at: number, input: unknown): Effect.Effect<void> => {
      // Every steady instant of a cron task is on the offset followed so far.
      followWallSteps()
      const offset = followedWallOffset
      return Effect.map(
        // A step that throws is a defect of this effect, not of whoever built it.
        Effect.suspend(() => slot.schedule!.step(at + offset, input, slot.scheduleState)),
        ([state, _, decision]) => {
          slot.scheduleState = state
          if (ScheduleDecision.isDone(decision)) {
            slot.done = true
            slot.nextDue = Number.POSITIVE_INFINITY
          } else {
            slot.nextDue = Intervals.start(decision.intervals) - offset
          }
        },
      )
    }

    /**
     * A cron task's instants follow a wall-clock rule: when a step of the wall clock was taken out
     * of the steady time base, their steady instants move by the same amount. Checked at every
     * wake-up, and before any such instant is computed or shown, so such a task is at most a
     * driver sleep (`maxSleep`) late after a step. Other schedules (`PeriodicTask.make`) measure
     * delays, and keep theirs.
     */
    let followedWallOffset = wallOffset()
    const followWallSteps = (): void => {
      now()
      const offset = wallOffset()
      if (offset === followedWallOffset) return
      const moved = followedWallOffset - offset
      followedWallOffset = offset
      for (const slot of slots) {
        if (!slot.followsWall || slot.done || !Number.isFinite(slot.nextDue)) continue
        slot.nextDue += moved
        reschedule(slot)
      }
    }

    const reschedule = (slot: Slot) => {
      if (mode === "sequential") return track(slot)
      if (slot.running) return
      if (!considered(slot)) return heap.remove(slot)
      heap.update(slot)
      if (slot.nextDue < plannedWakeAt) wake()
    }

    // -- starting a run

    /**
     * Marks an occurrence as started. A fixed task's `lastRun` snaps to its grid here, before the
     * run (oslo P19): missed slots are skipped and the phase is kept. Returns an effect only when
     * a jitter draw is needed.
     */
    const begin = (slot: Slot, at: number): Effect.Effect<void> | undefined => {
      slot.scheduledAt = slot.nextDue
      slot.startedAt = at
      slot.running = true
      if (slot.kind !== "Fixed") {
        slot.nextDue = Number.POSITIVE_INFINITY
        if (mode === "concurrent") heap.remove(slot)
        else track(slot)
        return undefined
      }
      const last = slot.lastRun
      if (Number.isNaN(last) || !slot.jitter) {
        slot.lastRun = Number.isNaN(last) ? at : floorToGrid(at, last, slot.period)
        slot.nextDue = slot.lastRun + slot.period
        if (mode === "concurrent") heap.update(slot)
        else track(slot)
        return undefined
      }
      if (mode === "sequential") track(slot)
      return Effect.map(random.next, (r) => {
        slot.lastRun = floorToGrid(at, last, slot.period) + jitterMillis(slot.period, r)
        slot.nextDue = slot.lastRun + slot.period
        if (mode === "concurrent") heap.update(slot)
        else track(slot)
      })
    }

    /** A fixed task found still running at its next slot: that slot is skipped (and recorded). */
    const skipOverlap = (slot: Slot, at: number): Effect.Effect<void> => {
      const scheduledAt = slot.nextDue
      const last = slot.lastRun
      slot.lastRun = floorToGrid(at, last, slot.period)
      slot.nextDue = slot.lastRun + slot.period
      heap.update(slot)
      return recordSkip(slot, scheduledAt, at)
    }

    // -- concurrent mode: start every due task in its own fiber

    /**
     * Starts the due tasks, at most `limit` of them, and succeeds with how many it took once it
     * has. The runs are children of one batch fiber (see `StartNowScheduler`) that ends when they
     * all have; it is pushed to `collect` when given (for `tick`).
     *
     * The batch fiber does what the driver's loop did with root fibers: for each due task in turn
     * it begins the occurrence (or records a skipped one) and forks the run, which starts at once,
     * so a synchronous run has ended and been recorded before the next task is looked at, and a
     * `"fail"`-policy failure or a shutdown stops the loop there. It is uninterruptible (its runs
     * start so too) and does not yield until the loop is over, so no task is left begun without
     * a run; only the fibers of runs still going are kept.
     */
    const dispatch = (
      limit: number,
      collect: Array<Fiber.RuntimeFiber<void, never>> | undefined,
    ): Effect.Effect<number> =>
      Effect.suspend(() => {
        if (!isDue(now())) return Effect.succeed(0)
        const taken: Taken = { exit: undefined, signal: Deferred.unsafeMake<number>(FiberId.none) }
        const batch = runForkBatch(takeDue(limit, taken), { scheduler: starter })
        if (collect !== undefined) collect.push(batch)
        // The batch has almost always taken its tasks by now: then the driver goes on at once.
        return taken.exit ?? Deferred.await(taken.signal)
      })

    /** How a batch's loop ended (with how many due tasks it took), once it has; also signalled. */
    interface Taken {
      exit: Exit.Exit<number> | undefined
      readonly signal: Deferred.Deferred<number>
    }

    const isDue = (at: number): boolean => {
      if (stopping || failure !== undefined) return false
      const top = heap.peek()
      return top !== undefined && top.nextDue <= at
    }

    /**
     * Concurrent mode: the driver's wake-ups (and ticks) so far. A task comes up at most once per
     * wake-up, however many batches it takes: one due again at once (a zero-delay schedule, a run
     * that triggers itself) waits for the next, which is at least `MIN_STEP_MILLIS` later.
     */
    let wave = 0

    /** An occurrence begun but never started (its batch died, or stopped before the fork) is undone. */
    const abandon = (slot: Slot): void => {
      slot.running = false
      if (!Number.isFinite(slot.nextDue)) slot.nextDue = slot.scheduledAt
      reschedule(slot)
    }

    const takeDue = (limit: number, taken: Taken): Effect.Effect<void> =>
      Effect.withFiberRuntime((batchFiber) => {
        const held = starter.hold(batchFiber)
        const batch = wave
        let started = 0
        let slot: Slot = undefined!
        let at = 0
        /** The task begun whose run has not been forked yet. */
        let unstarted: Slot | undefined
        let going: Array<Fiber.RuntimeFiber<void, never>> | undefined
        /** After a jitter draw: a stop may have come meanwhile; else arm just before the fork. */
        const armThenStart = Effect.suspend(() => {
          if (stopping || failure !== undefined) {
            abandon(slot)
            unstarted = undefined
            return Effect.void
          }
          starter.arm()
          return slot.start
        })
        const loop = Effect.whileLoop({
          while: () => {
            at = now()
            let top: Slot
            for (;;) {
              if (started >= limit || !isDue(at)) return false
              top = heap.peek()!
              if (top.batch !== batch) break
              // A task comes up once per wake-up (see `wave`): one due again waits a step.
              top.nextDue = at + MIN_STEP_MILLIS
              heap.update(top)
            }
            top.batch = batch
            started++
            slot = top
            return true
          },
          body: (): Effect.Effect<Fiber.RuntimeFiber<void, never> | void> => {
            if (slot.running) return Effect.asVoid(skipOverlap(slot, at))
            const drawn = begin(slot, at)
            unstarted = slot
            if (drawn !== undefined) return Effect.zipRight(drawn, armThenStart)
            starter.arm()
            return slot.start
          },
          step: (fiber) => {
            starter.disarm()
            unstarted = undefined
            if (fiber === undefined || fiber.unsafePoll() !== null) return
            slot.fiber = fiber
            ;(going ??= []).push(fiber)
          },
        })
        return Effect.flatMap(Effect.exit(loop), (exit) => {
          starter.release(batchFiber, held)
          if (unstarted !== undefined) abandon(unstarted)
          // The driver learns how it ended, and fails with a defect of the loop's.
          taken.exit = Exit.as(exit, started)
          Deferred.unsafeDone(taken.signal, taken.exit)
          return going === undefined ? Effect.void : Fiber.awaitAll(going)
        })
      })

    const untilNextDue = (): number => {
      const top = heap.peek()
      return top === undefined
        ? IDLE_CAP_MILLIS
        : Math.max(0, Math.min(IDLE_CAP_MILLIS, top.nextDue - now()))
    }

    // -- sequential mode: oslo's `run_periodic_tasks`, one pass in definition order

    const passLock = yield* Effect.makeSemaphore(1)

    // A pass runs each task inline without a mask around it (its two changes of flags were most of
    // what a run cost): the run keeps the interruptibility of the pass's fiber by itself, and what
    // an interruption leaves undone, the pass's exit, which cannot be interrupted, does.
    /** The task whose run is in progress in the current pass. */
    let inlineRun: Slot | undefined
    /** The bookkeeping of the latest inline run, while it is not done. */
    let leftToRecord: Effect.Effect<void> | undefined

    const recordLeft = Effect.uninterruptible(Effect.suspend(() => {
      const left = leftToRecord ?? Effect.void
      leftToRecord = undefined
      return left
    }))

    /** Ends an inline run (`Slot.body`) with what `record` or `recordSuccess` left to do. */
    const finishInline = (bookkeeping: Effect.Effect<void>): Effect.Effect<void> => {
      inlineRun = undefined
      if (bookkeeping === Effect.void) return bookkeeping
      leftToRecord = settled(bookkeeping)
      return recordLeft
    }

    /** Records the run an interruption cut short (with the pass's exit), or what it left to do. */
    const finishPass = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = inlineRun
        inlineRun = undefined
        return slot === undefined ? recordLeft : settled(record(slot, exit))
      })

    // Passes are one at a time (`passLock`), so the pass in progress lives here, and a pass is one
    // `whileLoop` over it: a run allocates no step of its own.
    const pass: Pass = { index: 0, idle: IDLE_CAP_MILLIS }
    /** The task the pass is running, and the jitter draw that starts it, if any. */
    let passSlot: Slot | undefined
    let passBegun: Effect.Effect<void> | undefined

    /** Finds the pass's next due task and starts its occurrence; false when the pass is over. */
    const passFindsDue = (): boolean => {
      // oslo P21 with raise_on_error: after a "fail"-policy failure the rest is not examined.
      if (stopping || failure !== undefined) return false
      const at = now()
      table.seek(pass, at)
      if (pass.index >= slots.length) return false
      const slot = slots[pass.index++]!
      passSlot = slot
      passBegun = begin(slot, at)
      inlineRun = slot
      return true
    }

    const passRun = (): Effect.Effect<void> =>
      passBegun === undefined ? passSlot!.body : Effect.zipRight(passBegun, passSlot!.body)

    /** A schedule-timed task learns its next instant when its run ends: that lowers the idle time. */
    const passRan = (): void => {
      const slot = passSlot!
      if (slot.kind === "Schedule" && !slot.done) {
        pass.idle = Math.min(pass.idle, Math.max(0, slot.nextDue - now()))
      }
    }

    const passEnd: Effect.Effect<number, PeriodicTaskFailed<E>> = Effect.suspend(() => {
      passSlot = undefined
      const raised = takeFailure()
      return raised === undefined ? Effect.succeed(pass.idle) : Effect.fail(raised)
    })

    const passTasks = Effect.zipRight(
      Effect.whileLoop({ while: passFindsDue, body: passRun, step: passRan }),
      passEnd,
    )

    const sequentialPassBy = (
      by: "driver" | "tick",
    ): Effect.Effect<number, PeriodicTaskFailed<E>> =>
      passLock.withPermits(1)(
        Effect.suspend(() => {
          passes++
          followWallSteps()
          passBy = by
          pass.index = 0
          pass.idle = IDLE_CAP_MILLIS
          return passTasks
        }).pipe(
          Effect.onExit((exit) => finishPass(exit)),
          Effect.ensuring(Effect.sync(() => {
            passBy = undefined
            passSlot = undefined
          })),
        ),
      )
    const sequentialPass = sequentialPassBy("driver")

    // -- tick: one pass now

    const tickPass: Effect.Effect<Duration.Duration, PeriodicTaskFailed<E>> = mode === "sequential"
      ? Effect.map(sequentialPassBy("tick"), Duration.millis)
      : Effect.gen(function* () {
        passes++
        wave++
        followWallSteps()
        const started: Array<Fiber.RuntimeFiber<void, never>> = []
        yield* dispatch(Number.POSITIVE_INFINITY, started)
        // A batch whose runs all ended while they were started (the common case) needs no waiting for.
        for (const fiber of started) if (fiber.unsafePoll() === null) yield* Fiber.await(fiber)
        const raised = takeFailure()
        if (raised !== undefined) return yield* Effect.fail(raised)
        return Duration.millis(untilNextDue())
      })
    // A tick runs in the caller's fiber; sequential runs happen there and need the tasks' context.
    // Once the runner stops, a tick runs nothing (and never waits for a pass a stop left behind).
    const tick = Effect.suspend(() =>
      stopping
        ? Effect.succeed(Duration.millis(IDLE_CAP_MILLIS))
        : Effect.provide(tickPass, runtime.context)
    )

    // -- the driver fiber

    const sleep = (asked: number): Effect.Effect<void> => {
      // After a sequential pass that a shutdown let finish: stop now, not after the idle time.
      if (stopping) return Effect.void
      const millis = Math.max(asked, MIN_STEP_MILLIS)
      // A sleep no longer than a timer's resolution is the clock's own, in the driver fiber: a
      // wake-up signal could only bring it forward by less than that, and its second fiber is
      // most of what a wake-up costs where wake-ups are many.
      if (millis <= UNSIGNALLED_SLEEP_MILLIS) return clock.sleep(Duration.millis(millis))
      plannedWakeAt = now() + millis
      const signal = Deferred.unsafeMake<void>(FiberId.none)
      wakeSignal = signal
      // The clock's sleep runs in a fiber of its own that completes the signal, unless `wake`
      // does first. The driver sleeps once per due instant, and racing the two (`raceFirst`) cost
      // more than the runs it woke up for. The fiber starts on the scheduler, as a forked racer
      // did, so that sleeps ending at the same instant still end in the same order.
      const timer = runFork(
        Effect.zipRight(
          clock.sleep(Duration.millis(millis)),
          Effect.sync(() => Deferred.unsafeDone(signal, Exit.void)),
        ),
        { immediate: false },
      )
      return Deferred.await(signal).pipe(
        Effect.ensuring(Effect.sync(() => {
          plannedWakeAt = Number.POSITIVE_INFINITY
          if (wakeSignal === signal) wakeSignal = undefined
          if (timer.unsafePoll() === null) timer.unsafeInterruptAsFork(FiberId.none)
        })),
      )
    }

    const concurrentLoop: Effect.Effect<void, PeriodicTaskFailed<E>> = Effect.suspend(() => {
      const loop = (woken: boolean): Effect.Effect<void, PeriodicTaskFailed<E>> => {
        if (stopping) return Effect.void
        wakeups++
        passes++
        if (woken) {
          wave++
          followWallSteps()
        }
        return Effect.flatMap(dispatch(maxBatch, undefined), (started) => {
          const raised = takeFailure()
          if (raised !== undefined) return Effect.fail(raised)
          // A full batch: let the event loop breathe, then go on with what is still due.
          if (started >= maxBatch) return Effect.flatMap(Effect.yieldNow(), () => loop(false))
          return Effect.flatMap(sleep(Math.min(untilNextDue(), maxSleep)), () => loop(true))
        })
      }
      return loop(true)
    })

    const sequentialLoop: Effect.Effect<void, PeriodicTaskFailed<E>> = Effect.suspend(() => {
      const loop = (): Effect.Effect<void, PeriodicTaskFailed<E>> => {
        if (stopping) return Effect.void
        wakeups++
        return Effect.flatMap(
          sequentialPass,
          (idle) => Effect.flatMap(sleep(Math.min(idle, maxSleep)), loop),
        )
      }
      return loop()
    })

    const loop = mode === "sequential" ? sequentialLoop : concurrentLoop
    const driver = (initialDelay > 0 ? Effect.zipRight(sleepLong(clock, initialDelay), loop) : loop)
      .pipe(
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return Effect.void
            // A "fail"-policy task failed: the runner stops, and so do the other runs.
            state = "failed"
            stopping = true
            return Effect.all([
              Effect.logError("Periodic runner stopped", exit.cause),
              Effect.zipRight(
                interruptWithinGrace(
                  slots.flatMap((slot) => (slot.fiber === undefined ? [] : [slot.fiber])),
                ),
                detachRunaways,
              ),
            ], { discard: true }).pipe(Effect.ensuring(Deferred.failCause(done, exit.cause)))
          })
        ),
      )

    // -- slots

    const slots: Array<Slot> = resolved.map((resolvedTask, index) => makeSlot(resolvedTask, index))

    function makeSlot(resolvedTask: ResolvedTask<E, R>, index: number): Slot {
      const { task, timing, timeout, offset } = resolvedTask
      const start = anchor + offset
      const kind: Kind = timing._tag
      const period = timing._tag === "Schedule" ? Number.POSITIVE_INFINITY : timing.every
      const slot: Slot = {
        index,
        name: task.name,
        kind,
        period,
        jitter: task.jitter && kind !== "Schedule",
        onError: task.onError,
        enabled: task.enabled,
        schedule: timing._tag === "Schedule" ? timing.schedule : undefined,
        followsWall: timing._tag === "Schedule" && timing.wallClock,
        limited: timeout !== undefined,
        paused: false,
        done: false,
        running: false,
        // oslo P3: the initial last_run of a task that does not run immediately is the instant the
        // task set is defined, here the runner's creation (plus the task's offset).
        lastRun: task.runImmediately || kind !== "Fixed" ? Number.NaN : start,
        scheduleState: timing._tag === "Schedule" ? timing.schedule.initial : undefined,
        nextDue: task.runImmediately || kind === "Schedule" ? start : start + period,
        scheduledAt: 0,
        startedAt: 0,
        fiber: undefined,
        body: Effect.void,
        start: undefined!,
        batch: 0,
        lastOutcome: undefined,
        detached: false,
        notedSuccess: false,
        notedScheduledAt: 0,
        notedStartedAt: 0,
        notedEndedAt: 0,
        succeeded: 0,
        failed: 0,
        timedOut: 0,
        skipped: 0,
        interrupted: 0,
      }
      const resumed = resume.get(task.name)
      if (resumed !== undefined) {
        slot.nextDue = resumed - wallOffset()
        if (kind === "Fixed") slot.lastRun = slot.nextDue - period
      }
      const run: Effect.Effect<unknown, E | TaskTimedOut, R> = timeout === undefined
        ? task.run
        : withLimit(task.run, {
          millis: timeout,
          onTimeout: () => new TaskTimedOut({ task: task.name, timeoutMillis: timeout }),
          runaway: `Periodic task ${
            JSON.stringify(task.name)
          } ignored its interruption after it timed out; it goes on, detached`,
          // Interrupted by a stop: this warning is the one `detachRunaways` leaves to it.
          runawayWhenInterrupted: `Periodic task ${
            JSON.stringify(task.name)
          } ignored its interruption at shutdown; it goes on, detached`,
          annotations: { periodicTask: task.name },
        })
      // The context R is supplied by the runtime the run is forked with, or by `tick`. The
      // bookkeeping cannot be interrupted; the run keeps the interruptibility of its caller.
      slot.body = (mode === "sequential"
        ? Effect.matchCauseEffect(run, {
          onFailure: (cause) => finishInline(record(slot, Exit.failCause(cause))),
          onSuccess: (value) => finishInline(recordSuccess(slot, value)),
        })
        : Effect.matchCauseEffect(runsInterruptible ? Effect.interruptible(run) : run, {
          onFailure: (cause) => settled(record(slot, Exit.failCause(cause))),
          onSuccess: (value) => settled(recordSuccess(slot, value)),
        })) as Effect.Effect<void>
      slot.start = Effect.fork(slot.body)
      return slot
    }

    // Schedule-timed tasks that do not run immediately take their first due instant from their
    // schedule, stepped at the start instant. A schedule that dies here is a bad schedule.
    for (const slot of slots) {
      if (slot.kind !== "Schedule" || resolved[slot.index]!.task.runImmediately) continue
      if (resume.has(slot.name)) continue
      const stepped = yield* Effect.exit(stepSchedule(slot, slot.nextDue, undefined))
      if (Exit.isFailure(stepped)) {
        return yield* new InvalidPeriodicTask({
          task: slot.name,
          field: "schedule",
          value: "(schedule)",
          reason: `fails on its first step (${Cause.pretty(stepped.cause)})`,
        })
      }
    }

    for (const slot of slots) {
      if (!slot.enabled) {
        // oslo P6/P7: logged once, when the task set is registered.
        yield* Effect.logInfo(
          `Skipping periodic task ${slot.name} because ${
            resolved[slot.index]!.task.disabledReason
          }`,
        )
      } else if (mode === "concurrent" && !slot.done) {
        heap.update(slot)
      }
      if (mode === "sequential") track(slot)
    }

    // -- control

    const byName = new Map(slots.map((slot) => [slot.name, slot] as const))
    const lookup = (name: string): Effect.Effect<Slot, NoSuchTask> => {
      const slot = byName.get(name)
      return slot === undefined
        ? Effect.fail(new NoSuchTask({ task: name, known: slots.map((s) => s.name) }))
        : Effect.succeed(slot)
    }
    const select = (name: string | undefined): Effect.Effect<ReadonlyArray<Slot>, NoSuchTask> =>
      name === undefined ? Effect.succeed(slots) : Effect.map(lookup(name), (slot) => [slot])

    const setPaused = (name: string | undefined, paused: boolean) =>
      Effect.map(select(name), (selected) => {
        for (const slot of selected) {
          slot.paused = paused
          // A running spaced or schedule-timed task is out of the heap until its run ends (and
          // `afterRun` checks `paused`); a running fixed task keeps its next slot there.
          if (mode === "sequential") track(slot)
          else if (!slot.running || slot.kind === "Fixed") {
            if (considered(slot)) heap.update(slot)
            else heap.remove(slot)
          }
        }
        if (!paused) wake()
      })

    const trigger = (name: string): Effect.Effect<void, NoSuchTask | CannotTrigger> =>
      Effect.flatMap(lookup(name), (slot) =>
        Effect.suspend(() => {
          const refused = !slot.enabled
            ? "it is disabled"
            : slot.done
            ? "its schedule is over"
            : stopping
            ? "the runner has stopped"
            : undefined
          if (refused !== undefined) {
            return Effect.fail(new CannotTrigger({ task: slot.name, reason: refused }))
          }
          followWallSteps()
          const at = now()
          if (slot.running && slot.kind !== "Fixed") return recordSkip(slot, at, at)
          slot.nextDue = at
          if (mode === "sequential") track(slot)
          else if (considered(slot)) heap.update(slot)
          wake()
          return Effect.void
        }))

    const lastOutcome = (slot: Slot): PeriodicRunner.TaskOutcome | undefined => {
      if (slot.notedSuccess) {
        slot.notedSuccess = false
        slot.lastOutcome = Succeeded({
          task: slot.name,
          scheduledAt: slot.notedScheduledAt,
          startedAt: slot.notedStartedAt,
          durationMillis: slot.notedEndedAt - slot.notedStartedAt,
          latenessMillis: slot.notedStartedAt - slot.notedScheduledAt,
        })
      }
      return slot.lastOutcome
    }

    const taskStatus = (slot: Slot): PeriodicRunner.TaskStatus => ({
      name: slot.name,
      state: !slot.enabled
        ? "disabled"
        : slot.running
        ? "running"
        : slot.done
        ? "done"
        : slot.paused
        ? "paused"
        : "scheduled",
      nextRunAt: slot.enabled && !slot.done && Number.isFinite(slot.nextDue)
        ? Option.some(slot.nextDue + wallOffset())
        : Option.none(),
      lastOutcome: Option.fromNullable(lastOutcome(slot)),
      succeeded: slot.succeeded,
      failed: slot.failed,
      timedOut: slot.timedOut,
      skipped: slot.skipped,
      interrupted: slot.interrupted,
    })

    const status = Effect.sync((): PeriodicRunner.RunnerStatus => {
      // A fresh reading, so that a step of the wall clock since the last one shows.
      followWallSteps()
      return { mode, state, wakeups, passes, tasks: slots.map(taskStatus) }
    })

    // -- start and stop

    let driverFiber: Fiber.RuntimeFiber<void, PeriodicTaskFailed<E>> | undefined
    if (options.start !== false) {
      state = "running"
      driverFiber = runFork(driver)
    }

    /**
     * Runs still going after their interruption and its grace ignore it: each gets its one
     * outcome now (`Interrupted`), and what it records when it ends at last is dropped.
     */
    const detachRunaways = Effect.suspend(() => {
      // Taken and marked in one step: a run that ends meanwhile cannot record a second outcome.
      // Only runs the runner interrupted count: a tick's run belongs to its caller.
      const runaways = passBy === "tick" ? [] : slots.filter((slot) => slot.running)
      const recorded = runaways.map((slot) => {
        const outcome = settled(record(slot, Exit.interrupt(FiberId.none)))
        slot.detached = true
        // A run with a time limit warns of its own runaway work, once its grace is over.
        if (slot.limited) return outcome
        return Effect.zipRight(
          outcome,
          Effect.logWarning(
            `Periodic task ${
              JSON.stringify(slot.name)
            } ignored its interruption at shutdown; it goes on, detached`,
          ).pipe(Effect.annotateLogs("periodicTask", slot.name)),
        )
      })
      return Effect.all(recorded, { discard: true })
    })

    const shutdownMillis = (
      timeout: Duration.DurationInput | undefined,
    ): Either.Either<number, InvalidPeriodicTask> =>
      timeout === undefined ? Either.right(shutdownTimeout) : Either.mapLeft(
        decodeMillis(timeout, "≥ 0"),
        (reason) =>
          new InvalidPeriodicTask({
            task: "(runner)",
            field: "shutdown timeout",
            value: show(timeout),
            reason,
          }),
      )

    const shutdown = (timeout?: Duration.DurationInput): Effect.Effect<void, InvalidPeriodicTask> =>
      Effect.suspend(() => {
        const limit = shutdownMillis(timeout)
        if (Either.isLeft(limit)) return Effect.fail(limit.left)
        if (stopping) return Deferred.await(done).pipe(Effect.ignore)
        stopping = true
        if (state === "running") state = "stopping"
        const deadline = now() + limit.right
        const remaining = () => Duration.millis(Math.max(0, deadline - now()))
        const running = () =>
          slots.flatMap((slot) => (slot.fiber === undefined ? [] : [slot.fiber]))
        // Scope finalizers run uninterruptibly; the wait itself must stay interruptible, or the
        // deadline could not cut it short.
        const waitAtMostRemaining = (wait: Effect.Effect<unknown>) =>
          Effect.interruptible(wait).pipe(Effect.timeout(remaining()), Effect.ignore)
        // Once begun, the stop goes to its end in a fiber of its own (each wait bounds itself):
        // a caller that gives up on it must not leave the runner stopping, `done` never completed.
        const stop = Effect.gen(function* () {
          // A sequential pass in progress (the driver's or a tick's) may finish within the deadline:
          // it checks `stopping` before each task.
          if (passBy !== undefined) yield* waitAtMostRemaining(passLock.withPermits(1)(Effect.void))
          // Between passes the driver only sleeps: stop it now.
          if (driverFiber !== undefined) yield* interruptWithinGrace([driverFiber])
          yield* waitAtMostRemaining(Fiber.awaitAll(running()))
          yield* interruptWithinGrace(running())
          yield* detachRunaways
        }).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("Periodic runner: the stop failed", cause)
          ),
          // Whatever happened, the stop is over: `shutdown`, `join` and the scope go on.
          Effect.ensuring(Effect.suspend(() => {
            if (state !== "failed") state = "stopped"
            return Deferred.done(done, Exit.void)
          })),
        )
        runFork(stop)
        return Deferred.await(done).pipe(Effect.ignore)
      })

    yield* Effect.addFinalizer(() =>
      Effect.zipRight(Effect.orDie(shutdown()), PubSub.shutdown(outcomes))
    )

    const subscribe = Stream.unwrapScoped(
      Effect.gen(function* () {
        const subscription = yield* PubSub.subscribe(outcomes)
        subscribers++
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            subscribers--
          })
        )
        return Stream.fromQueue(subscription)
      }),
    )

    const runner: PeriodicRunner.PeriodicRunner<E> = {
      mode,
      tasks: slots.map((slot) => slot.name),
      tick,
      join: Deferred.await(done),
      outcomes: subscribe,
      status,
      pause: (name?: string) => setPaused(name, true),
      resume: (name?: string) => setPaused(name, false),
      trigger,
      // Without a timeout it cannot fail: the overloads say so.
      shutdown: shutdown as PeriodicRunner.PeriodicRunner<E>["shutdown"],
    }
    return runner
  })

/** @internal Checks every task and that names are unique. */
export const resolveAll = <E, R>(
  tasks: Iterable<PeriodicTask.PeriodicTask<E, R>>,
): Effect.Effect<Array<ResolvedTask<E, R>>, InvalidPeriodicTask> =>
  Effect.suspend(() => {
    const resolved: Array<ResolvedTask<E, R>> = []
    const seen = new Set<string>()
    for (const task of tasks) {
      const result = resolve(task)
      if (Either.isLeft(result)) return Effect.fail(result.left)
      if (seen.has(task.name)) {
        return Effect.fail(
          new InvalidPeriodicTask({
            task: task.name,
            field: "name",
            value: JSON.stringify(task.name),
            reason: "is used by another task of the same runner",
          }),
        )
      }
      seen.add(task.name)
      resolved.push(result.right)
    }
    return Effect.succeed(resolved)
  })

/**
 * `resume` as a map, whichever form it came in. Only a record's own entries count: a task named
 * `constructor` or `__proto__` is not found on `Object.prototype`.
 */
const resumeInstants = (
  input: PeriodicRunner.Options["resume"],
): Effect.Effect<ReadonlyMap<string, number>, InvalidPeriodicTask> =>
  Effect.suspend(() => {
    if (input === undefined) return Effect.succeed(new Map())
    if (typeof input !== "object" || input === null) {
      return Effect.fail(
        new InvalidPeriodicTask({
          task: "(runner)",
          field: "resume",
          value: show(input),
          reason: "must be a Map or a record of task names to instants",
        }),
      )
    }
    const entries: Array<readonly [string, unknown]> = isReadonlyMap(input)
      ? [...input]
      : Object.entries(input)
    for (const [task, at] of entries) {
      if (typeof at !== "number" || !Number.isFinite(at)) {
        return Effect.fail(
          new InvalidPeriodicTask({
            task: String(task),
            field: "resume",
            value: show(at),
            reason: "must be a finite instant (epoch milliseconds)",
          }),
        )
      }
    }
    return Effect.succeed(new Map(entries as Array<readonly [string, number]>))
  })

const isReadonlyMap = (u: object): u is ReadonlyMap<string, unknown> =>
  u instanceof Map ||
  (typeof (u as Partial<ReadonlyMap<string, unknown>>).get === "function" &&
    typeof (u as Partial<ReadonlyMap<string, unknown>>).entries === "function" &&
    Symbol.iterator in u)

const countOption = (
  field: string,
  input: number | undefined,
  fallback: number,
): Effect.Effect<number, InvalidPeriodicTask> =>
  input === undefined
    ? Effect.succeed(fallback)
    : isPositiveInteger(input)
    ? Effect.succeed(input)
    : Effect.fail(
      new InvalidPeriodicTask({
        task: "(runner)",
        field,
        value: show(input),
        reason: "must be a positive integer",
      }),
    )

const optionMillis = (
  field: string,
  input: Duration.DurationInput | undefined,
  fallback: number,
): Effect.Effect<number, InvalidPeriodicTask> =>
  input === undefined ? Effect.succeed(fallback) : Either.mapLeft(
    decodeMillis(input, "≥ 0"),
    (reason) => new InvalidPeriodicTask({ task: "(runner)", field, value: show(input), reason }),
  )

/** @internal */
export const run = <E, R>(
  tasks: Iterable<PeriodicTask.PeriodicTask<E, R>>,
  options?: PeriodicRunner.Options,
): Effect.Effect<void, InvalidPeriodicTask | PeriodicTaskFailed<E>, R> =>
  Effect.scoped(Effect.flatMap(make(tasks, options), (runner) => runner.join))
