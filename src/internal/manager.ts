import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Manager from "../Manager.ts"
import type * as PeriodicTask from "../PeriodicTask.ts"
import { withRun } from "./periodicTask.ts"
import type { Endpoint } from "./remote/endpoint.ts"
import { compatible, DEFAULT_VERSION, formatVersion, parseVersion } from "./rpcVersion.ts"

/** @internal */
export const TypeId: Manager.TypeId = Symbol.for("effect-manager/Manager") as Manager.TypeId

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const InvalidApiVersionBase: ReturnType<typeof Data.TaggedError<"InvalidApiVersion">> = Data
  .TaggedError("InvalidApiVersion")

/** @internal */
export class InvalidApiVersion extends InvalidApiVersionBase<{
  readonly manager: string
  readonly value: string
  /** Set when the version parses but is older than a method of the API it serves. */
  readonly method?: { readonly name: string; readonly since: string } | undefined
  /** Set when the manager's own API was made with a version other than its `apiVersion`. */
  readonly endpointVersion?: string | undefined
}> {
  override get message(): string {
    if (this.endpointVersion !== undefined) {
      return `Manager ${
        JSON.stringify(this.manager)
      }: its api was made with version ${this.endpointVersion}, but a manager's own API is served at its apiVersion, ${this.value}: leave the version out, or make them equal`
    }
    if (this.method !== undefined) {
      return `Manager ${JSON.stringify(this.manager)}: an API served at ${this.value} has method ${
        JSON.stringify(this.method.name)
      }, which appeared in ${this.method.since}: raise the version or lower the method's Since`
    }
    return `Manager ${
      JSON.stringify(this.manager)
    }: apiVersion must be "major.minor" or "major.minor.revision" in whole numbers (e.g. "1.0", "6.1", "4.10.2"), got ${
      JSON.stringify(this.value)
    }`
  }
}

/** @internal A manager's `apiVersion`, on oslo.messaging's rules (`rpcVersion.ts`). */
export const parseApiVersion = (
  manager: string,
  value: string,
): Effect.Effect<Manager.ApiVersion, InvalidApiVersion> =>
  Either.mapLeft(
    parseVersion(value),
    () => new InvalidApiVersion({ manager, value: String(value) }),
  )

/**
 * A manager's endpoints with the version each is served at: its own API at `apiVersion` (an
 * endpoint made with another version is a mistake), an additional one at its own version, or
 * 1.0 as oslo's targets default to.
 */
const servedEndpoints = (
  manager: string,
  apiVersion: Manager.ApiVersion,
  api: Endpoint | undefined,
  additional: ReadonlyArray<Endpoint>,
): Effect.Effect<ReadonlyArray<Manager.ServedEndpoint>, InvalidApiVersion> => {
  const own = api === undefined ? [] : [{ endpoint: api, additional: false }]
  const more = additional.map((endpoint) => ({ endpoint, additional: true }))
  return Effect.forEach([...own, ...more], ({ additional, endpoint }) => {
    if (
      !additional && endpoint.version !== undefined && !sameVersion(endpoint.version, apiVersion)
    ) {
      return new InvalidApiVersion({
        manager,
        value: formatVersion(apiVersion),
        endpointVersion: formatVersion(endpoint.version),
      })
    }
    const version = additional ? endpoint.version ?? DEFAULT_VERSION : apiVersion
    for (const [name, since] of endpoint.since) {
      if (!compatible(version, since)) {
        return new InvalidApiVersion({
          manager,
          value: formatVersion(version),
          method: { name, since: formatVersion(since) },
        })
      }
    }
    return Effect.succeed({ endpoint, version, additional })
  })
}

const sameVersion = (a: Manager.ApiVersion, b: Manager.ApiVersion): boolean =>
  a.major === b.major && a.minor === b.minor && a.revision === b.revision

const lifecycleKey = (manager: string): string => `effect-manager/Manager/lifecycle/${manager}`

/** @internal */
export const lifecycleTag = <I>(
  tag: Context.ReadonlyTag<I, unknown>,
): Context.Tag<Manager.LifecycleOf<I>, Manager.Lifecycle<unknown>> =>
  Context.GenericTag<Manager.LifecycleOf<I>, Manager.Lifecycle<unknown>>(lifecycleKey(tag.key))

/**
 * @internal The tag of a manager's lifecycle, for code that holds any manager (its service's
 * type unknown): a context its layer built always has the lifecycle under this tag.
 */
export const lifecycleTagOf = (
  manager: Manager.AnyManagerLayer,
): Context.Tag<Manager.LifecycleOf<unknown>, Manager.Lifecycle<unknown>> =>
  Context.GenericTag<Manager.LifecycleOf<unknown>, Manager.Lifecycle<unknown>>(
    lifecycleKey(manager[TypeId].tag.key),
  )

/** @internal */
export const layer = <I, S, D extends Manager.Definition<S, unknown, unknown>, EB, R>(
  tag: Context.Tag<I, S>,
  build: Effect.Effect<D, EB, R>,
): Manager.ManagerLayer<
  I,
  Manager.DefinitionError<D>,
  EB | InvalidApiVersion,
  Exclude<R | Manager.DefinitionRequirements<D>, Scope.Scope>
> =>
  make<I, S, Manager.DefinitionError<D>, EB, R | Manager.DefinitionRequirements<D>>(
    tag,
    Effect.map(build, typed<S, D>),
  )

/**
 * A definition typed by the error and requirements computed from it. Sound: they are the
 * unions of what its own hooks, tasks and capabilities declare; TypeScript only cannot resolve
 * those conditional types for a `D` not known yet.
 */
const typed = <S, D extends Manager.Definition<S, unknown, unknown>>(
  definition: D,
): Manager.Definition<S, Manager.DefinitionError<D>, Manager.DefinitionRequirements<D>> =>
  definition as Manager.Definition<
    S,
    Manager.DefinitionError<D>,
    Manager.DefinitionRequirements<D>
  >

/** A manager layer whose hooks share one error type and one context with `build`. */
const make = <I, S, E, EB, R>(
  tag: Context.Tag<I, S>,
  build: Effect.Effect<Manager.Definition<S, E, R>, EB, R>,
): Manager.ManagerLayer<I, E, EB | InvalidApiVersion, Exclude<R, Scope.Scope>> => {
  const name = tag.key
  const built = Layer.scopedContext(
    Effect.gen(function* () {
      const definition = yield* build
      const apiVersion = yield* parseApiVersion(name, definition.apiVersion ?? "1.0")
      const endpoints = yield* servedEndpoints(
        name,
        apiVersion,
        definition.api,
        definition.additionalEndpoints ?? [],
      )
      // Hooks and tasks run later, from the service; they keep the context they were built in.
      const context = yield* Effect.context<R>()
      const provide = <A, E2>(effect: Effect.Effect<A, E2, R>) => Effect.provide(effect, context)
      const cleanup = definition.cleanup
      const lifecycle: Manager.Lifecycle<E> = {
        name,
        apiVersion,
        init: definition.init === undefined ? Effect.void : provide(definition.init),
        preStart: definition.preStart === undefined ? Effect.void : provide(definition.preStart),
        postStart: definition.postStart === undefined ? Effect.void : provide(definition.postStart),
        cleanup: cleanup === undefined
          ? () => Effect.void
          : (exit: Exit.Exit<void, unknown>) => provide(cleanup(exit)),
        reset: definition.reset === undefined ? Effect.void : provide(definition.reset),
        tasks: (definition.tasks ?? []).map((task: PeriodicTask.PeriodicTask<E, R>) =>
          withRun(task, provide(task.run))
        ),
        capabilities: definition.capabilities === undefined ? undefined : {
          schema: definition.capabilities.schema,
          stream: Stream.provideContext(definition.capabilities.stream, context),
        },
        endpoints,
      }
      return Context.make(tag, definition.service).pipe(
        Context.add(lifecycleTag(tag), lifecycle),
      )
    }),
  )
  const manager: Manager.ManagerLayer<I, E, EB | InvalidApiVersion, Exclude<R, Scope.Scope>> =
    Object.assign(built, { [TypeId]: { tag } })
  return manager
}

/** @internal */
export const isManagerLayer = (u: unknown): u is Manager.ManagerLayer<unknown, unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u
