/**
 * A task's next due instants, stepped by the runner's own timing functions: the preview that
 * croner's `nextRuns` and @nestjs/schedule's `nextDates` give their users.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import type * as PeriodicTask from "../PeriodicTask.ts"
import {
  declare,
  decodeOptions,
  filter,
  type InvalidOption,
  optional,
  PositiveInteger,
  Struct,
} from "./options.ts"
import { type InvalidPeriodicTask, resolve, type ResolvedTask } from "./periodicTask.ts"
import * as Timing from "./runner/timing.ts"

/** The most instants one preview gives: a preview is for people and dashboards, not for loops. */
const MAX_COUNT = 10_000

const PreviewOptions = Struct({
  count: filter(PositiveInteger, (n) => n <= MAX_COUNT || `must be at most ${MAX_COUNT}`),
  from: optional(declare((u): u is number => Number.isFinite(u), "must be a finite instant")),
})

/** A jitter draw, when the task has jitter. */
const jitter = (task: PeriodicTask.PeriodicTask<unknown, unknown>, spacing: number) =>
  task.jitter ? Effect.map(Random.next, (r) => Timing.jitterMillis(spacing, r)) : Effect.succeed(0)

const fixedRuns = (
  resolved: ResolvedTask<unknown, unknown>,
  spacing: number,
  start: number,
  count: number,
) =>
  Effect.gen(function* () {
    const runs: Array<number> = []
    let { lastRun, nextDue } = Timing.fixedStart(start, spacing, resolved.task.runImmediately)
    while (runs.length < count) {
      runs.push(nextDue)
      // oslo draws no jitter for a first run, which is its own grid point.
      const drawn = Number.isNaN(lastRun) ? 0 : yield* jitter(resolved.task, spacing)
      lastRun = Timing.fixedLastRun(nextDue, lastRun, spacing, drawn)
      nextDue = lastRun + spacing
    }
    return runs
  })

const spacedRuns = (
  resolved: ResolvedTask<unknown, unknown>,
  spacing: number,
  start: number,
  count: number,
) =>
  Effect.gen(function* () {
    const runs: Array<number> = []
    let due = Timing.fixedStart(start, spacing, resolved.task.runImmediately).nextDue
    while (runs.length < count) {
      runs.push(due)
      due = Timing.spacedNextDue(due, due, spacing, yield* jitter(resolved.task, spacing))
    }
    return runs
  })

const scheduleRuns = (
  resolved: ResolvedTask<unknown, unknown>,
  schedule: Schedule.Schedule<unknown, unknown>,
  start: number,
  count: number,
) =>
  Effect.gen(function* () {
    const runs: Array<number> = []
    let state = schedule.initial
    let due: number | undefined = start
    if (!resolved.task.runImmediately) {
      const first = yield* Timing.stepSchedule(schedule, state, start, undefined)
      state = first.state
      due = first.next
    }
    while (due !== undefined && runs.length < count) {
      runs.push(due)
      const step = yield* Timing.stepSchedule(schedule, state, due, undefined)
      state = step.state
      due = step.next === undefined ? undefined : Timing.notTooSoon(step.next, due)
    }
    return runs
  })

/** @internal */
export const nextRuns: {
  (
    options: PeriodicTask.NextRunsOptions,
  ): <E, R>(
    self: PeriodicTask.PeriodicTask<E, R>,
  ) => Effect.Effect<ReadonlyArray<number>, InvalidPeriodicTask | InvalidOption>
  <E, R>(
    self: PeriodicTask.PeriodicTask<E, R>,
    options: PeriodicTask.NextRunsOptions,
  ): Effect.Effect<ReadonlyArray<number>, InvalidPeriodicTask | InvalidOption>
} = dual(2, <E, R>(
  task: PeriodicTask.PeriodicTask<E, R>,
  options: PeriodicTask.NextRunsOptions,
): Effect.Effect<ReadonlyArray<number>, InvalidPeriodicTask | InvalidOption> =>
  Effect.gen(function* () {
    const { count, from } = yield* decodeOptions("PeriodicTask.nextRuns", PreviewOptions, options)
    const resolved: ResolvedTask<unknown, unknown> = yield* resolve(task)
    if (!task.enabled) return []
    const start = (from ?? (yield* Clock.currentTimeMillis)) + resolved.offset
    const timing = resolved.timing
    switch (timing._tag) {
      case "Fixed":
        return yield* fixedRuns(resolved, timing.every, start, count)
      case "Spaced":
        return yield* spacedRuns(resolved, timing.every, start, count)
      case "Schedule":
        return yield* scheduleRuns(resolved, timing.schedule, start, count)
    }
  }))
