/**
 * What the rest of the library knows of a remote API a manager serves: an opaque value with its
 * namespace, version and each method's `Since`. Its group and handlers stay inside the RPC
 * modules (`api.ts`), so that `Manager` and `Service` name no `@effect/rpc` type.
 *
 * @internal
 */
import type { Version } from "../rpcVersion.ts"

/** @internal */
export const EndpointTypeId: unique symbol = Symbol.for("effect-manager/Remote/Endpoint")

/** @internal */
export type EndpointTypeId = typeof EndpointTypeId

/** @internal One API a service serves, as `Manager` and `Service` see it. */
export interface Endpoint {
  readonly [EndpointTypeId]: EndpointTypeId
  /** The namespace of the API (oslo's target namespace); none for a manager's own. */
  readonly namespace: string | undefined
  /** The version it is served at; none for a manager's own API, served at its `apiVersion`. */
  readonly version: Version | undefined
  /** The version each method appeared in (its `Since`). */
  readonly since: ReadonlyMap<string, Version>
}
