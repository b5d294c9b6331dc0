/**
 * nova's `rpcapi`: a client of one API for one topic. Hosts are found in the `ServiceRegistry`
 * (their records carry their address); a host that is unknown, down or serves no RPC is a typed
 * error before any connection is tried. Each request carries the version it needs (its method's
 * `Since`, or one given) and its namespace; a version the client's cap does not accept is refused
 * before anything is sent. Connections are pooled per address and connect again by themselves.
 *
 * @internal
 */
import type * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import type { RpcClientError } from "@effect/rpc/RpcClientError"
import type { FromServerEncoded, RequestEncoded } from "@effect/rpc/RpcMessage"
import type * as RpcGroup from "@effect/rpc/RpcGroup"
import type * as RpcSchema from "@effect/rpc/RpcSchema"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as ServiceRegistry from "../../ServiceRegistry.ts"
import { canSendVersion, formatVersion, parseVersion, type Version } from "../rpcVersion.ts"
import { isUp, tag as RegistryTag } from "../serviceRegistry.ts"
import { type Credentials, headerValue, makeNonces, signAt, unsignable } from "../rpcAuth.ts"
import { show } from "../validate.ts"
import { GuardFailure, Header, namespaceOf, readVersion, sinceVersions, targetOf } from "./api.ts"
import * as Deadlines from "./deadlines.ts"
import {
  CallTimedOut,
  HostUnavailable,
  InvalidRemoteOption,
  RequestTooLarge,
  VersionCapExceeded,
} from "./errors.ts"
import { isTracing } from "../telemetry.ts"
import { tooLargeLimit, Transport } from "./transport.ts"

/** @internal What one call may say besides its payload. */
export interface CallOptions {
  /** The version the request asks for, instead of its method's `Since` (oslo's `prepare(version=…)`). */
  readonly version?: string | undefined
}

/** @internal The options of a client. */
export interface ClientOptions {
  /** The topic whose hosts the client calls (nova's `target.topic`). */
  readonly topic: string
  /** The highest version the client sends (oslo's `version_cap`); none by default. */
  readonly versionCap?: string | undefined
  /** A host's record older than this is down (nova's `service_down_time`); 60 s by default. */
  readonly serviceDownTime?: Duration.DurationInput | undefined
  /** What requests are signed with (a bearer token or an HMAC key); none by default. */
  readonly credentials?: Credentials | undefined
  /**
   * How long a `call` waits for its answer (oslo's `rpc_response_timeout`): 60 s by default,
   * `Duration.infinity` for ever. Past it the call fails with `CallTimedOut`.
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/** @internal The options of a fan-out. */
export interface FanoutOptions extends CallOptions {
  /** How many hosts are called at once; 16 by default. */
  readonly concurrency?: number | undefined
  /** How long each host is given; 30 s by default. */
  readonly timeout?: Duration.DurationInput | undefined
}

type Parts<Current> = Current extends
  Rpc.Rpc<infer _Tag, infer _Payload, infer Success, infer Error, infer Middleware>
  ? { success: Success; error: Error["Type"] | Middleware["failure"]["Type"] }
  : never

/** @internal The tags of the methods that answer once (not with a stream). */
export type CallTag<R extends Rpc.Any> = R extends Rpc.Any
  ? Parts<R>["success"] extends RpcSchema.Stream<any, any> ? never : R["_tag"]
  : never

/** @internal The tags of the methods that answer with a stream. */
export type StreamTag<R extends Rpc.Any> = R extends Rpc.Any
  ? Parts<R>["success"] extends RpcSchema.Stream<any, any> ? R["_tag"] : never
  : never

/** @internal Why a request did not get an answer from the method. */
export type ClientError =
  | RpcClientError
  | HostUnavailable
  | VersionCapExceeded
  | InvalidRemoteOption
  | ServiceRegistry.ServiceRegistryError
  | CallTimedOut
  | RequestTooLarge

/** @internal The error of a method, the server's refusals, and the client's own. */
export type ErrorOf<R extends Rpc.Any, Tag extends string> =
  | Parts<Rpc.ExtractTag<R, Tag>>["error"]
  | ClientError

/** @internal What a call answers. */
export type SuccessOf<R extends Rpc.Any, Tag extends string> = Rpc.Success<Rpc.ExtractTag<R, Tag>>

/** @internal What each item of a stream is, and what its stream may fail with. */
export type StreamOf<R extends Rpc.Any, Tag extends string> =
  Parts<Rpc.ExtractTag<R, Tag>>["success"] extends RpcSchema.Stream<infer A, infer E>
    ? Stream.Stream<A["Type"], E["Type"] | ErrorOf<R, Tag>>
    : never

/** @internal One host's answer to a fan-out. */
export interface HostExit<A, E> {
  readonly host: string
  readonly exit: Exit.Exit<A, E>
}

/** @internal */
export interface RemoteClient<R extends Rpc.Any> {
  readonly topic: string
  /** The cap, as given. */
  readonly versionCap: string | undefined
  /** Whether a request for `version` may be sent under the cap (oslo's `can_send_version`). */
  readonly canSendVersion: (version: string) => boolean
  /** Calls `tag` on `host` and waits for its answer (oslo's `call`). */
  readonly call: <const Tag extends CallTag<R>>(
    host: string,
    tag: Tag,
    payload: Rpc.PayloadConstructor<Rpc.ExtractTag<R, Tag>>,
    options?: CallOptions,
  ) => Effect.Effect<SuccessOf<R, Tag>, ErrorOf<R, Tag>>
  /** Sends `tag` to `host` and returns once it is handed to the transport (oslo's `cast`). */
  readonly cast: <const Tag extends CallTag<R>>(
    host: string,
    tag: Tag,
    payload: Rpc.PayloadConstructor<Rpc.ExtractTag<R, Tag>>,
    options?: CallOptions,
  ) => Effect.Effect<void, ClientError>
  /** Calls `tag` on every host of the topic that is up; one exit per host, by host name. */
  readonly fanout: <const Tag extends CallTag<R>>(
    tag: Tag,
    payload: Rpc.PayloadConstructor<Rpc.ExtractTag<R, Tag>>,
    options?: FanoutOptions,
  ) => Effect.Effect<
    ReadonlyArray<HostExit<SuccessOf<R, Tag>, ErrorOf<R, Tag>>>,
    ServiceRegistry.ServiceRegistryError | InvalidRemoteOption
  >
  /** The stream `tag` answers with on `host`. */
  readonly stream: <const Tag extends StreamTag<R>>(
    host: string,
    tag: Tag,
    payload: Rpc.PayloadConstructor<Rpc.ExtractTag<R, Tag>>,
    options?: CallOptions,
  ) => StreamOf<R, Tag>
}

/**
 * `@effect/rpc`'s flat client, called with a tag only known as a string here: the public
 * signatures (`RemoteClient`) tie each tag to its payload, answer and errors.
 */
type Untyped = (tag: string, payload: unknown, options: object) => unknown

/** Where a topic's hosts are, by their records: an address, or why a host cannot be called. */
const hostsOf = (
  registry: ServiceRegistry.ServiceRegistry,
  clock: Clock.Clock,
  topic: string,
  downTime: Duration.DurationInput,
) => {
  // Each host's address as last read, reused for ADDRESS_TTL_MILLIS: a read of the registry per
  // call cost more than the call (a file registry reads and decodes a file). A call that fails
  // to reach the address forgets it.
  const known = new Map<string, { readonly address: string; readonly readAt: number }>()
  const read = (host: string, now: number) =>
    Effect.gen(function* () {
      const found = yield* registry.get(host, topic)
      if (Option.isNone(found)) {
        return yield* new HostUnavailable({ host, topic, reason: "unknown" })
      }
      const record = found.value
      if (!isUp(record, now, downTime)) {
        return yield* new HostUnavailable({ host, topic, reason: "down" })
      }
      if (record.endpoint === undefined) {
        return yield* new HostUnavailable({ host, topic, reason: "no endpoint" })
      }
      known.set(host, { address: record.endpoint.address, readAt: now })
      return record.endpoint.address
    }).pipe(Effect.tapError(() => Effect.sync(() => known.delete(host))))
  return {
    /** The host's address if it was read lately, without an effect: the path of most calls. */
    recentAddress: (host: string): string | undefined => {
      const cached = known.get(host)
      return cached !== undefined &&
          clock.unsafeCurrentTimeMillis() - cached.readAt < ADDRESS_TTL_MILLIS
        ? cached.address
        : undefined
    },
    /** The host's address read from the registry, held to `within` (a store may hang). */
    readAddress: (host: string, within: Within) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => within(read(host, now))),
    forget: (host: string) => Effect.sync(() => known.delete(host)),
    up: Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const records = yield* registry.list
      return records
        .filter((r) => r.topic === topic && r.endpoint !== undefined && isUp(r, now, downTime))
        .map((r) => r.host)
    }),
  }
}

/** A time limit put on part of a call. */
type Within = <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | CallTimedOut>

const isUnreachable = (error: unknown): boolean =>
  typeof error === "object" && error !== null &&
  (error as { readonly _tag?: unknown })._tag === "RpcClientError"

/** How many hosts' usual headers a client keeps. */
const USUAL_HOSTS = 1_024

/** How long a host's address read from the registry is reused. */
const ADDRESS_TTL_MILLIS = 1_000

/**
 * The headers of a request for `tag` (the version it asks for, the API's namespace), or why it
 * may not be sent: a malformed explicit version, a version above the cap.
 */
const headersOf = (
  since: ReadonlyMap<string, Version>,
  cap: Version | undefined,
  namespace: string | undefined,
) => {
  const forVersion = (
    tag: string,
    version: Version,
  ): Either.Either<Record<string, string>, VersionCapExceeded> => {
    if (!canSendVersion(cap, version)) {
      return Either.left(
        new VersionCapExceeded({
          method: tag,
          version: formatVersion(version),
          cap: formatVersion(cap!),
        }),
      )
    }
    const headers: Record<string, string> = { [Header.version]: formatVersion(version) }
    if (namespace !== undefined) headers[Header.namespace] = namespace
    return Either.right(headers)
  }
  // A method's own version gives the same headers at every call: worked out once per method.
  const byMethod = new Map<string, Either.Either<Record<string, string>, VersionCapExceeded>>()
  return (
    tag: string,
    callOptions: CallOptions | undefined,
  ): Either.Either<Record<string, string>, VersionCapExceeded | InvalidRemoteOption> => {
    if (callOptions?.version !== undefined) {
      return Either.flatMap(
        readVersion("version", callOptions.version),
        (version) => forVersion(tag, version),
      )
    }
    let headers = byMethod.get(tag)
    if (headers === undefined) {
      headers = forVersion(tag, since.get(tag) ?? { major: 1, minor: 0, revision: 0 })
      byMethod.set(tag, headers)
    }
    return headers
  }
}

/**
 * A protocol whose requests are signed by `signer`, and held to the time limit their
 * `Header.timeout` says: past it, the call is answered here with `CallTimedOut` (as if by the
 * server, through `@effect/rpc`'s own decoding) and the server is told to interrupt it. One timer
 * for all calls (`Deadlines`): `Effect.timeoutFail` per call cost more than the rest of a call.
 */
const outgoing = (
  protocol: RpcClient.Protocol["Type"],
  signer: Signer | undefined,
  deadlines: Deadlines.Deadlines,
  topic: string,
  scope: Scope.Scope,
): RpcClient.Protocol["Type"] => {
  const pending = new Map<string, Deadlines.Deadline>()
  let answer: (message: FromServerEncoded) => Effect.Effect<void> = () => Effect.void
  const settle = (requestId: string) => {
    pending.get(requestId)?.cancel()
    pending.delete(requestId)
  }
  const timedOut = (request: RequestEncoded, limitMillis: number) => () =>
    Effect.suspend(() => {
      if (!pending.delete(request.id)) return Effect.void
      const host = hostOfTarget(headerValue(request, Header.target))
      const failure = new CallTimedOut({ host, topic, method: request.tag, limitMillis })
      // The interrupt is sent from a fiber of its own: on a connection that never opened it
      // waits for the failure, and the deadlines' fiber must not (the other calls' would be late).
      return Effect.zipRight(
        answer(failureExit(request.id, failure)),
        Effect.asVoid(Effect.forkIn(
          Effect.ignore(protocol.send({ _tag: "Interrupt", requestId: request.id })),
          scope,
        )),
      )
    })
  const track = (request: RequestEncoded) => {
    const limit = Number(headerValue(request, Header.timeout) ?? Infinity)
    if (Number.isFinite(limit)) {
      pending.set(request.id, deadlines.add(limit, timedOut(request, limit)))
    }
  }
  return {
    ...protocol,
    run: (f) => {
      answer = f
      return protocol.run((message) => {
        if (message._tag === "Exit") settle(message.requestId)
        // Both end every call of the connection, answered or not.
        if (message._tag === "ClientProtocolError" || message._tag === "Defect") {
          for (const deadline of pending.values()) deadline.cancel()
          pending.clear()
        }
        return f(message)
      })
    },
    send: (request, transferables) => {
      if (request._tag === "Interrupt") settle(request.requestId)
      if (request._tag !== "Request") return protocol.send(request, transferables)
      const signed = signer === undefined ? request : signer.sign(request)
      if (signed === undefined) return Effect.dieMessage(unsignable(request))
      track(request)
      return Effect.tapErrorCause(
        protocol.send(signed, transferables),
        () => Effect.sync(() => settle(request.id)),
      )
    },
  }
}

/** How a client signs its requests: synchronously, with the client's `Clock` and nonces. */
interface Signer {
  readonly sign: (request: RequestEncoded) => RequestEncoded | undefined
}

const makeSigner = (credentials: Credentials): Effect.Effect<Signer> => {
  const sign = signAt(credentials)
  // A token needs no time and no nonce.
  if (credentials._tag === "Token") {
    return Effect.succeed({ sign: (request) => sign(request, 0, "") })
  }
  return Effect.map(
    Effect.zip(Effect.clock, makeNonces),
    ([clock, nonce]): Signer => ({
      sign: (request) => sign(request, clock.unsafeCurrentTimeMillis(), nonce()),
    }),
  )
}

/** The host a request was meant for, from its target header (`JSON.stringify([topic, host])`). */
const hostOfTarget = (target: string | null): string => {
  const parsed: unknown = target === null ? undefined : JSON.parse(target)
  return Array.isArray(parsed) && typeof parsed[1] === "string" ? parsed[1] : "(unknown)"
}

const encodeFailure = Schema.encodeSync(GuardFailure)

/** The answer that ends request `requestId` with `failure`. */
const failureExit = (requestId: string, failure: CallTimedOut): FromServerEncoded => ({
  _tag: "Exit",
  requestId,
  exit: { _tag: "Failure", cause: { _tag: "Fail", error: encodeFailure(failure) } },
})

/**
 * One `@effect/rpc` client per address, made on first use and kept for the client's life (it
 * connects again by itself after a drop); a map lookup per call, no scope.
 */
const connections = (
  transport: Transport,
  group: RpcGroup.RpcGroup<Rpc.Any>,
  credentials: Credentials | undefined,
  topic: string,
) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const deadlines = yield* Deadlines.make
    const signer = credentials === undefined ? undefined : yield* makeSigner(credentials)
    // A span per call only when a tracer is installed (telemetry.ts), as the server's.
    const disableTracing = !(yield* isTracing)
    const made = new Map<string, Effect.Effect<Untyped>>()
    const connect = (address: string) =>
      Effect.flatMap(transport.connect(address), (protocol) =>
        RpcClient.make(group, { flatten: true, disableTracing }).pipe(
          Effect.provideService(
            RpcClient.Protocol,
            outgoing(protocol, signer, deadlines, topic, scope),
          ),
        )).pipe(
          Scope.extend(scope),
          Effect.map((client) =>
            client as Untyped
          ),
        )
    const ready = new Map<string, Untyped>()
    return {
      /** The client of an address already connected to, without an effect. */
      ready: (address: string): Untyped | undefined => ready.get(address),
      clientOf: (address: string): Effect.Effect<Untyped> => {
        let client = made.get(address)
        if (client === undefined) {
          client = Effect.runSync(Effect.cached(
            Effect.tap(connect(address), (made) => Effect.sync(() => ready.set(address, made))),
          ))
          made.set(address, client)
        }
        return client
      },
    }
  })

type HeadersFor = ReturnType<typeof headersOf>
type Hosts = ReturnType<typeof hostsOf>
type Pool = Effect.Effect.Success<ReturnType<typeof connections>>

/**
 * The headers of a request: the version it asks for and the API's namespace (or why it may not
 * be sent), the service meant, the caller's time limit.
 */
const callHeaders = (topic: string, headersFor: HeadersFor, timeout: Duration.Duration) => {
  const headersOf = (
    host: string,
    tag: string,
    callOptions: CallOptions | undefined,
    limit: Duration.Duration | undefined,
  ): Either.Either<Record<string, string>, VersionCapExceeded | InvalidRemoteOption> =>
    Either.map(headersFor(tag, callOptions), (base) => {
      const headers: Record<string, string> = { ...base, [Header.target]: targetOf(topic, host) }
      if (limit !== undefined && Duration.isFinite(limit)) {
        headers[Header.timeout] = String(Duration.toMillis(limit))
      }
      return headers
    })
  // A `call` with its method's version and the client's time limit (most calls) sends the same
  // headers to a host every time: made once per host and method.
  const usual = new Map<string, Map<string, ReturnType<typeof headersOf>>>()
  const headersOfCall = (
    host: string,
    tag: string,
    callOptions: CallOptions | undefined,
    limit: Duration.Duration | undefined,
  ) => {
    if (callOptions?.version !== undefined || limit !== timeout) {
      return headersOf(host, tag, callOptions, limit)
    }
    let byTag = usual.get(host)
    if (byTag === undefined) {
      // Bounded: a client of a topic with many hosts starts over rather than grow for ever.
      if (usual.size >= USUAL_HOSTS) usual.clear()
      usual.set(host, byTag = new Map())
    }
    let headers = byTag.get(tag)
    if (headers === undefined) byTag.set(tag, headers = headersOf(host, tag, undefined, limit))
    return headers
  }
  return headersOfCall
}

/**
 * A call's failure as its caller gets it: a request refused for its size is `RequestTooLarge`;
 * a host that could not be reached is looked up again next time (it may have moved).
 */
const failedCall = (hosts: Hosts, topic: string, host: string, method: string, error: unknown) => {
  if (!isUnreachable(error)) return Effect.fail(error)
  const limitBytes = tooLargeLimit(error)
  if (limitBytes !== undefined) {
    return Effect.fail(new RequestTooLarge({ host, topic, method, limitBytes }))
  }
  return Effect.zipRight(hosts.forget(host), Effect.fail(error))
}

/**
 * How a request is made: its headers, its host's address and connection, then `@effect/rpc`'s
 * call. A call's time limit (none for a cast or a stream) goes in its `Header.timeout`, which the
 * connection's deadlines read; a registry read that may come first is limited here. A host whose
 * address was read lately and is connected to costs no effect before `@effect/rpc`'s.
 */
const requests = (
  topic: string,
  headersFor: HeadersFor,
  hosts: Hosts,
  pool: Pool,
  timeout: Duration.Duration,
) => {
  const headersOfCall = callHeaders(topic, headersFor, timeout)
  /** The connection to `host`: without an effect when its address was read lately. */
  const clientOf = (
    host: string,
    tag: string,
    limit: Duration.Duration | undefined,
  ): Untyped | Effect.Effect<Untyped, ClientError> => {
    const address = hosts.recentAddress(host)
    const ready = address === undefined ? undefined : pool.ready(address)
    if (ready !== undefined) return ready
    const within = limit === undefined ? unlimited : limited(topic, host, tag, limit)
    return Effect.flatMap(
      address === undefined ? hosts.readAddress(host, within) : Effect.succeed(address),
      pool.clientOf,
    )
  }
  /** Calls `tag` on `host` with `call`, given the connection and the request's options. */
  const request = <A>(
    host: string,
    tag: string,
    callOptions: CallOptions | undefined,
    limit: Duration.Duration | undefined,
    call: (client: Untyped, headers: Record<string, string>) => Effect.Effect<A, unknown>,
  ): Effect.Effect<A, unknown> => {
    const headers = headersOfCall(host, tag, callOptions, limit)
    if (Either.isLeft(headers)) return Effect.fail(headers.left)
    const client = clientOf(host, tag, limit)
    // A client is a function; the effect that connects one is not.
    return typeof client === "function"
      ? call(client, headers.right)
      : Effect.flatMap(client, (connected) => call(connected, headers.right))
  }
  const send = (
    host: string,
    tag: string,
    payload: unknown,
    callOptions: CallOptions | undefined,
    discard: boolean,
    limit: Duration.Duration | undefined,
  ): Effect.Effect<unknown, unknown> =>
    Effect.suspend(() =>
      Effect.catchAll(
        request(
          host,
          tag,
          callOptions,
          limit,
          (client, headers) =>
            client(tag, payload, { headers, discard }) as Effect.Effect<unknown, unknown>,
        ),
        (error) => failedCall(hosts, topic, host, tag, error),
      )
    )
  const stream = (
    host: string,
    tag: string,
    payload: unknown,
    callOptions: CallOptions | undefined,
  ): Stream.Stream<unknown, unknown> =>
    Stream.unwrap(
      Effect.suspend(() =>
        request(host, tag, callOptions, undefined, (client, headers) =>
          Effect.succeed(client(tag, payload, { headers }) as Stream.Stream<unknown, unknown>))
      ),
    )
  return { send, stream }
}

/** @internal A client of `group` for `options.topic`, its connections closed with the scope. */
export const make = <R extends Rpc.Any>(
  group: RpcGroup.RpcGroup<R>,
  options: ClientOptions,
): Effect.Effect<
  RemoteClient<R>,
  InvalidRemoteOption,
  Scope.Scope | Transport | ServiceRegistry.ServiceRegistry
> =>
  Effect.gen(function* () {
    const untyped = group as unknown as RpcGroup.RpcGroup<Rpc.Any>
    const cap = options.versionCap === undefined
      ? undefined
      : yield* readVersion("versionCap", options.versionCap)
    const headersFor = headersOf(yield* sinceVersions(untyped), cap, namespaceOf(untyped))
    const downTime = yield* checkDuration("serviceDownTime", options.serviceDownTime, 60_000)
    const timeout = yield* checkDuration("timeout", options.timeout, 60_000)
    if (options.credentials !== undefined) yield* checkCredentials(options.credentials)
    const hosts = hostsOf(yield* RegistryTag, yield* Effect.clock, options.topic, downTime)
    const pool = yield* connections(
      yield* Transport,
      untyped,
      options.credentials,
      options.topic,
    )
    const { send, stream } = requests(options.topic, headersFor, hosts, pool, timeout)
    const client: RemoteClient<Rpc.Any> = {
      topic: options.topic,
      versionCap: options.versionCap,
      canSendVersion: (version) => {
        const parsed = parseVersion(version)
        return Either.isRight(parsed) && canSendVersion(cap, parsed.right)
      },
      call: (host, tag, payload, callOptions) =>
        send(host, tag, payload, callOptions, false, timeout) as never,
      cast: (host, tag, payload, callOptions) =>
        Effect.asVoid(send(host, tag, payload, callOptions, true, undefined)) as never,
      fanout: (tag, payload, fanoutOptions) =>
        Effect.gen(function* () {
          const limit = yield* checkDuration("fanout timeout", fanoutOptions?.timeout, 30_000)
          const concurrency = yield* checkConcurrency(fanoutOptions?.concurrency)
          const up = yield* hosts.up
          return yield* Effect.forEach(up, (host) =>
            send(host, tag, payload, fanoutOptions, false, limit).pipe(
              Effect.exit,
              Effect.map((exit) => ({ host, exit })),
            ), { concurrency })
        }) as never,
      stream: (host, tag, payload, callOptions) => stream(host, tag, payload, callOptions) as never,
    }
    return client as unknown as RemoteClient<R>
  })

const unlimited: Within = (effect) => effect

/**
 * The time limit of a registry read before a call (a store may hang): past it, `CallTimedOut`.
 * The call itself then gets its whole limit from the connection's deadlines.
 */
const limited =
  (topic: string, host: string, method: string, limit: Duration.Duration): Within => (effect) =>
    Duration.isFinite(limit)
      ? Effect.timeoutFail(effect, {
        duration: limit,
        onTimeout: () =>
          new CallTimedOut({ host, topic, method, limitMillis: Duration.toMillis(limit) }),
      })
      : effect

/** A duration option above 0 (`Duration.infinity` allowed), or `fallback` milliseconds. */
const checkDuration = (
  option: string,
  value: Duration.DurationInput | undefined,
  fallback: number,
): Either.Either<Duration.Duration, InvalidRemoteOption> => {
  if (value === undefined) return Either.right(Duration.millis(fallback))
  const decoded = Duration.decodeUnknown(value)
  return Option.isSome(decoded) && Duration.toMillis(decoded.value) > 0
    ? Either.right(decoded.value)
    : Either.left(
      new InvalidRemoteOption({
        option,
        value: show(value),
        expected: `a duration above 0 (e.g. "30 seconds"), or Duration.infinity`,
      }),
    )
}

/** A fan-out's concurrency: a whole number of at least 1; 16 by default. */
const checkConcurrency = (value: number | undefined): Either.Either<number, InvalidRemoteOption> =>
  value === undefined
    ? Either.right(16)
    : Number.isInteger(value) && value >= 1
    ? Either.right(value)
    : Either.left(
      new InvalidRemoteOption({
        option: "fanout concurrency",
        value: show(value),
        expected: "a whole number of at least 1",
      }),
    )

/** Credentials with a principal and a secret (or token) that are not empty; never shown. */
const checkCredentials = (credentials: Credentials): Either.Either<void, InvalidRemoteOption> => {
  const secret: unknown = credentials._tag === "Token" ? credentials.token : credentials.secret
  const field = credentials._tag === "Token" ? "token" : "secret"
  if (typeof credentials.principal !== "string" || credentials.principal.trim() === "") {
    return Either.left(
      new InvalidRemoteOption({
        option: "credentials.principal",
        value: show(credentials.principal),
        expected: "a name that is not empty",
      }),
    )
  }
  if (typeof secret !== "string" || secret === "") {
    return Either.left(
      new InvalidRemoteOption({
        option: `credentials.${field}`,
        value: secret === "" ? `""` : "(hidden)",
        expected: "a string that is not empty",
      }),
    )
  }
  return Either.right(undefined)
}
