import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Driver from "../Driver.ts"

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const UnknownDriverBase: ReturnType<typeof Data.TaggedError<"UnknownDriver">> = Data.TaggedError(
  "UnknownDriver",
)

/** @internal */
export class UnknownDriver extends UnknownDriverBase<{
  readonly service: string
  readonly driver: string
  readonly key?: string | undefined
  readonly known: ReadonlyArray<string>
}> {
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
