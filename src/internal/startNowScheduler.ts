/**
 * A `Scheduler` that starts the next fiber scheduled on it at once, in the caller's stack, and
 * hands everything else to the scheduler it wraps.
 *
 * A concurrent runner starts the runs due in one pass as children of one short-lived batch fiber
 * (`Effect.fork`), not as root fibers (`Runtime.runFork`): Effect adds every root fiber to a global
 * `Set` and removes it when the fiber ends, and that long-lived `Set` leaves about 60 bytes of
 * old-generation garbage per fiber in V8, which at 100,000 runs a second is a full collection
 * every second or two and most of a run's cost. A batch fiber's children are kept in the batch
 * fiber's own `Set`, which dies young. `Effect.fork` starts a child through the scheduler, though,
 * on a later microtask; with this scheduler armed just before the fork, the child starts inside
 * it, as `runFork` would start it.
 *
 * Only the first task scheduled after `arm` runs at once (a new child's start); yields, resumptions
 * and everything else go to the wrapped scheduler, so the children it starts behave as usual.
 *
 * @internal
 */
import type * as Scheduler from "effect/Scheduler"

/** @internal */
export class StartNowScheduler implements Scheduler.Scheduler {
  private armed = false

  constructor(private readonly base: Scheduler.Scheduler) {}

  /** The next task scheduled runs at once: call right before forking the fiber to start. */
  arm(): void {
    this.armed = true
  }

  /** Undoes an `arm` whose task was never scheduled. */
  disarm(): void {
    this.armed = false
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    if (!this.armed) return this.base.scheduleTask(task, priority)
    this.armed = false
    task()
  }

  /** While armed, nothing yields: the yield would be the task that runs at once. */
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return this.armed ? false : this.base.shouldYield(fiber)
  }
}
