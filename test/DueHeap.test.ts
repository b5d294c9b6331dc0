import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { DueHeap } from "../src/internal/runner/dueHeap.ts"

interface Entry {
  readonly index: number
  nextDue: number
}

/** Pops every entry in heap order. */
const drain = (heap: DueHeap<Entry>): Array<number> => {
  const out: Array<number> = []
  for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
    out.push(top.index)
    heap.remove(top)
  }
  return out
}

describe("DueHeap", () => {
  it("orders by due instant, then by definition order", () => {
    const entries: Array<Entry> = [30, 10, 20, 10, 30].map((nextDue, index) => ({ index, nextDue }))
    const heap = new DueHeap<Entry>(entries.length)
    for (const entry of entries) heap.update(entry)
    expect(drain(heap)).toEqual([1, 3, 2, 0, 4])
  })

  it("re-keys an entry in place, and removing an absent entry does nothing", () => {
    const entries: Array<Entry> = [1, 2, 3].map((nextDue, index) => ({ index, nextDue }))
    const heap = new DueHeap<Entry>(3)
    for (const entry of entries) heap.update(entry)
    entries[0]!.nextDue = 5
    heap.update(entries[0]!)
    heap.remove(entries[1]!)
    heap.remove(entries[1]!)
    expect(heap.has(entries[1]!)).toBe(false)
    expect(drain(heap)).toEqual([2, 0])
    expect(heap.peek()).toBeUndefined()
  })

  it("after any sequence of updates and removals, drains in (due, index) order", () => {
    const op = FastCheck.tuple(
      FastCheck.nat(19),
      FastCheck.oneof(FastCheck.integer({ min: -50, max: 50 }), FastCheck.constant(Infinity)),
      FastCheck.boolean(),
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.array(op, { maxLength: 200 }), (ops) => {
        const entries: Array<Entry> = Array.from(
          { length: 20 },
          (_, index) => ({ index, nextDue: 0 }),
        )
        const heap = new DueHeap<Entry>(20)
        const present = new Set<number>()
        for (const [index, due, remove] of ops) {
          const entry = entries[index]!
          if (remove) {
            heap.remove(entry)
            present.delete(index)
          } else {
            entry.nextDue = due
            heap.update(entry)
            present.add(index)
          }
        }
        // By key, then index (not by subtraction: Infinity − Infinity is NaN).
        const expected = [...present].sort((a, b) => {
          const [x, y] = [entries[a]!.nextDue, entries[b]!.nextDue]
          return x < y ? -1 : x > y ? 1 : a - b
        })
        expect(drain(heap)).toEqual(expected)
      }),
    )
  })
})
