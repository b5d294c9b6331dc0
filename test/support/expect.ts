// `expect` and `assert` for the Deno and workerd adapters, assembled from the same pieces
// vitest uses (chai + @vitest/expect plugins), so matchers behave identically everywhere.
import * as chai from "chai"
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  customMatchers,
  type ExpectStatic,
  getState,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
} from "@vitest/expect"

chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(JestAsymmetricMatchers)

// Mirrors vitest's createExpect() minus snapshots, soft/poll and per-test state.
// The object is assembled dynamically, hence the untyped builder.
// deno-lint-ignore no-explicit-any
const expect: any = (value: unknown, message?: string) => chai.expect(value, message)
Object.assign(expect, chai.expect)
Object.assign(expect, Reflect.get(globalThis, ASYMMETRIC_MATCHERS_OBJECT))
expect.getState = () => getState(expect)
expect.setState = (state: object) => setState(state, expect)
setState({ assertionCalls: 0, isExpectingAssertions: false }, expect)
const chaiExpect = chai.expect as unknown as { extend(expect: unknown, matchers: object): void }
expect.extend = (matchers: object) => chaiExpect.extend(expect, matchers)
expect.unreachable = (message?: string) => {
  chai.assert.fail(`expected${message ? ` "${message}" ` : " "}not to be reached`)
}
expect.extend(customMatchers)
// Matchers added by expect.extend find their state through this global, as in vitest.
Object.defineProperty(globalThis, GLOBAL_EXPECT, {
  value: expect,
  writable: true,
  configurable: true,
})

const typedExpect: ExpectStatic = expect
export { typedExpect as expect }
export const assert: typeof chai.assert = chai.assert
