// One rule for every time limit of the library (task timeouts, hook timeouts, cleanups under the
// shutdown deadline, heartbeats, notification sinks): a limit holds even against work that
// ignores interruption, and such work is left running, detached, with a warning that names it.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import { MAX_TIMER_MILLIS, sleepLong } from "./steadyClock.ts"

/**
 * @internal How long interrupted work may take to end (its finalizers run meanwhile) before it is
 * left running, detached.
 */
export const INTERRUPT_GRACE_MILLIS = 1_000

/** @internal */
export interface Limit<E2> {
  /** The limit, in milliseconds of the `Clock`. */
  readonly millis: number
  /** The caller's error at the limit. */
  readonly onTimeout: () => E2
  /** What the warning says of work still going `INTERRUPT_GRACE_MILLIS` after the limit. */
  readonly runaway: string
  /**
   * What it says of such work when the caller was interrupted before the limit; `null`: nothing
   * (the caller reports it itself). Default: `runaway`.
   */
  readonly runawayWhenInterrupted?: string | null | undefined
  /** Annotations of that warning. */
  readonly annotations?: Record<string, unknown> | undefined
}

/**
 * @internal
 * Runs `work` with a time limit that holds whatever the work and the caller do. The work runs in a
 * fiber of its own, interruptible. At the limit it is interrupted and the caller waits at most
 * `INTERRUPT_GRACE_MILLIS` for it to end, then gets `onTimeout()`: work that ends within the grace
 * (cooperative work, at once) never overlaps what the caller does next; work that ignores its
 * interruption is left running, detached, with a warning. The timed wait runs in a fiber of its
 * own too, so the limit is the same in an uninterruptible caller and in the finalizer of an
 * interrupted one. An interruptible caller interrupted meanwhile stops the work the same way.
 */
export const withLimit = <A, E, R, E2>(
  work: Effect.Effect<A, E, R>,
  limit: Limit<E2>,
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      // The work's own failure is its exit here, not an unhandled error of a fiber.
      Effect.forkDaemon(Effect.interruptible(Effect.exit(work))),
      (fiber) =>
        Effect.flatMap(Effect.forkDaemon(Effect.interruptible(watch(fiber, limit))), (watcher) =>
          restore(Fiber.join(watcher)).pipe(
            Effect.onInterrupt(() =>
              Effect.zipRight(
                Fiber.interruptFork(watcher),
                stopWithinGrace(
                  fiber,
                  limit.runawayWhenInterrupted === undefined
                    ? limit.runaway
                    : limit.runawayWhenInterrupted,
                  limit.annotations,
                ),
              )
            ),
            Effect.flatMap((ended): Effect.Effect<A, E | E2> =>
              Option.isSome(ended) ? ended.value : Effect.fail(limit.onTimeout())
            ),
          )),
    )
  )

/** Waits for the work up to the limit; at the limit, stops it within the grace (`None`). */
const watch = <A, E, E2>(
  fiber: Fiber.RuntimeFiber<Exit.Exit<A, E>>,
  limit: Limit<E2>,
): Effect.Effect<Option.Option<Exit.Exit<A, E>>> =>
  Effect.flatMap(
    timeoutOption(Fiber.join(fiber), limit.millis),
    (exit): Effect.Effect<Option.Option<Exit.Exit<A, E>>> =>
      Option.isSome(exit)
        ? Effect.succeed(exit)
        : Effect.as(stop(fiber, limit.runaway, limit.annotations), exit),
  )

/** `Effect.timeoutOption` for any finite limit (a platform timer holds at most 2^31 − 1 ms). */
const timeoutOption = <A>(effect: Effect.Effect<A>, millis: number) =>
  millis <= MAX_TIMER_MILLIS
    ? Effect.timeoutOption(effect, Duration.millis(millis))
    : Effect.raceFirst(
      Effect.asSome(effect),
      Effect.as(Effect.clockWith((clock) => sleepLong(clock, millis)), Option.none<A>()),
    )

/** Interrupts the work and waits at most the grace for it to end, then warns of a runaway. */
const stop = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  runaway: string | null,
  annotations: Record<string, unknown> | undefined,
): Effect.Effect<void> =>
  Effect.suspend(() => {
    fiber.unsafeInterruptAsFork(FiberId.none)
    return Effect.flatMap(
      Effect.timeoutOption(Fiber.await(fiber), Duration.millis(INTERRUPT_GRACE_MILLIS)),
      (ended) =>
        Option.isSome(ended) || runaway === null
          ? Effect.void
          : Effect.logWarning(runaway).pipe(Effect.annotateLogs(annotations ?? {})),
    )
  })

/**
 * `stop` in a fiber of its own, interruptible: it holds also where the caller is being
 * interrupted (an interruptible wait there would end at once) or is uninterruptible (a timeout
 * over an uninterruptible wait waits for it).
 */
const stopWithinGrace = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  runaway: string | null,
  annotations: Record<string, unknown> | undefined,
): Effect.Effect<void> =>
  fiber.unsafePoll() !== null ? Effect.void : Effect.flatMap(
    Effect.forkDaemon(Effect.interruptible(stop(fiber, runaway, annotations))),
    Fiber.join,
  )

/**
 * @internal
 * Interrupts fibers and waits at most `INTERRUPT_GRACE_MILLIS` for them to end: work that ignores
 * its interruption is left behind rather than holding a stop forever.
 */
export const interruptWithinGrace = (
  fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>,
): Effect.Effect<void> =>
  fibers.length === 0 ? Effect.void : Effect.flatMap(
    // In a fiber of its own, interruptible, for the same reasons as `stopWithinGrace`.
    Effect.forkDaemon(
      Effect.interruptible(Effect.disconnect(Fiber.interruptAll(fibers))).pipe(
        Effect.timeout(Duration.millis(INTERRUPT_GRACE_MILLIS)),
        Effect.ignore,
      ),
    ),
    Fiber.join,
  )
