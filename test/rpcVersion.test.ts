// oslo.messaging's version rules (section R of the oslo-semantics reference), as pure functions.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import {
  canSendVersion,
  compatible,
  dispatch,
  type Endpoint,
  formatVersion,
  InvalidVersion,
  parseVersion,
  type Version,
} from "../src/internal/rpcVersion.ts"

const v = (text: string): Version => Either.getOrThrow(parseVersion(text))

/** An endpoint whose methods are the names given; a method is its own name. */
const endpoint = (
  namespace: string | undefined,
  version: string,
  ...methods: ReadonlyArray<string>
): Endpoint<string> => ({
  namespace,
  version: v(version),
  method: (name) => (methods.includes(name) ? `${namespace ?? "manager"}.${name}` : undefined),
})

describe("versions", () => {
  it("are major.minor or major.minor.revision, a missing revision being 0", () => {
    expect(v("6.1")).toEqual({ major: 6, minor: 1, revision: 0 })
    expect(v("4.10.2")).toEqual({ major: 4, minor: 10, revision: 2 })
    expect(v("0.0")).toEqual({ major: 0, minor: 0, revision: 0 })
    expect(["6.1", "4.10.2", "1.0.0"].map((text) => formatVersion(v(text))))
      .toEqual(["6.1", "4.10.2", "1.0"])
  })

  it("anything else is an InvalidVersion that shows the value", () => {
    const bad: ReadonlyArray<unknown> = [
      "1",
      "1.x",
      "-1.0",
      "01.0",
      "1.01",
      " 1.0",
      "1.0.0.0",
      "1..0",
      "",
      "1.99999999999999999999",
      1.0,
      null,
      Number.NaN,
    ]
    const values = bad.map((value) => {
      const result = parseVersion(value)
      expect(Either.isLeft(result) && result.left instanceof InvalidVersion).toBe(true)
      return Either.isLeft(result) ? result.left.value : undefined
    })
    expect(values).toEqual([
      `"1"`,
      `"1.x"`,
      `"-1.0"`,
      `"01.0"`,
      `"1.01"`,
      `" 1.0"`,
      `"1.0.0.0"`,
      `"1..0"`,
      `""`,
      `"1.99999999999999999999"`,
      "1",
      "null",
      "NaN",
    ])
    const error = Either.getLeft(parseVersion("1.x"))
    expect(error._tag === "Some" && error.value.message).toBe(
      `A version must be "major.minor" or "major.minor.revision" in whole numbers (e.g. "1.0", "6.1", "4.10.2"), got "1.x"`,
    )
  })
})

describe("R1: a server implementing X accepts a request for Y", () => {
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ["6.1", "6.1", true],
    ["6.1", "6.0", true],
    ["6.1", "6.2", false],
    ["6.1", "5.0", false],
    ["6.1", "7.0", false],
    ["4.10", "4.9", true],
    ["4.9", "4.10", false],
    ["1.2.3", "1.2.3", true],
    ["1.2.3", "1.2.4", false],
    ["1.2.3", "1.1.9", true],
    ["1.2", "1.2.1", false],
    ["1.2.1", "1.2", true],
  ]
  for (const [implemented, requested, accepted] of cases) {
    it(`implemented ${implemented}, requested ${requested}: ${accepted}`, () => {
      expect(compatible(v(implemented), v(requested))).toBe(accepted)
    })
  }

  it("an endpoint without a version accepts anything; a request without one is refused", () => {
    expect(compatible(undefined, v("9.9"))).toBe(true)
    expect(compatible(undefined, undefined)).toBe(true)
    expect(compatible(v("1.0"), undefined)).toBe(false)
  })
})

describe("R2–R3: dispatching a request to a service's endpoints", () => {
  // nova's compute service: the manager (6.1), BaseRPCAPI (baseapi 1.1), and an additional one.
  const endpoints = [
    endpoint(undefined, "6.1", "build_and_run_instance", "_private", "ping"),
    endpoint("baseapi", "1.1", "ping", "get_backdoor_port"),
    endpoint(undefined, "6.2", "shelve_instance"),
  ]
  const request = (method: string, version?: string, namespace?: string) =>
    dispatch(endpoints, {
      method,
      namespace,
      version: version === undefined ? undefined : v(version),
    })

  it("goes to the first endpoint that matches namespace and version and has the method", () => {
    expect(Either.map(request("build_and_run_instance", "6.0"), (d) => d.method))
      .toEqual(Either.right("manager.build_and_run_instance"))
    expect(Either.map(request("ping", "1.1", "baseapi"), (d) => d.method))
      .toEqual(Either.right("baseapi.ping"))
    // The manager's endpoint matched 6.1 but has no shelve: the additional 6.2 one serves it.
    expect(Either.map(request("shelve_instance", "6.1"), (d) => d.method))
      .toEqual(Either.right("manager.shelve_instance"))
  })

  it("a matched version without the method is NoSuchMethod; no match is UnsupportedVersion", () => {
    expect(request("resize", "6.0")).toEqual(Either.left({
      _tag: "NoSuchMethod",
      method: "resize",
      namespace: undefined,
      requested: v("6.0"),
    }))
    expect(request("build_and_run_instance", "7.0")).toEqual(Either.left({
      _tag: "UnsupportedVersion",
      method: "build_and_run_instance",
      namespace: undefined,
      requested: v("7.0"),
      served: [v("6.1"), v("6.2")],
    }))
    // Namespace mismatch counts as no match.
    expect(Either.getLeft(request("ping", "1.0", "conductor"))).toMatchObject({
      value: { _tag: "UnsupportedVersion", served: [] },
    })
  })

  it("a name that begins with _ is never callable", () => {
    expect(Either.getLeft(request("_private", "6.1"))).toMatchObject({
      value: { _tag: "NoSuchMethod", method: "_private" },
    })
  })

  it("a request without a version asks for 1.0: a 1.x endpoint without the method makes it NoSuchMethod", () => {
    const old = [endpoint(undefined, "1.3", "ping")]
    expect(dispatch(old, { method: "ping" })).toMatchObject(
      Either.right({ method: "manager.ping" }),
    )
    expect(Either.getLeft(dispatch(old, { method: "resize" }))).toMatchObject({
      value: { _tag: "NoSuchMethod", requested: v("1.0") },
    })
    expect(Either.getLeft(request("build_and_run_instance"))).toMatchObject({
      value: { _tag: "UnsupportedVersion", requested: v("1.0") },
    })
  })
})

describe("R5: a client's version cap", () => {
  it("lets a request through iff the cap accepts its version; no cap lets everything through", () => {
    expect(canSendVersion(v("6.0"), v("6.0"))).toBe(true)
    expect(canSendVersion(v("6.0"), v("5.12"))).toBe(false)
    expect(canSendVersion(v("6.0"), v("6.1"))).toBe(false)
    expect(canSendVersion(v("6.2"), v("6.1"))).toBe(true)
    expect(canSendVersion(undefined, v("99.0"))).toBe(true)
  })
})
