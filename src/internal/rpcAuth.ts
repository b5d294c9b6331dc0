/**
 * Request authentication for the RPC layer (issue 13): a client signs each outgoing
 * `RequestEncoded`, a server verifies each incoming one before it dispatches it. Two schemes:
 * a shared bearer token, and an HMAC-SHA256 signature over the request's method, a timestamp, a
 * nonce, the key id and the encoded payload, which a captured request cannot be replayed with.
 * Time comes from `Clock`, nonces from `Random`, hashing from plain JavaScript (hmacSha256.ts) and
 * the Encoding API (a web standard in Node ≥ 20, Deno, Bun and workerd), so the module runs
 * unchanged on every runtime we support.
 *
 * @internal
 */
import type { RequestEncoded } from "@effect/rpc/RpcMessage"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import {
  decodeOptions,
  InvalidOption,
  Millis,
  PositiveInteger,
  Struct,
  withDefault,
} from "./options.ts"
import { hmacSha256 } from "./hmacSha256.ts"
import { show } from "./validate.ts"

// No DOM types in this project: only the part of the Encoding API used here.
declare const TextEncoder: new () => { encode(input: string): Uint8Array }
declare const TextDecoder: new () => { decode(input: Uint8Array): string }

/** A key's signer: the HMAC-SHA256 of a text, in hex. */
type Signer = (text: string) => string

// --- credentials and headers -------------------------------------------------------------------

/** @internal A shared bearer token: whoever presents it is `principal`. */
export interface TokenCredentials {
  readonly _tag: "Token"
  readonly principal: string
  readonly token: string
}

/** @internal An HMAC-SHA256 key: `principal` is the key id sent with each request, `secret` is never sent. */
export interface HmacCredentials {
  readonly _tag: "Hmac"
  readonly principal: string
  readonly secret: string
}

/** @internal What a client signs with and what a server knows its clients by. */
export type Credentials = TokenCredentials | HmacCredentials

/** @internal Who sent a verified request, and how it proved it. */
export interface Principal {
  readonly principal: string
  readonly scheme: "token" | "hmac"
}

/**
 * @internal The header that carries a request's credentials, in either scheme:
 * - a token: `Bearer <token>`;
 * - an HMAC signature: `EM-HMAC-SHA256 <timestamp> <nonce> <signature> <key id>`, the signing time
 *   in milliseconds since the epoch (decimal), the nonce (16 bytes in lowercase hex), the
 *   HMAC-SHA256 of `signedText` (lowercase hex), and the key id last (it may hold spaces).
 *
 * One header rather than one per field: each header is written, read and copied at every
 * request, on both sides.
 */
export const AUTHORIZATION_HEADER = "authorization"

/** @internal The HMAC scheme's name in the authorization header. */
export const HMAC_SCHEME = "EM-HMAC-SHA256"

// A scheme's name is read in any case (RFC 9110, 11.1); the fields after it are exact.
const HMAC_CREDENTIALS =
  /^[Ee][Mm]-[Hh][Mm][Aa][Cc]-[Ss][Hh][Aa]256 (0|[1-9]\d{0,15}) ([0-9a-f]{32}) ([0-9a-f]{64}) (.+)$/s
const BEARER = /^bearer (.+)$/i

// --- the error ---------------------------------------------------------------------------------

const REASONS = [
  "missing credentials",
  "malformed credentials",
  "bad token",
  "unknown key",
  "stale timestamp",
  "bad signature",
  "replayed",
  "wrong target",
] as const

const unauthorizedFields: {
  reason: Schema.Literal<typeof REASONS>
  principal: Schema.optional<typeof Schema.String>
} = {
  reason: Schema.Literal(...REASONS),
  principal: Schema.optional(Schema.String),
}

/** @internal Why a request was refused. */
export type UnauthorizedReason = Schema.Schema.Type<typeof unauthorizedFields.reason>

// The base class has its type written out: JSR documents and type-checks the package from
// explicit types (no "slow types"), and cannot infer a call's.
const UnauthorizedBase: Schema.TaggedErrorClass<
  Unauthorized,
  "Unauthorized",
  { readonly _tag: Schema.tag<"Unauthorized"> } & typeof unauthorizedFields
> = Schema.TaggedError<Unauthorized>()("Unauthorized", unauthorizedFields)

/**
 * @internal A request the server refused, sent back to the client: a `Schema.TaggedError`, so it
 * crosses the wire. It holds the reason and, once a known key was named, that key's principal;
 * never a token, secret or signature, and never a key id the server does not know.
 *
 * @example
 * ```ts
 * new Unauthorized({ reason: "replayed", principal: "compute" }).message
 * // "Request refused: replayed (key compute)"
 * ```
 */
export class Unauthorized extends UnauthorizedBase {
  override get message(): string {
    const key = this.principal === undefined ? "" : ` (key ${this.principal})`
    return `Request refused: ${this.reason}${key}`
  }
}

const refuse = (
  reason: UnauthorizedReason,
  principal?: string,
): Either.Either<never, Unauthorized> =>
  Either.left(new Unauthorized(principal === undefined ? { reason } : { reason, principal }))

// --- what is signed ----------------------------------------------------------------------------

/**
 * @internal JSON with every object's keys sorted by UTF-16 code units and no white space, values
 * written as `JSON.stringify` writes them (`toJSON` applied, NaN and ±Infinity as `null`, a key
 * whose value is `undefined` left out, `undefined` in an array as `null`). So a payload signed
 * before a JSON or a MessagePack transport and read after it gives the same text, whatever the
 * order its keys were built in. `undefined` for what JSON cannot hold: a bigint, a cycle.
 *
 * @example
 * ```ts
 * canonicalJson({ b: [1, undefined], a: { d: NaN, c: "x" } }) // '{"a":{"c":"x","d":null},"b":[1,null]}'
 * ```
 */
export const canonicalJson = (value: unknown): string | undefined => {
  try {
    return writeCanonical(value)
  } catch {
    return undefined
  }
}

const writeCanonical = (input: unknown): string | undefined => {
  // Bytes are written one way whatever class holds them (a Uint8Array signed by the client, a
  // Node Buffer decoded by the server, whose toJSON differs).
  if (ArrayBuffer.isView(input)) {
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    return `{"$bytes":${JSON.stringify(hex(bytes))}}`
  }
  const value = typeof input === "object" && input !== null &&
      typeof (input as { toJSON?: unknown }).toJSON === "function"
    ? (input as { toJSON: () => unknown }).toJSON()
    : input
  if (typeof value !== "object" || value === null) return JSON.stringify(value)
  // Loops and string appends, not map/join: this runs on every signed and every verified request.
  if (Array.isArray(value)) {
    let out = "["
    for (let i = 0; i < value.length; i++) {
      out += `${i === 0 ? "" : ","}${writeCanonical(value[i]) ?? "null"}`
    }
    return `${out}]`
  }
  const record = value as Record<string, unknown>
  const keys = Object.keys(record).sort()
  let out = "{"
  for (const key of keys) {
    const written = writeCanonical(record[key])
    if (written !== undefined) {
      out += `${out.length === 1 ? "" : ","}${JSON.stringify(key)}:${written}`
    }
  }
  return `${out}}`
}

/** @internal The headers that route a request, which a signature covers too. */
export const ROUTING_HEADERS: ReadonlyArray<string> = [
  "x-em-namespace",
  "x-em-version",
  "x-em-target",
]

/**
 * @internal The value of a request's header `name` (given in lower case; a request's names are
 * compared in lower case), or null. Several run for every request: a name of another length is
 * passed over without lower-casing it.
 */
export const headerValue = (request: RequestEncoded, name: string): string | null => {
  const headers = request.headers
  for (let i = 0; i < headers.length; i++) {
    const key = headers[i]![0]
    if (key === name || (key.length === name.length && key.toLowerCase() === name)) {
      return headers[i]![1]
    }
  }
  return null
}

/**
 * @internal The text an HMAC signature covers, after `SIGNING_CONTEXT` (a version label): a
 * JSON array of the method (the request's tag), the timestamp, the nonce, the key id, the
 * routing headers (namespace, version, and the service the client meant: a signed request cannot
 * be sent to another API or replayed to another host) and the payload, in canonical JSON. An array, so no field can pass for part of
 * another. The request id, trace fields and other headers are not covered: the nonce makes each
 * signed request unique, and they change no outcome.
 */
export const signedText = (
  request: RequestEncoded,
  timestamp: string,
  nonce: string,
  keyId: string,
): string | undefined => {
  // The canonical JSON of the array [tag, timestamp, nonce, key id, ...routing headers, payload]:
  // its strings and nulls are written by JSON.stringify as canonicalJson would.
  let payload: string
  try {
    payload = writeCanonical(request.payload) ?? "null"
  } catch {
    return undefined
  }
  const head = JSON.stringify([
    request.tag,
    timestamp,
    nonce,
    keyId,
    ...ROUTING_HEADERS.map((name) => headerValue(request, name)),
  ])
  return `${head.slice(0, -1)},${payload}]`
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const HEX_DIGITS = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0))

// Scratch space for `hex`'s digits, grown as needed (synchronous, no two calls share it).
const SIGNATURE_DIGITS = 64
let hexDigits = new Uint8Array(SIGNATURE_DIGITS)
// The first 64 digits of `hexDigits`, made again whenever `hex` grows it.
let signatureDigits = hexDigits.subarray(0, SIGNATURE_DIGITS)

/**
 * Bytes in lowercase hex: the digits written as ASCII bytes and decoded at once (appending two
 * digits at a time made a string per byte, twice as slow; two HMACs per request).
 */
const hex = (bytes: ArrayLike<number>): string => {
  const length = 2 * bytes.length
  // The scratch grows to a few KiB at most: a large payload's bytes get a buffer of their own.
  if (length > hexDigits.length && length <= 4096) {
    hexDigits = new Uint8Array(length)
    signatureDigits = hexDigits.subarray(0, SIGNATURE_DIGITS)
  }
  const digits = length <= hexDigits.length ? hexDigits : new Uint8Array(length)
  for (let i = 0; i < bytes.length; i++) {
    digits[2 * i] = HEX_DIGITS[bytes[i]! >> 4]!
    digits[2 * i + 1] = HEX_DIGITS[bytes[i]! & 15]!
  }
  // A signature's 64 digits are read through a view made once.
  return decoder.decode(
    length === SIGNATURE_DIGITS && digits === hexDigits
      ? signatureDigits
      : digits.subarray(0, length),
  )
}

// Scratch space for `hmacOfText`: signing is synchronous, no two calls share it.
const scratch = new Uint8Array(4096)

/**
 * The HMAC of a text's UTF-8 bytes: a short ASCII text (every signed text but those with
 * non-ASCII payload strings or large payloads) is copied into `scratch`, and its first bytes
 * hashed, without allocating; the rest goes through TextEncoder.
 */
const hmacOfText = (
  hmac: (bytes: Uint8Array, length?: number) => Uint8Array,
  text: string,
): Uint8Array => {
  if (text.length > scratch.length) return hmac(encoder.encode(text))
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) return hmac(encoder.encode(text))
    scratch[i] = code
  }
  return hmac(scratch, text.length)
}

/**
 * What every signed text is preceded by, one SHA-256 block (64 bytes, spaces after the label): it
 * says what the signature is for, and its state is computed once per key (see hmacSha256.ts), so
 * that it costs a request nothing.
 */
const SIGNING_CONTEXT = encoder.encode("effect-manager-rpc-hmac-sha256-v3".padEnd(64, " "))

// Synchronous and in plain JavaScript (see hmacSha256.ts): WebCrypto's sign is asynchronous and
// was most of what authentication cost per request.
const signerOf = (secret: string): Signer => {
  const sign = hmacSha256(encoder.encode(secret), SIGNING_CONTEXT)
  return (text) => hex(hmacOfText(sign, text))
}

/**
 * @internal Whether `presented` equals `expected`, in a time that depends on `expected`'s length
 * only (no early exit at the first difference), so that timing does not tell a client how much of
 * a guess was right. A best effort: a JavaScript engine promises no constant time.
 */
export const constantTimeEqual = (presented: string, expected: string): boolean => {
  let difference = presented.length ^ expected.length
  for (let i = 0; i < expected.length; i++) {
    // Past the end of `presented`, charCodeAt is NaN and `| 0` makes it 0: the lengths differ.
    difference |= (presented.charCodeAt(i) | 0) ^ expected.charCodeAt(i)
  }
  return difference === 0
}

// --- signing -----------------------------------------------------------------------------------

/** A copy of `request` whose authorization header is `authorization` (any earlier one dropped). */
const withAuthorization = (request: RequestEncoded, authorization: string): RequestEncoded => {
  const headers: Array<[string, string]> = []
  for (const header of request.headers) {
    if (header[0].toLowerCase() !== AUTHORIZATION_HEADER) headers.push(header as [string, string])
  }
  headers.push([AUTHORIZATION_HEADER, authorization])
  return { ...request, headers }
}

/** @internal `bytes` random bytes from `Random`, in lowercase hex. */
export const randomHex = (bytes: number): Effect.Effect<string> =>
  Effect.map(Effect.replicateEffect(Random.nextIntBetween(0, 256), bytes), hex)

/**
 * @internal A signer's nonces: 8 bytes drawn from `Random` once, then a counter. A nonce must be
 * unique, not secret (the signature protects the request): one signer never repeats one, and
 * two signers (two clients with one key) share one only if their 64 random bits do; the replay
 * cache keeps each key's nonces apart. Drawing 16 bytes per request cost more than the HMAC.
 */
export const makeNonces: Effect.Effect<() => string> = Effect.map(randomHex(8), (prefix) => {
  let counter = 0
  return () => `${prefix}${(counter++).toString(16).padStart(16, "0")}`
})

/**
 * @internal Signs a request at `now` (milliseconds) with `nonce`: a copy with the credentials'
 * headers added, its other headers kept and any earlier authentication headers replaced;
 * `undefined` when its payload is not JSON (a bigint, a cycle) and cannot be signed. Synchronous:
 * a client signs every request, and a chain of effects per request cost more than the HMAC.
 */
export type SignAt = (
  request: RequestEncoded,
  now: number,
  nonce: string,
) => RequestEncoded | undefined

/** @internal The synchronous signer of `credentials` (a token ignores the time and nonce). */
export const signAt = (credentials: Credentials): SignAt => {
  if (credentials._tag === "Token") {
    const authorization = `Bearer ${credentials.token}`
    return (request) => withAuthorization(request, authorization)
  }
  const sign = signerOf(credentials.secret)
  return (request, now, nonce) => {
    const timestamp = String(Math.floor(now))
    const text = signedText(request, timestamp, nonce, credentials.principal)
    if (text === undefined) return undefined
    return withAuthorization(
      request,
      `${HMAC_SCHEME} ${timestamp} ${nonce} ${sign(text)} ${credentials.principal}`,
    )
  }
}

/** @internal Why a request could not be signed, as a defect's message. */
export const unsignable = (request: RequestEncoded): string =>
  `The payload of ${request.tag} cannot be signed: it is not JSON (a bigint or a cycle)`

/**
 * @internal A client's signer: each request comes back as a copy with the credentials' headers
 * added, its other headers kept and any earlier authentication headers replaced. A payload that
 * is not JSON (a bigint, a cycle) is a defect: it cannot be signed.
 *
 * @example
 * ```ts
 * const sign = signRequest({ _tag: "Hmac", principal: "compute", secret: "s3cret" })
 * const signed = yield* sign({ _tag: "Request", id: "1", tag: "ping", payload: {}, headers: [] })
 * ```
 */
export const signRequest = (
  credentials: Credentials,
): (request: RequestEncoded) => Effect.Effect<RequestEncoded> => {
  const sign = signAt(credentials)
  // Drawn on the first request, kept after.
  let nonces: (() => string) | undefined
  const nonce = Effect.suspend(() =>
    nonces !== undefined
      ? Effect.succeed(nonces)
      : Effect.map(makeNonces, (made) => (nonces ??= made))
  )
  return (request) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(nonce, (next) => {
        const signed = sign(request, now, next())
        return signed === undefined
          ? Effect.dieMessage(unsignable(request))
          : Effect.succeed(signed)
      }))
}

// --- the replay cache --------------------------------------------------------------------------

/** The nonces of one key in the replay cache, and its floor (see `ReplayCache`). */
interface KeyNonces {
  readonly nonces: Set<string>
  floor: number
}

/**
 * The nonces of accepted HMAC requests, in the order they were accepted, each kept `lifetime`
 * (2 × skew) after it was accepted, at most `capacity` of them.
 *
 * Forgetting a nonce never lets its request in again, because forgetting raises its key's floor to
 * the request's timestamp, and a request of that key signed at or before the floor is refused as
 * a possible replay:
 * - a nonce forgotten because it expired was accepted more than 2 × skew ago, so its timestamp is
 *   more than skew old: a request that old is stale anyway, and the floor turns away none that the
 *   window would take, unless the wall clock is set back;
 * - a nonce evicted because the cache was full (more than `capacity` requests accepted within
 *   2 × skew) may still be inside the window. The oldest accepted one goes first, so the floor
 *   rises through the key's own past: what the key signs later is still accepted, but a request of
 *   that key that arrives after a later-signed one of the same key was evicted, or was signed in
 *   the same millisecond, is refused. Under overload the cache fails closed, for the key whose
 *   requests were forgotten only, and never opens a window for a replay.
 *
 * Each key's nonces are a set (a key cannot spend another's), and a ring of `capacity` slots says
 * which to forget first. What a request leaves behind is its nonce (copied out of its header: a
 * piece cut from the header would keep the whole header alive) and a set entry: an object and an id
 * string per request, and a queue copied as it turned over, were most of what authentication
 * cost the garbage collector.
 */
class ReplayCache {
  private readonly keys = new Map<string, KeyNonces>()
  // The ring, oldest first from `head`: who accepted each nonce, the nonce, its timestamp, and
  // when it expires (expiries only grow along the ring). It grows by doubling up to `capacity`
  // slots, so that a large capacity costs memory only once it is used.
  private owners: Array<KeyNonces | undefined> = []
  private nonces: Array<string | undefined> = []
  private timestamps = new Float64Array(0)
  private expiries = new Float64Array(0)
  private head = 0
  private count = 0

  constructor(private readonly capacity: number, private readonly lifetime: number) {}

  get size(): number {
    return this.count
  }

  /** Records the request's nonce; false when it was seen, or may have been (at or below the floor). */
  admit(keyId: string, timestamp: number, nonce: string, now: number): boolean {
    while (this.count > 0 && this.expiries[this.head]! < now) this.forget()
    let key = this.keys.get(keyId)
    if (key === undefined) this.keys.set(keyId, key = { nonces: new Set(), floor: -Infinity })
    if (key.nonces.has(nonce) || timestamp <= key.floor) return false
    if (this.count === this.capacity) this.forget()
    if (this.count === this.expiries.length) this.grow()
    const slot = (this.head + this.count) % this.expiries.length
    this.owners[slot] = key
    this.nonces[slot] = nonce
    this.timestamps[slot] = timestamp
    this.expiries[slot] = now + this.lifetime
    this.count++
    key.nonces.add(nonce)
    return true
  }

  /** Twice the slots (at most `capacity`, at least 1,024), the oldest first. */
  private grow(): void {
    const size = Math.min(this.capacity, Math.max(1024, 2 * this.expiries.length))
    const order = Array.from(
      { length: this.count },
      (_, i) => (this.head + i) % this.expiries.length,
    )
    const owners = new Array<KeyNonces | undefined>(size).fill(undefined)
    const nonces = new Array<string | undefined>(size).fill(undefined)
    const timestamps = new Float64Array(size)
    const expiries = new Float64Array(size)
    order.forEach((from, to) => {
      owners[to] = this.owners[from]
      nonces[to] = this.nonces[from]
      timestamps[to] = this.timestamps[from]!
      expiries[to] = this.expiries[from]!
    })
    this.owners = owners
    this.nonces = nonces
    this.timestamps = timestamps
    this.expiries = expiries
    this.head = 0
  }

  /** Forgets the oldest nonce, raising its key's floor to its timestamp. */
  private forget(): void {
    const key = this.owners[this.head]!
    key.nonces.delete(this.nonces[this.head]!)
    key.floor = Math.max(key.floor, this.timestamps[this.head]!)
    this.owners[this.head] = undefined
    this.nonces[this.head] = undefined
    this.head = (this.head + 1) % this.expiries.length
    this.count--
  }
}

// --- verifying ---------------------------------------------------------------------------------

/** @internal A server's check of a request: who sent it, or why it is refused. */
export interface Verifier {
  (request: RequestEncoded): Effect.Effect<Principal, Unauthorized>
  /**
   * The same check at `now` (milliseconds, from the `Clock`), without an effect: the server runs
   * it for every request.
   */
  readonly verifyAt: (
    request: RequestEncoded,
    now: number,
  ) => Either.Either<Principal, Unauthorized>
  /** How many nonces the replay cache holds now. */
  readonly remembered: Effect.Effect<number>
}

/** @internal How a verifier is built; see `makeVerifier`. */
export interface VerifierOptions {
  readonly skewMillis?: number | undefined
  readonly replayCacheSize?: number | undefined
}

const Options = Struct({
  skewMillis: withDefault(Millis("> 0"), () => 30_000),
  replayCacheSize: withDefault(PositiveInteger, () => 100_000),
})

const MODULE = "RpcAuth"

// A secret or token is never shown in an error: an empty one is shown as it is, anything else
// as "(hidden)".
const checkKey = (
  key: Credentials,
  index: number,
  earlier: ReadonlyArray<Credentials>,
): InvalidOption | undefined => {
  const invalid = (field: string, value: string, reason: string) =>
    new InvalidOption({ module: MODULE, option: `keys[${index}].${field}`, value, reason })
  const secretField = key._tag === "Token" ? "token" : "secret"
  const secret: unknown = key._tag === "Token" ? key.token : key.secret
  const nonEmpty = (u: unknown) => typeof u === "string" && u.trim() !== ""
  if (!nonEmpty(key.principal)) {
    return invalid("principal", show(key.principal), "must be a non-empty string")
  }
  if (!nonEmpty(secret)) {
    return invalid(secretField, secret === "" ? `""` : "(hidden)", "must be a non-empty string")
  }
  const twin = earlier.findIndex((other) =>
    other._tag === key._tag &&
    (key._tag === "Token"
      ? (other as TokenCredentials).token === key.token
      : other.principal === key.principal)
  )
  if (twin < 0) return undefined
  return key._tag === "Token"
    ? invalid("token", "(hidden)", `is the token of keys[${twin}] already`)
    : invalid("principal", show(key.principal), `is the key id of keys[${twin}] already`)
}

const checkKeys = (keys: ReadonlyArray<Credentials>): Either.Either<void, InvalidOption> => {
  for (let index = 0; index < keys.length; index++) {
    const invalid = checkKey(keys[index]!, index, keys.slice(0, index))
    if (invalid !== undefined) return Either.left(invalid)
  }
  return Either.right(undefined)
}

type Presented =
  | { readonly _tag: "Token"; readonly token: string }
  | {
    readonly _tag: "Hmac"
    readonly keyId: string
    readonly timestamp: string
    readonly nonce: string
    readonly signature: string
  }

/** The credentials a request presents: one authorization header in one scheme, or why not. */
const presented = (
  headers: ReadonlyArray<readonly [string, string]>,
): Either.Either<Presented, UnauthorizedReason> => {
  let authorization: string | undefined
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== AUTHORIZATION_HEADER) continue
    if (authorization !== undefined) return Either.left("malformed credentials")
    authorization = value
  }
  if (authorization === undefined) return Either.left("missing credentials")
  const hmac = HMAC_CREDENTIALS.exec(authorization)
  if (hmac !== null) {
    const [, timestamp, captured, signature, keyId] = hmac as unknown as [
      string,
      ...Array<string>,
    ]
    // A flat copy: the replay cache keeps the nonce, and a capture would keep the whole header.
    const nonce = (" " + captured!).slice(1)
    return Either.right({
      _tag: "Hmac",
      keyId: keyId!,
      timestamp: timestamp!,
      nonce,
      signature: signature!,
    })
  }
  const bearer = BEARER.exec(authorization)
  return bearer === null
    ? Either.left("malformed credentials")
    : Either.right({ _tag: "Token", token: bearer[1]! })
}

const verifyToken = (tokens: ReadonlyArray<TokenCredentials>, token: string) => {
  // Every token is compared, the first match kept: the time taken does not say which matched.
  let principal: string | undefined
  for (const key of tokens) {
    if (constantTimeEqual(token, key.token) && principal === undefined) principal = key.principal
  }
  return principal === undefined
    ? refuse("bad token")
    : Either.right<Principal>({ principal, scheme: "token" })
}

interface HmacContext {
  readonly keys: ReadonlyMap<string, Signer>
  readonly skewMillis: number
  readonly cache: ReplayCache
}

// The nonce is recorded last, once the signature holds: a request nobody signed takes no room.
const verifyHmac = (
  context: HmacContext,
  request: RequestEncoded,
  { keyId, timestamp, nonce, signature }: Extract<Presented, { _tag: "Hmac" }>,
  now: number,
): Either.Either<Principal, Unauthorized> => {
  const key = context.keys.get(keyId)
  if (key === undefined) return refuse("unknown key")
  const signedAt = Number(timestamp)
  if (Math.abs(now - signedAt) > context.skewMillis) return refuse("stale timestamp", keyId)
  const text = signedText(request, timestamp, nonce, keyId)
  // A payload without canonical JSON (a bigint read from MessagePack) was signed by no client.
  const expected = text === undefined ? "" : key(text)
  if (text === undefined || !constantTimeEqual(signature, expected)) {
    return refuse("bad signature", keyId)
  }
  if (!context.cache.admit(keyId, signedAt, nonce, now)) return refuse("replayed", keyId)
  return Either.right<Principal>({ principal: keyId, scheme: "hmac" })
}

/**
 * @internal A server's verifier for clients with the given credentials. A request presents one
 * scheme: a token that one of the `Token` credentials has (every one compared in constant time),
 * or an HMAC signature by the key its authorization header names, signed within `skewMillis`
 * (default 30 s) of the `Clock`, over this method and payload, with a nonce not seen within the
 * window (a replay cache of `replayCacheSize` nonces, default 100,000). Fails with an `InvalidOption`
 * for an empty principal, token or secret, a token or key id given twice, a skew that is not a
 * finite duration > 0 or a cache size that is not a positive integer.
 *
 * @example
 * ```ts
 * const verify = yield* makeVerifier([{ _tag: "Hmac", principal: "compute", secret: "s3cret" }])
 * const { principal } = yield* verify(request) // or Unauthorized
 * ```
 */
export const makeVerifier = (
  keys: ReadonlyArray<Credentials>,
  options: VerifierOptions = {},
): Effect.Effect<Verifier, InvalidOption> =>
  Effect.gen(function* () {
    const { skewMillis, replayCacheSize } = yield* decodeOptions(MODULE, Options, options)
    yield* checkKeys(keys)
    const tokens = keys.filter((key): key is TokenCredentials => key._tag === "Token")
    const hmacKeys = keys
      .filter((key): key is HmacCredentials => key._tag === "Hmac")
      .map((key) => [key.principal, signerOf(key.secret)] as const)
    const context: HmacContext = {
      keys: new Map(hmacKeys),
      skewMillis,
      cache: new ReplayCache(replayCacheSize, 2 * skewMillis),
    }
    const verifyAt = (request: RequestEncoded, now: number) => {
      const found = presented(request.headers)
      if (Either.isLeft(found)) return refuse(found.left)
      return found.right._tag === "Token"
        ? verifyToken(tokens, found.right.token)
        : verifyHmac(context, request, found.right, now)
    }
    const verify = (request: RequestEncoded): Effect.Effect<Principal, Unauthorized> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => verifyAt(request, now))
    return Object.assign(verify, {
      verifyAt,
      remembered: Effect.sync(() => context.cache.size),
    })
  })
