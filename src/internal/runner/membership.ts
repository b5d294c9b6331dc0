/**
 * Which tasks a runner has: the tasks given at creation, and those added to or removed from it
 * while it runs, with the same guarantees (checked the same way, one outcome per occurrence).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type * as PeriodicTask from "../../PeriodicTask.ts"
import { interruptWithinGrace, withLimit } from "../bounded.ts"
import { InvalidPeriodicTask, resolve, type ResolvedTask } from "../periodicTask.ts"
import type { Engine, RunnerCore } from "./core.ts"
import { NoSuchTask, RunnerStopped, TaskTimedOut } from "./errors.ts"
import { instrumentRun, metersOf } from "./instrument.ts"
import { makeRunnerTask, type RunnerTask } from "./task.ts"

/** The tasks a user can name: every task not removed, by name. */
export type TaskNames<R> = Map<string, RunnerTask<R>>

/** @internal A task whose name another task of the same runner has. */
export const nameTaken = (name: string): InvalidPeriodicTask =>
  new InvalidPeriodicTask({
    task: name,
    field: "name",
    value: JSON.stringify(name),
    reason: "is used by another task of the same runner",
  })

/** The task's run, with its time limit if it has one. */
const limitedRun = <E, R>(
  { task, timeout }: ResolvedTask<E, R>,
): Effect.Effect<unknown, E | TaskTimedOut, R> =>
  timeout === undefined ? task.run : withLimit(task.run, {
    millis: timeout,
    onTimeout: () => new TaskTimedOut({ task: task.name, timeoutMillis: timeout }),
    runaway: `Periodic task ${
      JSON.stringify(task.name)
    } ignored its interruption after it timed out; it goes on, detached`,
    // Interrupted by a stop: this warning is the one a stop's detaching leaves to it.
    runawayWhenInterrupted: `Periodic task ${
      JSON.stringify(task.name)
    } ignored its interruption at shutdown; it goes on, detached`,
    annotations: { periodicTask: task.name },
  })

/**
 * Makes a task's record ready to run: its run built by the engine; a schedule-timed task that
 * does not run immediately (and was not resumed) takes its first instant from its schedule,
 * stepped at its start (a schedule that dies there is a bad schedule); a disabled task is logged
 * once (oslo P6/P7); then the engine's index knows it.
 */
export const enlist = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  resolved: ResolvedTask<E, R>,
  task: RunnerTask<R>,
  resumed: boolean,
): Effect.Effect<void, InvalidPeriodicTask> =>
  Effect.gen(function* () {
    task.meters = metersOf(core.telemetry, task.name)
    const run = limitedRun(resolved)
    engine.prepare(task, instrumentRun(core.telemetry, () => core.wallOffset(), task, run))
    if (task.kind === "Schedule" && !resolved.task.runImmediately && !resumed) {
      yield* Effect.catchAllCause(core.stepSchedule(task, task.nextDue, undefined), (cause) =>
        new InvalidPeriodicTask({
          task: task.name,
          field: "schedule",
          value: "(schedule)",
          reason: `fails on its first step (${Cause.pretty(cause)})`,
        }))
    }
    if (!task.enabled) {
      const reason = resolved.task.disabledReason
      yield* Effect.logInfo(`Skipping periodic task ${task.name} because ${reason}`).pipe(
        Effect.annotateLogs("periodicTask", task.name),
      )
    }
    core.index.place(task)
  })

/** @internal A task given to a running runner: checked, timed from now, and started as due. */
export const add = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  names: TaskNames<R>,
  task: PeriodicTask.PeriodicTask<E, R>,
): Effect.Effect<void, InvalidPeriodicTask | RunnerStopped> =>
  Effect.suspend((): Effect.Effect<void, InvalidPeriodicTask | RunnerStopped> => {
    const checked = resolve(task)
    if (Either.isLeft(checked)) return Effect.fail(checked.left)
    if (names.has(task.name)) return Effect.fail(nameTaken(task.name))
    if (core.lifecycle._tag !== "Open") return Effect.fail(new RunnerStopped({ task: task.name }))
    const index = core.takeSlot()
    const added = makeRunnerTask(checked.right, index, core.now(), undefined)
    core.tasks[index] = added
    return enlist(core, engine, checked.right, added, false).pipe(
      Effect.tapError(() =>
        Effect.sync(() => {
          // A schedule that died on its first step: the slot is free again.
          added.done = true
          core.index.place(added)
          added.removed = true
          core.freeSlot(added)
        })
      ),
      Effect.map(() => {
        names.set(added.name, added)
        core.alarm.wake()
      }),
    )
  })

/**
 * @internal A task taken out of a running runner: no occurrence of it starts from now on (a
 * waiting one is dropped). A run in progress goes on and records its outcome; the caller may
 * wait for it (`wait`; in sequential mode for its pass) or interrupt it (`interrupt`, concurrent
 * mode). A run that removes its own task is never waited for. Its slot is taken again by a task
 * added once its run has ended.
 */
export const remove = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  names: TaskNames<R>,
  name: string,
  options: PeriodicRunner.RemoveOptions | undefined,
): Effect.Effect<void, NoSuchTask> =>
  Effect.withFiberRuntime((caller) => {
    const task = names.get(name)
    if (task === undefined) {
      return Effect.fail(new NoSuchTask({ task: name, known: core.liveTasks().map((t) => t.name) }))
    }
    names.delete(name)
    task.done = true
    task.waiting = Number.NaN
    core.index.place(task)
    // From now on the indexes ignore the task: its slot is another's once its run has ended.
    task.removed = true
    core.freeSlot(task)
    if (!task.running || engine.isOwnRun(task, caller)) return Effect.void
    const fiber = task.fiber
    if (options?.interrupt === true && fiber !== undefined) {
      // A run that ignores its interruption past the grace is left to end by itself.
      return interruptWithinGrace([fiber])
    }
    if (options?.wait !== true) return Effect.void
    // Sequential mode: the run is inline in a pass, which ends soon after it.
    return fiber === undefined ? engine.passFinished : Effect.asVoid(Fiber.await(fiber))
  })
