// The library's one rule for time limits (src/internal/bounded.ts), on its own: it holds in any
// caller, against any work.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { interruptWithinGrace, withLimit } from "../src/internal/bounded.ts"
import { platformTimers } from "./support/clocks.ts"
import { captureLogs } from "./support/periodic.ts"

class Late extends Data.TaggedError("Late") {}
class Broken extends Data.TaggedError("Broken") {}

const limit = { millis: 2000, onTimeout: () => new Late(), runaway: "work went on" }

/** Runs `effect` in a forked fiber and reports when (on the test clock) and how it ended. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(
      Effect.zip(Effect.exit(effect), Clock.currentTimeMillis),
    )
    yield* TestClock.adjust("10 seconds")
    return yield* Fiber.join(fiber)
  })

describe("withLimit", () => {
  it.effect("gives the work's own result and failure", () =>
    Effect.gen(function* () {
      expect(yield* withLimit(Effect.succeed(1), limit)).toBe(1)
      const logs = yield* captureLogs
      const failed = yield* Effect.exit(withLimit(Effect.fail(new Broken()), limit))
      expect(failed).toEqual(Exit.fail(new Broken()))
      // A failure is the caller's, not an unhandled error of the work's fiber.
      expect(logs).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("holds in an uninterruptible caller: the work is interrupted at the limit", () =>
    Effect.gen(function* () {
      const [exit, at] = yield* timed(Effect.uninterruptible(withLimit(Effect.never, limit)))
      expect([exit, at]).toEqual([Exit.fail(new Late()), 2000])
    }))

  it.effect("gives its full limit to work in the finalizer of an interrupted fiber", () =>
    Effect.gen(function* () {
      const done: Array<number> = []
      const fiber = yield* Effect.fork(
        Effect.never.pipe(
          Effect.onInterrupt(() =>
            withLimit(Effect.zipRight(Effect.sleep("1 second"), Clock.currentTimeMillis), limit)
              .pipe(
                Effect.flatMap((at) => Effect.sync(() => done.push(at))),
                Effect.ignore,
              )
          ),
        ),
      )
      yield* Effect.yieldNow()
      yield* Effect.fork(Fiber.interrupt(fiber))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      expect(done).toEqual([1000])
    }))

  it.effect("leaves work that ignores interruption running, a grace after the limit, warned", () =>
    Effect.gen(function* () {
      const logs = yield* captureLogs
      const release = yield* Deferred.make<void>()
      const [exit, at] = yield* timed(withLimit(Effect.uninterruptible(Deferred.await(release)), {
        ...limit,
        annotations: { what: "test" },
      }))
      expect([exit, at]).toEqual([Exit.fail(new Late()), 3000])
      expect(logs.map((line) => [line.level, line.message, line.annotations])).toEqual([
        ["WARN", "work went on", { what: "test" }],
      ])
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.scoped))

  it.effect("an interrupted caller stops the work within the grace", () =>
    Effect.gen(function* () {
      const finalized: Array<number> = []
      const work = Effect.never.pipe(
        Effect.onInterrupt(() =>
          Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => finalized.push(at)))
        ),
      )
      const fiber = yield* Effect.fork(withLimit(work, limit))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(fiber)
      expect(finalized).toEqual([500])
    }))
})

describe("withLimit over very long limits", () => {
  it.effect("a limit past 2^31 ms still fires, on a clock with the platforms' timers", () =>
    Effect.gen(function* () {
      const clock = yield* platformTimers
      const fiber = yield* Effect.fork(
        withLimit(Effect.never, { ...limit, millis: 30 * 86_400_000 }).pipe(
          Effect.withClock(clock),
        ),
      )
      yield* TestClock.adjust("30 days")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail(new Late()))
    }))
})

describe("interruptWithinGrace", () => {
  it.effect("waits at most the grace for fibers that ignore interruption", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const stuck = yield* Effect.fork(Effect.uninterruptible(Deferred.await(release)))
      const [exit, at] = yield* timed(interruptWithinGrace([stuck]))
      expect([Exit.isSuccess(exit), at]).toEqual([true, 1000])
      yield* Deferred.succeed(release, undefined)
    }))
})
