/**
 * What `Service` knows of an RPC server: the `RemoteServer` it finds in its context, what it
 * hands it, and the running server it stops. Types and a tag only, so that a service without
 * RPC does not load `@effect/rpc`.
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CapabilityReport } from "../../Capabilities.ts"
import type { Version } from "../rpcVersion.ts"
import type { Endpoint } from "./endpoint.ts"
import type { TransportError } from "./errors.ts"

/** @internal An endpoint with the version it is served at. */
export interface Served {
  readonly endpoint: Endpoint
  readonly version: Version
  /** One of a manager's `additionalEndpoints`: tried after the built-in API (R2's order). */
  readonly additional: boolean
}

/** @internal What a running server says about itself (the service record carries it). */
export interface ServerInfo {
  /** The address clients reach it at: the bound one (a port 0 resolved). */
  readonly address: string
  readonly apis: ReadonlyArray<{ readonly namespace?: string; readonly version: string }>
}

/** @internal A running server, as `Service` drives it. */
export interface RunningServer extends ServerInfo {
  /** New requests are refused with `ServiceStopping` from now on. */
  readonly stopAccepting: Effect.Effect<void>
  /**
   * Waits for the calls in flight, at most `millis`; those still running then are answered with
   * `ServiceStopping` at once (their handlers are interrupted when the server closes): how many.
   */
  readonly drain: (millis: number) => Effect.Effect<number>
}

/** @internal What a service hands its server. */
export interface ServeRequest {
  readonly host: string
  readonly topic: string
  /** The managers' endpoints and the additional ones, in R2's order (the built-in one is added). */
  readonly endpoints: ReadonlyArray<Served>
  /** The service's state, for `status`. */
  readonly state: Effect.Effect<string>
  /** The latest capability report each of its managers published, for `capabilities`. */
  readonly capabilities: Effect.Effect<ReadonlyArray<CapabilityReport>>
}

/** @internal Serves a service's endpoints; `Service` finds it in the context of its layer. */
export interface RemoteServer {
  readonly serve: (
    request: ServeRequest,
  ) => Effect.Effect<RunningServer, TransportError, Scope.Scope>
}

/** @internal */
export const RemoteServer: Context.Tag<RemoteServer, RemoteServer> = Context.GenericTag<
  RemoteServer
>("effect-manager/Remote/RemoteServer")
