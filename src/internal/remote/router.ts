/**
 * The server side of a service's RPC: one protocol (a transport's) in front of one `RpcServer`
 * per endpoint. Every request is checked here, before any endpoint sees it: credentials, then
 * oslo's dispatch (R2–R3: namespace and version pick the endpoint, `NoSuchMethod` or
 * `UnsupportedVersion` otherwise), then whether the service still takes calls. A refused request
 * gets its own failure exit; the connection and every other call on it go on (out of the box,
 * `@effect/rpc` answers an unknown method by failing the whole connection).
 *
 * @internal
 */
import type * as Rpc from "@effect/rpc/Rpc"
import type { FromClientEncoded, FromServerEncoded, RequestEncoded } from "@effect/rpc/RpcMessage"
import { constPong } from "@effect/rpc/RpcMessage"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Mailbox from "effect/Mailbox"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import {
  dispatch,
  type Endpoint as Dispatchable,
  formatVersion,
  parseVersion,
  type Version,
} from "../rpcVersion.ts"
import { headerValue, Unauthorized } from "../rpcAuth.ts"
import {
  handlerLimit,
  Header,
  type Principal,
  principalHeader,
  RemoteFailure,
  targetOf,
} from "./api.ts"
import * as Deadlines from "./deadlines.ts"
import {
  HandlerTimedOut,
  MalformedRequest,
  NoSuchMethod,
  ServiceStopping,
  TooManyRequests,
  UnsupportedVersion,
} from "./errors.ts"

/** @internal One endpoint as the router sees it: where requests go, and what it serves. */
export interface Route {
  readonly namespace: string | undefined
  readonly version: Version
  readonly methods: ReadonlyMap<string, Rpc.Any>
}

/**
 * @internal Who made a request, or why it is refused. Synchronous (it reads the `Clock` captured
 * when the server's layer was built, see server.ts): it runs for every request.
 */
export type Authenticate = (request: RequestEncoded) => Either.Either<Principal, RemoteFailure>

/** @internal What the router needs besides its routes. */
export interface RouterOptions {
  readonly host: string
  readonly topic: string
  /** Who made a request, or why it is refused; `undefined` takes every request as anonymous. */
  readonly authenticate?: Authenticate | undefined
  /** The time a handler of a method that answers once is given, unless its method says. */
  readonly handlerTimeout: Duration.Duration
  /** The most calls one client (connection) may have running at once. */
  readonly maxConcurrentPerConnection: number
  /** The most calls the server may have running at once, over all its connections. */
  readonly maxConcurrent: number
}

/** @internal The protocol of each route's `RpcServer`, and how the router stops taking calls. */
export interface Router {
  readonly protocols: ReadonlyArray<RpcServer.Protocol["Type"]>
  /** Runs the router on the transport's protocol; never returns. */
  readonly run: Effect.Effect<never>
  /** From now on a new request is refused with `ServiceStopping`. */
  readonly stopAccepting: Effect.Effect<void>
  /** Waits until no accepted call is running. */
  readonly drained: Effect.Effect<void>
  /** How many accepted calls are running. */
  readonly inFlight: Effect.Effect<number>
  /**
   * Answers every accepted call still running with `failure` and forgets it (its handler's later
   * answer is dropped); how many there were.
   */
  readonly abandon: (failure: RemoteFailure) => Effect.Effect<number>
}

const encodeFailure = Schema.encodeSync(RemoteFailure)

/** The answer that ends request `requestId` with `failure`. */
const failureExit = (requestId: string, failure: RemoteFailure): FromServerEncoded => ({
  _tag: "Exit",
  requestId,
  exit: { _tag: "Failure", cause: { _tag: "Fail", error: encodeFailure(failure) } },
})

const headerOf = (request: RequestEncoded, name: string): string | undefined =>
  headerValue(request, name) ?? undefined

/** A request's headers without the principal a client may have set, with the one we found. */
const withPrincipal = (request: RequestEncoded, principal: Principal): RequestEncoded => ({
  ...request,
  headers: [
    ...request.headers.filter(([key]) => key.toLowerCase() !== Header.principal),
    [Header.principal, principalHeader(principal)],
  ],
})

const printable = (raw: string): string =>
  JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}…` : raw)

const decoders = new WeakMap<
  object,
  (payload: unknown) => Either.Either<unknown, ParseResult.ParseError>
>()

/**
 * Whether a request's payload fits its method's schema, checked before any handler is involved
 * (`@effect/rpc` would answer a misfit with a defect); what is wrong, if it does not.
 */
const checkPayload = (route: Route, request: RequestEncoded): MalformedRequest | undefined => {
  const rpc = route.methods.get(request.tag) as unknown as Rpc.AnyWithProps
  let decode = decoders.get(rpc)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(rpc.payloadSchema as Schema.Schema<unknown, unknown>)
    decoders.set(rpc, decode)
  }
  const decoded = decode(request.payload)
  if (Either.isRight(decoded)) return undefined
  const reason = ParseResult.TreeFormatter.formatErrorSync(decoded.left)
  return new MalformedRequest({
    method: request.tag,
    reason: reason.length > 500 ? `${reason.slice(0, 500)}…` : reason,
  })
}

const WARNING_INTERVAL_MILLIS = 60_000

/**
 * Warnings of one kind at most once per interval: the first is logged, the others are counted,
 * and the next one logged says how many were not.
 */
const throttledWarnings = () => {
  const kinds = new Map<string, { loggedAt: number; unlogged: number }>()
  return (kind: string, message: string): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const seen = kinds.get(kind)
      if (seen !== undefined && now - seen.loggedAt < WARNING_INTERVAL_MILLIS) {
        seen.unlogged++
        return Effect.void
      }
      const unlogged = seen?.unlogged ?? 0
      kinds.set(kind, { loggedAt: now, unlogged: 0 })
      return Effect.logWarning(
        unlogged === 0 ? message : `${message} (and ${unlogged} more refused like it, not logged)`,
      )
    })
}

/** How many version strings the router keeps parsed: the few its clients send, not an attacker's. */
const PARSED_VERSIONS = 64

type VersionParser = (raw: string) => ReturnType<typeof parseVersion>

/** `parseVersion`, remembered for the first `PARSED_VERSIONS` strings: it runs for every request. */
const versionParser = (): VersionParser => {
  const parsed = new Map<string, ReturnType<typeof parseVersion>>()
  return (raw: string) => {
    let version = parsed.get(raw)
    if (version === undefined) {
      version = parseVersion(raw)
      if (parsed.size < PARSED_VERSIONS) parsed.set(raw, version)
    }
    return version
  }
}

/** The route of a request, or the failure to answer it with. */
const route = (
  routes: ReadonlyArray<Route>,
  dispatchable: ReadonlyArray<Dispatchable<number>>,
  parse: VersionParser,
  request: RequestEncoded,
): Either.Either<number, RemoteFailure> => {
  const namespace = headerOf(request, Header.namespace)
  const raw = headerOf(request, Header.version)
  const parsed = raw === undefined ? undefined : parse(raw)
  if (parsed !== undefined && Either.isLeft(parsed)) {
    return Either.left(
      new UnsupportedVersion({
        method: request.tag,
        ...(namespace === undefined ? {} : { namespace }),
        requested: printable(raw!),
        served: routes.filter((r) => r.namespace === namespace).map((r) =>
          formatVersion(r.version)
        ),
      }),
    )
  }
  const found = dispatch(dispatchable, {
    method: request.tag,
    namespace,
    version: parsed === undefined ? undefined : parsed.right,
  })
  if (Either.isRight(found)) return Either.right(found.right.method)
  const miss = found.left
  const common = {
    method: miss.method,
    ...(miss.namespace === undefined ? {} : { namespace: miss.namespace }),
    requested: formatVersion(miss.requested),
  }
  return Either.left(
    miss._tag === "NoSuchMethod"
      ? new NoSuchMethod(common)
      : new UnsupportedVersion({ ...common, served: miss.served.map(formatVersion) }),
  )
}

type State = Effect.Effect.Success<ReturnType<typeof makeState>>

/**
 * The protocol of route `index`'s `RpcServer`: its answers go out through the transport (an
 * exit ends the call's tracking); the transport's client ends once every route has ended it.
 */
const routeProtocol = (transport: RpcServer.Protocol["Type"], state: State, index: number) =>
  RpcServer.Protocol.make((write) => {
    state.writers[index] = write
    return Effect.succeed({
      disconnects: state.disconnects[index]!,
      send: (clientId: number, response: FromServerEncoded) => {
        // The answer of a call no longer tracked (abandoned at a stop's deadline), or answered
        // by the router (timed out), is dropped: its caller already has its failure.
        if (response._tag === "Exit" || response._tag === "Chunk") {
          const call = state.callOf(clientId, response.requestId)
          if (call === undefined) return Effect.void
          if (response._tag === "Exit") state.finish(clientId, response.requestId)
          if (call.answered) return Effect.void
        }
        return transport.send(clientId, response)
      },
      end: (clientId: number) => {
        const left = (state.ends.get(clientId) ?? 1) - 1
        if (left > 0) return Effect.sync(() => state.ends.set(clientId, left))
        state.ends.delete(clientId)
        return transport.end(clientId)
      },
      clientIds: transport.clientIds,
      initialMessage: transport.initialMessage,
      supportsAck: transport.supportsAck,
      supportsTransferables: transport.supportsTransferables,
      supportsSpanPropagation: transport.supportsSpanPropagation,
    })
  })

/**
 * The route of an authenticated request, or why it is refused before any handler sees it: a
 * signed request meant for another service, R2–R3, a payload that does not fit, a cap, a stop.
 */
const admission = (
  routes: ReadonlyArray<Route>,
  state: State,
  options: RouterOptions,
) => {
  const dispatchable: ReadonlyArray<Dispatchable<number>> = routes.map((r, index) => ({
    namespace: r.namespace,
    version: r.version,
    method: (name) => r.methods.has(name) ? index : undefined,
  }))
  const target = targetOf(options.topic, options.host)
  const parse = versionParser()
  return (
    clientId: number,
    request: RequestEncoded,
    principal: Principal,
  ): Either.Either<number, RemoteFailure> => {
    // A signed request names the service it was meant for: another one's is refused (a request
    // captured on its way to one host cannot be replayed to another).
    if (principal.scheme === "hmac" && headerOf(request, Header.target) !== target) {
      return Either.left(new Unauthorized({ reason: "wrong target", principal: principal.name }))
    }
    const found = route(routes, dispatchable, parse, request)
    if (Either.isLeft(found)) return found
    const malformed = checkPayload(routes[found.right]!, request)
    if (malformed !== undefined) return Either.left(malformed)
    // A stopping server says so before it says it is busy: the caller should go elsewhere,
    // not try again here.
    if (state.stopping) {
      const { host, topic } = options
      return Either.left(new ServiceStopping({ host, topic, started: false }))
    }
    if (state.running(clientId) >= options.maxConcurrentPerConnection) {
      const limit = options.maxConcurrentPerConnection
      return Either.left(new TooManyRequests({ limit, per: "connection" }))
    }
    if (state.size() >= options.maxConcurrent) {
      return Either.left(new TooManyRequests({ limit: options.maxConcurrent, per: "server" }))
    }
    return found
  }
}

/**
 * The kind of warning a refusal is, if it is one: what may be an attack or a broken client (bad
 * credentials, a payload or a version no client of ours sends). A client newer than the server
 * or a stop is ordinary.
 */
const warningKind = (failure: RemoteFailure): string | undefined => {
  switch (failure._tag) {
    case "Unauthorized":
      return `Unauthorized ${failure.reason}`
    case "MalformedRequest":
      return "MalformedRequest"
    case "UnsupportedVersion":
      // A version that parses was written by `formatVersion`; one that does not, by `printable`.
      return Either.isLeft(parseVersion(failure.requested)) ? "malformed version" : undefined
    default:
      return undefined
  }
}

/**
 * A refusal: the request's own failure exit, and a log line: a warning (at most one a minute for
 * each kind, so that a flood of bad requests cannot flood the log) or a debug line.
 */
const refusals = (transport: RpcServer.Protocol["Type"]) => {
  const warn = throttledWarnings()
  return (clientId: number, request: RequestEncoded, failure: RemoteFailure) => {
    const line = `Refused ${printable(request.tag)}: ${failure.message}`
    const kind = warningKind(failure)
    return Effect.zipRight(
      kind === undefined ? Effect.logDebug(line) : warn(kind, line),
      transport.send(clientId, failureExit(request.id, failure)),
    )
  }
}

/**
 * The handler time limit of each route's methods, in milliseconds (`Infinity` for none), and
 * what a call past it gets: `HandlerTimedOut`, and its handler interrupted (the interruption's
 * own answer is dropped, the call being no longer tracked).
 */
const handlerDeadlines = (
  transport: RpcServer.Protocol["Type"],
  routes: ReadonlyArray<Route>,
  state: State,
  handlerTimeout: Duration.Duration,
) => {
  const limits = routes.map((r) =>
    new Map(
      [...r.methods].map(([tag, rpc]) => [
        tag,
        Duration.toMillis(handlerLimit(rpc as unknown as Rpc.AnyWithProps, handlerTimeout)),
      ]),
    )
  )
  const timedOut = (clientId: number, requestId: string, method: string, limitMillis: number) =>
    Effect.suspend(() => {
      const call = state.callOf(clientId, requestId)
      if (call === undefined || call.answered) return Effect.void
      call.answered = true
      const index = call.route
      return Effect.zipRight(
        transport.send(
          clientId,
          failureExit(requestId, new HandlerTimedOut({ method, limitMillis })),
        ),
        state.writers[index]!(clientId, { _tag: "Interrupt", requestId }),
      )
    })
  return (
    deadlines: Deadlines.Deadlines,
    clientId: number,
    index: number,
    request: RequestEncoded,
  ) => {
    const limit = limits[index]!.get(request.tag) ?? Infinity
    return deadlines.add(limit, () => timedOut(clientId, request.id, request.tag, limit))
  }
}

/**
 * What the router does with each message from a client: a request is authenticated, admitted and
 * handed to its route's server, or refused with its own failure exit; acks and interrupts follow
 * their request; pings are answered here; the end of a client's input goes to every route.
 */
const onMessages = (
  transport: RpcServer.Protocol["Type"],
  routes: ReadonlyArray<Route>,
  state: State,
  options: RouterOptions,
  deadlines: Deadlines.Deadlines,
) => {
  const admit = admission(routes, state, options)
  const refuse = refusals(transport)
  const deadlineOf = handlerDeadlines(transport, routes, state, options.handlerTimeout)
  const accept = (clientId: number, request: RequestEncoded, principal: Principal) => {
    const admitted = admit(clientId, request, principal)
    if (Either.isLeft(admitted)) return refuse(clientId, request, admitted.left)
    const deadline = deadlineOf(deadlines, clientId, admitted.right, request)
    state.start(clientId, request.id, admitted.right, deadline)
    return state.writers[admitted.right]!(clientId, withPrincipal(request, principal))
  }
  const onRequest = (clientId: number, request: RequestEncoded): Effect.Effect<void> => {
    if (options.authenticate === undefined) return accept(clientId, request, anonymous)
    const principal = options.authenticate(request)
    return Either.isRight(principal)
      ? accept(clientId, request, principal.right)
      : refuse(clientId, request, principal.left)
  }
  return (clientId: number, message: FromClientEncoded): Effect.Effect<void> => {
    switch (message._tag) {
      case "Request":
        return onRequest(clientId, message)
      case "Ack":
      case "Interrupt": {
        const index = state.routeOf(clientId, message.requestId)
        return index === undefined ? Effect.void : state.writers[index]!(clientId, message)
      }
      case "Ping":
        return transport.send(clientId, constPong)
      case "Eof":
        state.ends.set(clientId, routes.length)
        return Effect.forEach(state.writers, (write) => write(clientId, message), {
          discard: true,
        })
    }
  }
}

/** @internal A router over `transport` for `routes`, in the order R2 tries them. */
export const make = (
  transport: RpcServer.Protocol["Type"],
  routes: ReadonlyArray<Route>,
  options: RouterOptions,
): Effect.Effect<Router> =>
  Effect.gen(function* () {
    const state = yield* makeState(routes.length)
    const protocols = yield* Effect.forEach(routes, (_, index) =>
      routeProtocol(transport, state, index))
    const forwardDisconnects = Effect.forever(
      Effect.flatMap(transport.disconnects.take, (clientId) =>
        Effect.sync(() => {
          state.forget(clientId)
          state.ends.delete(clientId)
          for (const mailbox of state.disconnects) {
            mailbox.unsafeOffer(clientId)
          }
        })),
    )
    return {
      protocols,
      run: Effect.gen(function* () {
        yield* Effect.forkScoped(forwardDisconnects)
        const deadlines = yield* Deadlines.make
        return yield* transport.run(onMessages(transport, routes, state, options, deadlines))
      }).pipe(Effect.scoped) as Effect.Effect<never>,
      stopAccepting: state.stopAccepting,
      drained: state.drained,
      abandon: (failure) =>
        Effect.suspend(() => {
          const calls = state.takeAll()
          return Effect.as(
            Effect.forEach(
              calls,
              ([clientId, requestId]) =>
                transport.send(clientId, failureExit(requestId, failure)),
              { discard: true },
            ),
            calls.length,
          )
        }),
      inFlight: Effect.sync(() => state.size()),
    }
  })

const anonymous: Principal = { scheme: "none", name: "anonymous" }

/** An accepted call: the route it went to, and its handler's deadline. */
interface Call {
  readonly route: number
  readonly deadline: Deadlines.Deadline
  /**
   * Answered by the router already (`HandlerTimedOut`): the call still counts, against the caps
   * and the drain, until its handler has stopped and its server's own answer (dropped) comes.
   */
  answered: boolean
}

/** Which route each accepted call went to, per client; whether new calls are refused. */
const makeState = (routeCount: number) =>
  Effect.gen(function* () {
    const disconnects = yield* Effect.forEach(
      Array.from({ length: routeCount }),
      () => Mailbox.make<number>(),
    )
    // Per client, per request: the route, and the handler's deadline (cancelled when it ends).
    const calls = new Map<number, Map<string, Call>>()
    const drainedLatch = yield* Effect.makeLatch(false)
    let size = 0
    let stopping = false
    const settle = () => {
      if (stopping && size === 0) drainedLatch.unsafeOpen()
    }
    return {
      disconnects,
      /** Per client whose input ended: how many routes have yet to end it. */
      ends: new Map<number, number>(),
      writers: [] as Array<(clientId: number, message: FromClientEncoded) => Effect.Effect<void>>,
      get stopping() {
        return stopping
      },
      size: () => size,
      start: (clientId: number, requestId: string, route: number, deadline: Deadlines.Deadline) => {
        let client = calls.get(clientId)
        if (client === undefined) calls.set(clientId, client = new Map())
        const earlier = client.get(requestId)
        if (earlier === undefined) size++
        else earlier.deadline.cancel()
        client.set(requestId, { route, deadline, answered: false })
      },
      routeOf: (clientId: number, requestId: string) => calls.get(clientId)?.get(requestId)?.route,
      callOf: (clientId: number, requestId: string) => calls.get(clientId)?.get(requestId),
      running: (clientId: number) => calls.get(clientId)?.size ?? 0,
      finish: (clientId: number, requestId: string) => {
        const client = calls.get(clientId)
        const call = client?.get(requestId)
        if (client !== undefined && call !== undefined) {
          call.deadline.cancel()
          client.delete(requestId)
          size--
          if (client.size === 0) calls.delete(clientId)
          settle()
        }
      },
      /** Every call running and not yet answered, as (client, request) pairs; none is tracked afterwards. */
      takeAll: () => {
        const all: Array<readonly [number, string]> = []
        for (const [clientId, client] of calls) {
          for (const [requestId, call] of client) {
            call.deadline.cancel()
            if (!call.answered) all.push([clientId, requestId])
          }
        }
        calls.clear()
        size = 0
        settle()
        return all
      },
      forget: (clientId: number) => {
        const client = calls.get(clientId)
        if (client === undefined) return
        for (const call of client.values()) call.deadline.cancel()
        size -= client.size
        calls.delete(clientId)
        settle()
      },
      stopAccepting: Effect.sync(() => {
        stopping = true
        settle()
      }),
      drained: drainedLatch.await,
    }
  })
