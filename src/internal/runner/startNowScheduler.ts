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
 * and everything else go to the wrapped scheduler (with the fiber they are for, which Effect's
 * default scheduler uses to keep each fiber's tasks apart), so the children it starts behave as
 * usual.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"
import type * as Scheduler from "effect/Scheduler"

type AnyFiber = Fiber.RuntimeFiber<unknown, unknown>

/** @internal */
export class StartNowScheduler implements Scheduler.Scheduler {
  private armed = false
  /** The fiber that does not yield for now (a batch fiber starting its runs), if any. */
  private holding: AnyFiber | undefined = undefined

  constructor(private readonly base: Scheduler.Scheduler) {}

  /** The next task scheduled runs at once: call right before forking the fiber to start. */
  arm(): void {
    this.armed = true
  }

  /** Undoes an `arm` whose task was never scheduled. */
  disarm(): void {
    this.armed = false
  }

  /**
   * Keeps `fiber` from yielding until `release`: a batch fiber starts all its runs in one go, as
   * one loop of the driver did. Returns the fiber held before, to hand back to `release`.
   */
  hold(fiber: AnyFiber): AnyFiber | undefined {
    const before = this.holding
    this.holding = fiber
    return before
  }

  /** Ends `fiber`'s hold and hands it back to the fiber held before (unless another one holds now). */
  release(fiber: AnyFiber, before: AnyFiber | undefined): void {
    if (this.holding === fiber) this.holding = before
  }

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: AnyFiber): void {
    if (!this.armed) return this.base.scheduleTask(task, priority, fiber)
    this.armed = false
    task()
  }

  /** While armed, nothing yields (the yield would be the task that runs at once); nor does a held fiber. */
  shouldYield(fiber: AnyFiber): number | false {
    return this.armed || fiber === this.holding ? false : this.base.shouldYield(fiber)
  }
}
