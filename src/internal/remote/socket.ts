/**
 * The network transports, WebSocket and HTTP, over `@effect/platform` alone: a platform module
 * (`effect-manager/platform/node`, `…/deno`, `…/bun`) brings its HTTP server and WebSocket
 * constructor, everything else is here and runs the same on every runtime.
 *
 * - A server listens at `ws://host:port/rpc` (GET, upgraded) or `http://host:port/rpc` (POST),
 *   and its address is the bound one (a port 0 resolved).
 * - A client picks the protocol from the address's scheme, whichever transport it was made by.
 * - Requests are msgpack. A request over `maxRequestBytes` is refused: 413 over HTTP, the
 *   socket closed with 1009 over WebSocket (Node's `ws` would take 100 MiB and cannot be told
 *   otherwise through `@effect/platform-node`, so the server's parser enforces it).
 * - A malformed frame is a log line and that connection's problem: the server serves on.
 * - A socket client connects on its first request and again on the first request after a drop;
 *   a drop fails every call in flight on it at once.
 *
 * @internal
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Socket from "@effect/platform/Socket"
import * as RpcClient from "@effect/rpc/RpcClient"
import { RpcClientError } from "@effect/rpc/RpcClientError"
import type { FromClientEncoded, FromServerEncoded } from "@effect/rpc/RpcMessage"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { InvalidRemoteOption } from "./errors.ts"
import { type Listen, TooLarge, Transport, TransportError } from "./transport.ts"

/** @internal Which protocol a server speaks. */
export type Kind = "websocket" | "http"

/** @internal The options of a network transport. */
export interface SocketOptions {
  /** The largest request a server reads, in bytes; 1 MiB by default. */
  readonly maxRequestBytes?: number | undefined
}

/** @internal What a runtime brings: its HTTP server and its WebSocket constructor. */
export interface Platform {
  /**
   * An HTTP server listening at `listen` until the scope closes. It may refuse a WebSocket
   * message over `maxBytes` by its frames' headers (`frameLimit.ts`), before the server reads it;
   * the serialization here checks each message again.
   */
  readonly listen: (
    listen: Listen,
    maxBytes: number,
  ) => Effect.Effect<HttpServer.HttpServer, ServeError, Scope.Scope>
  /** The clients' WebSocket and HTTP client. */
  readonly clients: Layer.Layer<Socket.WebSocketConstructor | HttpClient.HttpClient>
}

/** The path every server answers on. */
const path = "/rpc"

const defaultMaxRequestBytes = 1024 * 1024

// Every runtime has these; the project's lib (ES2022 only) does not declare them.
declare const TextEncoder: new () => { encode(input: string): Uint8Array }
declare const TextDecoder: new () => { decode(input: Uint8Array): string }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// -- server

const requestTags: ReadonlySet<string> = new Set(["Request", "Ack", "Interrupt", "Ping", "Eof"])

/** Whether a decoded value is a message a client may send, in the shape the router reads. */
const isClientMessage = (value: unknown): value is FromClientEncoded => {
  if (typeof value !== "object" || value === null) return false
  const message = value as Record<string, unknown>
  if (typeof message._tag !== "string" || !requestTags.has(message._tag)) return false
  switch (message._tag) {
    case "Request":
      return typeof message.id === "string" && typeof message.tag === "string" &&
        Array.isArray(message.headers) &&
        message.headers.every((pair) =>
          Array.isArray(pair) && typeof pair[0] === "string" && typeof pair[1] === "string"
        )
    case "Ack":
    case "Interrupt":
      return typeof message.requestId === "string"
    default:
      return true
  }
}

/**
 * The server's msgpack, with the request limit (a frame, or a message split over frames, over
 * it throws the error `RpcServer` answers with close code 1009) and every malformed frame
 * reported to `onRefused` before it is refused.
 */
const serverSerialization = (
  maxBytes: number,
  onRefused: (why: string) => void,
): RpcSerialization.RpcSerialization["Type"] => {
  const msgPack = RpcSerialization.makeMsgPack({ useRecords: true, maxBufferSize: maxBytes })
  return {
    contentType: msgPack.contentType,
    includesFraming: msgPack.includesFraming,
    unsafeMake: () => {
      const parser = msgPack.unsafeMake()
      return {
        encode: parser.encode,
        decode: (data) => {
          const size = typeof data === "string" ? encoder.encode(data).byteLength : data.byteLength
          if (size > maxBytes) {
            onRefused(`a frame of ${size} bytes, over the limit of ${maxBytes}`)
            throw new RpcSerialization.RpcSerializationError({
              reason: "BufferSizeExceeded",
              maxBufferSize: maxBytes,
              bufferSize: size,
            })
          }
          let decoded: ReadonlyArray<unknown>
          try {
            decoded = parser.decode(data)
          } catch (cause) {
            onRefused(cause instanceof Error ? cause.message : String(cause))
            throw cause
          }
          if (!decoded.every(isClientMessage)) {
            onRefused("a frame that holds no RPC message")
            throw new Error("Malformed frame: not an RPC message")
          }
          return decoded
        },
      }
    },
  }
}

/** The header of a 413 that says the server's limit. */
const limitHeader = "x-em-max-request-bytes"

const tooLarge = (maxBytes: number) =>
  HttpServerResponse.text(`The request is over the limit of ${maxBytes} bytes`, {
    status: 413,
    headers: { [limitHeader]: String(maxBytes) },
  })

/** The body of a request, or none once it is over `maxBytes`. */
const readAtMost = (request: HttpServerRequest.HttpServerRequest, maxBytes: number) =>
  request.stream.pipe(
    Stream.mapAccum(0, (total, chunk) => [total + chunk.byteLength, [total, chunk] as const]),
    Stream.takeWhile(([before]) => before <= maxBytes),
    Stream.runCollect,
    Effect.map((chunks) => {
      const parts = Chunk.toReadonlyArray(chunks).map(([, chunk]) => chunk)
      const size = parts.reduce((sum, part) => sum + part.byteLength, 0)
      if (size > maxBytes) return Option.none()
      const body = new Uint8Array(size)
      let offset = 0
      for (const part of parts) {
        body.set(part, offset)
        offset += part.byteLength
      }
      return Option.some(body)
    }),
  )

/**
 * The HTTP app with the request limit in front: a declared or read body over `maxBytes` is
 * answered 413; the app reads the body read here (the protocol's own read has no limit).
 */
const limitBody = (
  app: HttpApp.Default<never, Scope.Scope>,
  maxBytes: number,
): HttpApp.Default<never, Scope.Scope> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Number(request.headers["content-length"] ?? 0) > maxBytes) return tooLarge(maxBytes)
    const body = yield* Effect.either(readAtMost(request, maxBytes))
    if (body._tag === "Left") return HttpServerResponse.empty({ status: 400 })
    if (Option.isNone(body.right)) return tooLarge(maxBytes)
    const bytes = body.right.value
    const read = new Proxy(request, {
      get: (target, key) =>
        key === "arrayBuffer"
          ? Effect.succeed(bytes.buffer)
          : key === "text"
          ? Effect.succeed(decoder.decode(bytes))
          : Reflect.get(target, key),
    })
    return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, read)
  })

/** The address clients reach a server at, from the bound one. */
const addressOf = (kind: Kind, hostname: string, port: number): string => {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname
  return `${kind === "websocket" ? "ws" : "http"}://${host}:${port}${path}`
}

/** Serves at `listen` until the scope closes. */
const serve = (kind: Kind, platform: Platform, maxBytes: number, listen: Listen) =>
  Effect.gen(function* () {
    const wanted = addressOf(kind, listen.hostname, listen.port)
    const server = yield* Effect.mapError(
      platform.listen(listen, maxBytes),
      (error) => new TransportError({ address: wanted, cause: error.cause }),
    )
    const address = server.address._tag === "TcpAddress"
      ? addressOf(kind, listen.hostname, server.address.port)
      : wanted
    const runtime = yield* Effect.runtime<never>()
    const onRefused = (why: string) =>
      Runtime.runSync(
        runtime,
        Effect.logWarning(`Refused a malformed frame from a client: ${why}`).pipe(
          Effect.annotateLogs({ address }),
        ),
      )
    const { httpApp, protocol } = yield* Effect.provideService(
      kind === "websocket"
        ? RpcServer.makeProtocolWithHttpAppWebsocket
        : RpcServer.makeProtocolWithHttpApp,
      RpcSerialization.RpcSerialization,
      serverSerialization(maxBytes, onRefused),
    )
    const router = kind === "websocket"
      ? HttpRouter.get(HttpRouter.empty, path, httpApp)
      : HttpRouter.post(HttpRouter.empty, path, limitBody(httpApp, maxBytes))
    yield* server.serve(router)
    return { address, protocol }
  })

// -- client

const unreachable = (address: string, why: string) =>
  new RpcClientError({ reason: "Protocol", message: `${why}: ${address}` })

interface Connection {
  readonly scope: Scope.CloseableScope
  readonly protocol: RpcClient.Protocol["Type"]
  /** Failed with the connection's error once it fails (or never opens). */
  readonly failed: Deferred.Deferred<never, RpcClientError>
  /** Whether the server has answered on it: a write to it no longer waits for an open. */
  answered: boolean
}

/**
 * A write to a connection the server has not answered on yet: it waits for the socket to open,
 * so it ends with the connection's failure if it never does (a cast to a host that is gone would
 * wait for ever: it has no answer to fail).
 */
const sendOn = (connection: Connection, request: FromClientEncoded) =>
  connection.answered
    ? connection.protocol.send(request)
    : Effect.raceFirst(connection.protocol.send(request), Deferred.await(connection.failed))

/**
 * A WebSocket client that connects on the first request and, after a drop, on the next one.
 * Each connection is `@effect/rpc`'s socket protocol without its retries: its failures (a
 * refused connection included) reach the calls in flight at once, then it is closed.
 */
const connectSocket = (address: string, clients: Context.Context<Socket.WebSocketConstructor>) =>
  RpcClient.Protocol.make((writeResponse) =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const lock = yield* Effect.makeSemaphore(1)
      let current: Connection | undefined
      const drop = (connection: Connection, error: RpcClientError) =>
        Effect.suspend(() => {
          if (current === connection) current = undefined
          Deferred.unsafeDone(connection.failed, Exit.fail(error))
          // Uninterruptible: a close cut short (the client's scope closing at the same moment)
          // would leave the scope marked closed with its pinger still running, for ever.
          return Effect.asVoid(
            Effect.forkIn(Effect.uninterruptible(Scope.close(connection.scope, Exit.void)), scope),
          )
        })
      const open = Effect.gen(function* () {
        const connectionScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const protocol = yield* RpcClient.makeProtocolSocket({ retryTransientErrors: false }).pipe(
          Effect.provideServiceEffect(Socket.Socket, Socket.makeWebSocket(address)),
          Effect.provide(clients),
          Effect.provideService(RpcSerialization.RpcSerialization, RpcSerialization.msgPack),
          Scope.extend(connectionScope),
        )
        const connection: Connection = {
          scope: connectionScope,
          protocol,
          failed: yield* Deferred.make<never, RpcClientError>(),
          answered: false,
        }
        yield* Effect.forkIn(
          protocol.run((message: FromServerEncoded) => {
            if (message._tag === "ClientProtocolError") {
              return Effect.zipRight(drop(connection, message.error), writeResponse(message))
            }
            connection.answered = true
            return writeResponse(message)
          }),
          connectionScope,
        )
        return connection
      })
      const connection = lock.withPermits(1)(
        Effect.suspend(() =>
          current === undefined
            ? Effect.tap(open, (opened) => Effect.sync(() => current = opened))
            : Effect.succeed(current)
        ),
      )
      return {
        send: (request: FromClientEncoded) => {
          // A connection the server has answered on is used as it is: the lock only keeps two
          // first requests from opening two connections.
          if (current?.answered) return current.protocol.send(request)
          // What is not a request belongs to a connection that is gone with its calls.
          if (current === undefined && request._tag !== "Request") return Effect.void
          return Effect.flatMap(connection, (opened) => sendOn(opened, request))
        },
        supportsAck: true,
        supportsTransferables: false,
      }
    })
  )

/**
 * A reply that is not 2xx fails the call (out of the box, the client reads it as an empty body
 * and the call never ends: rpc.md, trap 2), a 413 with the server's limit as its `TooLarge`
 * cause. Its body is read first: an unread body is a leak Deno's sanitizers
 * report, and it holds the connection.
 */
const failOnStatus = (response: HttpClientResponse.HttpClientResponse) => {
  if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
  const limit = Number(response.headers[limitHeader])
  return Effect.zipRight(
    Effect.ignore(response.arrayBuffer),
    Effect.fail(
      new HttpClientError.ResponseError({
        request: response.request,
        response,
        reason: "StatusCode",
        description: "the server refused the request",
        ...(response.status === 413 && Number.isSafeInteger(limit)
          ? { cause: new TooLarge(limit) }
          : {}),
      }),
    ),
  )
}

/** An HTTP client: a call per POST. */
const connectHttp = (address: string, clients: Context.Context<HttpClient.HttpClient>) =>
  RpcClient.makeProtocolHttp(
    Context.get(clients, HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(HttpClientRequest.prependUrl(address)),
      HttpClient.transformResponse(Effect.flatMap(failOnStatus)),
    ),
  ).pipe(Effect.provideService(RpcSerialization.RpcSerialization, RpcSerialization.msgPack))

/** A client of an address whose scheme no transport here speaks: every request fails. */
const connectNowhere = (address: string) =>
  RpcClient.Protocol.make(() =>
    Effect.succeed({
      send: () => Effect.fail(unreachable(address, "No transport for this address")),
      supportsAck: false,
      supportsTransferables: false,
    })
  )

/** A client of `address`, by its scheme. */
const connect = (
  address: string,
  clients: Context.Context<Socket.WebSocketConstructor | HttpClient.HttpClient>,
): Effect.Effect<RpcClient.Protocol["Type"], never, Scope.Scope> => {
  const scheme = /^([a-z]+):\/\//.exec(address)?.[1]
  if (scheme === "ws" || scheme === "wss") return connectSocket(address, clients)
  if (scheme === "http" || scheme === "https") return connectHttp(address, clients)
  return connectNowhere(address)
}

/** `maxRequestBytes`, checked: a whole number of bytes, at least 1. */
const checkMaxRequestBytes = (options: SocketOptions | undefined) => {
  const value = options?.maxRequestBytes ?? defaultMaxRequestBytes
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(
      new InvalidRemoteOption({
        option: "maxRequestBytes",
        value: String(value),
        expected: "a whole number of bytes, at least 1",
      }),
    )
}

/** @internal A transport that serves `kind` with `platform`'s server and connects to both. */
export const layer = (
  kind: Kind,
  platform: Platform,
  options?: SocketOptions,
): Layer.Layer<Transport, InvalidRemoteOption> =>
  Layer.scoped(
    Transport,
    Effect.gen(function* () {
      const maxBytes = yield* checkMaxRequestBytes(options)
      const clients = yield* Layer.build(platform.clients)
      return {
        serve: (listen) => serve(kind, platform, maxBytes, listen),
        connect: (address) => connect(address, clients),
      }
    }),
  )
