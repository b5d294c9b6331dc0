// The WebSocket request limit read from frame headers (src/internal/remote/frameLimit.ts): a
// message over the limit is seen at the header that declares it, whatever the chunks.
import { describe, expect, it } from "@effect/vitest"
import * as FrameLimit from "../src/internal/remote/frameLimit.ts"

const TEXT = 0x1
const BINARY = 0x2
const CONTINUATION = 0x0
const PING = 0x9

/** A client frame's header (masked, as every client's is): FIN, opcode, declared length. */
const header = (fin: boolean, opcode: number, length: number | bigint): Uint8Array => {
  const first = (fin ? 0x80 : 0) | opcode
  const mask = [1, 2, 3, 4]
  const big = BigInt(length)
  if (big < 126n) return Uint8Array.of(first, 0x80 | Number(big), ...mask)
  if (big < 0x10000n) {
    return Uint8Array.of(first, 0x80 | 126, Number(big >> 8n), Number(big & 0xffn), ...mask)
  }
  const extended = Array.from({ length: 8 }, (_, i) => Number((big >> BigInt(56 - 8 * i)) & 0xffn))
  return Uint8Array.of(first, 0x80 | 127, ...extended, ...mask)
}

/** A whole frame: its header and `length` bytes of payload. */
const frame = (fin: boolean, opcode: number, length: number): Uint8Array => {
  const head = header(fin, opcode, length)
  const whole = new Uint8Array(head.byteLength + length)
  whole.set(head)
  return whole
}

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let at = 0
  for (const part of parts) {
    whole.set(part, at)
    at += part.byteLength
  }
  return whole
}

/** The verdict after each chunk, the bytes cut into chunks of `size`. */
const verdicts = (maxBytes: number, bytes: Uint8Array, size: number): ReadonlyArray<boolean> => {
  const over = FrameLimit.make(maxBytes)
  const seen: Array<boolean> = []
  for (let at = 0; at < bytes.byteLength; at += size) seen.push(over(bytes.subarray(at, at + size)))
  return seen
}

/** Whether the bytes are over the limit, fed whole, byte by byte, and in chunks of 7. */
const isOver = (maxBytes: number, bytes: Uint8Array): boolean => {
  const results = [bytes.byteLength, 1, 7].map((size) =>
    verdicts(maxBytes, bytes, size).includes(true)
  )
  expect(new Set(results).size).toBe(1) // the same, however the bytes arrive
  return results[0]!
}

describe("frameLimit", () => {
  it("a frame of the limit passes; one byte more is over, at its header, before any payload", () => {
    expect(isOver(100, frame(true, BINARY, 100))).toBe(false)
    expect(isOver(100, frame(true, BINARY, 101))).toBe(true)
    // the header alone says so
    const over = FrameLimit.make(100)
    expect(over(header(true, BINARY, 101))).toBe(true)
  })

  it("7-bit, 16-bit and 64-bit lengths are read exactly", () => {
    for (const length of [0, 125, 126, 65_535, 65_536, 1_048_576]) {
      expect([length, isOver(length, frame(true, BINARY, length))]).toEqual([length, false])
      if (length > 0) {
        expect([length, isOver(length - 1, frame(true, BINARY, length))]).toEqual([length, true])
      }
    }
    // a declared 2^63 - 1 bytes (nothing follows) is over any limit
    expect(isOver(Number.MAX_SAFE_INTEGER, header(true, BINARY, 2n ** 63n - 1n))).toBe(true)
  })

  it("a message's fragments add up until its final frame; the next message starts from 0", () => {
    const fragments = (...lengths: ReadonlyArray<number>) =>
      concat(
        ...lengths.map((length, i) =>
          frame(i === lengths.length - 1, i === 0 ? TEXT : CONTINUATION, length)
        ),
      )
    expect(isOver(100, fragments(40, 40, 20))).toBe(false)
    expect(isOver(100, fragments(40, 40, 21))).toBe(true)
    expect(isOver(100, concat(fragments(60, 40), fragments(100), fragments(50, 50)))).toBe(false)
  })

  it("control frames between fragments are not counted", () => {
    const bytes = concat(
      frame(false, TEXT, 60),
      frame(true, PING, 125),
      frame(true, CONTINUATION, 40),
    )
    expect(isOver(100, bytes)).toBe(false)
  })

  it("the verdict comes with the chunk that completes the header", () => {
    const bytes = concat(frame(true, BINARY, 50), header(true, BINARY, 300))
    // header 6 + payload 50, then a header of 8 bytes: chunks of 8 end at 8, 16, …, 64
    expect(verdicts(100, bytes, 8)).toEqual([false, false, false, false, false, false, false, true])
  })
})
