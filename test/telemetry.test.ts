import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Chunk from "effect/Chunk"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import {
  Manager,
  PeriodicRunner,
  PeriodicTask,
  Scheduler,
  Service,
  ServiceRegistry,
  Telemetry,
} from "../mod.ts"
import { report } from "./support/reports.ts"
import {
  counterValue,
  histogramValue,
  metricState,
  type RecordedSpan,
  recordingTracer,
} from "./support/tracing.ts"

/** Spans by name, in the order they started. */
const named = (spans: ReadonlyArray<RecordedSpan>, name: string) =>
  spans.filter((span) => span.name === name)

/** Metrics of one test apart from every other's: the runner takes the labels it was made with. */
const metricsOf = (test: string) => Effect.tagMetrics("test", test)

describe("telemetry: a runner's runs", () => {
  it.scoped(
    "each run is the root of its own trace, linked to the span the runner was made in; spans of the run are its children",
    () =>
      Effect.gen(function* () {
        const { spans, tracer } = recordingTracer()
        yield* Effect.gen(function* () {
          yield* PeriodicRunner.make([
            PeriodicTask.spaced(
              "sync",
              "1 second",
              Effect.withSpan(Effect.sleep("200 millis"), "work"),
            ),
          ]).pipe(Effect.withSpan("service start"))
          yield* TestClock.adjust("2500 millis")
        }).pipe(Effect.withTracer(tracer))
        const [creator] = named(spans, "service start")
        const runs = named(spans, "run sync")
        expect(runs.map((span) => span.parent)).toEqual([Option.none(), Option.none()])
        expect(runs.map((span) => span.links.map((link) => link.span))).toEqual([[creator], [
          creator,
        ]])
        expect(runs.map((span) => Object.fromEntries(span.attributes))).toEqual([
          {
            "effect_manager.task": "sync",
            "effect_manager.task.scheduled_at": 1_000,
            "effect_manager.task.lateness_ms": 0,
            "effect_manager.task.outcome": "succeeded",
          },
          {
            "effect_manager.task": "sync",
            "effect_manager.task.scheduled_at": 2_200,
            "effect_manager.task.lateness_ms": 0,
            "effect_manager.task.outcome": "succeeded",
          },
        ])
        expect(runs.map((span) => [span.times, span.ended])).toEqual([
          [{ start: 1_000, end: 1_200 }, "Success"],
          [{ start: 2_200, end: 2_400 }, "Success"],
        ])
        const work = named(spans, "work")
        expect(work.map((span) => Option.getOrThrow(span.parent))).toEqual(runs)
        expect(new Set(runs.map((span) => span.traceId)).size).toBe(2)
      }),
  )

  it.scoped("a failed run ends its span with the failure; a timed-out one says timed_out", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      yield* Effect.gen(function* () {
        yield* PeriodicRunner.make([
          PeriodicTask.spaced("broken", "1 second", Effect.fail("boom"), { onError: "log" }),
          PeriodicTask.spaced("stuck", "1 second", Effect.never, {
            onError: "log",
            timeout: "300 millis",
          }),
        ])
        yield* TestClock.adjust("1500 millis")
      }).pipe(Effect.withTracer(tracer))
      const [broken] = named(spans, "run broken")
      const [stuck] = named(spans, "run stuck")
      expect(broken!.attributes.get("effect_manager.task.outcome")).toBe("failed")
      expect(broken!.status._tag === "Ended" && broken!.status.exit).toEqual(Exit.fail("boom"))
      expect(stuck!.attributes.get("effect_manager.task.outcome")).toBe("timed_out")
      expect([stuck!.times, stuck!.ended]).toEqual([{ start: 1_000, end: 1_300 }, "Failure"])
    }))

  it.scoped(`runSpans "root" makes no link; "off" makes no span, and a run's own spans are roots`, () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      yield* Effect.gen(function* () {
        const task = (name: string) =>
          PeriodicTask.spaced(name, "1 second", Effect.withSpan(Effect.void, `work ${name}`))
        yield* PeriodicRunner.make([task("a")], { runSpans: "root" })
        yield* PeriodicRunner.make([task("b")], { runSpans: "off" })
      }).pipe(Effect.withSpan("creator"), Effect.withTracer(tracer))
      yield* TestClock.adjust("1 second").pipe(Effect.withTracer(tracer))
      const [runA] = named(spans, "run a")
      expect(runA!.links).toEqual([])
      expect(named(spans, "run b")).toEqual([])
      expect(named(spans, "work a").map((span) => span.parent)).toEqual([Option.some(runA)])
      expect(named(spans, "work b").map((span) => span.parent)).toEqual([Option.none()])
    }))

  it.scoped("with Effect's built-in tracer a run has no span, and the creator's span is not its parent", () =>
    Effect.gen(function* () {
      const seen: Array<Option.Option<Tracer.Span>> = []
      yield* PeriodicRunner.make([
        PeriodicTask.spaced(
          "quiet",
          "1 second",
          Effect.flatMap(
            Effect.option(Effect.currentSpan),
            (span) => Effect.sync(() => seen.push(span)),
          ),
        ),
      ]).pipe(Effect.withSpan("creator"))
      yield* TestClock.adjust("2 seconds")
      expect(seen).toEqual([Option.none(), Option.none()])
    }))

  it.scoped("runs are counted by task and outcome, with their durations, lateness and skips", () =>
    Effect.gen(function* () {
      yield* PeriodicRunner.make([
        PeriodicTask.spaced("steady", "1 second", Effect.sleep("200 millis")),
        PeriodicTask.fixed("slow", "1 second", Effect.sleep("1500 millis")),
        PeriodicTask.spaced("broken", "1 second", Effect.fail("boom"), { onError: "log" }),
      ], { shutdownTimeout: 0 }).pipe(metricsOf("runs"))
      yield* TestClock.adjust("3600 millis")
      const tags = (task: string, outcome?: string) => ({
        test: "runs",
        task,
        ...(outcome === undefined ? {} : { outcome }),
      })
      const runs = "effect_manager.task.runs"
      expect(yield* counterValue(runs, tags("steady", "succeeded"))).toBe(3)
      expect(yield* counterValue(runs, tags("slow", "succeeded"))).toBe(1)
      expect(yield* counterValue(runs, tags("broken", "failed"))).toBe(3)
      expect(yield* counterValue(runs, tags("steady", "failed"))).toBe(0)
      expect(yield* counterValue("effect_manager.task.skipped", tags("slow"))).toBe(1)
      // The public metrics read the same entries: tagged in the same order, under the same
      // fiber labels (Effect puts a fiber's last).
      const steadyRuns = Telemetry.taskRuns.pipe(
        Metric.tagged("task", "steady"),
        Metric.tagged("outcome", "succeeded"),
      )
      expect((yield* Metric.value(steadyRuns).pipe(metricsOf("runs"))).count).toBe(3)
      const ms = { time_unit: "milliseconds" }
      expect(yield* histogramValue("effect_manager.task.duration", { ...ms, ...tags("steady") }))
        .toEqual({ count: 3, sum: 600, min: 200, max: 200 })
      expect(yield* histogramValue("effect_manager.task.lateness", { ...ms, ...tags("slow") }))
        .toMatchObject({ count: 1, sum: 0, min: 0 })
    }))

  it.scoped("metrics: false records none, where the same runner with metrics counts its runs", () =>
    Effect.gen(function* () {
      const make = (test: string, metrics: boolean) =>
        PeriodicRunner.make([PeriodicTask.spaced("unseen", "1 second", Effect.void)], { metrics })
          .pipe(metricsOf(test))
      yield* make("off", false)
      yield* make("on", true)
      yield* TestClock.adjust("2 seconds")
      const state = (test: string) =>
        metricState("effect_manager.task.runs", { test, task: "unseen", outcome: "succeeded" })
      expect(yield* state("off")).toBeUndefined()
      expect(
        yield* counterValue("effect_manager.task.runs", {
          test: "on",
          task: "unseen",
          outcome: "succeeded",
        }),
      ).toBe(2)
    }))

  it.scoped("each run counts once, with a subscriber to the outcomes and in sequential mode", () =>
    Effect.gen(function* () {
      for (const mode of ["concurrent", "sequential"] as const) {
        const runner = yield* PeriodicRunner.make([
          PeriodicTask.spaced("watched", "1 second", Effect.void),
          PeriodicTask.spaced("failing", "1 second", Effect.fail("no"), { onError: "log" }),
        ], { mode }).pipe(metricsOf(`watched-${mode}`))
        const seen = yield* Stream.runCollect(Stream.take(runner.outcomes, 6)).pipe(Effect.fork)
        yield* TestClock.adjust("3 seconds")
        expect(Chunk.size(yield* Fiber.join(seen))).toBe(6)
        const count = (task: string, outcome: string) =>
          counterValue("effect_manager.task.runs", { test: `watched-${mode}`, task, outcome })
        expect([yield* count("watched", "succeeded"), yield* count("failing", "failed")])
          .toEqual([3, 3])
        expect(
          (yield* histogramValue("effect_manager.task.duration", {
            time_unit: "milliseconds",
            test: `watched-${mode}`,
            task: "watched",
          }))?.count,
        ).toBe(3)
      }
    }))
})

class Compute extends Context.Tag("Compute")<Compute, { readonly free: number }>() {}

/** `effect` forked, the test clock moved a second on, then joined: hooks here take some time. */
const withClockRunning = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(
    Effect.fork(effect),
    (fiber) => Effect.zipRight(TestClock.adjust("1 second"), Fiber.join(fiber)),
  )

const compute = Manager.layer(
  Compute,
  Effect.succeed({
    service: { free: 1 },
    init: Effect.sleep("10 millis"),
    preStart: Effect.void,
    postStart: Effect.void,
    cleanup: () => Effect.sleep("30 millis"),
    tasks: [PeriodicTask.spaced("audit", "4 seconds", Effect.void)],
  }),
)

describe("telemetry: a service", () => {
  it.effect("its start, hooks, heartbeats and stop phases are spans; hooks and tasks are measured under its host and topic", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const scope = yield* Scope.make()
      yield* withClockRunning(
        Layer.buildWithScope(
          Service.layer({ host: "host-1", topic: "compute" }, compute).pipe(
            Layer.provideMerge(ServiceRegistry.layerMemory),
          ),
          scope,
        ).pipe(metricsOf("service"), Effect.withTracer(tracer)),
      )
      yield* TestClock.adjust("20 seconds")
      yield* withClockRunning(Scope.close(scope, Exit.void).pipe(Effect.withTracer(tracer)))

      const service = { "effect_manager.host": "host-1", "effect_manager.topic": "compute" }
      const [start] = named(spans, "start compute")
      expect(start!.parent).toEqual(Option.none())
      expect(Object.fromEntries(start!.attributes)).toEqual(service)
      const children = (parent: Tracer.Span) =>
        spans.filter((span) => Option.getOrUndefined(span.parent) === parent).map((span) =>
          span.name
        )
      expect(children(start!)).toEqual(["init Compute", "preStart Compute", "postStart Compute"])
      const [init] = named(spans, "init Compute")
      expect(Object.fromEntries(init!.attributes)).toEqual({
        ...service,
        "effect_manager.manager": "Compute",
        "effect_manager.hook": "init",
      })
      expect(init!.times).toEqual({ start: 0, end: 10 })

      // nova's report_state: every 10 seconds, the first 5 seconds after the start (at 10 ms).
      const beats = named(spans, "heartbeat compute")
      expect(beats.map((span) => [
        span.parentName,
        span.times.start,
        span.attributes.get("effect_manager.report_count"),
      ])).toEqual([["run report_state", 5_010, 1], ["run report_state", 15_010, 2]])
      // The runs of the service's tasks and heartbeat link to its start's span.
      const runs = [...named(spans, "run audit"), ...named(spans, "run report_state")]
      expect(runs.length).toBe(5 + 2)
      expect(
        runs.every((span) =>
          span.parent._tag === "None" && span.links.length === 1 && span.links[0]!.span === start
        ),
      ).toBe(true)

      const [stop] = named(spans, "stop compute")
      expect(children(stop!)).toEqual([
        "stop periodic_tasks",
        "stop capabilities",
        "stop heartbeat",
        "stop cleanup",
        "stop mark_down",
      ])
      expect(children(named(spans, "stop cleanup")[0]!)).toEqual(["cleanup Compute"])
      expect(named(spans, "stop mark_down")[0]!.attributes.get("effect_manager.stop_phase"))
        .toBe("mark_down")

      const hook = (name: string) =>
        histogramValue("effect_manager.hook.duration", {
          time_unit: "milliseconds",
          test: "service",
          host: "host-1",
          topic: "compute",
          manager: "Compute",
          hook: name,
        })
      expect(yield* hook("init")).toEqual({ count: 1, sum: 10, min: 10, max: 10 })
      expect(yield* hook("cleanup")).toEqual({ count: 1, sum: 30, min: 30, max: 30 })
      // The service's tasks are counted under its host and topic, its heartbeat is not a task.
      const taskRuns = (task: string) =>
        metricState("effect_manager.task.runs", {
          test: "service",
          host: "host-1",
          topic: "compute",
          task,
          outcome: "succeeded",
        })
      expect(yield* taskRuns("audit")).toMatchObject({ count: 5 })
      expect(yield* taskRuns("report_state")).toBeUndefined()
    }))

  it.effect("a heartbeat that fails is counted", () =>
    Effect.gen(function* () {
      const failing = Layer.effect(
        ServiceRegistry.ServiceRegistry,
        Effect.map(ServiceRegistry.ServiceRegistry, (registry) => ({
          ...registry,
          report: () => Effect.die("the database is gone"),
        })),
      ).pipe(Layer.provide(ServiceRegistry.layerMemory))
      const scope = yield* Scope.make()
      yield* withClockRunning(
        Layer.buildWithScope(
          Service.layer({ host: "host-2", topic: "compute" }, compute).pipe(Layer.provide(failing)),
          scope,
        ).pipe(metricsOf("heartbeat")),
      )
      yield* TestClock.adjust("25 seconds")
      expect(
        yield* counterValue("effect_manager.registry.heartbeat_failures", {
          test: "heartbeat",
          host: "host-2",
          topic: "compute",
        }),
      ).toBe(3)
      yield* withClockRunning(Scope.close(scope, Exit.void))
    }))
})

const Capacity = Schema.Struct({ free: Schema.Number })

describe("telemetry: a scheduler", () => {
  it.scoped("select is a span; placements, NoValidHosts, reports and hosts up are counted", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const scheduler = yield* Scheduler.make({ schema: Capacity }).pipe(metricsOf("scheduler"))
      yield* scheduler.ingest(report("node-1", 1, { free: 4 }))
      yield* scheduler.ingest(report("node-2", 1, { free: 1 }))
      yield* scheduler.ingest(report("node-2", 1, { free: 1 }))
      yield* Effect.either(scheduler.ingest(report("node-3", 1, { free: "many" })))
      const fits = Scheduler.resourcesFit(["free"])
      const chosen = yield* scheduler.select({ free: 2 }, { filters: [fits] }).pipe(
        Effect.withTracer(tracer),
      )
      expect(chosen.host).toBe("node-1")
      yield* Effect.either(
        scheduler.select({ free: 8 }, { filters: [fits] }).pipe(Effect.withTracer(tracer)),
      )
      expect(spans.map((span) => [span.name, Object.fromEntries(span.attributes), span.ended]))
        .toEqual([
          ["select", { "effect_manager.scheduler.chosen_host": "node-1" }, "Success"],
          ["select", { "effect_manager.scheduler.hosts_considered": 2 }, "Failure"],
        ])
      const count = (name: string, tags: Record<string, string> = {}) =>
        counterValue(`effect_manager.scheduler.${name}`, { test: "scheduler", ...tags })
      expect(yield* count("placements")).toBe(1)
      expect(yield* count("no_valid_host")).toBe(1)
      expect(yield* count("reports", { result: "applied" })).toBe(2)
      expect(yield* count("reports", { result: "out_of_order" })).toBe(1)
      expect(yield* count("reports", { result: "refused" })).toBe(1)
      const hostsUp = () =>
        Effect.map(
          metricState("effect_manager.scheduler.hosts_up", { test: "scheduler" }),
          (state) => (state as { value: number } | undefined)?.value,
        )
      expect(yield* hostsUp()).toBe(2)
      // Past the down time the sweeper marks both down.
      yield* TestClock.adjust("61 seconds")
      expect(yield* hostsUp()).toBe(0)
    }))

  it.effect("ingestAll counts each report once; hosts_up is the sum over schedulers, less one that is gone", () =>
    Effect.gen(function* () {
      const hostsUp = Effect.map(
        metricState("effect_manager.scheduler.hosts_up", { test: "two" }),
        (state) => (state as { value: number } | undefined)?.value,
      )
      const first = yield* Scope.make()
      const a = yield* Scheduler.make({ schema: Capacity }).pipe(
        metricsOf("two"),
        Scope.extend(first),
      )
      const summary = yield* a.ingestAll([
        report("node-1", 1, { free: 1 }),
        report("node-2", 1, { free: 1 }),
        report("node-2", 1, { free: 1 }),
        report("node-3", 1, { free: "none" }),
      ])
      expect([summary.accepted, summary.outOfOrder, summary.rejected.length]).toEqual([2, 1, 1])
      const count = (result: string) =>
        counterValue("effect_manager.scheduler.reports", { test: "two", result })
      expect([yield* count("applied"), yield* count("out_of_order"), yield* count("refused")])
        .toEqual([2, 1, 1])
      yield* Effect.scoped(Effect.gen(function* () {
        const b = yield* Scheduler.make({ schema: Capacity }).pipe(metricsOf("two"))
        yield* b.ingest(report("node-9", 1, { free: 1 }))
        expect(yield* hostsUp).toBe(3)
      }))
      expect(yield* hostsUp).toBe(2)
      yield* Scope.close(first, Exit.void)
      expect(yield* hostsUp).toBe(0)
    }))
})
