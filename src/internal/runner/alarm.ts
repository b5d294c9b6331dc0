/**
 * The driver's sleep, which a change that makes a task due sooner (a trigger, a resume, a run
 * that ended early) cuts short.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Fiber from "effect/Fiber"

/** The longest sleep of the driver that `wake` does not cut short (a timer's resolution). */
const UNSIGNALLED_SLEEP_MILLIS = 1

/** @internal */
export class Alarm {
  /** When the sleep in progress ends, if one is; +∞ otherwise. */
  plannedWakeAt = Number.POSITIVE_INFINITY
  private signal: Deferred.Deferred<void> | undefined

  constructor(
    private readonly clock: Clock.Clock,
    private readonly now: () => number,
    /** Forks on the runner's runtime, on its scheduler. */
    private readonly fork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void>,
  ) {}

  /** Ends the sleep in progress now (a sleep of a timer's resolution or less ends by itself). */
  wake(): void {
    if (this.signal !== undefined) {
      Deferred.unsafeDone(this.signal, Exit.void)
      this.signal = undefined
    }
  }

  /** Sleeps `millis`, or until `wake`. */
  sleep(millis: number): Effect.Effect<void> {
    // A sleep no longer than a timer's resolution is the clock's own, in the driver fiber: a
    // wake-up signal could only bring it forward by less than that, and its second fiber is most
    // of what a wake-up costs where wake-ups are many.
    if (millis <= UNSIGNALLED_SLEEP_MILLIS) return this.clock.sleep(Duration.millis(millis))
    this.plannedWakeAt = this.now() + millis
    const signal = Deferred.unsafeMake<void>(FiberId.none)
    this.signal = signal
    // The clock's sleep runs in a fiber of its own that completes the signal, unless `wake` does
    // first. The driver sleeps once per due instant, and racing the two (`raceFirst`) cost more
    // than the runs it woke up for. The fiber starts on the scheduler, as a forked racer did, so
    // that sleeps ending at the same instant still end in the same order.
    const timer = this.fork(
      Effect.zipRight(
        this.clock.sleep(Duration.millis(millis)),
        Effect.sync(() => Deferred.unsafeDone(signal, Exit.void)),
      ),
    )
    return Deferred.await(signal).pipe(
      Effect.ensuring(Effect.sync(() => {
        this.plannedWakeAt = Number.POSITIVE_INFINITY
        if (this.signal === signal) this.signal = undefined
        if (timer.unsafePoll() === null) timer.unsafeInterruptAsFork(FiberId.none)
      })),
    )
  }
}
