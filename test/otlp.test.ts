// The README's OpenTelemetry set-up, end to end: @effect/opentelemetry's OTLP exporter, given
// an HTTP client that plays the collector, receives the runs' spans and the library's metrics.
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Otlp from "@effect/opentelemetry/Otlp"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { PeriodicRunner, PeriodicTask } from "../mod.ts"

// Web globals every runtime here has; the suite's type-check sees only ES2022's.
const web = globalThis as any

/** What the collector was sent: each request's path and its JSON body. */
const collector = (received: Array<{ readonly path: string; readonly body: any }>) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.sync(() => {
        const body = request.body._tag === "Uint8Array"
          ? JSON.parse(new web.TextDecoder().decode(request.body.body))
          : undefined
        received.push({ path: request.url.replace(/^https?:\/\/[^/]+/, ""), body })
        return HttpClientResponse.fromWeb(request, new web.Response("{}", { status: 200 }))
      })
    ),
  )

describe("OpenTelemetry export (OTLP/JSON)", () => {
  it.effect("a collector receives each run's span and the task's metrics", () =>
    Effect.gen(function* () {
      const received: Array<{ readonly path: string; readonly body: any }> = []
      const telemetry = Otlp.layerJson({
        baseUrl: "http://collector.test:4318",
        resource: { serviceName: "compute" },
      }).pipe(Layer.provide(collector(received)))
      yield* Effect.scoped(Effect.gen(function* () {
        // Tagged apart: the registry is global, and other tests' runners may have an "audit".
        yield* PeriodicRunner.make([PeriodicTask.spaced("audit", "1 second", Effect.void)]).pipe(
          Effect.tagMetrics("test", "otlp"),
        )
        yield* TestClock.adjust("3 seconds")
      })).pipe(Effect.provide(telemetry))

      const spans = received.filter((r) => r.path === "/v1/traces")
        .flatMap((r) => r.body.resourceSpans)
        .flatMap((resource: any) => resource.scopeSpans)
        .flatMap((scope: any) => scope.spans)
      expect(spans.map((span: any) => span.name)).toEqual(["run audit", "run audit", "run audit"])
      expect(spans.map((span: any) => span.parentSpanId ?? "")).toEqual(["", "", ""])
      const metrics = received.filter((r) => r.path === "/v1/metrics")
        .flatMap((r) => r.body.resourceMetrics)
        .flatMap((resource: any) => resource.scopeMetrics)
        .flatMap((scope: any) => scope.metrics)
      const runs = metrics.find((metric: any) => metric.name === "effect_manager.task.runs")
      const points = runs.sum.dataPoints.filter((point: any) =>
        point.attributes.some((a: any) => a.key === "test" && a.value.stringValue === "otlp")
      )
      expect(points.map((point: any) => point.attributes)).toEqual([[
        { key: "task", value: { stringValue: "audit" } },
        { key: "outcome", value: { stringValue: "succeeded" } },
        { key: "test", value: { stringValue: "otlp" } },
      ]])
      expect(points.map((point: any) => Number(point.asInt ?? point.asDouble))).toEqual([3])
    }))
})
