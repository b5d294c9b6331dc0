// Stand-in for "@effect/vitest" under `deno test` (mapped in deno.json): same test files,
// registered with Deno.test so Deno's own reporter and leak sanitizers apply.
import { makeApi } from "./api.ts"

// Local declaration: the project's lib has no Deno types on purpose.
declare const Deno: {
  test(options: {
    name: string
    fn: () => Promise<void>
    ignore: boolean
    only: boolean
    sanitizeOps: boolean
    sanitizeResources: boolean
    sanitizeExit: boolean
  }): void
}

Reflect.set(globalThis, "__EFFECT_MANAGER_RUNNER__", "deno")

export const { describe, it } = makeApi((name, fn, mode) =>
  Deno.test({
    name,
    fn,
    ignore: mode === "skip",
    only: mode === "only",
    // Deno 2.9 turned the op/resource sanitizers off by default; we want leaked timers,
    // files and processes (e.g. a forgotten live fiber) to fail the test.
    sanitizeOps: true,
    sanitizeResources: true,
    sanitizeExit: true,
  })
)
export { assert, expect } from "./expect.ts"
