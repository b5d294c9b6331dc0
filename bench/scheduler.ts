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
 */
import * as Effect from "effect/Effect"
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

  let reports = 0
  let ingestMillis = 0
  let cpuMicros = 0
  for (let s = 0; s < seconds; s++) {
    const started = performance.now()
    const cpu = process.cpuUsage()
    const summary = yield* scheduler.ingestAll(batches[s]!)
    const cpuAfter = process.cpuUsage()
    const took = performance.now() - started
    ingestMillis += took
    cpuMicros += cpuAfter.user - cpu.user + cpuAfter.system - cpu.system
    reports += summary.accepted
    if (summary.accepted !== hostCount) {
      throw new Error(`second ${s}: ${summary.accepted} of ${hostCount} reports accepted`)
    }
    console.log(
      `second ${s + 1}: ${summary.accepted} reports in ${took.toFixed(2)} ms (${
        Math.round(summary.accepted / took * 1000).toLocaleString("en")
      } reports/s)`,
    )
    // The pacing: every host reports once a second.
    yield* Effect.sleep(Math.max(0, 1000 - took))
  }
  batches.length = 0

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
    rssMb: round(rssMb, 1),
    selectP50Ms: round(percentile(times, 50), 3),
    selectP99Ms: round(percentile(times, 99), 3),
  }))
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
