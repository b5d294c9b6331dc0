import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Driver from "../src/Driver.ts"

class Store extends Context.Tag("test/Store")<Store, { readonly name: string }>() {}
class Settings extends Context.Tag("test/Settings")<Settings, { readonly path: string }>() {}
class BootFailed extends Schema.TaggedError<BootFailed>()("BootFailed", {}) {}

const store = (name: string, built: Array<string> = []) =>
  Layer.sync(Store, () => {
    built.push(name)
    return { name }
  })

const drivers = { memory: store("memory"), file: store("file") }
const config = ConfigProvider.fromMap
const driverName = Config.string("DRIVER")

const chosen = <E, R>(layer: Layer.Layer<Store, E, R>) =>
  Effect.map(Effect.provide(Store, layer), (service) => service.name)

/** How building the layer for `name` over a provider with `entries` fails. */
const buildFailure = (
  name: Config.Config<string>,
  entries: ReadonlyArray<readonly [string, string]>,
  layers: Driver.Drivers<Store> = drivers,
) =>
  Effect.flip(chosen(Driver.fromConfig(Store, name, layers))).pipe(
    Effect.withConfigProvider(config(new Map(entries))),
  )

describe("Driver.fromConfig", () => {
  it.effect("the configured name picks that driver, and only its layer is built", () =>
    Effect.gen(function* () {
      const built: Array<string> = []
      const layers = { memory: store("memory", built), file: store("file", built) }
      const name = yield* chosen(Driver.fromConfig(Store, driverName, layers)).pipe(
        Effect.withConfigProvider(config(new Map([["DRIVER", "file"]]))),
      )
      expect([name, built]).toEqual(["file", ["file"]])
    }))

  it.effect("the config provider can come from a layer", () =>
    Effect.gen(function* () {
      const layer = Driver.fromConfig(Store, driverName, drivers).pipe(
        Layer.provide(Layer.setConfigProvider(config(new Map([["DRIVER", "memory"]])))),
      )
      expect(yield* chosen(layer)).toBe("memory")
    }))

  it.effect("an unknown name fails with UnknownDriver naming the key, the value and the drivers", () =>
    Effect.gen(function* () {
      const nested = Config.nested(driverName, "COMPUTE")
      const error = yield* buildFailure(nested, [["COMPUTE.DRIVER", "sqlite"]])
      expect(error).toEqual(
        new Driver.UnknownDriver({
          service: "test/Store",
          driver: "sqlite",
          key: "COMPUTE.DRIVER",
          known: ["file", "memory"],
        }),
      )
      expect(error.message).toBe(
        `Unknown driver "sqlite" for test/Store (from config COMPUTE.DRIVER); known drivers: "file", "memory"`,
      )
    }))

  it.effect("a default that names no driver is reported as the config's default", () =>
    Effect.gen(function* () {
      const withDefault = driverName.pipe(Config.withDefault("sqlite"))
      const error = yield* buildFailure(withDefault, [], {})
      expect(error.message).toBe(
        `Unknown driver "sqlite" for test/Store (from the config's default); no driver is known`,
      )
    }))

  it.effect("a name from the object prototype is not a driver", () =>
    Effect.gen(function* () {
      const names = ["toString", "constructor", "__proto__", "hasOwnProperty"]
      const errors = yield* Effect.forEach(names, (name) =>
        buildFailure(driverName, [["DRIVER", name]]))
      expect(errors).toEqual(names.map((name) =>
        new Driver.UnknownDriver({
          service: "test/Store",
          driver: name,
          key: "DRIVER",
          known: ["file", "memory"],
        })
      ))
    }))

  it.effect("drivers may be named constructor or __proto__", () =>
    Effect.gen(function* () {
      // A computed key defines an own property; a literal `__proto__:` would set the prototype.
      const layers = { constructor: store("constructor"), ["__proto__"]: store("__proto__") }
      const pick = (name: string) =>
        chosen(Driver.fromConfig(Store, driverName, layers)).pipe(
          Effect.withConfigProvider(config(new Map([["DRIVER", name]]))),
        )
      expect([yield* pick("constructor"), yield* pick("__proto__")]).toEqual([
        "constructor",
        "__proto__",
      ])
      const error = yield* buildFailure(driverName, [["DRIVER", "toString"]], layers)
      expect(error.message).toBe(
        `Unknown driver "toString" for test/Store (from config DRIVER); known drivers: "__proto__", "constructor"`,
      )
    }))

  it.effect("a configuration that cannot be read fails with its ConfigError", () =>
    Effect.gen(function* () {
      const error = yield* buildFailure(driverName, [])
      expect(ConfigError.isConfigError(error)).toBe(true)
      expect(error).toEqual(
        ConfigError.MissingData(["DRIVER"], "Expected DRIVER to exist in the provided map"),
      )
    }))

  it.effect("the layer fails and requires what its drivers fail with and require", () =>
    Effect.gen(function* () {
      const layer: Layer.Layer<
        Store,
        Driver.UnknownDriver | ConfigError.ConfigError | BootFailed,
        Settings
      > = Driver.fromConfig(Store, driverName, {
        memory: store("memory"),
        file: Layer.effect(
          Store,
          Effect.flatMap(Settings, (settings) => Effect.succeed({ name: settings.path })),
        ),
        broken: Layer.fail(new BootFailed()),
      })
      const run = (name: string) =>
        chosen(layer).pipe(
          Effect.provideService(Settings, { path: "/var/lib/store" }),
          Effect.withConfigProvider(config(new Map([["DRIVER", name]]))),
        )
      expect(yield* run("file")).toBe("/var/lib/store")
      expect(yield* Effect.flip(run("broken"))).toEqual(new BootFailed())
    }))
})
