/**
 * When a task is next due: plain functions of instants (epoch ms of the steady time base) and
 * spacings (ms), shared by the runner and by `PeriodicTask.schedule`, so that a task's timing
 * has one definition.
 *
 * @internal
 */
import * as Cron from "effect/Cron"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"

/** oslo's `DEFAULT_INTERVAL`: a pass never reports more idle time than this. */
export const IDLE_CAP_MILLIS = 60_000

/**
 * The shortest time between two starts of one task, and between two passes of the driver. A
 * schedule that asks for no delay (`Schedule.forever`, a run that triggers itself, a spacing
 * below a millisecond) would otherwise make the driver loop without ever leaving the event loop a
 * turn: such a task runs at most once per millisecond.
 */
export const MIN_STEP_MILLIS = 1

/**
 * oslo's jitter (P19/P20): whole seconds, `trunc(spacing_seconds * r / 20)` for a draw `r` in
 * [0, 1), so 0–5 % of the spacing and always 0 for a spacing of 20 s or less.
 */
export const jitterMillis = (spacing: number, r: number): number =>
  Math.trunc((spacing / 1000) * (r / 20)) * 1000

/** The latest grid point `last + k·spacing` at or before `at` (also when `at` precedes `last`). */
export const floorToGrid = (at: number, last: number, spacing: number): number => {
  const next = last + spacing
  // The common case, a start within one spacing of its slot, needs no remainder.
  if (at >= next && at < next + spacing) return next
  return at - ((((at - last) % spacing) + spacing) % spacing)
}

/**
 * A fixed task's first due instant, and oslo's initial `last_run` (P3): a task that does not run
 * immediately counts as having run when its task set was defined (`start`), so it is first due one
 * spacing later; one that runs immediately has no `last_run` (NaN) and is due at `start`.
 */
export const fixedStart = (
  start: number,
  spacing: number,
  runImmediately: boolean,
): { readonly lastRun: number; readonly nextDue: number } =>
  runImmediately
    ? { lastRun: Number.NaN, nextDue: start }
    : { lastRun: start, nextDue: start + spacing }

/**
 * A fixed task's `last_run` once it starts at `at` (oslo P19/P20): the first run is its own grid
 * point; a later one snaps to the latest grid point at or before `at` (missed slots are skipped
 * and the phase kept), moved by the run's jitter, which the grid then carries.
 */
export const fixedLastRun = (
  at: number,
  lastRun: number,
  spacing: number,
  jitter: number,
): number => Number.isNaN(lastRun) ? at : floorToGrid(at, lastRun, spacing) + jitter

/**
 * A spaced task's next due instant once a run that started at `startedAt` ended at `end`: a
 * spacing (and its jitter) after the end, and never sooner than the minimum step after the start.
 */
export const spacedNextDue = (
  end: number,
  startedAt: number,
  spacing: number,
  jitter: number,
): number => notTooSoon(end + spacing + jitter, startedAt)

/** A due instant no sooner than the minimum step after the start of the task's latest run. */
export const notTooSoon = (due: number, startedAt: number): number =>
  Math.max(due, startedAt + MIN_STEP_MILLIS)

/** A step of a `Schedule`-timed task: the schedule's next state, and its next instant, if any. */
export interface ScheduleStep {
  readonly state: unknown
  /** The next due instant; `undefined` when the schedule is over. */
  readonly next: number | undefined
}

/**
 * Steps a task's `Schedule` at `at` (in the schedule's own time base: wall-clock instants for
 * cron). A step that throws is a defect of the returned effect.
 */
export const stepSchedule = (
  schedule: Schedule.Schedule<unknown, unknown>,
  state: unknown,
  at: number,
  input: unknown,
): Effect.Effect<ScheduleStep> =>
  Effect.map(
    Effect.suspend(() => schedule.step(at, input, state)),
    ([next, _, decision]): ScheduleStep => ({
      state: next,
      next: ScheduleDecision.isDone(decision) ? undefined : Intervals.start(decision.intervals),
    }),
  )

/**
 * A cron rule's instants strictly between `after` and `before`, at most `limit` (by default
 * {@link MAX_MISSED_INSTANTS}), the latest, earliest first: {@link missedCronInstants} over the
 * task's parsed rule. A cron task carries it from `PeriodicTask.cron`, so that the runner, which
 * reads every kind of timing, does not bring the cron parser into a program without cron tasks.
 */
export type CronInstants = (after: number, before: number, limit?: number) => Array<number>

/**
 * The most missed instants of a cron task one run records as skipped (after a long run, a stalled
 * process, or a wall clock set forward).
 */
export const MAX_MISSED_INSTANTS = 1_000

/**
 * A cron rule's instants strictly between `after` (the instant a run was due at) and `before`
 * (the next instant it is due at), on the wall clock, earliest first: the ones the task missed
 * because its run went on past them or it started late. At most `limit`, the latest: the most
 * recent history. The earlier ones are neither returned nor counted, as counting them would step
 * through each of them (a rule of every second, over a day's stall, has 86,400).
 *
 * `Cron.prev` would find the latest ones by stepping back from `before`, but in effect 3.22 it
 * can return the instant it was given, or throw, around a change of daylight-saving time. So they
 * are found stepping forward (`Cron.next`), from a start ever further back: each window twice as
 * long as the last, from `limit` seconds (cron's resolution is a second, so that window holds at
 * most `limit`) until one holds `limit` instants or starts at `after`.
 */
export const missedCronInstants = (
  cron: Cron.Cron,
  after: number,
  before: number,
  limit: number = MAX_MISSED_INSTANTS,
): Array<number> => {
  if (limit <= 0) return []
  for (let span = limit * 1_000;; span *= 2) {
    const from = Math.max(after, before - span)
    const latest = latestInstants(cron, from, before, limit)
    if (latest.length >= limit || from === after) return latest
  }
}

/** The latest `limit` (> 0) instants of a cron rule strictly between `after` and `before`, in order. */
const latestInstants = (
  cron: Cron.Cron,
  after: number,
  before: number,
  limit: number,
): Array<number> => {
  // A ring of the latest `limit`: the walk keeps no more than that, however many it passes.
  const ring: Array<number> = []
  let count = 0
  for (let at = Cron.next(cron, after).getTime(); at < before; at = Cron.next(cron, at).getTime()) {
    ring[count++ % limit] = at
  }
  if (count <= limit) return ring
  const oldest = count % limit
  return ring.slice(oldest).concat(ring.slice(0, oldest))
}
