import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Capabilities, Manager, Service, ServiceRegistry } from "../mod.ts"

class Volumes extends Context.Tag("Volumes")<Volumes, { readonly size: number }>() {}
class Images extends Context.Tag("Images")<Images, { readonly count: number }>() {}
class Database extends Context.Tag("Database")<Database, { readonly url: string }>() {}
class Lvm extends Context.Tag("Lvm")<Lvm, { readonly group: string }>() {}

class VolumeHookError extends Schema.TaggedError<VolumeHookError>()("VolumeHookError", {}) {}
class ImageHookError extends Schema.TaggedError<ImageHookError>()("ImageHookError", {}) {}
class VolumeBuildError extends Schema.TaggedError<VolumeBuildError>()("VolumeBuildError", {}) {}

// Needs the Database and the Lvm group; its hooks fail with VolumeHookError, its build with
// VolumeBuildError.
const VolumesManager = Manager.layer(
  Volumes,
  Effect.gen(function* () {
    const database = yield* Database
    if (database.url === "") return yield* new VolumeBuildError()
    return {
      service: { size: 1 },
      init: Effect.flatMap(Lvm, (lvm) => lvm.group === "" ? new VolumeHookError() : Effect.void),
      apiVersion: "1.2",
    }
  }),
)

const ImagesManager = Manager.layer(
  Images,
  Effect.succeed({
    service: { count: 2 },
    reset: new ImageHookError(),
  }),
)

const Dependencies = Layer.mergeAll(
  Layer.succeed(Database, { url: "sqlite://" }),
  Layer.succeed(Lvm, { group: "cinder-volumes" }),
  ServiceRegistry.layerMemory,
)

// Compile-time checks: `true` only when the two types are the same.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false

describe("Manager", () => {
  it.effect("a manager layer built on its own provides its service and its lifecycle", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(VolumesManager)
      expect(Context.get(context, Volumes)).toEqual({ size: 1 })
      const lifecycle = Context.get(context, Manager.lifecycleTag(Volumes))
      expect(lifecycle.name).toBe("Volumes")
      expect(lifecycle.apiVersion).toEqual({ major: 1, minor: 2, revision: 0 })
    }).pipe(Effect.scoped, Effect.provide(Dependencies)))

  it.effect("an apiVersion may have a revision, and its minor compares as a number", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        Manager.layer(Volumes, Effect.succeed({ service: { size: 1 }, apiVersion: "4.10.2" })),
      )
      expect(Context.get(context, Manager.lifecycleTag(Volumes)).apiVersion)
        .toEqual({ major: 4, minor: 10, revision: 2 })
    }).pipe(Effect.scoped))

  it.effect("a service provides its managers' services, not their lifecycles", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        Service.layer({ host: "node-1", topic: "volume" }, VolumesManager, ImagesManager),
      )
      expect(Context.get(context, Volumes)).toEqual({ size: 1 })
      expect(Context.get(context, Images)).toEqual({ count: 2 })
      const service = Context.get(context, Service.Service)
      expect(service[Service.TypeId]).toBe(Service.TypeId)
      expect(service.managers).toEqual(["Volumes", "Images"])
      expect(Context.getOption(context, Manager.lifecycleTag(Volumes))._tag).toBe("None")
      expect(Context.getOption(context, Manager.lifecycleTag(Images))._tag).toBe("None")
    }).pipe(Effect.scoped, Effect.provide(Dependencies)))

  it.effect("a manager's build error fails the service's layer as it is", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Layer.launch(
        Service.layer({ host: "node-1", topic: "volume" }, VolumesManager).pipe(
          Layer.provide(Layer.merge(Dependencies, Layer.succeed(Database, { url: "" }))),
        ),
      ))
      expect(exit).toEqual(Exit.fail(new VolumeBuildError()))
    }))

  it("a manager layer is recognised as one; another layer is not", () => {
    expect(Manager.isManagerLayer(VolumesManager)).toBe(true)
    expect(Manager.isManagerLayer(Dependencies)).toBe(false)
    expect(VolumesManager[Manager.TypeId].tag.key).toBe("Volumes")
  })

  it("Manager.capabilities is Capabilities.make", () => {
    const Resources = Schema.Struct({ freeRamMb: Schema.Number })
    const stream = Stream.make({ freeRamMb: 4096 })
    expect(Manager.capabilities(Resources, stream)).toEqual(Capabilities.make(Resources, stream))
    expect(Manager.capabilities).toBe(Capabilities.make)
  })

  it("a service layer's type carries each manager's service, errors and requirements", () => {
    const layer = Service.layer({ host: "node-1", topic: "volume" }, VolumesManager, ImagesManager)
    type Provided = Layer.Layer.Success<typeof layer>
    type Failure = Layer.Layer.Error<typeof layer>
    type Requirement = Layer.Layer.Context<typeof layer>
    const provided: Equals<Provided, Service.Service | Volumes | Images> = true
    const requirements: Equals<Requirement, Database | Lvm | ServiceRegistry.ServiceRegistry> = true
    const hookErrors: Equals<
      Extract<Failure, Service.ServiceStartFailed<unknown>>,
      Service.ServiceStartFailed<
        | VolumeHookError
        | ImageHookError
        | ServiceRegistry.ServiceRegistryError
        | Service.RegistryTimedOut
      >
    > = true
    const buildError: Equals<Extract<Failure, VolumeBuildError>, VolumeBuildError> = true
    const apiVersion: Equals<
      Extract<Failure, Manager.InvalidApiVersion>,
      Manager.InvalidApiVersion
    > = true
    expect([provided, requirements, hookErrors, buildError, apiVersion]).toEqual([
      true,
      true,
      true,
      true,
      true,
    ])
  })
})
