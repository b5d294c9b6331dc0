// The time base of the periodic engine: the wall clock, made steady by the monotonic one.
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * How far the wall clock may move apart from the monotonic clock between two readings before it
 * counts as a step. Below it the wall clock is followed as it is (NTP's slewing, and the
 * rounding of `TestClock`'s nanoseconds, move it apart by far less).
 */
const STEP_TOLERANCE_MILLIS = 1_000

const NANOS_PER_MILLI = 1_000_000

/**
 * @internal
 * The wall clock of a `Clock` (epoch milliseconds), with every step of it larger than
 * `STEP_TOLERANCE_MILLIS` taken out: between two readings, such a step is replaced by the time
 * the monotonic clock (`unsafeCurrentTimeNanos`) measured. A wall clock set back an hour then
 * neither stops the periodic tasks for an hour, nor does one set forward make them all due.
 * Under `TestClock` (both clocks move together) it is the wall clock exactly. Every reading
 * updates the skew, the sum of the steps taken out, which converts between the two.
 */
export class SteadyClock {
  private wall: number
  private nanos: bigint
  /** Steady time minus wall time. */
  private skew = 0

  constructor(private readonly clock: Clock.Clock) {
    this.wall = clock.unsafeCurrentTimeMillis()
    this.nanos = clock.unsafeCurrentTimeNanos()
  }

  /** The current steady instant. */
  now(): number {
    const wall = this.clock.unsafeCurrentTimeMillis()
    // Within the millisecond of the last reading there is no step to take out (and a pass reads
    // the clock for every task, mostly within one millisecond).
    if (wall === this.wall) return wall + this.skew
    const nanos = this.clock.unsafeCurrentTimeNanos()
    const drift = Number(nanos - this.nanos) / NANOS_PER_MILLI - (wall - this.wall)
    if (drift > STEP_TOLERANCE_MILLIS || drift < -STEP_TOLERANCE_MILLIS) this.skew += drift
    this.wall = wall
    this.nanos = nanos
    return wall + this.skew
  }

  /** What to add to a steady instant to get the wall-clock one, as of the latest reading. */
  wallOffset(): number {
    return -this.skew
  }
}

/**
 * @internal The longest timer the platforms keep (2^31 − 1 ms, about 24.8 days): a longer sleep of
 * Effect's default clock never ends.
 */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** @internal Sleeps any finite length on `clock`, in steps a platform timer can hold. */
export const sleepLong = (clock: Clock.Clock, millis: number): Effect.Effect<void> =>
  millis <= MAX_TIMER_MILLIS ? clock.sleep(Duration.millis(millis)) : Effect.zipRight(
    clock.sleep(Duration.millis(MAX_TIMER_MILLIS)),
    Effect.suspend(() => sleepLong(clock, millis - MAX_TIMER_MILLIS)),
  )
