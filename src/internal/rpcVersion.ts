/**
 * oslo.messaging's version rules, exactly (section R of the shared oslo-semantics reference):
 * what a version is, when a server that implements one accepts a request for another (R1), how
 * a service's endpoints are chosen for a request (R2, R3), and a client's version cap (R5).
 * Pure functions over plain values: a manager's `apiVersion` is read by `parseVersion`, the RPC
 * server's router dispatches each request with `dispatch`, clients check their cap with
 * `canSendVersion`.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"

/** @internal `major.minor.revision`, each a whole number; a version written without revision has 0. */
export interface Version {
  readonly major: number
  readonly minor: number
  readonly revision: number
}

const InvalidVersionBase: ReturnType<typeof Data.TaggedError<"InvalidVersion">> = Data
  .TaggedError("InvalidVersion")

/** @internal A version that is not `major.minor[.revision]` with whole numbers. */
export class InvalidVersion extends InvalidVersionBase<{ readonly value: string }> {
  override get message(): string {
    return `A version must be "major.minor" or "major.minor.revision" in whole numbers (e.g. "1.0", "6.1", "4.10.2"), got ${this.value}`
  }
}

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/

/**
 * @internal Reads a version. Each part compares as a number (4.10 is after 4.9), so each must be a
 * whole number that a JavaScript number holds exactly; no sign, no leading zero, no blank.
 */
export const parseVersion = (value: unknown): Either.Either<Version, InvalidVersion> => {
  const match = typeof value === "string" ? VERSION.exec(value) : null
  const parts = match === null ? [] : [match[1], match[2], match[3] ?? "0"].map(Number)
  return match !== null && parts.every(Number.isSafeInteger)
    ? Either.right({ major: parts[0]!, minor: parts[1]!, revision: parts[2]! })
    : Either.left(
      new InvalidVersion({
        value: typeof value === "string" ? JSON.stringify(value) : String(value),
      }),
    )
}

/** @internal `major.minor`, and `.revision` when it is not 0. */
export const formatVersion = (version: Version): string =>
  version.revision === 0
    ? `${version.major}.${version.minor}`
    : `${version.major}.${version.minor}.${version.revision}`

/** @internal A message without a version asks for 1.0 (R2). */
export const DEFAULT_VERSION: Version = { major: 1, minor: 0, revision: 0 }

/**
 * @internal R1: whether a server implementing `implemented` accepts a request for `requested`.
 * Same major; the requested minor at most the implemented one; at equal minors, the requested
 * revision at most the implemented one. An endpoint without a version accepts everything; a
 * request without one is refused (oslo's `version_is_compatible(None)`).
 */
export const compatible = (
  implemented: Version | undefined,
  requested: Version | undefined,
): boolean => {
  if (implemented === undefined) return true
  if (requested === undefined) return false
  if (implemented.major !== requested.major) return false
  if (requested.minor !== implemented.minor) return requested.minor < implemented.minor
  return requested.revision <= implemented.revision
}

/** @internal One endpoint a service serves: a namespace (none for the manager's), a version, methods. */
export interface Endpoint<M> {
  readonly namespace: string | undefined
  readonly version: Version
  /** The endpoint's method of that name, if it has one. */
  readonly method: (name: string) => M | undefined
}

/** @internal What a request asks for: a method, in a namespace, at a version (1.0 when absent). */
export interface Request {
  readonly method: string
  readonly namespace?: string | undefined
  readonly version?: Version | undefined
}

/** @internal Where a request goes: its endpoint and the method there. */
export interface Dispatched<M> {
  readonly endpoint: Endpoint<M>
  readonly method: M
}

/**
 * @internal No endpoint serves the request's namespace at its version (R3's `UnsupportedVersion`):
 * the method, the version asked for and the versions served in that namespace.
 */
export interface UnsupportedVersionFound {
  readonly _tag: "UnsupportedVersion"
  readonly method: string
  readonly namespace: string | undefined
  readonly requested: Version
  readonly served: ReadonlyArray<Version>
}

/**
 * @internal Some endpoint matched the request's namespace and version, but none has the method
 * (R3's `NoSuchMethod`), or the method is private (a name that begins with `_`).
 */
export interface NoSuchMethodFound {
  readonly _tag: "NoSuchMethod"
  readonly method: string
  readonly namespace: string | undefined
  readonly requested: Version
}

/**
 * @internal R2–R3: the first endpoint, in the order given (the manager's, the built-in one, the
 * additional ones), that matches the request's namespace and accepts its version and has the
 * method; `NoSuchMethod` when one matched but none had it, `UnsupportedVersion` when none matched.
 * Names that begin with `_` are never callable (nova's access policy).
 */
export const dispatch = <M>(
  endpoints: ReadonlyArray<Endpoint<M>>,
  request: Request,
): Either.Either<Dispatched<M>, UnsupportedVersionFound | NoSuchMethodFound> => {
  const requested = request.version ?? DEFAULT_VERSION
  const namespace = request.namespace
  let matched = false
  for (const endpoint of endpoints) {
    if (endpoint.namespace !== namespace || !compatible(endpoint.version, requested)) continue
    matched = true
    if (request.method.startsWith("_")) continue
    const method = endpoint.method(request.method)
    if (method !== undefined) return Either.right({ endpoint, method })
  }
  return Either.left(
    matched ? { _tag: "NoSuchMethod", method: request.method, namespace, requested } : {
      _tag: "UnsupportedVersion",
      method: request.method,
      namespace,
      requested,
      served: endpoints.filter((e) => e.namespace === namespace).map((e) => e.version),
    },
  )
}

/**
 * @internal R5: whether a client capped at `cap` may send a request for `version` (oslo's
 * `can_send_version`); a client without a cap sends anything.
 */
export const canSendVersion = (cap: Version | undefined, version: Version): boolean =>
  cap === undefined || compatible(cap, version)
