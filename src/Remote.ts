/**
 * Managers across hosts: a manager's remote API, served by its service, called from elsewhere
 * by topic and host (nova's `rpcapi`), on oslo.messaging's version rules.
 *
 * - A remote API is an `RpcGroup` of `@effect/rpc` passed through {@link api}; each method says
 *   the version it appeared in with the {@link Since} annotation.
 * - A manager serves it: `Manager.layer`'s `build` returns `api: yield* Remote.endpoint(group,
 *   handlers)` (the handlers close over the manager's state); `additionalEndpoints` serve more.
 * - A service serves its managers' endpoints, and {@link BaseApi} (`ping`, `status`,
 *   `capabilities`), when its
 *   layer has a server ({@link layerServer}): it starts after `preStart`, before `postStart`,
 *   and its address goes into the service record.
 * - A {@link client} of a group and a topic calls one host, casts, fans out to every host up,
 *   and reads streams, with an optional version cap.
 *
 * - Requests are authenticated ({@link Credentials}: bearer tokens or HMAC-signed requests), on
 *   by default for a server not bound to loopback.
 *
 * Transports: {@link layerMemory} (in memory, for tests under `TestClock`).
 *
 * @since 0.1.0
 */
import type * as Rpc from "@effect/rpc/Rpc"
import type * as RpcGroup from "@effect/rpc/RpcGroup"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { CapabilityBus } from "./CapabilityBus.ts"
import { tag as CapabilityBusTag } from "./internal/capabilityBus.ts"
import type { InvalidOption } from "./internal/options.ts"
import * as internalApi from "./internal/remote/api.ts"
import * as internalCapabilities from "./internal/remote/capabilities.ts"
import * as internalPlacement from "./internal/remote/placement.ts"
import * as internalClient from "./internal/remote/client.ts"
import type { InvalidRemoteOption } from "./internal/remote/errors.ts"
import type * as internalAuth from "./internal/rpcAuth.ts"
import * as internalServer from "./internal/remote/server.ts"
import type * as serving from "./internal/remote/serving.ts"
import * as internalTransport from "./internal/remote/transport.ts"
import type { RemoteEndpoint } from "./Manager.ts"
import type { Scheduler, SelectOptions } from "./Scheduler.ts"
import type { ServiceRegistry, ServiceRegistryError } from "./ServiceRegistry.ts"

/**
 * The annotation of the version of its API a method appeared in (oslo's per-method version).
 * A request asks for it unless the call names another; a method without it asks for 1.0.
 *
 * @example
 * ```ts
 * import * as Rpc from "@effect/rpc/Rpc"
 * import * as Schema from "effect/Schema"
 * import * as Remote from "effect-manager/Remote"
 *
 * const resize = Rpc.make("resize", { payload: { id: Schema.String, ramMb: Schema.Number } })
 *   .annotate(Remote.Since, "6.1")
 * ```
 *
 * @since 0.1.0
 * @category annotations
 */
export const Since: Context.Tag<Since, string> = internalApi.Since

/**
 * The identifier of the {@link Since} annotation.
 *
 * @since 0.1.0
 * @category annotations
 */
export interface Since extends internalApi.Since {}

/**
 * The annotation of the time a method's handler is given on the server, instead of the
 * server's `handlerTimeout` (60 s by default for a method that answers once; none for a stream);
 * `Duration.infinity` for no limit. A handler past it is interrupted: {@link HandlerTimedOut}.
 * {@link endpoint} refuses a value that is not a duration above 0.
 *
 * @example
 * ```ts
 * import * as Rpc from "@effect/rpc/Rpc"
 * import * as Remote from "effect-manager/Remote"
 *
 * const migrate = Rpc.make("migrate").annotate(Remote.HandlerTimeout, "10 minutes")
 * ```
 *
 * @since 0.1.0
 * @category annotations
 */
export const HandlerTimeout: Context.Tag<HandlerTimeout, Duration.DurationInput> =
  internalApi.HandlerTimeout

/**
 * The identifier of the {@link HandlerTimeout} annotation.
 *
 * @since 0.1.0
 * @category annotations
 */
export interface HandlerTimeout extends internalApi.HandlerTimeout {}

/**
 * The annotation of a group's namespace (oslo's target namespace); {@link api} sets it.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Remote from "effect-manager/Remote"
 *
 * const namespace = Context.getOption(Remote.BaseApi.annotations, Remote.Namespace) // "baseapi"
 * ```
 *
 * @since 0.1.0
 * @category annotations
 */
export const Namespace: Context.Tag<Namespace, string> = internalApi.Namespace

/**
 * The identifier of the {@link Namespace} annotation.
 *
 * @since 0.1.0
 * @category annotations
 */
export interface Namespace extends internalApi.Namespace {}

/**
 * Who made a request, as the server authenticated it; a handler reads it from its context.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Remote from "effect-manager/Remote"
 *
 * const whoAsks = Effect.map(Remote.Principal, (principal) => principal.name)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const Principal: Context.Tag<Principal, Principal> = internalApi.Principal

/**
 * Who made a request: a name and how it was authenticated (`"none"` when the server asks for
 * no credentials: the name is then `"anonymous"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Principal extends internalApi.Principal {}

/**
 * Every failure a server may answer a request with, whatever the method:
 * {@link UnsupportedVersion}, {@link NoSuchMethod}, {@link ServiceStopping},
 * {@link HandlerTimedOut}, {@link Unauthorized}, {@link MalformedRequest},
 * {@link TooManyRequests}.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import * as Remote from "effect-manager/Remote"
 *
 * const isRefusal = Schema.is(Remote.RemoteFailure)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const RemoteFailure: typeof internalApi.RemoteFailure = internalApi.RemoteFailure

/**
 * The type of {@link RemoteFailure}.
 *
 * @since 0.1.0
 * @category errors
 */
export type RemoteFailure = internalApi.RemoteFailure

/**
 * The options of {@link api}: `namespace` (none for a manager's own API) and `since`, the
 * version a method without its own {@link Since} asks for ("1.0" by default; like the
 * `version` of an oslo client's target, e.g. "6.0" for nova's compute API).
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiOptions extends internalApi.ApiOptions {}

/**
 * A group as a remote API: it carries {@link Guard} (so clients see the server's refusals as
 * typed errors), and optionally a namespace and the version of its methods without their own
 * {@link Since}. Add every method before.
 *
 * @example
 * ```ts
 * import * as Rpc from "@effect/rpc/Rpc"
 * import * as RpcGroup from "@effect/rpc/RpcGroup"
 * import * as Schema from "effect/Schema"
 * import * as Remote from "effect-manager/Remote"
 *
 * export const ComputeApi = Remote.api(RpcGroup.make(
 *   Rpc.make("build", { payload: { id: Schema.String }, success: Schema.String }),
 *   Rpc.make("resize", { payload: { id: Schema.String, ramMb: Schema.Number } })
 *     .annotate(Remote.Since, "6.1"),
 * ), { since: "6.0" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const api: <R extends Rpc.Any>(
  group: RpcGroup.RpcGroup<R>,
  options?: ApiOptions,
) => RpcGroup.RpcGroup<Rpc.AddMiddleware<R, typeof internalApi.Guard>> = internalApi.api

/**
 * The API every service answers besides its managers' (nova's `BaseRPCAPI`, namespace
 * `baseapi`, version 1.2): `ping` echoes its argument with the host and topic that answered,
 * `status` (1.1) says the service's state and what it serves, `capabilities` (1.2) gives the
 * latest capability report each of its managers published (see {@link pullCapabilities}). A
 * client tells "host down" from "method failed" with them.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Remote from "effect-manager/Remote"
 *
 * const ping = Effect.flatMap(
 *   Remote.client(Remote.BaseApi, { topic: "compute" }),
 *   (client) => client.call("node-1", "ping", { arg: "hello" }),
 * )
 * ```
 *
 * @since 0.1.0
 * @category apis
 */
export const BaseApi: typeof internalApi.BaseApi = internalApi.BaseApi

/**
 * What `status` of {@link BaseApi} answers.
 *
 * @since 0.1.0
 * @category models
 */
export type RemoteStatus = internalApi.RemoteStatus

/**
 * One API a manager serves (`Manager.RemoteEndpoint`): made by {@link endpoint}, with its
 * namespace, its version (the manager's `apiVersion` when it has none) and each method's `Since`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint extends RemoteEndpoint {}

/**
 * An endpoint from a group and its handlers, for `Manager.layer`'s `api` or
 * `additionalEndpoints`. Made in `build`, its handlers close over the manager's state. Every
 * method's `Since` must parse (an {@link InvalidRemoteOption} otherwise); the manager checks
 * that the version it serves the endpoint at serves every method.
 *
 * @example
 * ```ts
 * import * as Rpc from "@effect/rpc/Rpc"
 * import * as RpcGroup from "@effect/rpc/RpcGroup"
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Ref from "effect/Ref"
 * import * as Schema from "effect/Schema"
 * import { Manager } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 *
 * const ComputeApi = Remote.api(RpcGroup.make(
 *   Rpc.make("build", { payload: { id: Schema.String }, success: Schema.Number }),
 * ))
 * class Compute extends Context.Tag("Compute")<Compute, { readonly built: Effect.Effect<number> }>() {}
 *
 * const ComputeManager = Manager.layer(Compute, Effect.gen(function*() {
 *   const built = yield* Ref.make(0)
 *   return {
 *     service: { built: Ref.get(built) },
 *     apiVersion: "6.1",
 *     api: yield* Remote.endpoint(ComputeApi, {
 *       build: () => Ref.updateAndGet(built, (n) => n + 1),
 *     }),
 *   }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const endpoint: <
  R extends Rpc.Any,
  Handlers extends RpcGroup.HandlersFrom<R>,
  EX = never,
  RX = never,
>(
  group: RpcGroup.RpcGroup<R>,
  handlers: Handlers | Effect.Effect<Handlers, EX, RX>,
  options?: { readonly version?: string | undefined },
) => Effect.Effect<Endpoint, EX | InvalidRemoteOption, RX | RpcGroup.HandlersContext<R, Handlers>> =
  internalApi.endpoint

/**
 * How servers are reached: a transport serves a protocol at an address and connects clients to
 * addresses. {@link layerMemory} provides one.
 *
 * @since 0.1.0
 * @category transports
 */
export interface Transport extends internalTransport.Transport {}

/**
 * The transport in the context.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Remote from "effect-manager/Remote"
 *
 * const served = Effect.flatMap(Remote.Transport, (transport) =>
 *   transport.serve({ hostname: "127.0.0.1", port: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category transports
 */
export const Transport: Context.Tag<Transport, Transport> = internalTransport.Transport

/**
 * Where and how a server listens: `hostname` ("127.0.0.1" unless told otherwise) and `port`
 * (0 lets the system pick one).
 *
 * @since 0.1.0
 * @category transports
 */
export interface Listen extends internalTransport.Listen {}

/**
 * An in-memory network with the semantics of a socket: a connection per client, a server that
 * stops fails every call in flight on it at once with an `RpcClientError`, the next call
 * connects again, a call to an address nobody serves fails at once. No socket, no timer: a
 * whole cloud of services runs under `TestClock`. Addresses are `memory://<hostname>:<port>`.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { ServiceRegistry } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 *
 * const network = Layer.mergeAll(Remote.layerMemory, ServiceRegistry.layerMemory)
 * ```
 *
 * @since 0.1.0
 * @category transports
 */
export const layerMemory: Layer.Layer<Transport> = internalTransport.layerMemory

/**
 * The options of a server: where it listens (`hostname`, "127.0.0.1" by default; `port`, 0 by
 * default: the system picks one, and the bound one goes into the record), who it lets in
 * (`auth`: the {@link Credentials} it accepts, or "none"; a server not bound to loopback must be
 * given `auth`: it refuses to start otherwise), how long a handler may run (`handlerTimeout`,
 * 60 s) and how many calls may run at once, per connection (`maxConcurrentPerConnection`, 256)
 * and in all (`maxConcurrent`, 4,096).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends internalServer.LayerOptions {}

/**
 * What a client signs its requests with and what a server knows its clients by: a shared bearer
 * token (`{ _tag: "Token", principal, token }`, sent as `authorization: Bearer …`), or an
 * HMAC-SHA256 key (`{ _tag: "Hmac", principal, secret }`: each request carries the key id
 * (`principal`), a timestamp, a nonce and a signature over method, timestamp, nonce, key id and
 * the encoded payload; the server refuses a timestamp more than 30 s away from its clock and a
 * nonce it has seen). A secret never leaves the process and never reaches a log or an error.
 *
 * @example
 * ```ts
 * import type { Remote } from "effect-manager"
 *
 * const key: Remote.Credentials = { _tag: "Hmac", principal: "conductor", secret: "s3cret…" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials = internalAuth.Credentials

/**
 * A service whose layer has this serves its managers' endpoints and {@link BaseApi} with the
 * context's {@link Transport}: the server starts after every `preStart` and before any
 * `postStart`, and the service record carries its address and what it serves. At stop, it
 * first refuses new calls ({@link ServiceStopping}), gives the calls in flight what is left of
 * the shutdown deadline, then interrupts what still runs; the periodic tasks and `cleanup`
 * follow as before.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { Service, ServiceRegistry } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 *
 * const scheduler = Service.layer({ host: "node-1", topic: "scheduler" }).pipe(
 *   Layer.provide(Remote.layerServer()),
 *   Layer.provide(Layer.mergeAll(Remote.layerMemory, ServiceRegistry.layerMemory)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category servers
 */
export const layerServer = (
  options?: ServerOptions,
): Layer.Layer<RemoteServer, InvalidRemoteOption, Transport> => internalServer.layer(options)

/**
 * What serves a service's endpoints; {@link layerServer} provides it.
 *
 * @since 0.1.0
 * @category servers
 */
export interface RemoteServer extends serving.RemoteServer {}

/**
 * The options of a {@link client}: `topic`; `versionCap` (none); `credentials` (none);
 * `serviceDownTime`, after which a host's record is down (60 s); `timeout`, how long a `call`
 * waits (60 s, oslo's `rpc_response_timeout`; `Duration.infinity` for ever): past it,
 * {@link CallTimedOut}. A value that cannot work is an {@link InvalidRemoteOption} when the
 * client is made.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends internalClient.ClientOptions {}

/**
 * What a call may say besides its payload: `version`, the version it asks for instead of its
 * method's `Since` (oslo's `prepare(version=…)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions extends internalClient.CallOptions {}

/**
 * The options of a fan-out: `concurrency` (16) and each host's `timeout` (30 s).
 *
 * @since 0.1.0
 * @category models
 */
export interface FanoutOptions extends internalClient.FanoutOptions {}

/**
 * A client of one remote API for one topic (nova's `rpcapi`). `call` waits for the answer,
 * `cast` returns once the request is handed to the transport, `fanout` calls every host of the
 * topic that is up (one `Exit` per host), `stream` reads a streamed method. A host that is
 * unknown, down (by `ServiceRegistry.isUp`) or without RPC is a {@link HostUnavailable} before
 * anything is tried; a version above the cap is a {@link VersionCapExceeded} before anything
 * is sent, and `canSendVersion` tells beforehand. A host's address, once read, is reused for a
 * second: a host that went down within that second fails the call at the transport (an
 * `RpcClientError`, or {@link ServiceStopping} while it stops) rather than as `HostUnavailable`.
 *
 * @since 0.1.0
 * @category clients
 */
export interface RemoteClient<R extends Rpc.Any> extends internalClient.RemoteClient<R> {}

/**
 * One host's answer to a fan-out.
 *
 * @since 0.1.0
 * @category clients
 */
export interface HostExit<A, E> extends internalClient.HostExit<A, E> {}

/**
 * Why a request did not reach the method: the transport's `RpcClientError`,
 * {@link HostUnavailable}, {@link VersionCapExceeded}, an {@link InvalidRemoteOption} (a
 * malformed `version`), the registry's error, {@link CallTimedOut}, or {@link RequestTooLarge}
 * (a call, cast or fan-out over an HTTP server's limit).
 *
 * @since 0.1.0
 * @category errors
 */
export type ClientError = internalClient.ClientError

/**
 * A client of `group` for `options.topic`: hosts are found in the `ServiceRegistry`,
 * connections (one per address, made on first use, made again after a drop) close with the
 * scope. A malformed `versionCap` or `Since` is an {@link InvalidRemoteOption} here.
 *
 * @example
 * ```ts
 * import * as Rpc from "@effect/rpc/Rpc"
 * import * as RpcGroup from "@effect/rpc/RpcGroup"
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import * as Remote from "effect-manager/Remote"
 *
 * const ComputeApi = Remote.api(RpcGroup.make(
 *   Rpc.make("build", { payload: { id: Schema.String }, success: Schema.Number }),
 *   Rpc.make("resize", { payload: { id: Schema.String } }).annotate(Remote.Since, "6.1"),
 * ))
 *
 * const program = Effect.gen(function*() {
 *   const compute = yield* Remote.client(ComputeApi, { topic: "compute", versionCap: "6.0" })
 *   const built = yield* compute.call("node-1", "build", { id: "vm-1" })
 *   // nova's rolling-upgrade fallback: resize appeared in 6.1, above the cap
 *   if (!compute.canSendVersion("6.1")) yield* Effect.log("resize not available yet")
 *   return built
 * })
 * ```
 *
 * @since 0.1.0
 * @category clients
 */
export const client: <R extends Rpc.Any>(
  group: RpcGroup.RpcGroup<R>,
  options: ClientOptions,
) => Effect.Effect<
  RemoteClient<R>,
  InvalidRemoteOption,
  Scope.Scope | Transport | ServiceRegistry
> = internalClient.make

export {
  /**
   * The middleware every remote API carries ({@link api} adds it): its failure schema,
   * {@link RemoteFailure}, is what a server may answer any request with, so each method's error
   * type on a client includes those failures; on the server it gives handlers the {@link Principal}.
   *
   * @example
   * ```ts
   * import * as RpcGroup from "@effect/rpc/RpcGroup"
   * import * as Remote from "effect-manager/Remote"
   *
   * const guarded = RpcGroup.make().middleware(Remote.Guard) // what Remote.api does
   * ```
   *
   * @since 0.1.0
   * @category middleware
   */
  Guard,
} from "./internal/remote/api.ts"

export {
  /**
   * A host that did not answer within the time given: a `call` past its client's `timeout`, or
   * one host of a fan-out past the fan-out's `timeout`.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.CallTimedOut({ host: "node-1", topic: "compute", method: "ping", limitMillis: 5000 })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  CallTimedOut,
  /**
   * A handler ran past its time limit on the server (the server's `handlerTimeout`, 60 s by
   * default, or its method's {@link HandlerTimeout}) and was interrupted.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.HandlerTimedOut({ method: "build", limitMillis: 30_000 })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  HandlerTimedOut,
  /**
   * A host the client will not call: no record (`"unknown"`), down by `isUp` (`"down"`), or no
   * RPC endpoint in its record (`"no endpoint"`); nothing was sent.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.HostUnavailable({ host: "node-9", topic: "compute", reason: "unknown" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  HostUnavailable,
  /**
   * An option of a remote API, server or client that cannot be used: `option`, `value`, and what
   * was `expected`.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.InvalidRemoteOption({ option: "versionCap", value: "\"6\"", expected: "major.minor" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidRemoteOption,
  /**
   * A request whose payload does not fit its method's schema (from a broken or hostile client):
   * refused before any handler sees it, with what is wrong, and logged as a warning.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.MalformedRequest({ method: "build", reason: "is missing id" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  MalformedRequest,
  /**
   * An endpoint serves the namespace and version, but none has the method, or its name begins
   * with `_` (oslo's `NoSuchMethod`). Only that request fails; the connection goes on.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.NoSuchMethod({ method: "migrate", requested: "6.1" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  NoSuchMethod,
  /**
   * A request over the server's `maxRequestBytes`, refused unread over HTTP (413): `host`,
   * `topic`, `method` and the server's `limitBytes`. Over WebSocket the server closes the
   * connection instead (code 1009): every call in flight on it fails with an `RpcClientError`,
   * and the next call connects again.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.RequestTooLarge({
   *   host: "node-1",
   *   topic: "compute",
   *   method: "store",
   *   limitBytes: 1_048_576,
   * })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  RequestTooLarge,
  /**
   * The service is stopping. `started: false`: it takes no new call, and this one did not start
   * (safe to send to another host); `true`: the call was still running at the stop's deadline,
   * was interrupted, and may have done part of its work.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.ServiceStopping({ host: "node-1", topic: "compute", started: false })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ServiceStopping,
  /**
   * The connection (`per: "connection"`, `maxConcurrentPerConnection`) or the whole server
   * (`per: "server"`, `maxConcurrent`) already has as many calls running as allowed; the call was
   * not started.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.TooManyRequests({ limit: 256, per: "connection" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  TooManyRequests,
  /**
   * No endpoint of the service serves the namespace at the version asked for (oslo's
   * `UnsupportedVersion`): `method`, `namespace`, `requested` and the versions `served`.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.UnsupportedVersion({ method: "resize", requested: "6.2", served: ["6.1"] })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  UnsupportedVersion,
  /**
   * A call needs a version above the client's cap (oslo's `RPCVersionCapError`); nothing was sent.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.VersionCapExceeded({ method: "resize", version: "6.1", cap: "6.0" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  VersionCapExceeded,
} from "./internal/remote/errors.ts"

export {
  /**
   * A request without valid credentials (its `reason`: missing, malformed, a bad token, an
   * unknown key, a stale timestamp, a bad signature, a replay). A request for a method that does
   * not exist gets it too when it has no valid credentials: method names do not leak. It never
   * carries a secret.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.Unauthorized({ reason: "bad token" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  Unauthorized,
} from "./internal/rpcAuth.ts"

export {
  /**
   * A server that could not listen: the address and the cause.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const error = new Remote.TransportError({ address: "memory://127.0.0.1:1", cause: "address in use" })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  TransportError,
} from "./internal/remote/transport.ts"

/**
 * The API a scheduler service serves for capability reports (namespace "capabilities", 1.0):
 * `report`, a batch of {@link CapabilityReport}s, answered with the receiver's incarnation and
 * the reports it refused ({@link ReportRefused}). A scheduler's manager serves it with
 * {@link capabilityReceiver}; {@link layerCapabilityPublisher} calls it.
 *
 * @example
 * ```ts
 * import * as Clock from "effect/Clock"
 * import * as Effect from "effect/Effect"
 * import * as Remote from "effect-manager/Remote"
 *
 * // What a scheduler on "scheduler-1" answers to one report.
 * const receipt = Effect.gen(function* () {
 *   const schedulers = yield* Remote.client(Remote.CapabilityApi, { topic: "scheduler" })
 *   return yield* schedulers.call("scheduler-1", "report", {
 *     reports: [{
 *       host: "compute-1", service: "compute", manager: "Compute",
 *       capabilities: { freeRamMb: 2048 }, timestamp: yield* Clock.currentTimeMillis, sequence: 1,
 *     }],
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export const CapabilityApi: typeof internalCapabilities.CapabilityApi =
  internalCapabilities.CapabilityApi

/**
 * The options of {@link capabilityReceiver}: `maxSkew`, how far a report's timestamp may be from
 * the scheduler's `Clock` (5 minutes by default); `anyHost`, the principals that may report for
 * any host (any other authenticated sender reports only for the host its principal is named
 * after; without authentication every sender may report for any host).
 *
 * @example
 * ```ts
 * import type * as Remote from "effect-manager/Remote"
 *
 * const options: Remote.CapabilityReceiverOptions = { maxSkew: "1 minute", anyHost: ["relay"] }
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export interface CapabilityReceiverOptions extends internalCapabilities.ReceiverOptions {}

/**
 * A scheduler's side of the capability reports: an endpoint of {@link CapabilityApi} for its
 * manager's `additionalEndpoints`. Each report of a batch is checked — its envelope, its
 * timestamp against the `Clock`, its host against the sender's principal — and the good ones
 * are published on the context's `CapabilityBus`, which the process's `Scheduler` consumes as
 * it would local reports. Refused reports come back in the receipt, and a batch with refusals
 * is a warning naming the sender and the first reason; the scheduler serves on.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import { Manager } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 *
 * class Placement extends Context.Tag("Placement")<Placement, object>() {}
 *
 * // Its service needs a CapabilityBus (CapabilityBus.layer()) and a Remote.layerServer().
 * const PlacementManager = Manager.layer(Placement, Effect.gen(function* () {
 *   return { service: {}, additionalEndpoints: [yield* Remote.capabilityReceiver()] }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export const capabilityReceiver: (
  options?: CapabilityReceiverOptions,
) => Effect.Effect<RemoteEndpoint, InvalidRemoteOption, CapabilityBus> =
  internalCapabilities.receiver

/**
 * The options of {@link layerCapabilityPublisher}: the schedulers' `topic` ("scheduler" by
 * default), the `credentials` reports are signed with, `serviceDownTime` (when a scheduler's
 * record says it is down, 60 s), `timeout` (one send to one scheduler, 10 s), `retryInterval`
 * (how often the registry is read for schedulers, and the wait after a failed send, 1 s) and
 * `capacity` (this process's own subscribers' buffer, as `CapabilityBus`'s).
 *
 * @example
 * ```ts
 * import type * as Remote from "effect-manager/Remote"
 *
 * const options: Remote.CapabilityPublisherOptions = { topic: "scheduler", retryInterval: "2 seconds" }
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export interface CapabilityPublisherOptions extends internalCapabilities.PublisherOptions {}

/**
 * A `CapabilityBus` whose reports go to every up scheduler of a topic, for the services of a
 * process that has no scheduler of its own (nova's fan-out cast to the scheduler topic).
 * `publish` checks the report, keeps it as its manager's latest and returns: it never waits for
 * a scheduler. One sender per scheduler sends it every latest report it has not acknowledged,
 * in batches of at most 512: a slow scheduler skips intermediate reports, never the latest one; one that
 * cannot be reached is tried again every `retryInterval` and then gets the latest report of each
 * manager (memory: one report per manager). A scheduler that restarted is sent everything again.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { Service, ServiceRegistry } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 *
 * const Compute = Service.layer({ host: "compute-1", topic: "compute" }).pipe(
 *   Layer.provide(Remote.layerCapabilityPublisher({ topic: "scheduler" })),
 *   Layer.provide(Layer.merge(Remote.layerMemory, ServiceRegistry.layerMemory)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export const layerCapabilityPublisher = (
  options?: CapabilityPublisherOptions,
): Layer.Layer<
  CapabilityBus,
  InvalidRemoteOption | InvalidOption,
  Transport | ServiceRegistry
> => Layer.scoped(CapabilityBusTag, internalCapabilities.publisher(options))

/**
 * The options of {@link pullCapabilities}: the `credentials` its calls are signed with, the
 * `timeout` each host is given (10 s by default) and how many hosts of a topic are asked at once
 * (`concurrency`, 16).
 *
 * @example
 * ```ts
 * import type * as Remote from "effect-manager/Remote"
 *
 * const options: Remote.PullCapabilitiesOptions = { timeout: "2 seconds" }
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export interface PullCapabilitiesOptions extends internalCapabilities.PullOptions {}

/**
 * What a scheduler does when it starts (nova's schedulers ask the services to publish "soon after
 * the start of the scheduler"): asks every up service of `topics` for the latest report of each
 * of its managers ({@link BaseApi}'s `capabilities`, one fan-out per topic, all topics at once)
 * and publishes them on the context's `CapabilityBus`, so that its `Scheduler` knows every host
 * after one round trip instead of one `publishInterval`. Returns how many reports it published.
 * A host that does not answer, or runs a version without `capabilities`, is skipped.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import type { CapabilityBus, ServiceRegistry } from "effect-manager"
 * import { Manager } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 *
 * class Placement extends Context.Tag("Placement")<Placement, object>() {}
 *
 * const PlacementManager = Manager.layer(Placement, Effect.gen(function* () {
 *   const context = yield* Effect.context<
 *     CapabilityBus.CapabilityBus | Remote.Transport | ServiceRegistry.ServiceRegistry
 *   >()
 *   return {
 *     service: {},
 *     additionalEndpoints: [yield* Remote.capabilityReceiver()],
 *     postStart: Effect.asVoid(
 *       Effect.provide(Effect.orDie(Remote.pullCapabilities(["compute"])), context),
 *     ),
 *   }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category capabilities
 */
export const pullCapabilities: (
  topics: ReadonlyArray<string>,
  options?: PullCapabilitiesOptions,
) => Effect.Effect<
  number,
  InvalidRemoteOption | ServiceRegistryError,
  CapabilityBus | Transport | ServiceRegistry
> = internalCapabilities.pull

/**
 * The host a scheduler chose for a request ({@link schedulerApi}'s `select`): its name, and the
 * service (topic) and manager whose report made it a candidate.
 *
 * @example
 * ```ts
 * import * as Remote from "effect-manager/Remote"
 *
 * const placement: Remote.Placement = { host: "compute-2", service: "compute", manager: "Compute" }
 * ```
 *
 * @since 0.1.0
 * @category scheduling
 */
export const Placement: typeof internalPlacement.Placement = internalPlacement.Placement

/**
 * The host a scheduler chose; see the schema {@link Placement}.
 *
 * @since 0.1.0
 * @category scheduling
 */
export type Placement = internalPlacement.Placement

/**
 * The options of {@link schedulerApi}: its `namespace` ("scheduler" by default) and the version
 * `select` appeared in (`since`, "1.0").
 *
 * @example
 * ```ts
 * import type * as Remote from "effect-manager/Remote"
 *
 * const options: Remote.SchedulerApiOptions = { namespace: "scheduler", since: "4.0" }
 * ```
 *
 * @since 0.1.0
 * @category scheduling
 */
export interface SchedulerApiOptions extends internalPlacement.SchedulerApiOptions {}

/**
 * A scheduler's remote API (nova's `select_destinations`) for requests of a schema of yours: its
 * one method, `select`, answers the chosen {@link Placement}, or fails with the scheduler's
 * `NoValidHost` (how many hosts there were and how many each filter removed), typed on the
 * client. Serve it with {@link schedulerEndpoint}; call it with {@link client}.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import * as Remote from "effect-manager/Remote"
 *
 * const PlacementApi = Remote.schedulerApi(Schema.Struct({ ramMb: Schema.Number }))
 *
 * const place = Effect.gen(function* () {
 *   const schedulers = yield* Remote.client(PlacementApi, { topic: "scheduler" })
 *   return yield* schedulers.call("scheduler-1", "select", { ramMb: 512 })
 * })
 * ```
 *
 * @since 0.1.0
 * @category scheduling
 */
export const schedulerApi: <Request extends Schema.Schema.Any>(
  request: Request,
  options?: SchedulerApiOptions,
) => RpcGroup.RpcGroup<internalPlacement.SelectRpc<Request>> = internalPlacement.schedulerApi

/**
 * The endpoint that serves a {@link schedulerApi} with a `Scheduler` and its filters and
 * weighers, for a scheduler manager's `api` or `additionalEndpoints`. A weigher that breaks its
 * contract is the server's bug: that call dies, its caller gets a masked defect.
 *
 * @example
 * ```ts
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import { Manager } from "effect-manager"
 * import * as Remote from "effect-manager/Remote"
 * import * as Scheduler from "effect-manager/Scheduler"
 *
 * const Compute = Schema.Struct({ ramMb: Schema.Number })
 * const PlacementApi = Remote.schedulerApi(Schema.Struct({ ramMb: Schema.Number }))
 * class Placement extends Context.Tag("Placement")<Placement, object>() {}
 *
 * const PlacementManager = Manager.layer(Placement, Effect.gen(function* () {
 *   const scheduler = yield* Scheduler.make({ schema: Compute })
 *   const select = yield* Remote.schedulerEndpoint(PlacementApi, scheduler, {
 *     filters: [Scheduler.resourcesFit(["ramMb"])],
 *   })
 *   return { service: {}, additionalEndpoints: [select] }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category scheduling
 */
export const schedulerEndpoint: <A, Request extends Schema.Schema.Any>(
  group: RpcGroup.RpcGroup<internalPlacement.SelectRpc<Request>>,
  scheduler: Scheduler<A>,
  options: SelectOptions<A, Schema.Schema.Type<Request>>,
) => Effect.Effect<RemoteEndpoint, InvalidRemoteOption> = internalPlacement.schedulerEndpoint

export {
  /**
   * A capability report a scheduler would not take: its host, service and manager, the reason
   * (`"malformed"`, `"timestamp too far from the scheduler's clock"`, `"sequence out of range"`
   * (above 2^50), `"host is not the sender's"`) and what was wrong.
   *
   * @example
   * ```ts
   * import * as Remote from "effect-manager/Remote"
   *
   * const refused = new Remote.ReportRefused({
   *   host: "compute-1", service: "compute", manager: "Compute",
   *   reason: "host is not the sender's", detail: "sent by \"compute-2\"",
   * })
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ReportRefused,
} from "./internal/remote/capabilities.ts"
