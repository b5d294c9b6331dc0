/**
 * What a runner's user can do to its tasks while it runs: pause, resume, trigger, and look.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type { RunnerCore } from "./core.ts"
import { CannotTrigger, NoSuchTask } from "./errors.ts"
import { publicState } from "./lifecycle.ts"
import { recordSkip } from "./record.ts"
import type { TaskNames } from "./membership.ts"
import { type RunnerTask, taskStatus } from "./task.ts"

/** @internal */
export interface Control {
  readonly pause: (name?: string) => Effect.Effect<void, NoSuchTask>
  readonly resume: (name?: string) => Effect.Effect<void, NoSuchTask>
  readonly trigger: (name: string) => Effect.Effect<void, NoSuchTask | CannotTrigger>
  readonly status: Effect.Effect<PeriodicRunner.RunnerStatus>
}

/** @internal */
export const makeControl = <E, R>(core: RunnerCore<E, R>, names: TaskNames<R>): Control => {
  const lookup = (name: string): Effect.Effect<RunnerTask<R>, NoSuchTask> => {
    const task = names.get(name)
    return task === undefined
      ? Effect.fail(new NoSuchTask({ task: name, known: core.liveTasks().map((t) => t.name) }))
      : Effect.succeed(task)
  }
  const select = (name: string | undefined) =>
    name === undefined
      ? Effect.sync(() => core.liveTasks())
      : Effect.map(lookup(name), (task) => [task])

  const setPaused = (name: string | undefined, paused: boolean) =>
    Effect.map(select(name), (selected) => {
      for (const task of selected) core.setPaused(task, paused)
      if (!paused) core.alarm.wake()
    })

  const trigger = (name: string) =>
    Effect.flatMap(lookup(name), (task) =>
      Effect.suspend(() => {
        const refused = cannotTrigger(core, task)
        if (refused !== undefined) {
          return Effect.fail(new CannotTrigger({ task: task.name, reason: refused }))
        }
        core.followWallSteps()
        const at = core.now()
        if (task.running) {
          // Whatever the kind: the occurrence overlaps the run, and the task keeps its timing.
          const skipped = core.overlapped(task, at)
          return skipped === undefined ? Effect.void : recordSkip(core, task, skipped, at)
        }
        task.nextDue = at
        core.index.place(task)
        core.alarm.wake()
        return Effect.void
      }))

  const status = Effect.sync((): PeriodicRunner.RunnerStatus => {
    // A fresh reading, so that a step of the wall clock since the last one shows.
    core.followWallSteps()
    const offset = core.wallOffset()
    return {
      mode: core.mode,
      state: publicState(core.lifecycle),
      wakeups: core.wakeups,
      passes: core.passes,
      tasks: core.liveTasks().map((task) => taskStatus(task, offset)),
    }
  })

  return {
    pause: (name) => setPaused(name, true),
    resume: (name) => setPaused(name, false),
    trigger,
    status,
  }
}

/** Why the task cannot be triggered now, if it cannot. */
const cannotTrigger = <E, R>(core: RunnerCore<E, R>, task: RunnerTask<R>): string | undefined =>
  !task.enabled
    ? "it is disabled"
    : task.done
    ? "its schedule is over"
    : core.lifecycle._tag !== "Open"
    ? "the runner has stopped"
    : undefined
