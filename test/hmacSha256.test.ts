// SHA-256 and HMAC-SHA256 against published vectors (FIPS 180-4 examples, RFC 4231).
import { describe, expect, it } from "@effect/vitest"
import { hmacSha256, sha256 } from "../src/internal/hmacSha256.ts"

declare const TextEncoder: new () => { encode(input: string): Uint8Array }

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")
const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const repeat = (byte: number, length: number): Uint8Array => new Uint8Array(length).fill(byte)

describe("sha256", () => {
  it("matches FIPS 180-4's examples, and the padding at every length around a block", () => {
    expect(hex(sha256(text("")))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    expect(hex(sha256(text("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    )
    expect(hex(sha256(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    )
    expect(hex(sha256(repeat(0x61, 1_000_000)))).toBe(
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    )
  })
})

describe("hmacSha256 (RFC 4231)", () => {
  const cases: ReadonlyArray<readonly [string, Uint8Array, Uint8Array, string]> = [
    [
      "test case 1",
      repeat(0x0b, 20),
      text("Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      "test case 2",
      text("Jefe"),
      text("what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
    [
      "test case 3",
      repeat(0xaa, 20),
      repeat(0xdd, 50),
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ],
    [
      "test case 6: a key longer than a block",
      repeat(0xaa, 131),
      text("Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ],
    [
      "test case 7: a key and a message longer than a block",
      repeat(0xaa, 131),
      text(
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
      ),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ],
  ]
  for (const [name, key, data, expected] of cases) {
    it(name, () => {
      expect(hex(hmacSha256(key)(data))).toBe(expected)
    })
  }

  it("a context given once is the message's beginning: the same digest as hashing both", () => {
    const context = repeat(0x61, 128)
    for (const key of [text("Jefe"), repeat(0xaa, 131)]) {
      const withContext = hmacSha256(key, context)
      const plain = hmacSha256(key)
      for (const length of [0, 1, 55, 56, 64, 119, 120, 200]) {
        const message = repeat(length % 251, length)
        const whole = new Uint8Array(context.length + length)
        whole.set(context)
        whole.set(message, context.length)
        expect(hex(withContext(message))).toBe(hex(plain(whole)))
      }
    }
    expect(() => hmacSha256(text("Jefe"), repeat(1, 63))).toThrow(
      "an HMAC context is whole blocks of 64 bytes, not 63",
    )
    // A length past the message is refused, not hashed as zeros.
    expect(() => hmacSha256(text("Jefe"))(repeat(1, 10), 11)).toThrow(
      "a length from 0 to 10, not 11",
    )
    expect(hex(hmacSha256(text("Jefe"))(repeat(1, 10), 4))).toBe(
      hex(hmacSha256(text("Jefe"))(repeat(1, 4))),
    )
  })

  it("a signer gives the same digest every time (its precomputed states are not changed)", () => {
    const sign = hmacSha256(text("Jefe"))
    const first = hex(sign(text("what do ya want for nothing?")))
    sign(repeat(1, 200))
    expect(hex(sign(text("what do ya want for nothing?")))).toBe(first)
  })
})
