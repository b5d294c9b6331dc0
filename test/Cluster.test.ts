// Leader tasks under TestClock: without a cluster a leader task is a local one; with a cluster,
// it runs only while its runner leads it (a cluster the test grants and revokes by hand).
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"
import * as Cluster from "../src/Cluster.ts"
import { make as makeCluster } from "../src/internal/cluster.ts"

/**
 * A cluster of one runner whose lead the test grants and revokes, and whose cron instants the test
 * fires by hand.
 */
const handCluster = Effect.sync(() => {
  const registered = new Map<string, Effect.Effect<void>>()
  const held = new Map<string, Fiber.RuntimeFiber<void>>()
  const crons = new Map<string, { readonly rule: string; readonly run: Effect.Effect<void> }>()
  const cluster = makeCluster(
    (name, run) =>
      Effect.acquireRelease(
        Effect.sync(() => void registered.set(name, run)),
        () =>
          Effect.suspend(() =>
            Option.match(Option.fromNullable(held.get(name)), {
              onNone: () => Effect.void,
              onSome: Fiber.interrupt,
            })
          ),
      ),
    (name, cron, run) =>
      Effect.acquireRelease(
        Effect.sync(() => void crons.set(name, { rule: String(cron.seconds.size), run })),
        () => Effect.sync(() => void crons.delete(name)),
      ),
  )
  const grant = (name: string) =>
    Effect.flatMap(
      Effect.forkDaemon(registered.get(name)!),
      (fiber) => Effect.sync(() => void held.set(name, fiber)),
    )
  const revoke = (name: string) =>
    Effect.suspend(() => {
      const fiber = held.get(name)!
      held.delete(name)
      return Fiber.interrupt(fiber)
    })
  return { cluster, grant, revoke, registered, crons }
})

describe("leader tasks", () => {
  it.scoped("without a cluster in the context, a leader task runs like a local one", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      const record = Effect.flatMap(
        TestClock.currentTimeMillis,
        (now) => Ref.update(runs, (r) => [...r, now]),
      )
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("archive", "10 seconds", record, { runImmediately: true }).pipe(
          PeriodicTask.withCluster("leader"),
        ),
      ])
      yield* TestClock.adjust("25 seconds")
      expect(yield* Ref.get(runs)).toEqual([0, 10_000, 20_000])
      expect(runner.tasks).toEqual(["archive"])
    }))

  it.scoped("in a cluster it runs only while led, timed from each takeover, interrupted where it was", () =>
    Effect.gen(function* () {
      const { cluster, grant, revoke, registered } = yield* handCluster
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (what: string) =>
        Effect.flatMap(
          TestClock.currentTimeMillis,
          (now) => Ref.update(log, (l) => [...l, `${what}@${now}`]),
        )
      // Each run takes 3 s; an interrupted run notes it.
      const run = Effect.zipRight(note("start"), Effect.sleep("3 seconds")).pipe(
        Effect.zipRight(note("end")),
        Effect.onInterrupt(() => note("interrupted")),
      )
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced("local", "100 seconds", Effect.void),
        PeriodicTask.spaced("archive", "10 seconds", run, { runImmediately: true }).pipe(
          PeriodicTask.withCluster("leader"),
        ),
      ]).pipe(Effect.provideService(Cluster.Cluster, cluster))
      expect([...registered.keys()]).toEqual(["archive"])
      expect(runner.tasks).toEqual(["local"])
      yield* TestClock.adjust("5 seconds")
      expect(yield* Ref.get(log)).toEqual([])
      yield* grant("archive") // at 5 s: runs at once (runImmediately), then 10 s after its end
      yield* TestClock.adjust("1 second")
      expect(runner.tasks).toEqual(["local", "archive"])
      yield* TestClock.adjust("14 seconds") // to 20 s
      yield* revoke("archive") // mid-run: the second run started at 18 s
      expect(runner.tasks).toEqual(["local"])
      yield* TestClock.adjust("21 seconds") // to 41 s: nothing runs here
      yield* grant("archive") // at 41 s: timed from the takeover
      yield* TestClock.adjust("4 seconds")
      expect(yield* Ref.get(log)).toEqual([
        "start@5000",
        "end@8000",
        "start@18000",
        "interrupted@20000",
        "start@41000",
        "end@44000",
      ])
      const status = yield* runner.status
      expect(status.tasks.map((task) => task.name)).toEqual(["local", "archive"])
    }))

  it.scoped("the runner's stop ends the lead and waits for the run", () =>
    Effect.gen(function* () {
      const { cluster, grant } = yield* handCluster
      const ended = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.spaced(
          "archive",
          "10 seconds",
          Effect.onInterrupt(Effect.never, () => Deferred.succeed(ended, undefined)),
          { runImmediately: true, cluster: "leader" },
        ),
      ]).pipe(Effect.provideService(Cluster.Cluster, cluster), Scope.extend(scope))
      yield* grant("archive")
      yield* TestClock.adjust("1 second")
      expect(runner.tasks).toEqual(["archive"])
      yield* Scope.close(scope, Exit.void)
      expect(yield* Deferred.isDone(ended)).toBe(true)
    }))

  it.scoped("a cluster cron task runs only the instants the cluster hands it, each recorded", () =>
    Effect.gen(function* () {
      const { cluster, crons } = yield* handCluster
      const runs = yield* Ref.make(0)
      const runner = yield* PeriodicRunner.make([
        PeriodicTask.cron(
          "purge",
          "*/10 * * * * *",
          Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.sleep("2 seconds")),
          { timeZone: "UTC", cluster: "cron", timeout: "5 seconds" },
        ),
      ]).pipe(Effect.provideService(Cluster.Cluster, cluster))
      expect([...crons.keys()]).toEqual(["purge"])
      expect(runner.tasks).toEqual([])
      yield* TestClock.adjust("35 seconds") // three instants went by: none is run here by itself
      expect(yield* Ref.get(runs)).toBe(0)
      const outcomes = yield* runner.outcomes.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("1 millis")
      const instant = yield* Effect.fork(crons.get("purge")!.run) // the cluster hands one over
      yield* TestClock.adjust("1 second")
      expect(runner.tasks).toEqual(["purge"])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(instant)
      const [outcome] = yield* Fiber.join(outcomes)
      expect([outcome!._tag, outcome!.task, outcome!.startedAt, outcome!.durationMillis]).toEqual([
        "Succeeded",
        "purge",
        35_001,
        2_000,
      ])
      expect([yield* Ref.get(runs), runner.tasks]).toEqual([1, []])
    }))

  it.scoped("without a cluster a cluster cron task runs on its own cron instants", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      yield* PeriodicRunner.make([
        PeriodicTask.cron(
          "purge",
          "*/10 * * * * *",
          Effect.flatMap(
            TestClock.currentTimeMillis,
            (now) => Ref.update(runs, (r) => [...r, now]),
          ),
          { timeZone: "UTC", cluster: "cron" },
        ),
      ])
      yield* TestClock.adjust("35 seconds")
      expect(yield* Ref.get(runs)).toEqual([10_000, 20_000, 30_000])
    }))

  it('cluster "cron" needs a cron task', () => {
    const task = PeriodicTask.spaced("purge", "1 second", Effect.void, { cluster: "cron" })
    expect(PeriodicTask.validate(task).pipe(Effect.flip, Effect.runSync).message).toBe(
      `Periodic task "purge": cluster needs a task timed by a cron expression (PeriodicTask.cron), got "cron"`,
    )
  })

  it("a cluster mode that is not local, leader or cron is refused when the runner is made", () => {
    const task = PeriodicTask.spaced("archive", "1 second", Effect.void, {
      cluster: "everywhere" as never,
    })
    expect(PeriodicTask.validate(task).pipe(Effect.flip, Effect.runSync).message).toBe(
      `Periodic task "archive": cluster must be "local", "leader" or "cron", got "everywhere"`,
    )
  })

  it("Cluster.shardingConfig fills in the defaults and refuses knobs that make no sense", () => {
    const config = Effect.runSync(Cluster.shardingConfig({ lockExpiry: "5 seconds" }))
    expect(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]))).toEqual({
      shardLockRefreshInterval: "Duration(1s)",
      shardLockExpiration: "Duration(5s)",
      refreshAssignmentsInterval: "Duration(500ms)",
      entityMessagePollInterval: "Duration(500ms)",
    })
    const refused = (timing: Cluster.Timing) =>
      Effect.runSync(Effect.flip(Cluster.shardingConfig(timing))).message
    expect(refused({ lockExpiry: Number.NaN })).toBe(
      "Invalid option lockExpiry of Cluster: NaN must be a finite duration > 0",
    )
    expect(refused({ messagePoll: "0 millis" })).toBe(
      `Invalid option messagePoll of Cluster: "0 millis" must be a finite duration > 0`,
    )
    expect(refused({ lockRefresh: "3 seconds" })).toBe(
      "Invalid option lockRefresh of Cluster: 3s must be shorter than lockExpiry (3s): locks would lapse between refreshes",
    )
  })
})
