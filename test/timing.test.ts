// The runner's timing as plain functions (src/internal/runner/timing.ts): next due instants for
// spaced, fixed and schedule-timed tasks, oslo's jitter, grid flooring and overrun skipping.
import { describe, expect, it } from "@effect/vitest"
import * as Cron from "effect/Cron"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import {
  fixedLastRun,
  fixedStart,
  floorToGrid,
  jitterMillis,
  MAX_MISSED_INSTANTS,
  MIN_STEP_MILLIS,
  missedCronInstants,
  notTooSoon,
  spacedNextDue,
  stepSchedule,
} from "../src/internal/runner/timing.ts"

describe("timing: oslo's jitter", () => {
  it("is whole seconds, trunc(spacing_s · r / 20): up to 5 % of the spacing", () => {
    expect(jitterMillis(100_000, 0)).toBe(0)
    expect(jitterMillis(100_000, 0.999)).toBe(4_000)
    expect(jitterMillis(100_000, 0.5)).toBe(2_000)
    expect(jitterMillis(3_600_000, 0.999)).toBe(179_000)
  })

  it("is 0 for a spacing of 20 s or less, whatever the draw", () => {
    for (const r of [0, 0.5, 0.9999999]) {
      expect(jitterMillis(20_000, r)).toBe(0)
      expect(jitterMillis(1_000, r)).toBe(0)
    }
    // Just past 20 s, only the highest draws reach a whole second.
    expect(jitterMillis(20_001, 0.99)).toBe(0)
    expect(jitterMillis(20_001, 0.9999999)).toBe(1_000)
  })
})

describe("timing: grid flooring", () => {
  it("a start within one spacing of the next slot is that slot", () => {
    expect(floorToGrid(10_000, 0, 10_000)).toBe(10_000)
    expect(floorToGrid(19_999, 0, 10_000)).toBe(10_000)
  })

  it("a start several slots late floors to the latest slot at or before it (missed ones skipped)", () => {
    expect(floorToGrid(35_000, 0, 10_000)).toBe(30_000)
    expect(floorToGrid(40_000, 0, 10_000)).toBe(40_000)
    expect(floorToGrid(1_000_003, 3, 1_000)).toBe(1_000_003)
  })

  it("a start before the last slot (a trigger, a resumed grid) floors backwards on the same grid", () => {
    expect(floorToGrid(5_000, 10_000, 10_000)).toBe(0)
    expect(floorToGrid(-1, 0, 10_000)).toBe(-10_000)
    expect(floorToGrid(9_999, 10_000, 10_000)).toBe(0)
  })
})

describe("timing: fixed tasks", () => {
  it("one that does not run immediately has run at the start (oslo P3), and is due a spacing later", () => {
    expect(fixedStart(1_000, 10_000, false)).toEqual({ lastRun: 1_000, nextDue: 11_000 })
  })

  it("one that runs immediately has no last run yet, and is due at the start", () => {
    const start = fixedStart(1_000, 10_000, true)
    expect(Number.isNaN(start.lastRun)).toBe(true)
    expect(start.nextDue).toBe(1_000)
  })

  it("a first run is its own grid point, and draws no jitter", () => {
    expect(fixedLastRun(1_234, Number.NaN, 10_000, 7_000)).toBe(1_234)
  })

  it("a later run snaps to its slot, and the grid carries its jitter (oslo P19/P20)", () => {
    expect(fixedLastRun(10_500, 0, 10_000, 0)).toBe(10_000)
    expect(fixedLastRun(10_500, 0, 10_000, 2_000)).toBe(12_000)
    // The next run is on the moved grid.
    expect(fixedLastRun(22_000, 12_000, 10_000, 0)).toBe(22_000)
  })

  it("a run that overran its slots starts on the latest one, skipping the others", () => {
    expect(fixedLastRun(45_000, 10_000, 10_000, 0)).toBe(40_000)
  })
})

describe("timing: spaced tasks", () => {
  it("are due a spacing (and the jitter) after the run's end", () => {
    expect(spacedNextDue(13_000, 10_000, 10_000, 0)).toBe(23_000)
    expect(spacedNextDue(13_000, 10_000, 100_000, 3_000)).toBe(116_000)
  })

  it("are never due sooner than the minimum step after the run's start", () => {
    expect(MIN_STEP_MILLIS).toBe(1)
    expect(spacedNextDue(5_000, 5_000, 0.25, 0)).toBe(5_001)
    expect(notTooSoon(4_000, 5_000)).toBe(5_001)
    expect(notTooSoon(9_000, 5_000)).toBe(9_000)
  })
})

describe("timing: schedule-timed tasks", () => {
  it.effect("a step gives the schedule's next state and instant", () =>
    Effect.gen(function* () {
      const schedule = Schedule.spaced("5 seconds")
      const first = yield* stepSchedule(schedule, schedule.initial, 1_000, undefined)
      expect(first.next).toBe(6_000)
      const second = yield* stepSchedule(schedule, first.state, 6_000, undefined)
      expect(second.next).toBe(11_000)
    }))

  it.effect("a schedule that is over has no next instant", () =>
    Effect.gen(function* () {
      const schedule = Schedule.recurs(1)
      const first = yield* stepSchedule(schedule, schedule.initial, 0, undefined)
      expect(first.next).toBe(0)
      const second = yield* stepSchedule(schedule, first.state, 0, undefined)
      expect(second.next).toBeUndefined()
    }))

  it.effect("a cron step is taken at a wall-clock instant", () =>
    Effect.gen(function* () {
      const schedule = Schedule.cron("0 3 * * *", "UTC")
      const step = yield* stepSchedule(schedule, schedule.initial, Date.UTC(2026, 11, 4, 7), null)
      expect(step.next).toBe(Date.UTC(2026, 11, 5, 3))
    }))

  it.effect("a step that throws is a defect of the step, not of its caller", () =>
    Effect.gen(function* () {
      const throwing = Schedule.makeWithState(undefined, () => {
        throw new Error("bad step")
      })
      const exit = yield* Effect.exit(stepSchedule(throwing, undefined, 0, undefined))
      expect(exit._tag).toBe("Failure")
    }))
})

describe("timing: missed cron instants", () => {
  const everyMinute = Cron.unsafeParse("* * * * *", "UTC")

  it("are the instants strictly between the one a run was due at and the next one", () => {
    expect(missedCronInstants(everyMinute, 60_000, 240_000)).toEqual([120_000, 180_000])
    expect(missedCronInstants(everyMinute, 60_000, 120_000)).toEqual([])
  })

  it("are none when the next instant is not later (a wall clock set back)", () => {
    expect(missedCronInstants(everyMinute, 600_000, 60_000)).toEqual([])
  })

  it("are at most a limit, the latest (the most recent history), after a long stall", () => {
    const before = 100 * 86_400_000
    const missed = missedCronInstants(everyMinute, 0, before)
    expect(missed).toHaveLength(MAX_MISSED_INSTANTS)
    expect([missed[0], missed.at(-1)]).toEqual([
      before - MAX_MISSED_INSTANTS * 60_000,
      before - 60_000,
    ])
    expect(missedCronInstants(everyMinute, 0, 600_000, 3)).toEqual([420_000, 480_000, 540_000])
    expect(missedCronInstants(everyMinute, 0, 600_000, 0)).toEqual([])
  })

  it("are the same walked across a daylight-saving change, whatever the limit", () => {
    // Paris moved from 02:00 to 03:00 local on 2025-03-30 (01:00 UTC).
    const paris = Cron.unsafeParse("*/20 * * * *", "Europe/Paris")
    const after = Date.UTC(2025, 2, 29, 23, 0)
    const before = Date.UTC(2025, 2, 30, 2, 0)
    const all = missedCronInstants(paris, after, before, 100)
    expect(all.map((at) => new Date(at).toISOString().slice(11, 16))).toEqual([
      "23:20",
      "23:40",
      "00:00",
      "00:20",
      "00:40",
      "01:00",
      "01:20",
      "01:40",
    ])
    expect(missedCronInstants(paris, after, before, 3)).toEqual(all.slice(-3))
  })
})
