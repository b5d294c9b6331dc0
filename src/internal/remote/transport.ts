/**
 * How a server is reached: a `Transport` serves a protocol at an address and connects clients
 * to an address. The in-memory transport here has the semantics of a socket (a connection per
 * client, a closed server fails every call in flight at once, the next call connects again)
 * without sockets or timers, so a whole cloud runs under `TestClock`.
 *
 * @internal
 */
import * as RpcClient from "@effect/rpc/RpcClient"
import { RpcClientError } from "@effect/rpc/RpcClientError"
import type { FromClientEncoded, FromServerEncoded } from "@effect/rpc/RpcMessage"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { TransportError } from "./errors.ts"

/** @internal Where and how a server listens. */
export interface Listen {
  /** The interface to bind; "127.0.0.1" unless told otherwise. */
  readonly hostname: string
  /** The port; 0 lets the system pick one. */
  readonly port: number
}

/** @internal A server's protocol and the address clients reach it at (the bound one). */
export interface Served {
  readonly address: string
  readonly protocol: RpcServer.Protocol["Type"]
}

export { TransportError } from "./errors.ts"

/**
 * @internal The cause a transport's client gives the failure of a request the server refused
 * to read, being over `limitBytes`; the client finds it under `@effect/rpc`'s `RpcClientError`
 * (and the HTTP client's error) and answers `RequestTooLarge`.
 */
export class TooLarge {
  readonly _tag = "TooLarge"
  constructor(readonly limitBytes: number) {}
}

/** @internal The server's limit, when `error` is (or wraps) a request refused for its size. */
export const tooLargeLimit = (error: unknown): number | undefined => {
  for (let cause = error, depth = 0; depth < 4; depth++) {
    if (cause instanceof TooLarge) return cause.limitBytes
    if (typeof cause !== "object" || cause === null) return undefined
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return undefined
}

/** @internal */
export interface Transport {
  /** Serves at `listen` until the scope closes. */
  readonly serve: (listen: Listen) => Effect.Effect<Served, TransportError, Scope.Scope>
  /** A connection to `address`, for one client; it connects again by itself after a drop. */
  readonly connect: (
    address: string,
  ) => Effect.Effect<RpcClient.Protocol["Type"], never, Scope.Scope>
}

/** @internal */
export const Transport: Context.Tag<Transport, Transport> = Context.GenericTag<Transport>(
  "effect-manager/Remote/Transport",
)

// -- in memory

/** One server of the in-memory network: how a client connects to it. */
interface MemoryServer {
  readonly connect: (onResponse: (message: FromServerEncoded) => Effect.Effect<void>) => {
    readonly send: (message: FromClientEncoded) => Effect.Effect<void>
    readonly close: Effect.Effect<void>
  }
}

const closed = (address: string, why: string) =>
  new RpcClientError({ reason: "Protocol", message: `${why}: ${address}` })

/** The server side: one client id per connection; closing the scope drops every connection. */
const memoryServe = (servers: Map<string, MemoryServer>, address: string) =>
  Effect.gen(function* () {
    const disconnects = yield* Mailbox.make<number>()
    const connections = new Map<number, (message: FromServerEncoded) => Effect.Effect<void>>()
    let nextId = 0
    let write: (clientId: number, message: FromClientEncoded) => Effect.Effect<void> = () =>
      Effect.void
    const protocol = yield* RpcServer.Protocol.make((writeRequest) => {
      write = writeRequest
      return Effect.succeed({
        disconnects,
        send: (clientId: number, response: FromServerEncoded) =>
          Effect.suspend(() => connections.get(clientId)?.(response) ?? Effect.void),
        end: (clientId: number) => drop(clientId),
        clientIds: Effect.sync(() => new Set(connections.keys())),
        initialMessage: Effect.succeed(Option.none()),
        supportsAck: true,
        supportsTransferables: false,
        supportsSpanPropagation: true,
      })
    })
    const drop = (clientId: number) =>
      Effect.sync(() => {
        if (connections.delete(clientId)) disconnects.unsafeOffer(clientId)
      })
    servers.set(address, {
      connect: (onResponse) => {
        const clientId = nextId++
        connections.set(clientId, onResponse)
        return {
          send: (message) =>
            Effect.suspend(() =>
              connections.has(clientId) ? write(clientId, message) : Effect.void
            ),
          close: drop(clientId),
        }
      },
    })
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        servers.delete(address)
        const dropped = [...connections.values()]
        for (const id of connections.keys()) disconnects.unsafeOffer(id)
        connections.clear()
        const error = closed(address, "Connection closed by the server")
        for (const onResponse of dropped) {
          yield* onResponse({ _tag: "ClientProtocolError", error })
        }
      })
    )
    return { address, protocol }
  })

/**
 * The client side: connects on the first request and again after a drop, as a socket client
 * that retries would; a request to an address nobody serves fails at once.
 */
const memoryConnect = (servers: Map<string, MemoryServer>, address: string) =>
  RpcClient.Protocol.make((writeResponse) =>
    Effect.gen(function* () {
      let connection: ReturnType<MemoryServer["connect"]> | undefined
      const onResponse = (message: FromServerEncoded) => {
        if (message._tag === "ClientProtocolError") connection = undefined
        return writeResponse(message)
      }
      yield* Effect.addFinalizer(() => connection?.close ?? Effect.void)
      return {
        send: (request: FromClientEncoded) =>
          Effect.suspend(() => {
            if (connection === undefined) {
              const server = servers.get(address)
              if (server === undefined) {
                return Effect.fail(closed(address, "Connection refused"))
              }
              connection = server.connect(onResponse)
            }
            return connection.send(request)
          }),
        supportsAck: true,
        supportsTransferables: false,
      }
    })
  )

/**
 * @internal An in-memory network: every server of the layer's scope is reachable at
 * `memory://<hostname>:<port>`; port 0 picks the next free one.
 */
export const layerMemory: Layer.Layer<Transport> = Layer.sync(Transport, () => {
  const servers = new Map<string, MemoryServer>()
  let nextPort = 1
  return {
    serve: (listen) =>
      Effect.suspend(() => {
        const port = listen.port === 0 ? nextPort++ : listen.port
        const address = `memory://${listen.hostname}:${port}`
        return servers.has(address)
          ? Effect.fail(new TransportError({ address, cause: "address in use" }))
          : memoryServe(servers, address)
      }),
    connect: (address) => memoryConnect(servers, address),
  }
})
