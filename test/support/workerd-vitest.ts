// Stand-in for "@effect/vitest" inside workerd (aliased by scripts/test-workerd.mjs): tests are
// only collected here; the worker's test() handler runs them via runAll().
import { makeApi, type Mode } from "./api.ts"

declare const console: { log(...args: Array<unknown>): void }

Reflect.set(globalThis, "__EFFECT_MANAGER_RUNNER__", "workerd")

interface Entry {
  readonly name: string
  readonly fn: () => Promise<void>
  readonly mode: Mode
}
const registry: Array<Entry> = []

export const { describe, it } = makeApi((name, fn, mode) => registry.push({ name, fn, mode }))
export { assert, expect } from "./expect.ts"

/** Runs every collected test sequentially, prints one line each and a summary; throws on failure. */
export const runAll = async (): Promise<void> => {
  const only = registry.some((t) => t.mode === "only")
  let passed = 0
  let failed = 0
  let skipped = 0
  for (const t of registry) {
    if (t.mode === "skip" || (only && t.mode !== "only")) {
      skipped++
      console.log(`skip ${t.name}`)
      continue
    }
    try {
      await t.fn()
      passed++
      console.log(`ok   ${t.name}`)
    } catch (error) {
      failed++
      console.log(
        `FAIL ${t.name}\n${error instanceof Error ? error.stack ?? error.message : error}`,
      )
    }
  }
  if (skipped > 0) console.log(`${skipped} skipped`)
  // The runner script parses this exact line.
  console.log(`workerd: ${passed} passed, ${failed} failed`)
  if (failed > 0) throw new Error(`${failed} test(s) failed`)
  if (passed === 0) throw new Error("no tests ran")
  // Like Deno, a focused run must not pass CI silently.
  if (only) throw new Error("it.only / describe.only present")
}
