import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"
import { StartNowScheduler } from "../src/internal/startNowScheduler.ts"

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
