// A tracer that keeps every span it makes, and metric readings by name and tags: what an
// OpenTelemetry exporter would be given, for tests to assert on.
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type * as Context from "effect/Context"

/** A span as the recording tracer keeps it. */
export class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly sampled = true
  readonly spanId: string
  readonly traceId: string
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  readonly events: Array<string> = []

  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind,
    id: number,
  ) {
    this.spanId = `span-${id}`
    this.traceId = Option.isSome(parent) ? parent.value.traceId : `trace-${id}`
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }

  event(name: string): void {
    this.events.push(name)
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }

  /** The parent's name, or undefined for a root. */
  get parentName(): string | undefined {
    const parent = Option.getOrUndefined(this.parent)
    return parent === undefined ? undefined : parent._tag === "Span" ? parent.name : parent.spanId
  }

  /** The span's start and end on the clock of the fiber that made it, in milliseconds. */
  get times(): { readonly start: number; readonly end: number | undefined } {
    const status = this.status
    return {
      start: Number(status.startTime / 1_000_000n),
      end: status._tag === "Ended" ? Number(status.endTime / 1_000_000n) : undefined,
    }
  }

  /** How the span ended: its exit's tag, or "open". */
  get ended(): "Success" | "Failure" | "open" {
    return this.status._tag === "Ended" ? this.status.exit._tag : "open"
  }
}

/** A tracer that records its spans in `spans`, in the order they were started. */
export const recordingTracer = (): {
  readonly tracer: Tracer.Tracer
  readonly spans: Array<RecordedSpan>
} => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new RecordedSpan(name, parent, context, links, startTime, kind, spans.length)
      spans.push(span)
      return span
    },
    context: (f) => f(),
  })
  return { tracer, spans }
}

/**
 * The state of the metric named `name` whose tags are exactly `tags` (in any order), from the
 * global registry; undefined when there is none.
 */
export const metricState = (
  name: string,
  tags: Readonly<Record<string, string>>,
): Effect.Effect<MetricState.MetricState.Untyped | undefined> =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = Object.entries(tags)
    const pair = pairs.find(({ metricKey }) =>
      metricKey.name === name && metricKey.tags.length === wanted.length &&
      wanted.every(([key, value]) =>
        metricKey.tags.some((tag) => tag.key === key && tag.value === value)
      )
    )
    return pair?.metricState
  })

/** A counter's count (0 when it was never updated). */
export const counterValue = (name: string, tags: Readonly<Record<string, string>>) =>
  Effect.map(metricState(name, tags), (state) => (state === undefined ? 0 : (state as any).count))

/** A histogram's count, sum, min and max (undefined when it was never updated). */
export const histogramValue = (name: string, tags: Readonly<Record<string, string>>) =>
  Effect.map(metricState(name, tags), (state) => {
    if (state === undefined) return undefined
    const { count, max, min, sum } = state as MetricState.MetricState.Histogram
    return { count, sum, min, max }
  })
