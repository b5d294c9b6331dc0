// What "the same payload" means, for the two places that skip an unchanged one: the capability
// reports a manager publishes (a value equal to the last one reported is not a change) and the
// scheduler (an unchanged report needs neither decoding nor a `HostUpdated`). Payloads are
// encoded, JSON-like data, and one rule decides for both, so that a publisher and a consumer
// never disagree on whether something changed.
//
// The rule:
// - plain arrays (prototype `Array.prototype`) are the same when they have the same length and
//   the same items in the same order; a hole is `undefined`;
// - plain objects (prototype `Object.prototype` or `null`; either one, as the prototype is not
//   data) are the same when they have the same own enumerable string keys, in any order, with the
//   same values; `__proto__` is a key like any other, and a key whose value is `undefined` is
//   still a key;
// - numbers are the same by SameValueZero: NaN is NaN (a value that stays NaN is unchanged), and
//   -0 is 0 (JSON has no -0, so no transport could tell them apart);
// - anything else (a `Date`, a `Map`, a class instance, an array subclass) is the same only as
//   itself: what such a value holds is its own business, and reading it could run its code.
//
// Key order does not count: it records how an object was built (a spread, a schema's field
// order, a key deleted and added again), not what it says. A schema decodes `{ a, b }` and
// `{ b, a }` to the same value, and comparing JSON text would call them different.

const isPlainArray = (u: object): u is ReadonlyArray<unknown> =>
  Array.isArray(u) && Object.getPrototypeOf(u) === Array.prototype

const isPlainObject = (u: object): u is Record<string, unknown> => {
  if (Array.isArray(u)) return false
  const prototype = Object.getPrototypeOf(u)
  return prototype === Object.prototype || prototype === null
}

const sameArrays = (a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!samePayload(a[i], b[i])) return false
  return true
}

const sameObjects = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => {
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !samePayload(a[key], b[key])) return false
  }
  return true
}

/** @internal Whether two encoded payloads are the same, by the rule above. */
export const samePayload = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return Number.isNaN(a) && Number.isNaN(b)
  }
  if (isPlainArray(a)) return isPlainArray(b) && sameArrays(a, b)
  return isPlainObject(a) && isPlainObject(b) && sameObjects(a, b)
}

/**
 * @internal Our own copy of an encoded payload: deep for plain arrays and objects, anything else
 * kept as is (the rule compares it by identity), so that a caller that changes its object later
 * changes nothing of ours. The copy keeps each object's prototype, and an own `__proto__` key
 * stays a key. It is the same payload as `u` by `samePayload`.
 */
export const copyPayload = (u: unknown): unknown => {
  if (typeof u !== "object" || u === null) return u
  if (isPlainArray(u)) {
    const copy = new Array<unknown>(u.length)
    for (let i = 0; i < u.length; i++) copy[i] = copyPayload(u[i])
    return copy
  }
  if (!isPlainObject(u)) return u
  // Spread and `Object.assign` onto a null prototype define an own `__proto__` key as a key,
  // and copy a flat payload several times faster than a loop of assignments.
  const copy: Record<string, unknown> = Object.getPrototypeOf(u) === null
    ? Object.assign(Object.create(null), u)
    : { ...u }
  for (const key in copy) {
    const item = copy[key]
    // `for in` also walks the keys an enumerable property of `Object.prototype` would add.
    if (
      typeof item !== "object" || item === null ||
      !Object.prototype.hasOwnProperty.call(copy, key)
    ) continue
    const value = copyPayload(item)
    // Assigning `__proto__` would set the prototype instead of the key.
    if (key === "__proto__") {
      Object.defineProperty(copy, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else copy[key] = value
  }
  return copy
}
