// The one rule for "the same payload" (src/internal/payload.ts), shared by the capability
// reports a manager publishes and the scheduler: plain arrays and objects by content, own keys
// in any order, numbers by SameValueZero, anything else by identity; and the copy both keep.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Capabilities from "../src/Capabilities.ts"
import { copyPayload, samePayload } from "../src/internal/payload.ts"

/** Both ways round: the rule is symmetric. */
const same = (a: unknown, b: unknown): boolean => {
  const there = samePayload(a, b)
  expect(samePayload(b, a)).toBe(there)
  return there
}

const nullPrototype = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(Object.create(null), entries)

class Point {
  constructor(readonly x: number, readonly y: number) {}
}

class Items extends Array<number> {}

describe("samePayload: primitives", () => {
  it("equal primitives are the same, and a number is not its string or a boolean", () => {
    expect(same("compute-1", "compute-1")).toBe(true)
    expect(same(1, 1)).toBe(true)
    expect(same(true, true)).toBe(true)
    expect(same(null, null)).toBe(true)
    expect(same(undefined, undefined)).toBe(true)
    expect(same(1, "1")).toBe(false)
    expect(same(0, false)).toBe(false)
    expect(same(null, undefined)).toBe(false)
    expect(same(null, {})).toBe(false)
    expect(same(1, [1])).toBe(false)
  })

  it("NaN is the same as NaN, and not as null or ±Infinity (which JSON text confuses)", () => {
    expect(same(NaN, NaN)).toBe(true)
    expect(same([NaN], [NaN])).toBe(true)
    expect(same({ freeRamMb: NaN }, { freeRamMb: NaN })).toBe(true)
    expect(same(NaN, null)).toBe(false)
    expect(same(NaN, Infinity)).toBe(false)
    expect(same(Infinity, -Infinity)).toBe(false)
    expect(same(NaN, "NaN")).toBe(false)
  })

  it("-0 is the same as 0, as JSON has no -0", () => {
    expect(same(-0, 0)).toBe(true)
    expect(same({ load: -0 }, { load: 0 })).toBe(true)
  })
})

describe("samePayload: arrays", () => {
  it("arrays with the same items in the same order are the same", () => {
    expect(same([1, "a", null], [1, "a", null])).toBe(true)
    expect(same([], [])).toBe(true)
    expect(same([[1, 2], [3]], [[1, 2], [3]])).toBe(true)
  })

  it("a different item, length or order makes arrays different", () => {
    expect(same([1, 2, 3], [1, 2, 4])).toBe(false)
    expect(same([1, 2], [1, 2, 3])).toBe(false)
    expect(same([1, 2], [2, 1])).toBe(false)
    expect(same([[1, 2]], [[1, 3]])).toBe(false)
  })

  it("an array is not an object with index keys, and a hole is undefined", () => {
    expect(same([1, 2], { 0: 1, 1: 2 })).toBe(false)
    expect(same([], {})).toBe(false)
    // deno-lint-ignore no-sparse-arrays
    expect(same([, 1], [undefined, 1])).toBe(true)
    expect(same([undefined], [null])).toBe(false)
  })

  it("an array subclass, or an array given another prototype, is the same only as itself", () => {
    const items = Items.from([1, 2])
    expect(same(items, [1, 2])).toBe(false)
    expect(same(items, Items.from([1, 2]))).toBe(false)
    expect(same(items, items)).toBe(true)
    const bare = Object.setPrototypeOf([1, 2], null)
    expect(same(bare, { 0: 1, 1: 2 })).toBe(false)
    expect(same(bare, bare)).toBe(true)
  })
})

describe("samePayload: objects", () => {
  it("nested objects with the same content are the same; one different leaf is a change", () => {
    const payload = () => ({ host: { ramMb: 1024, disks: [{ gb: 10 }, { gb: 20 }] }, up: true })
    expect(same(payload(), payload())).toBe(true)
    const changed = payload()
    changed.host.disks[1]!.gb = 21
    expect(same(payload(), changed)).toBe(false)
  })

  it("key order does not count", () => {
    expect(same({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true)
    expect(same({ x: { a: 1, b: [2] } }, { x: { b: [2], a: 1 } })).toBe(true)
  })

  it("a key whose value is undefined is still a key", () => {
    expect(same({ a: undefined }, {})).toBe(false)
    expect(same({ a: undefined }, { b: undefined })).toBe(false)
    expect(same({ a: 1, b: undefined }, { a: 1, b: undefined })).toBe(true)
  })

  it("only own enumerable string keys count", () => {
    const hidden = { a: 1 }
    Object.defineProperty(hidden, "hidden", { value: 2, enumerable: false })
    expect(same(hidden, { a: 1 })).toBe(true)
    expect(same({ a: 1, [Symbol.for("tag")]: 2 }, { a: 1 })).toBe(true)
  })

  it("a __proto__ key is a key like any other", () => {
    const one = JSON.parse(`{"__proto__": 1}`)
    expect(Object.keys(one)).toEqual(["__proto__"])
    expect(same(one, JSON.parse(`{"__proto__": 1}`))).toBe(true)
    expect(same(one, JSON.parse(`{"__proto__": 2}`))).toBe(false)
    expect(same(one, {})).toBe(false)
    expect(same(JSON.parse(`{"__proto__": {"a": 1}}`), { a: 1 })).toBe(false)
    expect(same(JSON.parse(`{"__proto__": {"a": 1}}`), JSON.parse(`{"__proto__": {"a": 1}}`)))
      .toBe(true)
  })

  it("a null-prototype object is compared by its keys, like an ordinary one", () => {
    expect(same(nullPrototype({ a: 1, b: [2] }), nullPrototype({ b: [2], a: 1 }))).toBe(true)
    expect(same(nullPrototype({ a: 1 }), { a: 1 })).toBe(true)
    expect(same(nullPrototype({ a: 1 }), nullPrototype({ a: 2 }))).toBe(false)
    const proto = JSON.parse(`{"__proto__": 1}`)
    expect(same(nullPrototype(proto), proto)).toBe(true)
  })
})

describe("samePayload: anything else is the same only as itself", () => {
  it("Dates", () => {
    const date = new Date(0)
    expect(same(date, date)).toBe(true)
    expect(same(new Date(0), new Date(0))).toBe(false)
    expect(same({ at: date }, { at: date })).toBe(true)
    expect(same({ at: new Date(0) }, { at: new Date(0) })).toBe(false)
    expect(same(new Date(0), new Date(0).toISOString())).toBe(false)
  })

  it("class instances, Maps, and objects with another prototype, even with the same keys", () => {
    const point = new Point(1, 2)
    expect(same(point, point)).toBe(true)
    expect(same(new Point(1, 2), new Point(1, 2))).toBe(false)
    expect(same(new Point(1, 2), { x: 1, y: 2 })).toBe(false)
    expect(same(new Map([["a", 1]]), new Map([["a", 1]]))).toBe(false)
    expect(same(Object.create({ a: 1 }), Object.create({ a: 1 }))).toBe(false)
  })
})

describe("copyPayload", () => {
  it("gives primitives back as they are", () => {
    expect(copyPayload(1)).toBe(1)
    expect(copyPayload("a")).toBe("a")
    expect(copyPayload(null)).toBe(null)
    expect(copyPayload(undefined)).toBe(undefined)
    expect(Object.is(copyPayload(NaN), NaN)).toBe(true)
    expect(Object.is(copyPayload(-0), -0)).toBe(true)
  })

  it("copies plain arrays and objects at every depth: the copy is the same, and shares nothing", () => {
    const input = { host: { ramMb: 1024, disks: [{ gb: 10 }, [1, 2]] }, up: true }
    const copy = copyPayload(input) as typeof input
    expect(copy).toEqual(input)
    expect(samePayload(copy, input)).toBe(true)
    expect(copy).not.toBe(input)
    expect(copy.host).not.toBe(input.host)
    expect(copy.host.disks).not.toBe(input.host.disks)
    expect(copy.host.disks[0]).not.toBe(input.host.disks[0])
    expect(copy.host.disks[1]).not.toBe(input.host.disks[1])
    input.host.ramMb = 0
    ;(input.host.disks[1] as Array<number>).push(3)
    expect(copy).toEqual({ host: { ramMb: 1024, disks: [{ gb: 10 }, [1, 2]] }, up: true })
    expect(samePayload(copy, input)).toBe(false)
  })

  it("keeps a null prototype", () => {
    const input = nullPrototype({ a: nullPrototype({ b: 1 }) })
    const copy = copyPayload(input) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(null)
    expect(Object.getPrototypeOf(copy["a"])).toBe(null)
    expect(copy["a"]).not.toBe(input["a"])
    expect(samePayload(copy, input)).toBe(true)
  })

  it("keeps an own __proto__ key a key, with its value copied, and the prototype untouched", () => {
    const input = JSON.parse(`{"__proto__": {"polluted": true}, "ramMb": 1}`)
    const copy = copyPayload(input) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toEqual(["__proto__", "ramMb"])
    const kept = Object.getOwnPropertyDescriptor(copy, "__proto__")?.value
    expect(kept).toEqual({ polluted: true })
    expect(kept).not.toBe(Object.getOwnPropertyDescriptor(input, "__proto__")?.value)
    expect(copy["polluted"]).toBe(undefined)
    expect(samePayload(copy, input)).toBe(true)
  })

  it("keeps Dates, class instances and array subclasses as they are", () => {
    const at = new Date(0)
    const point = new Point(1, 2)
    const items = Items.from([1])
    const copy = copyPayload({ at, point, items: [items] }) as Record<string, unknown>
    expect(copy["at"]).toBe(at)
    expect(copy["point"]).toBe(point)
    expect((copy["items"] as Array<unknown>)[0]).toBe(items)
    expect(copyPayload(at)).toBe(at)
  })

  it("copies own keys only, even when Object.prototype has an enumerable one", () => {
    let keys: Array<string>
    // Nothing else may run while Object.prototype has the key, not even a matcher.
    Object.defineProperty(Object.prototype, "inherited", {
      value: { x: 1 },
      enumerable: true,
      writable: true,
      configurable: true,
    })
    try {
      keys = Object.keys(copyPayload({ a: { b: 1 } }) as object)
    } finally {
      Reflect.deleteProperty(Object.prototype, "inherited")
    }
    expect(keys).toEqual(["a"])
  })
})

describe("Capabilities.reports decides what changed by the same rule", () => {
  const source = { host: "compute-1", service: "compute", manager: "Compute" } as const

  /** Reports as [timestamp, sequence, capabilities] of the values offered to `values`. */
  const reportsOf = <A, I>(schema: Schema.Schema<A, I>) =>
    Effect.gen(function* () {
      const values = yield* Queue.unbounded<A>()
      const seen: Array<[number, number, unknown]> = []
      yield* Effect.fork(
        Stream.runForEach(
          Capabilities.reports(source, Capabilities.make(schema, Stream.fromQueue(values)), {
            publishInterval: "1 minute",
          }),
          (report) =>
            Effect.sync(() => {
              seen.push([report.timestamp, report.sequence, report.capabilities])
            }),
        ),
      )
      const offer = (value: A) =>
        Effect.zipRight(Queue.offer(values, value), TestClock.adjust("1 second"))
      return { seen, offer }
    })

  it.effect("the same keys in another order are not a new report", () =>
    Effect.gen(function* () {
      const { offer, seen } = yield* reportsOf(
        Schema.Record({ key: Schema.String, value: Schema.Number }),
      )
      yield* offer({ a: 1, b: 2 })
      yield* offer({ b: 2, a: 1 })
      yield* offer({ b: 3, a: 1 })
      expect(seen).toEqual([
        [0, 1, { a: 1, b: 2 }],
        [2_000, 2, { b: 3, a: 1 }],
      ])
      expect(Object.keys(seen[0]![2] as object)).toEqual(["a", "b"])
    }))

  it.effect("NaN then ±Infinity are changes, though their JSON text is the same; -0 after 0 is not", () =>
    Effect.gen(function* () {
      const { offer, seen } = yield* reportsOf(Schema.Struct({ load: Schema.Number }))
      yield* offer({ load: NaN })
      yield* offer({ load: NaN })
      yield* offer({ load: Infinity })
      yield* offer({ load: -Infinity })
      yield* offer({ load: 0 })
      yield* offer({ load: -0 })
      expect(seen).toEqual([
        [0, 1, { load: NaN }],
        [2_000, 2, { load: Infinity }],
        [3_000, 3, { load: -Infinity }],
        [4_000, 4, { load: 0 }],
      ])
      expect(Object.is((seen[3]![2] as { load: number }).load, 0)).toBe(true)
    }))
})
