// One rule for every time limit of the library (task timeouts, hook timeouts, cleanups under the
// shutdown deadline, heartbeats, notification sinks): a limit holds even against work that
// ignores interruption, and such work is left running, detached, with a warning that names it.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"

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
  /** What the warning says of work still going `INTERRUPT_GRACE_MILLIS` after its interruption. */
  readonly runaway: string
  /** Annotations of that warning. */
  readonly annotations?: Record<string, unknown> | undefined
}

/**
 * @internal
 * Runs `work` with a time limit that holds whatever the work and the caller do. The work runs in a
 * fiber of its own, interruptible. At the limit it is interrupted and the caller waits at most
 * `INTERRUPT_GRACE_MILLIS` for it to end, then gets `onTimeout()`: work that ends within the grace
 * (cooperative work, at once) never overlaps what the caller does next; work that ignores its
 * interruption is left running, detached, with a warning. A caller interrupted meanwhile stops the
 * work the same way. The limit holds even in an uninterruptible caller (a finalizer).
 */
export const withLimit = <A, E, R, E2>(
  work: Effect.Effect<A, E, R>,
  limit: Limit<E2>,
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptible(
    Effect.flatMap(Effect.forkDaemon(Effect.interruptible(work)), (fiber) =>
      Effect.interruptible(
        Effect.timeoutOption(Fiber.join(fiber), Duration.millis(limit.millis)),
      ).pipe(
        Effect.onInterrupt(() => stopWithinGrace(fiber, limit)),
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () =>
            Effect.zipRight(stopWithinGrace(fiber, limit), Effect.fail(limit.onTimeout())),
        })),
      )),
  )

/**
 * Interrupts the work and waits at most the grace for it to end. The wait runs in a fiber of its
 * own, so that it holds also where the caller is being interrupted (an interruptible wait there
 * would end at once).
 */
const stopWithinGrace = <E2>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  limit: Limit<E2>,
): Effect.Effect<void> =>
  fiber.unsafePoll() !== null ? Effect.void : Effect.flatMap(
    // The waiting fiber would otherwise take the caller's uninterruptibility, and a timeout over
    // an uninterruptible wait waits for it.
    Effect.forkDaemon(Effect.interruptible(Effect.suspend(() => {
      fiber.unsafeInterruptAsFork(FiberId.none)
      return Effect.flatMap(
        Effect.timeoutOption(Fiber.await(fiber), Duration.millis(INTERRUPT_GRACE_MILLIS)),
        (ended) =>
          Option.isSome(ended) ? Effect.void : Effect.logWarning(limit.runaway).pipe(
            Effect.annotateLogs(limit.annotations ?? {}),
          ),
      )
    }))),
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
  fibers.length === 0 ? Effect.void : Effect.interruptible(
    Effect.disconnect(Fiber.interruptAll(fibers)),
  ).pipe(Effect.timeout(Duration.millis(INTERRUPT_GRACE_MILLIS)), Effect.ignore)
