/**
 * Serving a service's endpoints: a transport, the router in front, one `RpcServer` per endpoint
 * (its handlers, the `Guard` that hands them the principal), the built-in `BaseApi`; and the
 * `RemoteServer` service that `Service` starts between `preStart` and `postStart`.
 *
 * @internal
 */
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { formatVersion, type Version } from "../rpcVersion.ts"
import {
  RemoteServer,
  type RunningServer,
  type Served,
  type ServeRequest,
  type ServerInfo,
} from "./serving.ts"
import { EndpointTypeId } from "./endpoint.ts"
import { BaseApi, type EndpointImpl, guard, implOf, type Principal } from "./api.ts"
import { InvalidRemoteOption, ServiceStopping } from "./errors.ts"
import { isTracing } from "../telemetry.ts"
import * as Router from "./router.ts"
import { type Credentials, makeVerifier } from "../rpcAuth.ts"
import { type Listen, Transport, type TransportError } from "./transport.ts"

/** @internal The options of a server. */
export interface ServerOptions {
  readonly listen: Listen
  /** The time a handler of a method that answers once is given, unless its method says. */
  readonly handlerTimeout: Duration.Duration
  /** The most calls one connection may have running at once. */
  readonly maxConcurrentPerConnection: number
  /** The most calls the server may have running at once. */
  readonly maxConcurrent: number
  readonly authenticate?: Router.Authenticate | undefined
}

const baseApiVersion: Version = { major: 1, minor: 2, revision: 0 }

/**
 * The built-in endpoint: `ping`, `status`, and `capabilities` (the latest report each manager
 * published, which a scheduler that starts pulls: `Remote.pullCapabilities`).
 */
const baseEndpoint = (request: ServeRequest, apis: ServerInfo["apis"]) =>
  Effect.map(
    BaseApi.toHandlersContext({
      ping: ({ arg }) => Effect.succeed({ host: request.host, topic: request.topic, arg }),
      status: () =>
        Effect.map(request.state, (state) => ({
          host: request.host,
          topic: request.topic,
          state,
          endpoints: apis,
        })),
      capabilities: () => request.capabilities,
    }),
    (handlers): Served => {
      const endpoint: EndpointImpl = {
        [EndpointTypeId]: EndpointTypeId,
        group: BaseApi as never,
        handlers: handlers as Context.Context<never>,
        namespace: "baseapi",
        version: baseApiVersion,
        since: new Map(),
      }
      return { endpoint, version: baseApiVersion, additional: false }
    },
  )

const describe = (served: ReadonlyArray<Served>): ServerInfo["apis"] =>
  served.map(({ endpoint, version }) =>
    endpoint.namespace === undefined
      ? { version: formatVersion(version) }
      : { namespace: endpoint.namespace, version: formatVersion(version) }
  )

/** @internal Serves `request`'s endpoints with `transport` until the scope closes. */
export const serve = (
  transport: Transport,
  options: ServerOptions,
  request: ServeRequest,
): Effect.Effect<RunningServer, TransportError, Scope.Scope> =>
  Effect.gen(function* () {
    const served = yield* transport.serve(options.listen)
    const managers = describe(request.endpoints)
    // R2's order, as nova's services: the managers' own APIs, the built-in one, the additional ones.
    const all = [
      ...request.endpoints.filter((served) => !served.additional),
      yield* baseEndpoint(request, managers),
      ...request.endpoints.filter((served) => served.additional),
    ]
    const router = yield* Router.make(
      served.protocol,
      all.map(({ endpoint, version }) => ({
        namespace: endpoint.namespace,
        version,
        methods: implOf(endpoint).group.requests,
      })),
      {
        host: request.host,
        topic: request.topic,
        authenticate: options.authenticate,
        handlerTimeout: options.handlerTimeout,
        maxConcurrentPerConnection: options.maxConcurrentPerConnection,
        maxConcurrent: options.maxConcurrent,
      },
    )
    // Spans of calls only when a tracer is installed (telemetry.ts): @effect/rpc makes two per
    // call by default, which cost more than the rest of our work on a call.
    const disableTracing = !(yield* isTracing)
    // Each endpoint's server runs in a scope of its own: the drain closes them (interrupting
    // what still runs) before the transport stops.
    yield* Effect.forEach(all.map(({ endpoint }) => implOf(endpoint)), (endpoint, index) =>
      // A handler's defect is its own call's failure (by default @effect/rpc fails the whole
      // connection with it, and the router would track the call forever).
      RpcServer.make(endpoint.group, { disableFatalDefects: true, disableTracing }).pipe(
        Effect.provide(
          Context.merge(endpoint.handlers, guard).pipe(
            Context.add(RpcServer.Protocol, router.protocols[index]!),
          ),
        ),
        Effect.interruptible,
        Effect.forkScoped,
      ), { discard: true })
    yield* Effect.forkScoped(Effect.interruptible(router.run))
    return {
      address: served.address,
      apis: describe(all),
      stopAccepting: router.stopAccepting,
      // A stop drains from a finalizer, which is uninterruptible: the wait is made interruptible
      // so that the time limit can end it.
      drain: (millis) =>
        Effect.interruptible(router.drained).pipe(
          Effect.timeoutOption(millis),
          Effect.zipRight(
            router.abandon(
              new ServiceStopping({ host: request.host, topic: request.topic, started: true }),
            ),
          ),
        ),
    }
  })

/** The listen options, checked: a non-empty hostname, a whole port from 0 to 65535. */
const checkListen = (
  options: {
    readonly hostname?: string | undefined
    readonly port?: number | undefined
  } | undefined,
): Either.Either<Listen, InvalidRemoteOption> => {
  const hostname = options?.hostname ?? "127.0.0.1"
  const port = options?.port ?? 0
  if (typeof hostname !== "string" || hostname.trim() === "") {
    return Either.left(
      new InvalidRemoteOption({
        option: "hostname",
        value: JSON.stringify(hostname) ?? String(hostname),
        expected: "an interface name or address",
      }),
    )
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    return Either.left(
      new InvalidRemoteOption({
        option: "port",
        value: String(port),
        expected: "a whole number from 0 to 65535 (0: the system picks one)",
      }),
    )
  }
  return Either.right({ hostname, port })
}

/** @internal The options of `Remote.layerServer`. */
export interface LayerOptions {
  readonly hostname?: string | undefined
  readonly port?: number | undefined
  /**
   * The time a handler of a method that answers once is given (60 s by default, oslo's
   * `rpc_response_timeout`); a method's `HandlerTimeout` annotation overrides it. A handler past
   * it is interrupted and the call fails with `HandlerTimedOut`.
   */
  readonly handlerTimeout?: Duration.DurationInput | undefined
  /** The most calls one connection may have running at once (256 by default): `TooManyRequests`. */
  readonly maxConcurrentPerConnection?: number | undefined
  /**
   * The most calls the server may have running at once over all its connections (4,096 by
   * default; an HTTP client's every request is a connection of its own): `TooManyRequests`.
   */
  readonly maxConcurrent?: number | undefined
  /**
   * The credentials the server accepts, or "none" to accept anyone. Required for a server not
   * bound to loopback; "none" by default on loopback.
   */
  readonly auth?:
    | "none"
    | {
      readonly keys: ReadonlyArray<Credentials>
      /** How far a signed request's timestamp may be from the server's clock; 30 s by default. */
      readonly skewMillis?: number | undefined
      /** How many nonces of signed requests are remembered against replays; 100,000 by default. */
      readonly replayCacheSize?: number | undefined
    }
    | undefined
}

const isLoopback = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname)

/** A count option: a whole number of at least 1. */
const checkCount = (option: string, value: unknown): Either.Either<number, InvalidRemoteOption> =>
  typeof value === "number" && Number.isInteger(value) && value >= 1
    ? Either.right(value)
    : Either.left(
      new InvalidRemoteOption({
        option,
        value: String(value),
        expected: "a whole number of at least 1",
      }),
    )

/** The handler time limit (60 s by default) and the call caps (256 per connection, 4,096 in all). */
const checkLimits = (options: LayerOptions | undefined) =>
  Effect.gen(function* () {
    const timeout = options?.handlerTimeout ?? Duration.seconds(60)
    const handlerTimeout = Duration.decodeUnknown(timeout)
    if (
      Option.isNone(handlerTimeout) || Duration.toMillis(handlerTimeout.value) <= 0 ||
      Number.isNaN(Duration.toMillis(handlerTimeout.value))
    ) {
      return yield* new InvalidRemoteOption({
        option: "handlerTimeout",
        value: typeof timeout === "string" ? JSON.stringify(timeout) : String(timeout),
        expected: `a duration above 0 (e.g. "30 seconds"), or Duration.infinity`,
      })
    }
    const maxConcurrentPerConnection = yield* checkCount(
      "maxConcurrentPerConnection",
      options?.maxConcurrentPerConnection ?? 256,
    )
    const maxConcurrent = yield* checkCount("maxConcurrent", options?.maxConcurrent ?? 4_096)
    return { handlerTimeout: handlerTimeout.value, maxConcurrentPerConnection, maxConcurrent }
  })

/** How requests are authenticated: by the keys given, or not at all (loopback or "none"). */
const authenticator = (listen: Listen, auth: LayerOptions["auth"]) =>
  Effect.gen(function* () {
    if (auth === "none" || (auth === undefined && isLoopback(listen.hostname))) return undefined
    if (auth === undefined) {
      return yield* new InvalidRemoteOption({
        option: "auth",
        value: "undefined",
        expected:
          `keys (bearer tokens or HMAC keys) for a server bound to ${listen.hostname}, which is not loopback, or "none" to accept anyone`,
      })
    }
    const verify = yield* makeVerifier(auth.keys, auth).pipe(
      Effect.mapError((error) =>
        new InvalidRemoteOption({
          option: `auth.${error.option}`,
          value: error.value,
          expected: `a value that ${error.reason.replace(/^must /, "")}`,
        })
      ),
    )
    const clock = yield* Effect.clock
    const authenticate: Router.Authenticate = (request) =>
      Either.map(
        verify.verifyAt(request, clock.unsafeCurrentTimeMillis()),
        (found): Principal => ({ name: found.principal, scheme: found.scheme }),
      )
    return authenticate
  })

/** @internal A `RemoteServer` that serves with the context's transport. */
export const layer = (
  options?: LayerOptions,
): Layer.Layer<RemoteServer, InvalidRemoteOption, Transport> =>
  Layer.effect(
    RemoteServer,
    Effect.gen(function* () {
      const listen = yield* checkListen(options)
      const limits = yield* checkLimits(options)
      const authenticate = yield* authenticator(listen, options?.auth)
      const transport = yield* Transport
      return { serve: (request) => serve(transport, { listen, authenticate, ...limits }, request) }
    }),
  )
