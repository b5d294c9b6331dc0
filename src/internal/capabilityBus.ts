import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { CapabilityReport } from "../Capabilities.ts"
import type * as CapabilityBus from "../CapabilityBus.ts"
import { MalformedReport, readReport } from "./capabilities.ts"
import {
  decodeOptions,
  filter,
  InvalidOption,
  PositiveInteger,
  Struct,
  withDefault,
} from "./options.ts"

/** @internal */
export const TypeId: CapabilityBus.TypeId = Symbol.for(
  "effect-manager/CapabilityBus",
) as CapabilityBus.TypeId

/** @internal */
export const tag: Context.Tag<CapabilityBus.CapabilityBus, CapabilityBus.CapabilityBus> = Context
  .GenericTag<CapabilityBus.CapabilityBus>("effect-manager/CapabilityBus")

/** @internal */
export const defaultCapacity = 4096

const BusOptions = Struct({
  capacity: withDefault(
    filter(PositiveInteger, (n) => Number.isSafeInteger(n) || "must be at most 2^53 − 1"),
    () => defaultCapacity,
  ),
})

/** @internal */
export const make = (
  options?: CapabilityBus.Options,
): Effect.Effect<CapabilityBus.CapabilityBus, InvalidOption, Scope.Scope> =>
  Effect.gen(function* () {
    const { capacity } = yield* decodeOptions("CapabilityBus", BusOptions, options ?? {})
    const pubsub = yield* Effect.acquireRelease(
      PubSub.sliding<CapabilityReport>(capacity),
      PubSub.shutdown,
    )
    return {
      [TypeId]: TypeId,
      capacity,
      publish: (input) => {
        const report = readReport(input)
        return report instanceof MalformedReport
          ? Effect.fail(report)
          : Effect.asVoid(PubSub.publish(pubsub, report))
      },
      reports: Stream.fromPubSub(pubsub),
      subscribe: Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue)),
    }
  })

/** @internal */
export const layer = (
  options?: CapabilityBus.Options,
): Layer.Layer<CapabilityBus.CapabilityBus, InvalidOption> => Layer.scoped(tag, make(options))
