/**
 * The request limit of a WebSocket server, read from the frames' headers (RFC 6455, 5.2) as the
 * bytes arrive: a message whose frames declare more than `maxBytes` of payload is over the limit
 * as soon as the header saying so is read, before any of that payload is (Node's `ws` would read
 * up to 100 MiB of a frame before handing it over, and `@effect/platform-node` cannot tell it
 * otherwise). Only headers are kept: a payload is counted and skipped.
 *
 * @internal
 */

/** What is known of the frame being read: its header so far, or how much payload is left. */
type Reading =
  | { readonly _tag: "Header"; readonly filled: number }
  | { readonly _tag: "Payload"; readonly left: number }

/** A header is at most 2 bytes, 8 of extended length and 4 of mask. */
const MAX_HEADER_BYTES = 14

/** A header's size once its first two bytes are known (`undefined` before). */
const headerSize = (header: Uint8Array, filled: number): number | undefined => {
  if (filled < 2) return undefined
  const length7 = header[1]! & 0x7f
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0
  const mask = (header[1]! & 0x80) !== 0 ? 4 : 0
  return 2 + extended + mask
}

/** The payload length a whole header declares (above 2^53 it is only "huge": still > any limit). */
const payloadLength = (header: Uint8Array): number => {
  const length7 = header[1]! & 0x7f
  if (length7 < 126) return length7
  if (length7 === 126) return header[2]! * 0x100 + header[3]!
  let length = 0
  for (let i = 2; i < 10; i++) length = length * 0x100 + header[i]!
  return length
}

/**
 * @internal A reader of one connection's incoming bytes: each chunk in order; `true` once the
 * message being read is over `maxBytes` (data frames and their continuations add up until a final
 * one; control frames, of at most 125 bytes, are not counted).
 */
export const make = (maxBytes: number): (chunk: Uint8Array) => boolean => {
  const header = new Uint8Array(MAX_HEADER_BYTES)
  let reading: Reading = { _tag: "Header", filled: 0 }
  let message = 0
  return (chunk) => {
    let at = 0
    while (at < chunk.byteLength) {
      if (reading._tag === "Payload") {
        const skipped = Math.min(reading.left, chunk.byteLength - at)
        at += skipped
        reading = reading.left === skipped
          ? { _tag: "Header", filled: 0 }
          : { _tag: "Payload", left: reading.left - skipped }
        continue
      }
      header[reading.filled] = chunk[at++]!
      const filled = reading.filled + 1
      const size = headerSize(header, filled)
      if (size === undefined || filled < size) {
        reading = { _tag: "Header", filled }
        continue
      }
      const length = payloadLength(header)
      const opcode = header[0]! & 0x0f
      if (opcode < 0x8) {
        message += length
        if (message > maxBytes) return true
        if ((header[0]! & 0x80) !== 0) message = 0
      }
      reading = length === 0 ? { _tag: "Header", filled: 0 } : { _tag: "Payload", left: length }
    }
    return false
  }
}
