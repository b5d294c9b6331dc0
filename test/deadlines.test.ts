// One timer for many calls' time limits (src/internal/remote/deadlines.ts), under the TestClock.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as Deadlines from "../src/internal/remote/deadlines.ts"

/** Deadlines that note "name@time" in a log when they run. */
const setUp = Effect.gen(function* () {
  const deadlines = yield* Deadlines.make
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  const add = (name: string, millis: number) =>
    deadlines.add(millis, () =>
      Effect.flatMap(
        TestClock.currentTimeMillis,
        (now) => Ref.update(log, (lines) => [...lines, `${name}@${now}`]),
      ))
  // Lets the deadlines' fiber see what was added before the clock moves.
  const settle = Effect.repeatN(Effect.yieldNow(), 5)
  return { deadlines, log, add, settle }
})

describe("Deadlines", () => {
  it.scoped("each runs at its own time, earliest first, across several limits", () =>
    Effect.gen(function* () {
      const { add, log, settle } = yield* setUp
      add("a", 5_000)
      yield* settle
      yield* TestClock.adjust(1_000)
      add("b", 2_000) // due at 3 s, before a: the sleeping fiber wakes for it
      add("c", 5_000) // due at 6 s
      yield* settle
      yield* TestClock.adjust(1_999)
      expect(yield* Ref.get(log)).toEqual([])
      yield* TestClock.adjust(1)
      expect(yield* Ref.get(log)).toEqual(["b@3000"])
      yield* TestClock.adjust(3_000)
      expect(yield* Ref.get(log)).toEqual(["b@3000", "a@5000", "c@6000"])
    }))

  it.scoped("a cancelled deadline never runs; cancelling twice or after it ran does nothing", () =>
    Effect.gen(function* () {
      const { add, deadlines, log, settle } = yield* setUp
      const a = add("a", 1_000)
      const b = add("b", 1_000)
      const c = add("c", 2_000)
      a.cancel()
      a.cancel()
      expect(deadlines.size()).toBe(2)
      yield* settle
      yield* TestClock.adjust(2_000)
      expect(yield* Ref.get(log)).toEqual(["b@1000", "c@2000"])
      b.cancel()
      c.cancel()
      expect(deadlines.size()).toBe(0)
    }))

  it.scoped("an infinite limit never runs and is not counted", () =>
    Effect.gen(function* () {
      const { add, deadlines, log, settle } = yield* setUp
      add("never", Infinity).cancel()
      add("never", Infinity)
      expect(deadlines.size()).toBe(0)
      yield* settle
      yield* TestClock.adjust(1_000_000)
      expect(yield* Ref.get(log)).toEqual([])
    }))

  it.scoped("a deadline added after all others ended wakes the idle fiber", () =>
    Effect.gen(function* () {
      const { add, log, settle } = yield* setUp
      add("a", 1_000)
      yield* settle
      yield* TestClock.adjust(1_000)
      yield* settle
      yield* TestClock.adjust(10_000) // idle
      add("b", 1_000)
      yield* settle
      yield* TestClock.adjust(1_000)
      expect(yield* Ref.get(log)).toEqual(["a@1000", "b@12000"])
    }))

  it.scoped("an action that dies is logged, and the deadlines after it still run", () =>
    Effect.gen(function* () {
      const { add, deadlines, log, settle } = yield* setUp
      deadlines.add(1_000, () => Effect.dieMessage("boom"))
      add("after", 1_000)
      yield* settle
      yield* TestClock.adjust(1_000)
      expect(yield* Ref.get(log)).toEqual(["after@1000"])
    }))

  it.scoped("many calls that end in time leave nothing pending, and the next deadline still runs", () =>
    Effect.gen(function* () {
      const { add, deadlines, log, settle } = yield* setUp
      for (let i = 0; i < 10_000; i++) add(`call ${i}`, 60_000).cancel()
      expect(deadlines.size()).toBe(0)
      add("last", 60_000)
      yield* settle
      yield* TestClock.adjust(60_000)
      expect(yield* Ref.get(log)).toEqual(["last@60000"])
    }))
})
