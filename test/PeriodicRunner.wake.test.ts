// Changes made while the driver is busy (a sequential pass running a task inline, so no sleep to
// cut short): a task added or triggered then runs at its instant, not after the pass's idle time.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"

const note = (log: Ref.Ref<ReadonlyArray<string>>, line: string) =>
  Effect.flatMap(
    TestClock.currentTimeMillis,
    (now) => Ref.update(log, (lines) => [...lines, `${line} @${now}`]),
  )

for (const mode of ["sequential", "concurrent"] as const) {
  describe(`PeriodicRunner (${mode}): changes while the driver is busy`, () => {
    it.scoped("a task added during a pass runs when the pass ends, not after the idle time", () =>
      Effect.gen(function* () {
        const log = yield* Ref.make<ReadonlyArray<string>>([])
        // The long task keeps the sequential driver in its pass for 5 s; the next due instant of
        // the runner is 60 s away once it has run.
        const long = PeriodicTask.spaced("long", "60 seconds", Effect.sleep("5 seconds"), {
          runImmediately: true,
        })
        const runner = yield* PeriodicRunner.make([long], { mode, maxSleep: "1 hour" })
        yield* TestClock.adjust(1_000) // the pass is running "long"
        yield* runner.add(
          PeriodicTask.spaced("added", "10 seconds", note(log, "added"), { runImmediately: true }),
        )
        yield* TestClock.adjust(4_000) // "long" ends at 5 s
        yield* TestClock.adjust(10_000)
        expect(yield* Ref.get(log)).toEqual(
          mode === "sequential"
            ? ["added @5000", "added @15000"] // inline: after the pass that ran "long"
            : ["added @1000", "added @11000"], // concurrent: at once
        )
      }))

    it.scoped("a task added during a pass, due after it ends, runs at its own instant", () =>
      Effect.gen(function* () {
        const log = yield* Ref.make<ReadonlyArray<string>>([])
        const long = PeriodicTask.spaced("long", "60 seconds", Effect.sleep("5 seconds"), {
          runImmediately: true,
        })
        const runner = yield* PeriodicRunner.make([long], { mode, maxSleep: "1 hour" })
        yield* TestClock.adjust(1_000)
        yield* runner.add(PeriodicTask.spaced("added", "10 seconds", note(log, "added")))
        for (let i = 0; i < 20; i++) yield* TestClock.adjust(1_000)
        expect(yield* Ref.get(log)).toEqual(["added @11000", "added @21000"])
      }))

    it.scoped("a trigger during a pass runs its task when the pass ends", () =>
      Effect.gen(function* () {
        const log = yield* Ref.make<ReadonlyArray<string>>([])
        const long = PeriodicTask.spaced("long", "60 seconds", Effect.sleep("5 seconds"), {
          runImmediately: true,
        })
        const other = PeriodicTask.spaced("other", "1 hour", note(log, "other"))
        const runner = yield* PeriodicRunner.make([long, other], { mode, maxSleep: "1 hour" })
        yield* TestClock.adjust(1_000)
        yield* runner.trigger("other")
        const done = yield* Effect.fork(TestClock.adjust(4_000))
        yield* Fiber.join(done)
        expect(yield* Ref.get(log)).toEqual(
          mode === "sequential" ? ["other @5000"] : ["other @1000"],
        )
      }))
  })
}
