/**
 * A few periodic tasks on the real clock, for `npm start` (Deno) and `npm run start:node`.
 * It prints every outcome when the occurrence ends and a summary per task, and ends by itself after
 * about 12 seconds (`--seconds N` changes that).
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"

declare const process: { readonly argv: ReadonlyArray<string> } | undefined
declare const Deno: { readonly args: ReadonlyArray<string> } | undefined

const args = typeof Deno !== "undefined" ? Deno.args : process?.argv.slice(2) ?? []
const flag = args.indexOf("--seconds")
const seconds = flag >= 0 ? Number(args[flag + 1]) : 12

let audits = 0
const tasks = [
  // nova's `@periodic_task(spacing=2, run_immediately=True)`
  PeriodicTask.spaced("heal_instance_info_cache", "2 seconds", Effect.sleep("300 millis"), {
    runImmediately: true,
  }),
  // On a grid; every third run takes longer than the period, so the next slot is skipped.
  PeriodicTask.fixed(
    "update_available_resource",
    "1 second",
    Effect.suspend(() => Effect.sleep(++audits % 3 === 0 ? "1500 millis" : "100 millis")),
  ),
  // Fails every time: logged with the task's name, the runner goes on (oslo's default).
  PeriodicTask.fixed("poll_unconfirmed_resizes", "3 seconds", Effect.fail("resize API down")),
  // Any Schedule works: backing off from 500 ms.
  PeriodicTask.make("reconnect_backend", Effect.void, {
    schedule: Schedule.exponential("500 millis").pipe(Schedule.upTo("10 seconds")),
  }),
  // A per-run time limit.
  PeriodicTask.spaced("sync_power_states", "4 seconds", Effect.sleep("2 seconds"), {
    timeout: "1 second",
  }),
  // oslo's config rule: a negative spacing disables the task, logged once.
  PeriodicTask.fromSpacing("reclaim_queued_deletes", -1, Effect.void),
]

const describe = PeriodicRunner.TaskOutcome.$match({
  Succeeded: (o) => `succeeded in ${o.durationMillis} ms`,
  Failed: () => `failed`,
  TimedOut: (o) => `timed out after ${o.timeoutMillis} ms`,
  Skipped: () => `skipped: the previous run is still going`,
  Interrupted: () => `interrupted at shutdown`,
})

const program = Effect.gen(function* () {
  const runner = yield* PeriodicRunner.make(tasks)
  const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
  const at = (millis: number) => ((millis - started) / 1000).toFixed(3).padStart(7)
  yield* Console.log(`Running ${runner.tasks.length} periodic tasks for ${seconds} s`)
  yield* runner.outcomes.pipe(
    Stream.runForEach((o) =>
      Console.log(
        `${at(o.startedAt + o.durationMillis)} s  ${o.task.padEnd(26)} ${
          describe(o)
        }  (started ${o.latenessMillis} ms late)`,
      )
    ),
    Effect.forkScoped,
  )
  yield* Effect.sleep(Duration.seconds(seconds))
  const status = yield* runner.status
  yield* Console.log(`\nSummary after ${seconds} s (${status.wakeups} driver wake-ups):`)
  for (const task of status.tasks) {
    yield* Console.log(
      `  ${task.name.padEnd(26)} ${
        task.state.padEnd(9)
      } ok ${task.succeeded}, failed ${task.failed}, ` +
        `timed out ${task.timedOut}, skipped ${task.skipped}`,
    )
  }
}).pipe(Effect.scoped)

Effect.runFork(program)
