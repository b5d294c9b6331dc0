/**
 * What the scheduler costs: 10,000 hosts each reporting once a second for 10 s into one
 * scheduler, then `select` over all of them with two filters and one weigher, on the real clock.
 *
 *   npm run bench:scheduler -- [--hosts 10000] [--seconds 10] [--selects 2000]
 *
 * Each second one batch holds every host's next report (free RAM and instance count change
 * from report to report, so each one is decoded with the schema) and goes to the scheduler by
 * direct `ingestAll`, as a consumed stream's chunk would. Batches are built before the clock
 * starts; ingestion throughput is reports divided by the time spent inside `ingestAll` (wall
 * time and process CPU time, summed over the batches), not the 1 s pacing between them.
 * `select` is timed one call at a time. RSS is read after a full GC, with every host's state
 * held. Progress goes out as readable lines; the last line is one JSON object.
 *
 * A baseline runs in the same process on the same batches, timed the same way: each report's
 * capabilities decoded with the same schema by the decoder the scheduler uses
 * (`Schema.decodeUnknownEither`) and kept in a `Map` by host. `ingestVsBaseline` is the
 * scheduler's CPU per report divided by the baseline's (`ingestVsBaselineWall` the same for wall
 * time), a figure that moves less with the machine's load than the absolute rate. The two take
 * turns going first each second, so that neither always meets the other's garbage. The baseline
 * goes over each batch `BASELINE_PASSES` times (decoding and keeping every report again), so that
 * a young-generation collection landing in it weighs less on its short time. The ratios
 * leave the first second out: there V8 compiles what both share (the schema's decoder) for
 * whichever goes first, and every host is new. `cpuUsPerReport`, `reportsPerSecond` and the
 * baseline's own figures count every second.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { CapabilityReport } from "../src/Capabilities.ts"
import * as Scheduler from "../src/Scheduler.ts"
import { collectGarbage, nodeProcess as process, numberFlag } from "./support.ts"

declare const console: {
  log(...args: ReadonlyArray<unknown>): void
  error(...args: ReadonlyArray<unknown>): void
}
declare const performance: { now(): number }

const hostCount = numberFlag("--hosts", 10_000)
const seconds = numberFlag("--seconds", 10)
const selects = numberFlag("--selects", 2_000)

const Compute = Schema.Struct({
  vcpus: Schema.Number,
  freeRamMb: Schema.Number,
  freeDiskGb: Schema.Number,
  instances: Schema.Number,
  enabled: Schema.Boolean,
})
type Compute = typeof Compute.Type

const hostNames = Array.from({ length: hostCount }, (_, i) => `compute-${i}`)

/** Second `s`'s reports: every host's report number `s + 1`, with capabilities that moved. */
const batch = (s: number): ReadonlyArray<CapabilityReport> =>
  hostNames.map((host, i) => ({
    host,
    service: "compute",
    manager: "Compute",
    capabilities: {
      vcpus: 8 + (i % 4) * 8,
      freeRamMb: ((i * 7_919 + s * 104_729) % 65_536) + 512,
      freeDiskGb: (i * 31) % 2_000,
      instances: (i + s) % 40,
      enabled: i % 10 !== 0,
    },
    timestamp: s * 1_000,
    sequence: s + 1,
  }))

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** What the baseline keeps per host: the report and its decoded capabilities. */
interface Kept {
  readonly report: CapabilityReport
  readonly capabilities: Compute
}

/** Passes of the baseline over each batch. */
const BASELINE_PASSES = 3

/**
 * The baseline's ingestion, `BASELINE_PASSES` times over: decode each report's capabilities and
 * keep it by host. Returns the reports decoded.
 */
const baselineIngest = (
  decode: (input: unknown) => Either.Either<Compute, unknown>,
  kept: Map<string, Kept>,
  reports: ReadonlyArray<CapabilityReport>,
): number => {
  for (let pass = 0; pass < BASELINE_PASSES; pass++) {
    for (const report of reports) {
      const decoded = decode(report.capabilities)
      if (Either.isLeft(decoded)) throw new Error(`baseline: ${report.host} did not decode`)
      kept.set(report.host, { report, capabilities: decoded.right })
    }
  }
  return reports.length * BASELINE_PASSES
}

interface Timed<A> {
  readonly value: A
  /** Wall time, ms. */
  readonly millis: number
  /** Process CPU time, µs. */
  readonly cpu: number
}

/** Runs `effect`, timing it on the wall clock and in process CPU time. */
const timed = <A>(effect: Effect.Effect<A>): Effect.Effect<Timed<A>> =>
  Effect.gen(function* () {
    const started = performance.now()
    const cpu = process.cpuUsage()
    const value = yield* effect
    const cpuAfter = process.cpuUsage()
    const millis = performance.now() - started
    return { value, millis, cpu: cpuAfter.user - cpu.user + cpuAfter.system - cpu.system }
  })

/** Untimed `select` calls before the timed ones. */
const SELECT_WARMUP = 100

const round = (value: number, digits: number) => Number(value.toFixed(digits))

// --- main --------------------------------------------------------------------------------

const main = Effect.gen(function* () {
  console.log(
    `${hostCount} hosts reporting every second for ${seconds} s by direct ingestAll (one batch per second), then ${selects} selects`,
  )
  const scheduler = yield* Scheduler.make({ schema: Compute })
  const batches = Array.from({ length: seconds }, (_, s) => batch(s))

  const decode = Schema.decodeUnknownEither(Compute)
  const kept = new Map<string, Kept>()

  let reports = 0
  let ingestMillis = 0
  let cpuMicros = 0
  let baselineMillis = 0
  let baselineCpuMicros = 0
  let baselineDecoded = 0
  /** The same four sums without the first second, for the ratios. */
  const steady = { reports: 0, millis: 0, cpu: 0, decoded: 0, baselineMillis: 0, baselineCpu: 0 }
  const rate = (count: number, millis: number) =>
    Math.round(count / millis * 1000).toLocaleString("en")
  for (let s = 0; s < seconds; s++) {
    const reportsNow = batches[s]!
    const runScheduler = timed(scheduler.ingestAll(reportsNow))
    const runBaseline = timed(Effect.sync(() => baselineIngest(decode, kept, reportsNow)))
    const baselineFirst = s % 2 === 0
    let ours: Timed<Scheduler.IngestSummary>
    let base: Timed<number>
    if (baselineFirst) {
      base = yield* runBaseline
      ours = yield* runScheduler
    } else {
      ours = yield* runScheduler
      base = yield* runBaseline
    }
    const summary = ours.value
    ingestMillis += ours.millis
    cpuMicros += ours.cpu
    baselineMillis += base.millis
    baselineCpuMicros += base.cpu
    baselineDecoded += base.value
    if (s > 0 || seconds === 1) {
      steady.reports += summary.accepted
      steady.decoded += base.value
      steady.millis += ours.millis
      steady.cpu += ours.cpu
      steady.baselineMillis += base.millis
      steady.baselineCpu += base.cpu
    }
    reports += summary.accepted
    if (summary.accepted !== hostCount) {
      throw new Error(`second ${s}: ${summary.accepted} of ${hostCount} reports accepted`)
    }
    console.log(
      `second ${s + 1}: ${summary.accepted} reports in ${ours.millis.toFixed(2)} ms (${
        rate(summary.accepted, ours.millis)
      } reports/s); baseline, ${BASELINE_PASSES} passes, ${base.millis.toFixed(2)} ms (${
        rate(base.value, base.millis)
      } reports/s)${baselineFirst ? ", baseline first" : ""}`,
    )
    // The pacing: every host reports once a second.
    yield* Effect.sleep(Math.max(0, 1000 - ours.millis - base.millis))
  }
  batches.length = 0
  /** The scheduler's cost per report over the baseline's, from the sums without second 1. */
  const perReport = (ours: number, base: number) =>
    round((ours / steady.reports) / (base / steady.decoded), 2)
  const ingestVsBaseline = perReport(steady.cpu, steady.baselineCpu)
  const ingestVsBaselineWall = perReport(steady.millis, steady.baselineMillis)
  console.log(
    `ingestion: ${ingestVsBaseline}× the baseline's CPU per report, ${ingestVsBaselineWall}× its wall time${
      seconds > 1 ? ` (seconds 2–${seconds})` : ""
    }`,
  )
  if (kept.size !== hostCount) throw new Error(`baseline: ${kept.size} of ${hostCount} hosts kept`)
  kept.clear()

  const filters: ReadonlyArray<Scheduler.Filter<Compute, Request>> = [
    Scheduler.resourcesFit(["vcpus", "freeRamMb", "freeDiskGb"]),
    { name: "compute", passes: (host) => host.capabilities.enabled },
  ]
  const weighers = [Scheduler.numericWeigher("ram", "freeRamMb")]
  type Request = { readonly vcpus: number; readonly freeRamMb: number; readonly freeDiskGb: number }
  const up = (yield* scheduler.upHosts).length
  const times: Array<number> = []
  const chosen = new Set<string>()
  // The ingest phase's garbage is collected first, so that its collection does not land
  // inside a timed select; the first SELECT_WARMUP calls (V8 compiling `select`) are not timed.
  collectGarbage()
  for (let i = -SELECT_WARMUP; i < selects; i++) {
    const request: Request = {
      vcpus: 8 + (Math.abs(i) % 3) * 8,
      freeRamMb: 1024 + (Math.abs(i) % 64) * 512,
      freeDiskGb: 100,
    }
    const started = performance.now()
    const host = yield* scheduler.select(request, { filters, weighers })
    if (i < 0) continue
    times.push(performance.now() - started)
    chosen.add(host.host)
  }
  times.sort((a, b) => a - b)
  console.log(
    `select over ${up} up hosts (filters resources, compute; weigher ram): p50 ${
      percentile(times, 50).toFixed(3)
    } ms, p99 ${percentile(times, 99).toFixed(3)} ms, ${chosen.size} distinct hosts chosen`,
  )

  collectGarbage()
  const rssMb = process.memoryUsage.rss() / 1024 / 1024
  const hosts = (yield* scheduler.hosts).length
  console.log(`${hosts} host states held; RSS after GC ${rssMb.toFixed(1)} MB`)
  console.log(JSON.stringify({
    hosts,
    reports,
    reportsPerSecond: Math.round(reports / ingestMillis * 1000),
    cpuUsPerReport: round(cpuMicros / reports, 3),
    baselineReportsPerSecond: Math.round(baselineDecoded / baselineMillis * 1000),
    baselineCpuUsPerReport: round(baselineCpuMicros / baselineDecoded, 3),
    ingestVsBaseline,
    ingestVsBaselineWall,
    rssMb: round(rssMb, 1),
    selectP50Ms: round(percentile(times, 50), 3),
    selectP99Ms: round(percentile(times, 99), 3),
  }))
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
