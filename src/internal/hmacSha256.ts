/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) in plain JavaScript, synchronous. WebCrypto's `subtle.sign`
 * is asynchronous and cost 115–180 µs of CPU per small request on Node (measured by
 * `bench/rpc.ts`); this is a few µs, with the key's inner and outer states computed once.
 * Checked against RFC 4231's test cases (`test/hmacSha256.test.ts`).
 *
 * @internal
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
])

const INITIAL = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]

const BLOCK = 64

/** Mixes one 64-byte block of `data` at `offset` into `state`; `w` is scratch space. */
const compress = (state: Int32Array, w: Int32Array, data: Uint8Array, offset: number): void => {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4
    w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!
    const b = w[i - 2]!
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  state[0] = (state[0]! + a) | 0
  state[1] = (state[1]! + b) | 0
  state[2] = (state[2]! + c) | 0
  state[3] = (state[3]! + d) | 0
  state[4] = (state[4]! + e) | 0
  state[5] = (state[5]! + f) | 0
  state[6] = (state[6]! + g) | 0
  state[7] = (state[7]! + h) | 0
}

// Scratch space for `finish`, reused: hashing is synchronous, so no two calls share it at once
// (allocating these per call cost more than hashing a small message; a typed array, even a view,
// is an allocation of its own).
const schedule = new Int32Array(64)
const tail = new Uint8Array(2 * BLOCK)
const working = new Int32Array(8)
const innerDigest = new Uint8Array(32)

/** Writes `value` big-endian at `offset`. */
const putWord = (bytes: Uint8Array, offset: number, value: number): void => {
  bytes[offset] = value >>> 24
  bytes[offset + 1] = value >>> 16
  bytes[offset + 2] = value >>> 8
  bytes[offset + 3] = value
}

/**
 * Writes into `digest` the digest of the first `length` bytes of `data`, hashed on from `start` (a
 * state after `prefixBytes` bytes, a whole number of blocks): SHA-256's padding counts those bytes
 * too.
 */
const finish = (
  start: Int32Array,
  prefixBytes: number,
  data: Uint8Array,
  length: number,
  digest: Uint8Array,
): Uint8Array => {
  const state = working
  state.set(start)
  const whole = length - (length % BLOCK)
  for (let offset = 0; offset < whole; offset += BLOCK) compress(state, schedule, data, offset)
  const rest = length - whole
  const tailLength = rest < 56 ? BLOCK : 2 * BLOCK
  tail.fill(0)
  for (let i = 0; i < rest; i++) tail[i] = data[whole + i]!
  tail[rest] = 0x80
  const bits = (prefixBytes + length) * 8
  putWord(tail, tailLength - 8, Math.floor(bits / 0x1_0000_0000))
  putWord(tail, tailLength - 4, bits >>> 0)
  for (let offset = 0; offset < tailLength; offset += BLOCK) compress(state, schedule, tail, offset)
  for (let i = 0; i < 8; i++) putWord(digest, i * 4, state[i]!)
  return digest
}

/** @internal SHA-256 of `data`. */
export const sha256 = (data: Uint8Array): Uint8Array =>
  finish(new Int32Array(INITIAL), 0, data, data.length, new Uint8Array(32))

/** The state after one block: the key padded and XORed with `pad`. */
const keyed = (key: Uint8Array, pad: number): Int32Array => {
  const block = new Uint8Array(BLOCK)
  for (let i = 0; i < BLOCK; i++) block[i] = (key[i] ?? 0) ^ pad
  const state = new Int32Array(INITIAL)
  compress(state, new Int32Array(64), block, 0)
  return state
}

/**
 * @internal An HMAC-SHA256 signer for `key`, of messages that all begin with `context` (whole
 * blocks of 64 bytes; none by default): the states after the key's inner block and the context,
 * and after its outer block, are computed here, once, so that each message costs its own blocks
 * and two more. A message is its first `length` bytes (all by default), so that a caller can hash
 * part of a buffer it reuses.
 */
export const hmacSha256 = (
  key: Uint8Array,
  context: Uint8Array = new Uint8Array(0),
): (message: Uint8Array, length?: number) => Uint8Array => {
  if (context.length % BLOCK !== 0) {
    throw new RangeError(`an HMAC context is whole blocks of ${BLOCK} bytes, not ${context.length}`)
  }
  const normalized = key.length > BLOCK ? sha256(key) : key
  const inner = keyed(normalized, 0x36)
  const scratch = new Int32Array(64)
  for (let offset = 0; offset < context.length; offset += BLOCK) {
    compress(inner, scratch, context, offset)
  }
  const outer = keyed(normalized, 0x5c)
  const innerBytes = BLOCK + context.length
  return (message, length = message.length) => {
    if (!(length >= 0 && length <= message.length)) {
      throw new RangeError(`a length from 0 to ${message.length}, not ${length}`)
    }
    return finish(
      outer,
      BLOCK,
      finish(inner, innerBytes, message, length, innerDigest),
      32,
      new Uint8Array(32),
    )
  }
}
