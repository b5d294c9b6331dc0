/**
 * The errors of the RPC layer. Those a server answers with cross the wire, so they are
 * `Schema.TaggedError`s and join every method's error union through the `Guard` middleware;
 * those a client raises before sending anything stay `Data.TaggedError`s.
 *
 * Every base class has its type written out: JSR type-checks the package from explicit types.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

const where = (namespace: string | undefined): string =>
  namespace === undefined ? "" : ` in namespace ${JSON.stringify(namespace)}`

const unsupportedVersionFields: {
  method: typeof Schema.String
  namespace: Schema.optional<typeof Schema.String>
  requested: typeof Schema.String
  served: Schema.Array$<typeof Schema.String>
} = {
  method: Schema.String,
  namespace: Schema.optional(Schema.String),
  requested: Schema.String,
  served: Schema.Array(Schema.String),
}

const UnsupportedVersionBase: Schema.TaggedErrorClass<
  UnsupportedVersion,
  "UnsupportedVersion",
  { readonly _tag: Schema.tag<"UnsupportedVersion"> } & typeof unsupportedVersionFields
> = Schema.TaggedError<UnsupportedVersion>()("UnsupportedVersion", unsupportedVersionFields)

/** @internal No endpoint of the service serves the namespace at the version asked for (R3). */
export class UnsupportedVersion extends UnsupportedVersionBase {
  override get message(): string {
    const served = this.served.length === 0 ? "none" : this.served.join(", ")
    return `${JSON.stringify(this.method)}${
      where(this.namespace)
    } asks for version ${this.requested}, which the service does not serve (served: ${served})`
  }
}

const noSuchMethodFields: {
  method: typeof Schema.String
  namespace: Schema.optional<typeof Schema.String>
  requested: typeof Schema.String
} = {
  method: Schema.String,
  namespace: Schema.optional(Schema.String),
  requested: Schema.String,
}

const NoSuchMethodBase: Schema.TaggedErrorClass<
  NoSuchMethod,
  "NoSuchMethod",
  { readonly _tag: Schema.tag<"NoSuchMethod"> } & typeof noSuchMethodFields
> = Schema.TaggedError<NoSuchMethod>()("NoSuchMethod", noSuchMethodFields)

/** @internal An endpoint serves the namespace and version, but none has the method (R3). */
export class NoSuchMethod extends NoSuchMethodBase {
  override get message(): string {
    return `No method ${JSON.stringify(this.method)}${
      where(this.namespace)
    } at version ${this.requested}`
  }
}

const serviceStoppingFields = { host: Schema.String, topic: Schema.String, started: Schema.Boolean }

const ServiceStoppingBase: Schema.TaggedErrorClass<
  ServiceStopping,
  "ServiceStopping",
  { readonly _tag: Schema.tag<"ServiceStopping"> } & typeof serviceStoppingFields
> = Schema.TaggedError<ServiceStopping>()("ServiceStopping", serviceStoppingFields)

/**
 * @internal The service is stopping. `started: false`: it took no new call, this one never ran
 * (safe to send elsewhere); `true`: the call had started and was still running at the stop's
 * deadline, so it was interrupted and may have done part of its work.
 */
export class ServiceStopping extends ServiceStoppingBase {
  override get message(): string {
    return this.started
      ? `Service ${this.topic} on ${this.host} stopped before this call finished: it was interrupted and may have done part of its work`
      : `Service ${this.topic} on ${this.host} is stopping and takes no new call: this one did not start`
  }
}

const handlerTimedOutFields = { method: Schema.String, limitMillis: Schema.Number }

const HandlerTimedOutBase: Schema.TaggedErrorClass<
  HandlerTimedOut,
  "HandlerTimedOut",
  { readonly _tag: Schema.tag<"HandlerTimedOut"> } & typeof handlerTimedOutFields
> = Schema.TaggedError<HandlerTimedOut>()("HandlerTimedOut", handlerTimedOutFields)

/** @internal The method's handler ran past its time limit on the server and was interrupted. */
export class HandlerTimedOut extends HandlerTimedOutBase {
  override get message(): string {
    return `The handler of ${
      JSON.stringify(this.method)
    } ran past its limit of ${this.limitMillis} ms and was interrupted`
  }
}

const VersionCapExceededBase: ReturnType<typeof Data.TaggedError<"VersionCapExceeded">> = Data
  .TaggedError("VersionCapExceeded")

/** @internal A call needs a version above the client's cap; nothing was sent (R5). */
export class VersionCapExceeded extends VersionCapExceededBase<{
  readonly method: string
  readonly version: string
  readonly cap: string
}> {
  override get message(): string {
    return `${
      JSON.stringify(this.method)
    } needs version ${this.version}, above this client's cap ${this.cap}: nothing was sent`
  }
}

const HostUnavailableBase: ReturnType<typeof Data.TaggedError<"HostUnavailable">> = Data
  .TaggedError("HostUnavailable")

/** @internal Why a host cannot be called: no record, the record is down, or it serves no RPC. */
export type HostUnavailableReason = "unknown" | "down" | "no endpoint"

/** @internal A host the client will not call: nothing was sent. */
export class HostUnavailable extends HostUnavailableBase<{
  readonly host: string
  readonly topic: string
  readonly reason: HostUnavailableReason
}> {
  override get message(): string {
    const why = this.reason === "unknown"
      ? "has no service record"
      : this.reason === "down"
      ? "is down"
      : "serves no RPC endpoint"
    return `Host ${JSON.stringify(this.host)} of topic ${JSON.stringify(this.topic)} ${why}`
  }
}

const RequestTooLargeBase: ReturnType<typeof Data.TaggedError<"RequestTooLarge">> = Data
  .TaggedError("RequestTooLarge")

/**
 * @internal A request the server would not read, over its `maxRequestBytes` (an HTTP 413):
 * nothing was done. Over WebSocket the server closes the connection instead, which fails every
 * call on it alike (an `RpcClientError`).
 */
export class RequestTooLarge extends RequestTooLargeBase<{
  readonly host: string
  readonly topic: string
  readonly method: string
  readonly limitBytes: number
}> {
  override get message(): string {
    return `The request for ${JSON.stringify(this.method)} to host ${
      JSON.stringify(this.host)
    } of topic ${
      JSON.stringify(this.topic)
    } is over the server's limit of ${this.limitBytes} bytes: it was not read`
  }
}

const InvalidRemoteOptionBase: ReturnType<typeof Data.TaggedError<"InvalidRemoteOption">> = Data
  .TaggedError("InvalidRemoteOption")

/** @internal An option of a remote API, server or client that cannot be used. */
export class InvalidRemoteOption extends InvalidRemoteOptionBase<{
  readonly option: string
  readonly value: string
  readonly expected: string
}> {
  override get message(): string {
    return `${this.option}: expected ${this.expected}, got ${this.value}`
  }
}

const callTimedOutFields = {
  host: Schema.String,
  topic: Schema.String,
  method: Schema.String,
  limitMillis: Schema.Number,
}

// A schema class, though a client raises it: the client's deadline answers the call in place of
// the server (see client.ts), through the same decoding as the server's answers.
const CallTimedOutBase: Schema.TaggedErrorClass<
  CallTimedOut,
  "CallTimedOut",
  { readonly _tag: Schema.tag<"CallTimedOut"> } & typeof callTimedOutFields
> = Schema.TaggedError<CallTimedOut>()("CallTimedOut", callTimedOutFields)

/** @internal A host that did not answer a call within the client's time limit. */
export class CallTimedOut extends CallTimedOutBase {
  override get message(): string {
    return `Host ${JSON.stringify(this.host)} of topic ${
      JSON.stringify(this.topic)
    } did not answer ${JSON.stringify(this.method)} within ${this.limitMillis} ms`
  }
}

const malformedRequestFields = { method: Schema.String, reason: Schema.String }

const MalformedRequestBase: Schema.TaggedErrorClass<
  MalformedRequest,
  "MalformedRequest",
  { readonly _tag: Schema.tag<"MalformedRequest"> } & typeof malformedRequestFields
> = Schema.TaggedError<MalformedRequest>()("MalformedRequest", malformedRequestFields)

/** @internal A request whose payload does not fit its method's schema: refused, never handled. */
export class MalformedRequest extends MalformedRequestBase {
  override get message(): string {
    return `The payload of ${JSON.stringify(this.method)} does not fit its schema: ${this.reason}`
  }
}

const tooManyRequestsFields: {
  limit: typeof Schema.Number
  per: Schema.Literal<["connection", "server"]>
} = { limit: Schema.Number, per: Schema.Literal("connection", "server") }

const TooManyRequestsBase: Schema.TaggedErrorClass<
  TooManyRequests,
  "TooManyRequests",
  { readonly _tag: Schema.tag<"TooManyRequests"> } & typeof tooManyRequestsFields
> = Schema.TaggedError<TooManyRequests>()("TooManyRequests", tooManyRequestsFields)

/**
 * @internal The connection (`per: "connection"`) or the whole server (`"server"`) already has as
 * many calls running as allowed: this one did not start.
 */
export class TooManyRequests extends TooManyRequestsBase {
  override get message(): string {
    return this.per === "connection"
      ? `This connection already has ${this.limit} calls running, the most the server allows one`
      : `The server already has ${this.limit} calls running, the most it allows`
  }
}

const TransportErrorBase: ReturnType<typeof Data.TaggedError<"TransportError">> = Data
  .TaggedError("TransportError")

/** @internal A server that could not listen (the address in use, a refused bind). */
export class TransportError extends TransportErrorBase<{
  readonly address: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Could not serve at ${this.address}: ${cause}`
  }
}
