import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Driver from "../Driver.ts"

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const UnknownDriverBase: Schema.TaggedErrorClass<UnknownDriver, "UnknownDriver", {
  readonly _tag: Schema.tag<"UnknownDriver">
  readonly service: typeof Schema.String
  readonly driver: typeof Schema.String
  readonly key: Schema.optional<typeof Schema.String>
  readonly known: Schema.Array$<typeof Schema.String>
}> = Schema.TaggedError<UnknownDriver>(
  "effect-manager/UnknownDriver",
)("UnknownDriver", {
  service: Schema.String,
  driver: Schema.String,
  key: Schema.optional(Schema.String),
  known: Schema.Array(Schema.String),
})

/** @internal */
export class UnknownDriver extends UnknownDriverBase {
  override get message(): string {
    const source = this.key === undefined ? "the config's default" : `config ${this.key}`
    return `Unknown driver ${JSON.stringify(this.driver)} for ${this.service} (from ${source}); ${
      this.known.length === 0
        ? "no driver is known"
        : `known drivers: ${this.known.map((name) => JSON.stringify(name)).join(", ")}`
    }`
  }
}

/**
 * Reads `config` through the current provider and also returns the key the value came from
 * (none for a default or constant), as `ConfigError` messages spell paths.
 */
const readWithKey = <A>(
  config: Config.Config<A>,
): Effect.Effect<
  { readonly value: A; readonly key: string | undefined },
  ConfigError.ConfigError
> =>
  Effect.configProviderWith((provider) => {
    const flat = provider.flattened
    let key: string | undefined
    const recording = ConfigProvider.fromFlat(ConfigProvider.makeFlat({
      load: (path, primitive, split) =>
        Effect.tap(flat.load(path, primitive, split), () => {
          key = path.join(".")
        }),
      enumerateChildren: flat.enumerateChildren,
      patch: flat.patch,
    }))
    return Effect.map(recording.load(config), (value) => ({ value, key }))
  })

/** @internal */
export const fromConfig = <I, S, Layers extends Driver.Drivers<I>>(
  tag: Context.Tag<I, S>,
  config: Config.Config<string>,
  layers: Layers,
): Layer.Layer<
  I,
  UnknownDriver | ConfigError.ConfigError | Driver.DriverError<Layers>,
  Driver.DriverContext<Layers>
> =>
  Layer.unwrapEffect(Effect.gen(function* () {
    const { key, value } = yield* readWithKey(config)
    // Own names only: "toString" or "constructor" must not pick something off the prototype.
    const layer = Object.hasOwn(layers, value) ? layers[value] : undefined
    if (layer !== undefined) return layer
    return yield* new UnknownDriver({
      service: tag.key,
      driver: value,
      ...(key === undefined ? {} : { key }),
      known: Object.keys(layers).sort(),
    })
  }))
