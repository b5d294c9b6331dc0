import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"
import { StartNowScheduler } from "../src/internal/runner/startNowScheduler.ts"

/** A scheduler that only queues tasks, and answers `shouldYield` with a fixed value. */
const queueing = () => {
  const queued: Array<() => void> = []
  const scheduler = Scheduler.make((task) => {
    queued.push(task)
  }, () => 7)
  return { queued, scheduler }
}

describe("StartNowScheduler", () => {
  it("runs the first task scheduled after arm at once, and hands the rest to its base", () => {
    const { queued, scheduler } = queueing()
    const starter = new StartNowScheduler(scheduler)
    const ran: Array<string> = []
    starter.scheduleTask(() => ran.push("before"), 0)
    starter.arm()
    starter.scheduleTask(() => ran.push("armed"), 0)
    starter.scheduleTask(() => ran.push("after"), 0)
    expect(ran).toEqual(["armed"])
    expect(queued.length).toBe(2)
    for (const task of queued) task()
    expect(ran).toEqual(["armed", "before", "after"])
  })

  it("disarm undoes an arm; nothing yields while armed", () => {
    const { queued, scheduler } = queueing()
    const starter = new StartNowScheduler(scheduler)
    const fiber = Effect.runFork(Effect.never)
    starter.arm()
    expect(starter.shouldYield(fiber)).toBe(false)
    starter.disarm()
    expect(starter.shouldYield(fiber)).toBe(7)
    starter.scheduleTask(() => {}, 0)
    expect(queued.length).toBe(1)
    Effect.runFork(Fiber.interrupt(fiber))
  })

  it("hands its base the fiber a task is for, and never yields a held fiber", () => {
    const seen: Array<unknown> = []
    const base: Scheduler.Scheduler = {
      scheduleTask: (_task, _priority, fiber) => {
        seen.push(fiber)
      },
      shouldYield: () => 3,
    }
    const starter = new StartNowScheduler(base)
    const a = Effect.runFork(Effect.never)
    const b = Effect.runFork(Effect.never)
    starter.scheduleTask(() => {}, 0, a)
    expect(seen).toEqual([a])
    const before = starter.hold(a)
    expect([starter.shouldYield(a), starter.shouldYield(b)]).toEqual([false, 3])
    starter.release(a, before)
    expect(starter.shouldYield(a)).toBe(3)
    Effect.runFork(Fiber.interruptAll([a, b]))
  })

  it.effect("a fiber forked right after arm has started when the fork returns", () =>
    Effect.gen(function* () {
      const starter = new StartNowScheduler(Scheduler.defaultScheduler)
      let started = false
      const child = yield* Effect.suspend(() => {
        starter.arm()
        return Effect.fork(Effect.sync(() => {
          started = true
        }))
      }).pipe(Effect.withScheduler(starter))
      expect(started).toBe(true)
      expect(child.unsafePoll()?._tag).toBe("Success")
    }))
})
