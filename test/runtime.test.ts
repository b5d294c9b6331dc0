// Honesty check: every runner (vitest on Node, deno test, workerd) really runs on the runtime
// it claims, and it.effect really provides the TestClock there.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

// Only what each runtime really provides; no Node/Deno/DOM types are in scope on purpose.
declare const globalThis: {
  readonly navigator?: { readonly userAgent?: string }
  readonly process?: { readonly versions?: { readonly node?: string } }
  readonly __EFFECT_MANAGER_RUNNER__?: string
}

const detectRuntime = (): string => {
  // Deno first: it also defines `process`.
  if ("Deno" in globalThis) return "deno"
  if (globalThis.navigator?.userAgent === "Cloudflare-Workers") return "workerd"
  if (globalThis.process?.versions?.node) return "node"
  return "unknown"
}

describe("runtime", () => {
  it("runs on the runtime its runner announces", () => {
    const announced = globalThis.__EFFECT_MANAGER_RUNNER__
    expect(announced).toBeTypeOf("string")
    expect(detectRuntime()).toBe(announced)
  })

  it.effect("it.effect provides a TestClock", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(Effect.sleep("1 minute"))
      expect((yield* Fiber.poll(fiber))._tag).toBe("None")
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.poll(fiber))._tag).toBe("Some")
      // The TestClock starts at 0, so the virtual time is exactly what we advanced.
      expect(yield* Clock.currentTimeMillis).toBe(60_000)
    }))
})
