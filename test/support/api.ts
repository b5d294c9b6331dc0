// The subset of @effect/vitest our tests use, built over a host-specific `register`
// (Deno.test for Deno, a plain registry for workerd). Only the registration differs.
import { printDiffOrStringify } from "@vitest/utils/diff"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import * as TestContext from "effect/TestContext"
import type * as TestServices from "effect/TestServices"

// Every runtime has timers; the project's lib (ES2022 only) does not declare them.
declare function setTimeout(callback: () => void, ms: number): unknown
declare function clearTimeout(handle: unknown): void

export type Mode = "run" | "skip" | "only"
export type Body = () => unknown
export type Register = (name: string, body: () => Promise<void>, mode: Mode) => void

// As in vitest: a number of ms or { timeout }, default 5 s. Deno and workerd have no test
// timeout of their own, so without this a test waiting on an un-adjusted TestClock would
// hang the whole run instead of failing.
type Timeout = number | { readonly timeout?: number } | undefined
const DEFAULT_TIMEOUT = 5_000
const millis = (timeout: Timeout): number =>
  (typeof timeout === "number" ? timeout : timeout?.timeout) ?? DEFAULT_TIMEOUT

export interface Test {
  (name: string, fn: Body, timeout?: Timeout): void
}
export interface EffectTest<R> {
  <A, E>(name: string, self: () => Effect.Effect<A, E, R>, timeout?: Timeout): void
}
export interface Tester<R> extends EffectTest<R> {
  readonly skip: EffectTest<R>
  readonly only: EffectTest<R>
}
export interface It extends Test {
  readonly skip: Test
  readonly only: Test
  readonly effect: Tester<TestServices.TestServices>
  readonly scoped: Tester<TestServices.TestServices | Scope.Scope>
  readonly live: Tester<never>
  readonly scopedLive: Tester<Scope.Scope>
}
export interface Describe {
  (name: string, fn: () => void): void
  readonly skip: (name: string, fn: () => void) => void
  readonly only: (name: string, fn: () => void) => void
}

// Like @effect/vitest: TestClock & co., and no default logger so Effect.log stays quiet.
const TestEnv = TestContext.TestContext.pipe(
  Layer.provide(Logger.remove(Logger.defaultLogger)),
)

/** Error whose message is the full `Cause.pretty` rendering (all failures, defects, traces). */
export class EffectTestFailure extends Error {
  override readonly name = "EffectTestFailure"
  constructor(cause: Cause.Cause<unknown>) {
    super(Cause.pretty(cause, { renderErrorCause: true }))
    // The JS stack of this wrapper is noise; the pretty cause already holds the useful traces.
    this.stack = `${this.name}: ${this.message}`
  }
}

// chai's AssertionError carries actual/expected; vitest's reporter prints their diff, so the
// other runners append it to the message (and to the stack, which Cause.pretty renders).
const diffed = new WeakSet<Error>()
const addDiff = (error: unknown): void => {
  if (!(error instanceof Error) || !("actual" in error) || !("expected" in error)) return
  if (Reflect.get(error, "showDiff") === false || diffed.has(error)) return
  diffed.add(error)
  const diff = printDiffOrStringify(error.actual, error.expected)
  if (!diff) return
  // Read the stack first: V8 formats it lazily, possibly from the already-changed message.
  const stack = error.stack ?? ""
  const head = `${error.name}: ${error.message}`
  error.message += `\n\n${diff}\n`
  if (stack.startsWith(head)) {
    error.stack = `${error.name}: ${error.message}${stack.slice(head.length)}`
  }
}

// Settles like `body`, or rejects after `ms` (then calls `onTimeout`); the timer is always
// cleared so Deno's op sanitizer sees no leak.
const withTimeout = (ms: number, body: Promise<void>, onTimeout: () => void) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout()
      reject(new Error(`Test timed out in ${ms}ms.`))
    }, ms)
    body.then(resolve, reject).finally(() => clearTimeout(timer))
  })

const runPlain = (fn: Body, ms: number): Promise<void> =>
  withTimeout(
    ms,
    (async () => {
      try {
        await fn()
      } catch (error) {
        addDiff(error)
        throw error
      }
    })(),
    () => {},
  )

export const runEffect = <A, E>(effect: Effect.Effect<A, E>, ms: number): Promise<void> => {
  const fiber = Effect.runFork(effect)
  const result = Effect.runPromise(Fiber.await(fiber)).then((exit) => {
    if (Exit.isSuccess(exit)) return
    if (Cause.isInterruptedOnly(exit.cause)) {
      throw new Error("All fibers interrupted without errors.")
    }
    for (const error of Cause.defects(exit.cause)) addDiff(error)
    for (const error of Cause.failures(exit.cause)) addDiff(error)
    throw new EffectTestFailure(exit.cause)
  })
  // On timeout, interrupt so finalizers run, but report at once (they might hang too).
  return withTimeout(ms, result, () => Effect.runFork(Fiber.interrupt(fiber)))
}

export const makeApi = (register: Register): { describe: Describe; it: It } => {
  const path: Array<string> = []
  // A test is skipped/only if it or any enclosing describe is.
  let inherited: Mode = "run"

  const add = (name: string, body: () => Promise<void>, mode: Mode) =>
    register([...path, name].join(" > "), body, inherited === "run" ? mode : inherited)

  const group = (mode: Mode) => (name: string, fn: () => void) => {
    const saved = inherited
    path.push(name)
    if (mode !== "run") inherited = mode
    try {
      fn()
    } finally {
      path.pop()
      inherited = saved
    }
  }
  const describe: Describe = Object.assign(group("run"), {
    skip: group("skip"),
    only: group("only"),
  })

  const plain = (mode: Mode): Test => (name, fn, timeout) =>
    add(name, () => runPlain(fn, millis(timeout)), mode)

  const tester = <R>(
    provide: <A, E>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E>,
  ): Tester<R> => {
    const make = (mode: Mode): EffectTest<R> => (name, self, timeout) =>
      add(name, () => runEffect(provide(Effect.suspend(self)), millis(timeout)), mode)
    return Object.assign(make("run"), { skip: make("skip"), only: make("only") })
  }

  const it: It = Object.assign(plain("run"), {
    skip: plain("skip"),
    only: plain("only"),
    effect: tester<TestServices.TestServices>((self) => Effect.provide(self, TestEnv)),
    scoped: tester<TestServices.TestServices | Scope.Scope>((self) =>
      Effect.provide(Effect.scoped(self), TestEnv)
    ),
    live: tester<never>((self) => self),
    scopedLive: tester<Scope.Scope>((self) => Effect.scoped(self)),
  })
  return { describe, it }
}
