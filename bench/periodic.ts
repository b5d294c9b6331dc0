/**
 * What one periodic run costs: our engine (concurrent, then sequential mode) against a raw
 * `setInterval` per task (the floor) and one fiber per task with `Effect.schedule(run,
 * Schedule.fixed(...))` (what users write without a runner), on the real clock.
 *
 *   npm run bench:periodic -- [--tasks 10000] [--spacing 100] [--seconds 5] [--aligned]
 *                             [--only concurrent,sequential,rawTimers,naiveFibers] [--metrics]
 *
 * The engine runs with `metrics: false` (like `fiberMetrics`, off): its own cost, not that of
 * Effect's metric registry. `--metrics` runs it as a runner is made by default, recording every
 * task's runs, skips, duration and lateness (`Telemetry`).
 *
 * The engine of a git revision against the working tree's, paired in one invocation:
 * `npm run bench:compare -- REF [--pairs 2] …` (scripts/bench-compare.mjs runs this file).
 *
 * Every task is a fixed task whose run is a trivial `Effect.sync` (or plain call) that counts
 * itself and records its lateness. Phases are spread evenly over one spacing unless
 * `--aligned`, which puts every task on the same instants. Progress goes out as readable
 * lines; the last line is one JSON object with the figures of the four variants.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"
import {
  booleanFlag,
  collectGarbage,
  nodeProcess as process,
  numberFlag,
  stringFlag,
} from "./support.ts"

declare const console: {
  log(...args: ReadonlyArray<unknown>): void
  error(...args: ReadonlyArray<unknown>): void
}
declare function setTimeout(callback: () => void, ms: number): unknown
declare function setInterval(callback: () => void, ms: number): unknown
/** In Node (as in browsers) it clears intervals as well as timeouts. */
declare function clearTimeout(handle: unknown): void

const tasks = numberFlag("--tasks", 10_000)
const spacing = numberFlag("--spacing", 100)
const seconds = numberFlag("--seconds", 5)
const aligned = booleanFlag("--aligned")
const metrics = booleanFlag("--metrics")
/** Variants to run (comma-separated names); all four by default. */
const only = stringFlag("--only")?.split(",")
const windowMillis = seconds * 1000
if (stringFlag("--compare") !== undefined) {
  throw new Error("--compare: run npm run bench:compare -- REF [--pairs N] [flags of this bench]")
}

/** Task i's phase: where in the spacing its grid lies. */
const phases = Array.from({ length: tasks }, (_, i) => aligned ? 0 : (i * spacing) / tasks)

/**
 * Every variant's first grid instant lies at least this long after its setup began, so that its
 * first runs do not wait for the rest of its 10,000 slots, timers or fibers to be built.
 */
const SETUP_MARGIN_MILLIS = 500
/** Pause between variants, so that the previous one's timers and fibers are gone before GC. */
const SETTLE_MILLIS = 500
/**
 * Each variant runs at least this long before its measured window opens: V8 compiles what the
 * variant is the first to use, and a runner's first cycle, where each task runs for the first
 * time, is slower. The figures are the steady state.
 */
const WARMUP_MILLIS = 1000
/**
 * Node timers run on libuv's loop time, a truncated monotonic millisecond cached per loop turn,
 * so by `Date.now()` they can fire up to about 2 ms before their instant.
 */
const EARLY_TOLERANCE_MILLIS = 2
/** Lateness histogram resolution. */
const BIN_MILLIS = 0.1
/** RSS is sampled this often during the window. */
const RSS_SAMPLE_MILLIS = 100

/** The window opens on the grid of phase 0, a whole number of spacings after the origin. */
const warmupSlots = Math.ceil(WARMUP_MILLIS / spacing)

/**
 * Grid points of task i inside the window [start, start + seconds × 1000): ceil((seconds × 1000
 * − phase_i) / spacing). So expectedRuns = Σ_i ceil((seconds × 1000 − phase_i) / spacing), which
 * is exactly tasks × seconds × 1000 / spacing whenever the spacing divides the window (phases are
 * below one spacing).
 */
const slotsInWindow = phases.map((phase) => Math.ceil((windowMillis - phase) / spacing))
const expectedRuns = slotsInWindow.reduce((sum, slots) => sum + slots, 0)

// --- measuring ---------------------------------------------------------------------------

/**
 * Counts runs and their lateness. The time is `Date.now()`, the clock behind Effect's default
 * `Clock` that the engine schedules by, so lateness has its 1 ms resolution.
 */
class Probe {
  /** The instant of the first grid point of a task with phase 0; set once the variant is set up. */
  origin = Number.POSITIVE_INFINITY
  /** Runs that served a grid point inside the window. */
  runs = 0
  /** The latest grid point each task served. */
  readonly lastSlot = new Int32Array(tasks).fill(-1)
  /** Of `runs`, those that served a grid point already served (`Schedule.fixed` runs again at once when it is behind). */
  reruns = 0
  /** Every run, inside the window or not: what the CPU time is divided by. */
  executed = 0
  /** Bin b counts lateness in [b × BIN − EARLY_TOLERANCE, (b + 1) × BIN − EARLY_TOLERANCE). */
  readonly histogram = new Uint32Array(
    Math.ceil((spacing + EARLY_TOLERANCE_MILLIS) / BIN_MILLIS) + 1,
  )

  run(task: number): void {
    const now = Date.now()
    this.executed++
    const first = this.origin + phases[task]!
    // The grid point a run serves is the latest one at or before its start: a run late by more
    // than a spacing stands for a later slot, and the slots it missed lower `runs`.
    const slot = Math.floor((now - first + EARLY_TOLERANCE_MILLIS) / spacing)
    if (slot < warmupSlots || slot >= warmupSlots + slotsInWindow[task]!) return
    this.runs++
    if (slot <= this.lastSlot[task]!) this.reruns++
    this.lastSlot[task] = slot
    const lateness = now - (first + slot * spacing)
    const bin = Math.floor((lateness + EARLY_TOLERANCE_MILLIS) / BIN_MILLIS)
    this.histogram[Math.min(Math.max(bin, 0), this.histogram.length - 1)]!++
  }

  /** The lateness that a share `q` (0–1) of the runs did not exceed, to the bin's resolution. */
  latenessQuantile(q: number): number {
    const wanted = Math.ceil(this.runs * q)
    let seen = 0
    for (let bin = 0; bin < this.histogram.length; bin++) {
      seen += this.histogram[bin]!
      if (seen >= wanted) return (bin + 1) * BIN_MILLIS - EARLY_TOLERANCE_MILLIS
    }
    return Number.NaN
  }
}

interface Figures {
  readonly runs: number
  readonly expectedRuns: number
  readonly cpuUsPerRun: number
  readonly rssMb: number
  readonly p99LatenessMs: number
}

/** Sets the tasks up in the scope and returns the origin of their grid (see `Probe.origin`). */
type Variant = (probe: Probe) => Effect.Effect<number, never, Scope.Scope>

const cpuMicros = () => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

const round = (value: number, digits: number) => Number(value.toFixed(digits))

const sleepUntil = (instant: number) =>
  Effect.suspend(() => Effect.sleep(Duration.millis(Math.max(0, instant - Date.now()))))

const measure = (name: string, variant: Variant): Effect.Effect<Figures> =>
  Effect.scoped(Effect.gen(function* () {
    const probe = new Probe()
    const origin = yield* variant(probe)
    probe.origin = origin
    const late = Date.now() - origin
    if (late > 0) console.log(`${name}: setup overran the first grid instant by ${late} ms`)
    const start = origin + warmupSlots * spacing
    yield* sleepUntil(start)
    const cpuBefore = cpuMicros()
    const executedBefore = probe.executed
    // Peak RSS: the largest of the samples taken during the window and at its end. It is the
    // whole process's, so it includes Node's and Effect's own baseline.
    let peakRss = process.memoryUsage.rss()
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
    }, RSS_SAMPLE_MILLIS)
    yield* Effect.addFinalizer(() => Effect.sync(() => clearTimeout(sampler)))
    yield* sleepUntil(start + windowMillis)
    // Read everything at the end of the window, before the scope tears the variant down.
    const cpu = cpuMicros() - cpuBefore
    const executed = probe.executed - executedBefore
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
    const figures: Figures = {
      runs: probe.runs,
      expectedRuns,
      cpuUsPerRun: round(executed > 0 ? cpu / executed : Number.NaN, 2),
      rssMb: round(peakRss / 2 ** 20, 1),
      p99LatenessMs: round(probe.latenessQuantile(0.99), 1),
    }
    console.log(
      `${name.padEnd(12)} runs ${figures.runs}/${expectedRuns} (${
        (100 * figures.runs / expectedRuns).toFixed(1)
      } %${
        probe.reruns > 0 ? `, ${probe.reruns} of them reruns of a served slot` : ""
      }), ${figures.cpuUsPerRun} µs CPU/run, peak RSS ${figures.rssMb} MB, lateness p50/p90/p99/p99.9 ${
        [0.5, 0.9, 0.99, 0.999].map((q) => round(probe.latenessQuantile(q), 1)).join("/")
      } ms`,
    )
    return figures
  }))

/** Lets the previous variant's leftovers die, then collects them, so each variant starts clean. */
const settle = Effect.gen(function* () {
  yield* Effect.sleep(Duration.millis(SETTLE_MILLIS))
  collectGarbage()
  collectGarbage()
  yield* Effect.sleep(Duration.millis(SETTLE_MILLIS))
})

// --- the variants ------------------------------------------------------------------------

const engine = (mode: PeriodicRunner.Mode): Variant => (probe) =>
  Effect.gen(function* () {
    const runner = yield* PeriodicRunner.make(
      phases.map((phase, i) =>
        PeriodicTask.fixed(`task-${i}`, spacing, Effect.sync(() => probe.run(i)), {
          offset: SETUP_MARGIN_MILLIS + phase,
        })
      ),
      { mode, metrics },
    ).pipe(Effect.orDie)
    // The runner anchors the grid when it is made (a fixed task is first due one spacing after
    // its offset): task 0, of phase 0, is first due at the origin.
    const status = yield* runner.status
    return Option.getOrThrow(status.tasks[0]!.nextRunAt)
  })

const rawTimers: Variant = (probe) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const origin = Date.now() + SETUP_MARGIN_MILLIS
      const handles = phases.map((phase, i) =>
        setTimeout(() => {
          probe.run(i)
          handles[i] = setInterval(() => probe.run(i), spacing)
        }, origin + phase - Date.now())
      )
      return { origin, handles }
    }),
    ({ handles }) => Effect.sync(() => handles.forEach(clearTimeout)),
  ).pipe(Effect.map(({ origin }) => origin))

const naiveFibers: Variant = (probe) =>
  Effect.gen(function* () {
    const origin = Date.now() + SETUP_MARGIN_MILLIS
    // `Effect.schedule` waits one spacing before the first run, so each fiber sleeps until one
    // spacing before its first grid instant. Each fiber is interrupted when the scope closes.
    yield* Effect.forEach(phases, (phase, i) => {
      const run = Effect.sync(() => probe.run(i))
      return sleepUntil(origin - spacing + phase).pipe(
        Effect.zipRight(Effect.schedule(run, Schedule.fixed(spacing))),
        Effect.forkScoped,
      )
    }, { discard: true })
    return origin
  })

// --- main --------------------------------------------------------------------------------

const main = Effect.gen(function* () {
  console.log(
    `${tasks} fixed tasks every ${spacing} ms for ${seconds} s, phases ${
      aligned ? "aligned" : "spread"
    }; ${expectedRuns} runs expected per variant`,
  )
  const results: Record<string, Figures> = {}
  const variants: ReadonlyArray<readonly [string, Variant]> = [
    ["concurrent", engine("concurrent")],
    ["sequential", engine("sequential")],
    ["rawTimers", rawTimers],
    ["naiveFibers", naiveFibers],
  ]
  const unknown = only?.filter((name) => !variants.some(([known]) => known === name)) ?? []
  if (unknown.length > 0) {
    return yield* Effect.die(
      new Error(
        `--only: unknown variant ${unknown.join(", ")}; known: ${variants.map(([n]) => n)}`,
      ),
    )
  }
  for (const [name, variant] of variants) {
    if (only !== undefined && !only.includes(name)) continue
    yield* settle
    results[name] = yield* measure(name, variant)
  }
  console.log(JSON.stringify({
    tasks,
    spacingMs: spacing,
    seconds,
    phases: aligned ? "aligned" : "spread",
    metrics,
    ...results,
  }))
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
