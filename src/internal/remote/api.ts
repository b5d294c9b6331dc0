/**
 * What a remote API is made of: the version a method appeared in (`Since`), the namespace of a
 * group (`Namespace`), the `Guard` middleware every group carries (its failure schema is what a
 * server may answer any request with; it gives handlers the caller's `Principal`), the header
 * names requests carry, the built-in `BaseApi`, and the endpoints a manager serves.
 *
 * @internal
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSchema from "@effect/rpc/RpcSchema"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CapabilityReport } from "../../Capabilities.ts"
import { compatible, formatVersion, parseVersion, type Version } from "../rpcVersion.ts"
import { type Endpoint, EndpointTypeId } from "./endpoint.ts"
import {
  CallTimedOut,
  HandlerTimedOut,
  InvalidRemoteOption,
  MalformedRequest,
  NoSuchMethod,
  ServiceStopping,
  TooManyRequests,
  UnsupportedVersion,
} from "./errors.ts"
import { Unauthorized } from "../rpcAuth.ts"

/** @internal The identifier of the `Since` annotation. */
export interface Since {
  readonly _: unique symbol
}

/** @internal The version of its API a method appeared in (oslo's per-method version); "1.0" when absent. */
export const Since: Context.Tag<Since, string> = Context.GenericTag<Since, string>(
  "effect-manager/Remote/Since",
)

/** @internal The identifier of the `Namespace` annotation. */
export interface Namespace {
  readonly _: unique symbol
}

/** @internal The namespace of a group (oslo's target namespace); the manager's own API has none. */
export const Namespace: Context.Tag<Namespace, string> = Context.GenericTag<Namespace, string>(
  "effect-manager/Remote/Namespace",
)

/** @internal Who made a request, as the server authenticated it. */
export interface Principal {
  /** The key or token's principal; `"anonymous"` when the server asks for no credentials. */
  readonly name: string
  /** How the request was authenticated. */
  readonly scheme: "none" | "token" | "hmac"
}

/** @internal */
export const Principal: Context.Tag<Principal, Principal> = Context.GenericTag<Principal>(
  "effect-manager/Remote/Principal",
)

/** @internal Header names a request carries (lower case, as `@effect/platform` stores them). */
export const Header = {
  version: "x-em-version",
  namespace: "x-em-namespace",
  /** The service a client meant, `JSON.stringify([topic, host])`; an HMAC signature covers it. */
  target: "x-em-target",
  /** Set by the server after authentication; a client's own value is dropped. */
  principal: "x-em-principal",
  /** The caller's time limit in milliseconds (a `call`'s or a fan-out's), for its deadline. */
  timeout: "x-em-timeout",
} as const

/** @internal The schemas of the failures a server answers with. */
export type RemoteFailureMembers = [
  typeof UnsupportedVersion,
  typeof NoSuchMethod,
  typeof ServiceStopping,
  typeof HandlerTimedOut,
  typeof Unauthorized,
  typeof MalformedRequest,
  typeof TooManyRequests,
]

/** @internal Every failure a server may answer a request with, whatever the method. */
export const RemoteFailure: Schema.Union<RemoteFailureMembers> = Schema.Union(
  UnsupportedVersion,
  NoSuchMethod,
  ServiceStopping,
  HandlerTimedOut,
  Unauthorized,
  MalformedRequest,
  TooManyRequests,
)

/** @internal */
export type RemoteFailure = Schema.Schema.Type<typeof RemoteFailure>

/**
 * @internal What a request of a remote API may fail with besides its method's errors: the
 * server's refusals, and the client's own time limit (answered by the client in the server's
 * place, see `client.ts`).
 */
export const GuardFailure: Schema.Union<[...RemoteFailureMembers, typeof CallTimedOut]> = Schema
  .Union(...RemoteFailure.members, CallTimedOut)

const GuardBase: RpcMiddleware.TagClass<
  Guard,
  "effect-manager/Remote/Guard",
  {
    readonly failure: typeof GuardFailure
    readonly provides: typeof Principal
    readonly wrap: true
  }
> = RpcMiddleware.Tag<Guard>()("effect-manager/Remote/Guard", {
  failure: GuardFailure,
  provides: Principal,
  wrap: true,
})

/**
 * @internal The middleware of every remote API: the server's router does the checks (version,
 * namespace, credentials, payload) before a request reaches a handler, and answers with
 * `RemoteFailure`; this middleware hands the principal it found to the handler.
 */
export class Guard extends GuardBase {}

/** @internal The identifier of the `HandlerTimeout` annotation. */
export interface HandlerTimeout {
  readonly _: unique symbol
}

/**
 * @internal The time a method's handler is given on the server, instead of the server's
 * `handlerTimeout`; `Duration.infinity` for none.
 */
export const HandlerTimeout: Context.Tag<HandlerTimeout, Duration.DurationInput> = Context
  .GenericTag<HandlerTimeout, Duration.DurationInput>("effect-manager/Remote/HandlerTimeout")

const anonymous: Principal = { scheme: "none", name: "anonymous" }

const readPrincipal = (headers: Readonly<Record<string, string | undefined>>): Principal => {
  const raw = headers[Header.principal]
  if (raw === undefined) return anonymous
  const colon = raw.indexOf(":")
  if (colon < 0) return anonymous
  const scheme = raw.slice(0, colon)
  return scheme === "token" || scheme === "hmac"
    ? { scheme, name: raw.slice(colon + 1) }
    : anonymous
}

/**
 * @internal The server side of `Guard`: the principal the router found. (The handler's time
 * limit is the router's: one timer for all calls, see `router.ts`.)
 *
 * The principal is added to the context of the request's fiber, which `RpcServer` makes for this
 * request alone, and stays there until the fiber ends (it only answers afterwards): that is one
 * context copy, where `Effect.provideService` (a copy, then the fiber's context set and set back)
 * cost several µs a call.
 */
export const guard: Context.Context<Guard> = Context.make(
  Guard,
  ({ headers, next, rpc }) =>
    Effect.zipRight(
      FiberRef.update(
        FiberRef.currentContext,
        (context) => Context.add(context, Principal, readPrincipal(headers)),
      ),
      // The principal is in the fiber's context from here on.
      maskDefects(rpc._tag)(
        next as Effect.Effect<Effect.Effect.Success<typeof next>, Effect.Effect.Error<typeof next>>,
      ),
    ),
)

/**
 * @internal A method's handler time limit: its annotation (checked by `endpoint`), or the
 * server's for a method that answers once; a stream has none unless its method says so.
 */
export const handlerLimit = (rpc: Rpc.AnyWithProps, defaultTimeout: Duration.Duration) => {
  const annotated = Context.getOption(rpc.annotations, HandlerTimeout)
  if (Option.isSome(annotated)) {
    return Option.getOrElse(Duration.decodeUnknown(annotated.value), () => defaultTimeout)
  }
  return RpcSchema.isStreamSchema(rpc.successSchema) ? Duration.infinity : defaultTimeout
}

/**
 * A handler that dies (a bug) is logged with its defect on the server; its caller gets a defect
 * that says where to look, not the defect itself (it may hold what only the server should see).
 */
const maskDefects = (method: string) => <A, E, R>(handler: Effect.Effect<A, E, R>) =>
  Effect.catchAllDefect(handler, (defect) =>
    Effect.zipRight(
      Effect.logError(`The handler of ${JSON.stringify(method)} died`, Cause.die(defect)),
      Effect.die(`The handler of ${JSON.stringify(method)} died: see the server's log`),
    ))

/** @internal The value of the `target` header for a service. */
export const targetOf = (topic: string, host: string): string => JSON.stringify([topic, host])

/** @internal The header value of a principal the router authenticated. */
export const principalHeader = (principal: Principal): string =>
  `${principal.scheme}:${principal.name}`

/** @internal The options of `api`. */
export interface ApiOptions {
  /** The namespace of the API (oslo's target namespace); none for a manager's own API. */
  readonly namespace?: string | undefined
  /**
   * The version a method without its own `Since` asks for (the version of the API's first
   * release, like the `version` of an oslo client's target); "1.0" by default.
   */
  readonly since?: string | undefined
}

/** @internal A group as a remote API: it carries `Guard`, and its namespace and base version. */
export const api = <R extends Rpc.Any>(
  group: RpcGroup.RpcGroup<R>,
  options?: ApiOptions,
): RpcGroup.RpcGroup<Rpc.AddMiddleware<R, typeof Guard>> => {
  let guarded = group.middleware(Guard)
  if (options?.namespace !== undefined) guarded = guarded.annotate(Namespace, options.namespace)
  if (options?.since !== undefined) guarded = guarded.annotate(Since, options.since)
  return guarded
}

/** @internal A group's namespace, if it has one. */
export const namespaceOf = (group: RpcGroup.RpcGroup<Rpc.Any>): string | undefined =>
  Option.getOrUndefined(Context.getOption(group.annotations, Namespace))

/** @internal A version given as an option, or an `InvalidRemoteOption` naming it. */
export const readVersion = (
  option: string,
  value: string,
): Either.Either<Version, InvalidRemoteOption> =>
  Either.mapLeft(parseVersion(value), () =>
    new InvalidRemoteOption({
      option,
      value: JSON.stringify(value),
      expected: `"major.minor" or "major.minor.revision" in whole numbers`,
    }))

/**
 * @internal The version each method of a group asks for by default: its `Since`, or the group's,
 * or 1.0.
 */
export const sinceVersions = (
  group: RpcGroup.RpcGroup<Rpc.Any>,
): Either.Either<ReadonlyMap<string, Version>, InvalidRemoteOption> => {
  const versions = new Map<string, Version>()
  const base = Option.getOrElse(Context.getOption(group.annotations, Since), () => "1.0")
  for (const [tag, rpc] of group.requests) {
    const annotations = (rpc as unknown as Rpc.AnyWithProps).annotations
    const since = Option.getOrElse(Context.getOption(annotations, Since), () => base)
    const parsed = readVersion(`Since of ${JSON.stringify(tag)}`, since)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    versions.set(tag, parsed.right)
  }
  return Either.right(versions)
}

type ApiVersionSchema = Schema.Struct<{
  namespace: Schema.optional<typeof Schema.String>
  version: typeof Schema.String
}>

/** @internal The schema of what `status` answers. */
export const RemoteStatus: Schema.Struct<{
  host: typeof Schema.String
  topic: typeof Schema.String
  state: typeof Schema.String
  endpoints: Schema.Array$<ApiVersionSchema>
}> = Schema.Struct({
  host: Schema.String,
  topic: Schema.String,
  state: Schema.String,
  endpoints: Schema.Array(
    Schema.Struct({ namespace: Schema.optional(Schema.String), version: Schema.String }),
  ),
})

/** @internal */
export type RemoteStatus = Schema.Schema.Type<typeof RemoteStatus>

/**
 * @internal The API every service answers besides its managers' (nova's `BaseRPCAPI`, namespace
 * `baseapi`): `ping` echoes its argument with the host and topic that answered, `status` says
 * what the service serves. A client tells "host down" from "method failed" with them.
 */
const PingReply: Schema.Struct<{
  host: typeof Schema.String
  topic: typeof Schema.String
  arg: typeof Schema.String
}> = Schema.Struct({ host: Schema.String, topic: Schema.String, arg: Schema.String })

/** @internal The methods of `BaseApi`. */
export type BaseApiRpcs =
  | Rpc.Rpc<
    "ping",
    Schema.Struct<{ arg: typeof Schema.String }>,
    typeof PingReply,
    typeof Schema.Never,
    typeof Guard
  >
  | Rpc.Rpc<"status", typeof Schema.Void, typeof RemoteStatus, typeof Schema.Never, typeof Guard>
  | Rpc.Rpc<
    "capabilities",
    typeof Schema.Void,
    Schema.Array$<typeof CapabilityReport>,
    typeof Schema.Never,
    typeof Guard
  >

/** @internal */
export const BaseApi: RpcGroup.RpcGroup<BaseApiRpcs> = api(
  RpcGroup.make(
    Rpc.make("ping", {
      payload: { arg: Schema.String },
      success: PingReply,
    }),
    Rpc.make("status", { success: RemoteStatus }).annotate(Since, "1.1"),
    Rpc.make("capabilities", { success: Schema.Array(CapabilityReport) }).annotate(Since, "1.2"),
  ),
  { namespace: "baseapi" },
)

/** @internal An endpoint as the server needs it: its group and its handlers too. */
export interface EndpointImpl extends Endpoint {
  readonly group: RpcGroup.RpcGroup<Rpc.Any>
  /** The handlers, each with the context it was made in. */
  readonly handlers: Context.Context<never>
}

/** @internal The group and handlers of an endpoint, which `endpoint` made. */
export const implOf = (endpoint: Endpoint): EndpointImpl => endpoint as EndpointImpl

/**
 * @internal An endpoint from a group and its handlers (made in the current context, so they
 * close over what a manager's `build` made). Every method's `Since` must parse, and be served by
 * the endpoint's version when it has one.
 */
export const endpoint = <R extends Rpc.Any, Handlers extends RpcGroup.HandlersFrom<R>, EX, RX>(
  group: RpcGroup.RpcGroup<R>,
  handlers: Handlers | Effect.Effect<Handlers, EX, RX>,
  options?: { readonly version?: string | undefined },
): Effect.Effect<
  Endpoint,
  EX | InvalidRemoteOption,
  RX | RpcGroup.HandlersContext<R, Handlers>
> =>
  Effect.gen(function* () {
    const any = group as unknown as RpcGroup.RpcGroup<Rpc.Any>
    const since = yield* sinceVersions(any)
    yield* checkTimeouts(any)
    const version = options?.version === undefined
      ? undefined
      : yield* readVersion("version", options.version)
    if (version !== undefined) yield* checkSince(since, version)
    const context = yield* group.toHandlersContext(handlers)
    const made: EndpointImpl = {
      [EndpointTypeId]: EndpointTypeId,
      group: any,
      handlers: context as Context.Context<never>,
      namespace: namespaceOf(any),
      version,
      since,
    }
    return made as Endpoint
  })

/** Every `HandlerTimeout` annotation is a duration above 0 (`Duration.infinity` for none). */
const checkTimeouts = (
  group: RpcGroup.RpcGroup<Rpc.Any>,
): Either.Either<void, InvalidRemoteOption> => {
  for (const [tag, rpc] of group.requests) {
    const annotations = (rpc as unknown as Rpc.AnyWithProps).annotations
    const annotated = Context.getOption(annotations, HandlerTimeout)
    if (Option.isNone(annotated)) continue
    const decoded = Duration.decodeUnknown(annotated.value)
    if (Option.isNone(decoded) || !(Duration.toMillis(decoded.value) > 0)) {
      return Either.left(
        new InvalidRemoteOption({
          option: `HandlerTimeout of ${JSON.stringify(tag)}`,
          value: typeof annotated.value === "string"
            ? JSON.stringify(annotated.value)
            : String(annotated.value),
          expected: `a duration above 0 (e.g. "10 minutes"), or Duration.infinity for none`,
        }),
      )
    }
  }
  return Either.right(undefined)
}

/** @internal Every method's `Since` is served by `version`: a method newer than its API is a mistake. */
export const checkSince = (
  since: ReadonlyMap<string, Version>,
  version: Version,
): Either.Either<void, InvalidRemoteOption> => {
  for (const [tag, appeared] of since) {
    if (!compatible(version, appeared)) {
      return Either.left(
        new InvalidRemoteOption({
          option: `Since of ${JSON.stringify(tag)}`,
          value: formatVersion(appeared),
          expected: `a version that ${formatVersion(version)} serves (the endpoint's version)`,
        }),
      )
    }
  }
  return Either.right(undefined)
}
