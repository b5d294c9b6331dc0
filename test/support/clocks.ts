// Clocks for fault tests: the test clock with the platforms' timer limit, or with a wall clock that
// an operator steps while the monotonic clock goes on.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** The test clock, but like the platforms' timers: a sleep longer than 2^31 − 1 ms never ends. */
export const platformTimers: Effect.Effect<Clock.Clock> = Effect.map(
  Effect.clock,
  (clock): Clock.Clock =>
    Object.assign(Object.create(clock) as Clock.Clock, {
      sleep: (duration: Duration.Duration) =>
        Duration.toMillis(duration) > 2 ** 31 - 1 ? Effect.never : clock.sleep(duration),
    }),
)

/**
 * The test clock with a wall clock `shift.millis` behind it; its monotonic clock is not moved.
 * `base` is the test clock itself, to read instants that no step touches.
 */
export const steppedWallClock: Effect.Effect<{
  readonly clock: Clock.Clock
  readonly shift: { millis: number }
  readonly base: Clock.Clock
}> = Effect.map(Effect.clock, (base) => {
  const shift = { millis: 0 }
  const clock: Clock.Clock = Object.assign(Object.create(base) as Clock.Clock, {
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() - shift.millis,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() - shift.millis),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
  })
  return { clock, shift, base }
})
