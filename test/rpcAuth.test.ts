// Request authentication for the RPC layer: bearer tokens and HMAC-signed requests, checked by a
// server-side verifier against the TestClock.
import { describe, expect, it } from "@effect/vitest"
import type { RequestEncoded } from "@effect/rpc/RpcMessage"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import {
  canonicalJson,
  type Credentials,
  type HmacCredentials,
  makeVerifier,
  signedText,
  signRequest,
  type TokenCredentials,
  Unauthorized,
} from "../src/internal/rpcAuth.ts"

const alice: HmacCredentials = { _tag: "Hmac", principal: "alice", secret: "alice-secret-0123" }
const bob: TokenCredentials = { _tag: "Token", principal: "bob", token: "bob-token-abcdef" }
const keys: ReadonlyArray<Credentials> = [alice, bob]
const carolKey: HmacCredentials = { _tag: "Hmac", principal: "carol", secret: "carol-secret-0123" }

// A plausible wall-clock time, so that timestamps are not "0".
const START = 1_700_000_000_000

describe("bearer tokens", () => {
  it.effect("a request with a known token is from the token's principal", () =>
    Effect.gen(function* () {
      const verify = yield* makeVerifier(keys)
      const signed = yield* signRequest(bob)(request())
      expect(signed.headers).toEqual([["authorization", "Bearer bob-token-abcdef"]])
      expect(yield* verify(signed)).toEqual({ principal: "bob", scheme: "token" })
    }))

  it.effect("a wrong token is a bad token, and no token at all is missing credentials", () =>
    Effect.gen(function* () {
      const verify = yield* makeVerifier(keys)
      const wrong = yield* signRequest({ ...bob, token: "bob-token-abcdeg" })(request())
      expect(refusal(yield* Effect.flip(verify(wrong)))).toEqual({ reason: "bad token" })
      const unsigned = request("ping", {}, [["x-trace", "1"]])
      expect(refusal(yield* Effect.flip(verify(unsigned)))).toEqual({
        reason: "missing credentials",
      })
    }))

  it.effect("signing keeps the other headers and replaces earlier authentication headers", () =>
    Effect.gen(function* () {
      const earlier = request("ping", {}, [
        ["x-trace", "1"],
        ["Authorization", "Bearer old"],
      ])
      const byToken = yield* signRequest(bob)(earlier)
      expect(byToken.headers).toEqual([
        ["x-trace", "1"],
        ["authorization", "Bearer bob-token-abcdef"],
      ])
      const byKey = yield* signRequest(alice)(byToken)
      expect(byKey.headers.map(([name]) => name)).toEqual(["x-trace", "authorization"])
      expect(header(byKey, "authorization")).toMatch(
        /^EM-HMAC-SHA256 \d+ [0-9a-f]{32} [0-9a-f]{64} alice$/,
      )
    }))

  it.effect("a scheme's name is read in any case; the fields after it are not", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const byToken = yield* signRequest(bob)(request())
      for (const scheme of ["bearer", "BEARER"]) {
        const renamed = withHeader(byToken, "authorization", `${scheme} bob-token-abcdef`)
        expect(yield* verify(renamed)).toEqual({ principal: "bob", scheme: "token" })
      }
      const sign = signRequest(alice)
      for (const scheme of ["em-hmac-sha256", "Em-Hmac-Sha256"]) {
        const signed = yield* sign(request())
        const value = header(signed, "authorization")!.replace("EM-HMAC-SHA256", scheme)
        expect(yield* verify(withHeader(signed, "authorization", value))).toEqual({
          principal: "alice",
          scheme: "hmac",
        })
      }
      // the fields are exact: hex in lower case, a key id as given
      const altered = (value: (sent: ReturnType<typeof hmacOf>) => string) =>
        Effect.gen(function* () {
          const signed = yield* sign(request())
          const changed = withHeader(signed, "authorization", value(hmacOf(signed)))
          return refusal(yield* Effect.flip(verify(changed)))
        })
      const malformed = { reason: "malformed credentials" }
      expect(
        yield* altered(({ timestamp: t, nonce: n, signature: s }) =>
          `EM-HMAC-SHA256 ${t} ${n.toUpperCase()} ${s} alice`
        ),
      ).toEqual(malformed)
      expect(
        yield* altered(({ timestamp: t, nonce: n, signature: s }) =>
          `EM-HMAC-SHA256 ${t} ${n} ${s.toUpperCase()} alice`
        ),
      ).toEqual(malformed)
      expect(
        yield* altered(({ timestamp: t, nonce: n, signature: s }) =>
          `EM-HMAC-SHA256 ${t} ${n} ${s} ALICE`
        ),
      ).toEqual({ reason: "unknown key" })
    }))

  it.effect("headers of both schemes, a repeated header or another scheme are malformed", () =>
    Effect.gen(function* () {
      const verify = yield* makeVerifier(keys)
      const byToken = yield* signRequest(bob)(request())
      const byKey = yield* signRequest(alice)(request())
      const cases: ReadonlyArray<RequestEncoded> = [
        { ...byKey, headers: [...byKey.headers, ...byToken.headers] },
        { ...byToken, headers: [...byToken.headers, ["Authorization", "Bearer x"]] },
        { ...byToken, headers: [["authorization", "Basic Ym9iOnB3"]] },
        withHeader(
          byKey,
          "authorization",
          header(byKey, "authorization")!.replace(/ [0-9a-f]{32} /, " 00 "),
        ),
        withHeader(byKey, "authorization", `EM-HMAC-SHA256 ${hmacOf(byKey).timestamp}`),
      ]
      const reasons: Array<unknown> = []
      for (const malformed of cases) reasons.push(refusal(yield* Effect.flip(verify(malformed))))
      expect(reasons).toEqual(cases.map(() => ({ reason: "malformed credentials" })))
    }))
})

describe("HMAC-signed requests", () => {
  it.effect("a signed request is from the key's principal", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const signed = yield* signRequest(alice)(request("ping", { a: 1 }, [["x-trace", "1"]]))
      const { keyId, timestamp, nonce, signature } = hmacOf(signed)
      expect(keyId).toBe("alice")
      expect(timestamp).toBe(String(START))
      expect(nonce).toMatch(/^[0-9a-f]{32}$/)
      expect(signature).toMatch(/^[0-9a-f]{64}$/)
      expect(signed.payload).toEqual({ a: 1 })
      expect(yield* verify(signed)).toEqual({ principal: "alice", scheme: "hmac" })
    }))

  it("signs the canonical JSON of method, time, nonce, key, routing headers, payload", () => {
    const payload = { z: [1, "é ☕"], a: { y: null, x: new Uint8Array([0, 255]) } }
    const signed = request("build", payload, [["x-em-target", `["compute","n1"]`], [
      "x-em-version",
      "6.1",
    ]])
    expect(signedText(signed, "1700000000000", "ab".repeat(16), "alice")).toBe(
      `["build","1700000000000","${"ab".repeat(16)}",` +
        `"alice",null,"6.1","[\\"compute\\",\\"n1\\"]",` +
        `{"a":{"x":{"$bytes":"00ff"},"y":null},"z":[1,"é ☕"]}]`,
    )
    expect(signedText(request("build", { n: 1n }), "1", "ab".repeat(16), "alice")).toBeUndefined()
  })

  it.effect("a key id with spaces and other text is carried last, whole", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const ops: HmacCredentials = {
        _tag: "Hmac",
        principal: "ops team — nœud 1",
        secret: "s3cret-0123",
      }
      const verify = yield* makeVerifier([ops, alice])
      const signed = yield* signRequest(ops)(request())
      expect(hmacOf(signed).keyId).toBe("ops team — nœud 1")
      expect(yield* verify(signed)).toEqual({ principal: "ops team — nœud 1", scheme: "hmac" })
    }))

  it.effect("a payload with text beyond ASCII is signed and verified", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const signed = yield* signRequest(alice)(request("ping", { name: "café ☕ 𝄞" }))
      expect(yield* verify(signed)).toEqual({ principal: "alice", scheme: "hmac" })
      const changed = { ...signed, payload: { name: "cafe ☕ 𝄞" } }
      expect(refusal(yield* Effect.flip(verify(changed)))).toEqual({
        reason: "bad signature",
        principal: "alice",
      })
    }))

  it.effect("one signer's nonces never repeat; two signers' differ in their random half", () =>
    Effect.gen(function* () {
      const first = signRequest(alice)
      const second = signRequest(alice)
      const nonces: Array<string> = []
      for (let i = 0; i < 1_000; i++) nonces.push(hmacOf(yield* first(request())).nonce)
      expect(new Set(nonces).size).toBe(1_000)
      expect(nonces.every((nonce) => /^[0-9a-f]{32}$/.test(nonce))).toBe(true)
      const other = hmacOf(yield* second(request())).nonce
      expect(other.slice(0, 16)).not.toBe(nonces[0]!.slice(0, 16))
    }))

  it.effect("a changed payload, method, nonce or timestamp, or another secret, is a bad signature", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const signed = yield* signRequest(alice)(request("ping", { a: 1 }))
      const cases: ReadonlyArray<RequestEncoded> = [
        { ...signed, payload: { a: 2 } },
        { ...signed, tag: "pong" },
        // Another well-formed nonce, or the key id of another known key.
        withHeader(
          signed,
          "authorization",
          header(signed, "authorization")!.replace(/ [0-9a-f]{32} /, ` ${"0".repeat(32)} `),
        ),
        withHeader(
          signed,
          "authorization",
          header(signed, "authorization")!.replace(String(START), String(START + 1)),
        ),
        yield* signRequest({ ...alice, secret: "alice-secret-0124" })(request("ping", { a: 1 })),
      ]
      const reasons: Array<unknown> = []
      for (const tampered of cases) reasons.push(refusal(yield* Effect.flip(verify(tampered))))
      expect(reasons).toEqual(cases.map(() => ({ reason: "bad signature", principal: "alice" })))
      // The untouched request is still good: no refusal above took its nonce.
      expect(yield* verify(signed)).toEqual({ principal: "alice", scheme: "hmac" })
    }))

  it.effect("the routing headers are signed: another namespace, version or target is a bad signature", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const routed = request("ping", { a: 1 }, [
        ["x-em-namespace", "admin"],
        ["x-em-version", "2.3"],
        ["x-em-target", JSON.stringify(["compute", "node-1"])],
      ])
      const signed = yield* signRequest(alice)(routed)
      const cases: ReadonlyArray<RequestEncoded> = [
        withHeader(signed, "x-em-namespace", "baseapi"),
        withHeader(signed, "x-em-version", "2.0"),
        withHeader(signed, "x-em-target", JSON.stringify(["compute", "node-2"])),
      ]
      for (const tampered of cases) {
        expect(refusal(yield* Effect.flip(verify(tampered)))).toEqual({
          reason: "bad signature",
          principal: "alice",
        })
      }
      expect(yield* verify(signed)).toEqual({ principal: "alice", scheme: "hmac" })
    }))

  it.effect("bytes are signed the same whatever class holds them (a Node Buffer has its own toJSON)", () =>
    Effect.gen(function* () {
      class BufferLike extends Uint8Array {
        toJSON() {
          return { type: "Buffer", data: [...this] }
        }
      }
      expect(canonicalJson({ b: new BufferLike([1, 2, 255]) })).toBe(
        canonicalJson({ b: new Uint8Array([1, 2, 255]) }),
      )
      expect(canonicalJson(new Uint8Array([1, 2, 255]))).toBe(`{"$bytes":"0102ff"}`)
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const signed = yield* signRequest(alice)(request("put", { data: new Uint8Array([7, 8]) }))
      // what a server decodes from MessagePack on Node: the same bytes in a Buffer
      const decoded = { ...signed, payload: { data: new BufferLike([7, 8]) } }
      expect(yield* verify(decoded)).toEqual({ principal: "alice", scheme: "hmac" })
    }))

  it.effect("a large payload, and one with large bytes, is signed and verified the same way", () =>
    Effect.gen(function* () {
      // Past the signer's scratch space (4 KiB of text, 2 KiB of bytes): other buffers are used.
      const bytes = Uint8Array.from({ length: 3_000 }, (_, i) => (i * 7) & 255)
      expect(canonicalJson(bytes)).toBe(
        `{"$bytes":"${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}"}`,
      )
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      for (const payload of [{ data: bytes }, { text: "é".repeat(5_000) }, { n: 1 }]) {
        const signed = yield* signRequest(alice)(request("put", payload))
        expect(yield* verify(signed)).toEqual({ principal: "alice", scheme: "hmac" })
        const tampered = { ...signed, payload: { ...payload, extra: 1 } }
        expect((yield* Effect.flip(verify(tampered))).reason).toBe("bad signature")
      }
    }))

  it.effect("a request verified once is refused as replayed the second time", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const signed = yield* signRequest(alice)(request())
      yield* verify(signed)
      yield* TestClock.adjust(1_000)
      expect(refusal(yield* Effect.flip(verify(signed)))).toEqual({
        reason: "replayed",
        principal: "alice",
      })
    }))

  it.effect("a request 30 s old is accepted and one 30.001 s old is stale", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const inside = yield* signRequest(alice)(request())
      const outside = yield* signRequest(alice)(request())
      yield* TestClock.adjust(30_000)
      expect(yield* verify(inside)).toEqual({ principal: "alice", scheme: "hmac" })
      yield* TestClock.adjust(1)
      expect(refusal(yield* Effect.flip(verify(outside)))).toEqual({
        reason: "stale timestamp",
        principal: "alice",
      })
    }))

  it.effect("a client clock 30 s ahead is accepted and one 30.001 s ahead is stale", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START + 30_000)
      const inside = yield* signRequest(alice)(request())
      yield* TestClock.setTime(START + 30_001)
      const outside = yield* signRequest(alice)(request())
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      expect(yield* verify(inside)).toEqual({ principal: "alice", scheme: "hmac" })
      expect(refusal(yield* Effect.flip(verify(outside)))).toEqual({
        reason: "stale timestamp",
        principal: "alice",
      })
    }))

  it.effect("a key the server does not know is refused without naming it", () =>
    Effect.gen(function* () {
      const verify = yield* makeVerifier(keys)
      const carol = { _tag: "Hmac", principal: "carol", secret: "carol-secret" } as const
      const signed = yield* signRequest(carol)(request())
      expect(refusal(yield* Effect.flip(verify(signed)))).toEqual({ reason: "unknown key" })
    }))

  it.effect("the order of the payload's keys does not count", () =>
    Effect.gen(function* () {
      const verify = yield* makeVerifier(keys)
      const payload = { b: { d: [{ y: 2, x: 1 }], c: "z" }, a: 1, "10": true, "9": false }
      const signed = yield* signRequest(alice)(request("ping", payload))
      const reordered = { "9": false, a: 1, b: { c: "z", d: [{ x: 1, y: 2 }] }, "10": true }
      expect(yield* verify({ ...signed, payload: reordered })).toEqual({
        principal: "alice",
        scheme: "hmac",
      })
      expect(canonicalJson(payload)).toBe(
        `{"10":true,"9":false,"a":1,"b":{"c":"z","d":[{"x":1,"y":2}]}}`,
      )
    }))

  it("canonical JSON writes values as a JSON transport would carry them", () => {
    const date = new Date(START)
    expect(canonicalJson({ b: [1, undefined, NaN], a: { skip: undefined, at: date, zero: -0 } }))
      .toBe(`{"a":{"at":"2023-11-14T22:13:20.000Z","zero":0},"b":[1,null,null]}`)
    expect(canonicalJson({ big: 1n })).toBe(undefined)
  })

  it.effect("a payload that is not JSON cannot be signed, and is a bad signature when received", () =>
    Effect.gen(function* () {
      const verify = yield* makeVerifier(keys)
      const exit = yield* Effect.exit(signRequest(alice)(request("ping", { big: 1n })))
      expect(Exit.isFailure(exit) && exit.toString()).toContain(
        "The payload of ping cannot be signed: it is not JSON (a bigint or a cycle)",
      )
      const signed = yield* signRequest(alice)(request("ping", { big: "1" }))
      expect(refusal(yield* Effect.flip(verify({ ...signed, payload: { big: 1n } })))).toEqual({
        reason: "bad signature",
        principal: "alice",
      })
    }))
})

describe("the replay cache", () => {
  it.effect("holds at most its size, and an evicted request is still refused as replayed", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys, { replayCacheSize: 3 })
      const accepted: Array<RequestEncoded> = []
      for (let i = 0; i < 5; i++) {
        const signed = yield* signRequest(alice)(request())
        yield* verify(signed)
        accepted.push(signed)
        yield* TestClock.adjust(1)
      }
      expect(yield* verify.remembered).toBe(3)
      const replays: Array<unknown> = []
      for (const signed of [accepted[0]!, accepted[1]!, accepted[4]!]) {
        replays.push(refusal(yield* Effect.flip(verify(signed))))
      }
      expect(replays).toEqual([0, 1, 4].map(() => ({ reason: "replayed", principal: "alice" })))
      const fresh = yield* signRequest(alice)(request())
      expect(yield* verify(fresh)).toEqual({ principal: "alice", scheme: "hmac" })
      expect(yield* verify.remembered).toBe(3)
    }))

  it.effect("of size 1: one request per millisecond is served, each replay and a third in one millisecond refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys, { replayCacheSize: 1 })
      const sign = signRequest(alice)
      const accepted: Array<RequestEncoded> = []
      for (let i = 0; i < 4; i++) {
        const signed = yield* sign(request())
        expect(yield* verify(signed)).toEqual({ principal: "alice", scheme: "hmac" })
        accepted.push(signed)
        yield* TestClock.adjust(1)
      }
      expect(yield* verify.remembered).toBe(1)
      const replayed = { reason: "replayed", principal: "alice" }
      for (const signed of accepted) {
        expect(refusal(yield* Effect.flip(verify(signed)))).toEqual(replayed)
      }
      // Two in one millisecond pass (the first evicted at the second's admission raises the floor
      // to that millisecond); a third in it could be the evicted one sent again, so it is refused.
      const [first, second, third] = [
        yield* sign(request()),
        yield* sign(request()),
        yield* sign(request()),
      ]
      expect(yield* verify(first!)).toEqual({ principal: "alice", scheme: "hmac" })
      expect(yield* verify(second!)).toEqual({ principal: "alice", scheme: "hmac" })
      expect(refusal(yield* Effect.flip(verify(third!)))).toEqual(replayed)
      yield* TestClock.adjust(1)
      expect(yield* verify(yield* sign(request()))).toEqual({ principal: "alice", scheme: "hmac" })
    }))

  it.effect("keeps its order over thousands of requests: each accepted once, every replay refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys, { replayCacheSize: 800 })
      const sign = signRequest(alice)
      const accepted: Array<RequestEncoded> = []
      for (let i = 0; i < 3_000; i++) {
        const signed = yield* sign(request())
        yield* verify(signed)
        accepted.push(signed)
        if (i % 10 === 9) yield* TestClock.adjust(1) // ten requests per millisecond
      }
      expect(yield* verify.remembered).toBe(800)
      const replays: Array<unknown> = []
      for (const index of [0, 2_199, 2_200, 2_999]) {
        replays.push(refusal(yield* Effect.flip(verify(accepted[index]!))))
      }
      expect(replays).toEqual([0, 1, 2, 3].map(() => ({ reason: "replayed", principal: "alice" })))
      expect(yield* verify(yield* sign(request()))).toEqual({ principal: "alice", scheme: "hmac" })
    }))

  it.effect("grows as it fills, across expiries and evictions, keeping its order and each key apart", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      // Nonces live 2 s (2 × skew). First 40 requests every 100 ms: 840 held, the oldest expiring,
      // so the ring's first 1,024 slots wrap around; then 300 every 100 ms: it grows twice (to
      // 2,048, then its capacity) from a wrapped ring, then evicts.
      const verify = yield* makeVerifier([alice, carolKey], {
        replayCacheSize: 2_500,
        skewMillis: 1_000,
      })
      const signers = [signRequest(alice), signRequest(carolKey)]
      const accepted: Array<RequestEncoded> = []
      const held: Array<number> = []
      for (const [steps, perStep] of [[30, 40], [10, 300]] as const) {
        for (let step = 0; step < steps; step++) {
          for (let i = 0; i < perStep; i++) {
            const signed = yield* signers[accepted.length % 2]!(request())
            expect(yield* verify(signed)).toMatchObject({ scheme: "hmac" })
            accepted.push(signed)
          }
          held.push(yield* verify.remembered)
          yield* TestClock.adjust(100)
        }
      }
      expect(held.slice(25, 30)).toEqual([840, 840, 840, 840, 840])
      expect(held.slice(30)).toEqual([
        1_100,
        1_360,
        1_620,
        1_880,
        2_140,
        2_400,
        2_500,
        2_500,
        2_500,
        2_500,
      ])
      // Every request is refused again: signed over a second ago (stale: the first 1,200), or
      // within it, whether evicted (refused by its key's floor) or held (replayed).
      const refusals = new Map<string, number>()
      for (const [index, signed] of accepted.entries()) {
        const { reason, principal } = refusal(yield* Effect.flip(verify(signed)))
        expect(principal).toBe(index % 2 === 0 ? "alice" : "carol")
        const kind = `${index < 1_200 ? "old" : "recent"} ${reason}`
        refusals.set(kind, (refusals.get(kind) ?? 0) + 1)
      }
      expect(Object.fromEntries(refusals)).toEqual({
        "old stale timestamp": 1_200,
        "recent replayed": 3_000,
      })
      for (const sign of signers) {
        expect(yield* verify(yield* sign(request()))).toMatchObject({ scheme: "hmac" })
      }
      // Past the lifetime of them all: the next request finds the cache empty.
      yield* TestClock.adjust(2_001)
      yield* verify(yield* signers[0]!(request()))
      expect(yield* verify.remembered).toBe(1)
    }))

  it.effect("forgets a nonce twice the skew after accepting it", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys, { skewMillis: 1_000 })
      const first = yield* signRequest(alice)(request())
      yield* verify(first)
      yield* TestClock.adjust(2_000)
      yield* verify(yield* signRequest(alice)(request()))
      expect(yield* verify.remembered).toBe(2)
      yield* TestClock.adjust(1)
      yield* verify(yield* signRequest(alice)(request()))
      expect(yield* verify.remembered).toBe(2)
      expect(refusal(yield* Effect.flip(verify(first)))).toEqual({
        reason: "stale timestamp",
        principal: "alice",
      })
    }))
})

describe("building a verifier", () => {
  it.effect("refuses a bad option or key with an InvalidOption that never shows a secret", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<
        readonly [ReadonlyArray<Credentials>, { skewMillis?: number; replayCacheSize?: number }]
      > = [
        [keys, { skewMillis: Number.NaN }],
        [keys, { skewMillis: Infinity }],
        [keys, { skewMillis: -1 }],
        [keys, { skewMillis: 0 }],
        [keys, { replayCacheSize: 1.5 }],
        [keys, { replayCacheSize: 0 }],
        [[alice, { ...bob, token: "" }], {}],
        [[{ ...alice, secret: "  " }], {}],
        [[alice, { ...alice, secret: "other" }], {}],
        [[bob, { ...bob, principal: "robert" }], {}],
        [[{ ...bob, principal: "" }], {}],
      ]
      const messages: Array<string> = []
      for (const [given, options] of cases) {
        messages.push((yield* Effect.flip(makeVerifier(given, options))).message)
      }
      expect(messages).toEqual([
        "Invalid option skewMillis of RpcAuth: NaN must be a finite duration > 0",
        "Invalid option skewMillis of RpcAuth: Infinity must be a finite duration > 0",
        "Invalid option skewMillis of RpcAuth: -1 must be a finite duration > 0",
        "Invalid option skewMillis of RpcAuth: 0 must be a finite duration > 0",
        "Invalid option replayCacheSize of RpcAuth: 1.5 must be a positive integer",
        "Invalid option replayCacheSize of RpcAuth: 0 must be a positive integer",
        `Invalid option keys[1].token of RpcAuth: "" must be a non-empty string`,
        "Invalid option keys[0].secret of RpcAuth: (hidden) must be a non-empty string",
        `Invalid option keys[1].principal of RpcAuth: "alice" is the key id of keys[0] already`,
        "Invalid option keys[1].token of RpcAuth: (hidden) is the token of keys[0] already",
        `Invalid option keys[0].principal of RpcAuth: "" must be a non-empty string`,
      ])
    }))
})

describe("Unauthorized", () => {
  it.effect("crosses the wire with its reason and principal only", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const verify = yield* makeVerifier(keys)
      const forged = yield* signRequest({ ...alice, secret: "guessed-secret" })(request())
      const badSignature = yield* Effect.flip(verify(forged))
      const badToken = yield* Effect.flip(
        verify(yield* signRequest({ ...bob, token: "stolen-token" })(request())),
      )
      expect([badSignature.message, badToken.message]).toEqual([
        "Request refused: bad signature (key alice)",
        "Request refused: bad token",
      ])
      const encode = Schema.encodeSync(Unauthorized)
      const wire = [JSON.stringify(encode(badSignature)), JSON.stringify(encode(badToken))]
      expect(wire).toEqual([
        `{"reason":"bad signature","principal":"alice","_tag":"Unauthorized"}`,
        `{"reason":"bad token","_tag":"Unauthorized"}`,
      ])
      const secrets = [
        alice.secret,
        "guessed-secret",
        hmacOf(forged).signature,
        bob.token,
        "stolen-token",
      ]
      const shown = [...wire, badSignature.message, badToken.message].join("\n")
      expect(secrets.filter((secret) => shown.includes(secret))).toEqual([])
      const decoded = Schema.decodeUnknownEither(Unauthorized)(JSON.parse(wire[0]!))
      expect(Either.isRight(decoded) && decoded.right instanceof Unauthorized).toBe(true)
      expect(Either.map(decoded, refusal)).toEqual(
        Either.right({ reason: "bad signature", principal: "alice" }),
      )
    }))
})

const request = (
  tag = "ping",
  payload: unknown = {},
  headers: ReadonlyArray<[string, string]> = [],
): RequestEncoded => ({ _tag: "Request", id: "1", tag, payload, headers })

const header = (request: RequestEncoded, name: string): string | undefined =>
  request.headers.find(([key]) => key === name)?.[1]

/** The fields of a request's HMAC credentials. */
const hmacOf = (request: RequestEncoded) => {
  const [scheme, timestamp, nonce, signature, ...keyId] = header(request, "authorization")!.split(
    " ",
  )
  expect(scheme).toBe("EM-HMAC-SHA256")
  return { timestamp: timestamp!, nonce: nonce!, signature: signature!, keyId: keyId.join(" ") }
}

const withHeader = (request: RequestEncoded, name: string, value: string): RequestEncoded => ({
  ...request,
  headers: request.headers.map(([key, old]) => [key, key === name ? value : old]),
})

/** What a refusal says: its reason, and its principal when it has one. */
const refusal = (error: Unauthorized) =>
  error.principal === undefined
    ? { reason: error.reason }
    : { reason: error.reason, principal: error.principal }
