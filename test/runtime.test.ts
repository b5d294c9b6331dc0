// Honesty check: every runner (vitest on Node, deno test, bun test, workerd) really runs on the
// runtime it claims, and it.effect really provides the TestClock there.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { detectRuntime } from "./support/runtime.ts"

declare const globalThis: { readonly __EFFECT_MANAGER_RUNNER__?: string }

// What each runtime shows of itself, as far as the detection reads it (versions as examples).
const node = { process: { versions: { node: "20.20.2" } } }
const deno = { Deno: {}, process: { versions: { node: "24.2.0" } } }
const bun = { Bun: {}, process: { versions: { node: "24.3.0", bun: "1.4.5" } } }
const workerd = { navigator: { userAgent: "Cloudflare-Workers" } }

describe("runtime", () => {
  it("runs on the runtime its runner announces", () => {
    const announced = globalThis.__EFFECT_MANAGER_RUNNER__
    expect(announced).toBeTypeOf("string")
    expect(detectRuntime()).toBe(announced)
  })

  it("tells Bun and Deno from Node, though both define process.versions.node", () => {
    expect(detectRuntime(node)).toBe("node")
    expect(detectRuntime(deno)).toBe("deno")
    expect(detectRuntime(bun)).toBe("bun")
    // Either sign of Bun is enough.
    expect(detectRuntime({ Bun: {}, process: node.process })).toBe("bun")
    expect(detectRuntime({ process: bun.process })).toBe("bun")
    expect(detectRuntime(workerd)).toBe("workerd")
    expect(detectRuntime({})).toBe("unknown")
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
