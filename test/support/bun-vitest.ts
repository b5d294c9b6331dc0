// Stand-in for "@effect/vitest" under `bun test`: same test files, registered with bun:test so
// Bun's own runner and reporter apply. scripts/test-bun.mjs preloads this module, which then
// maps "@effect/vitest" to itself (bun:test's mock.module; Bun has no import map).
import { makeApi } from "./api.ts"
import { assert, expect } from "./expect.ts"

// Local declaration: the project's lib has no Bun types on purpose. A dynamic import with a
// computed name, so tsc does not look for a "bun:test" module.
interface BunTest {
  readonly test: {
    (name: string, fn: () => Promise<void>, timeout: number): void
    readonly skip: (name: string, fn: () => Promise<void>) => void
    readonly only: (name: string, fn: () => Promise<void>, timeout: number) => void
  }
  readonly mock: { module(specifier: string, factory: () => object): void }
}
const bunTestModule = "bun:test"
const { test, mock } = (await import(bunTestModule)) as BunTest

Reflect.set(globalThis, "__EFFECT_MANAGER_RUNNER__", "bun")

// api.ts enforces each test's own timeout (vitest's default 5 s); Bun's is only a backstop.
const BACKSTOP_MS = 10 * 60_000

// Outside CI, Bun's test.only silently drops the file's other tests; like Deno and workerd, a
// focused run must not pass, so the first focused test brings a failing one along.
let focused = false

export const { describe, it } = makeApi((name, fn, mode) => {
  if (mode === "skip") return test.skip(name, fn)
  if (mode === "run") return test(name, fn, BACKSTOP_MS)
  if (!focused) {
    focused = true
    test.only("it.only / describe.only present", () => {
      throw new Error("a focused run must not pass: remove .only")
    }, BACKSTOP_MS)
  }
  test.only(name, fn, BACKSTOP_MS)
})
export { assert, expect }

mock.module("@effect/vitest", () => ({ describe, it, expect, assert }))
