// Which runtime the tests run on, from what each runtime really provides (no Node/Deno/Bun/DOM
// types are in scope on purpose).

export type Runtime = "deno" | "bun" | "workerd" | "node" | "unknown"

/** The globals the detection reads; a test passes stand-ins for other runtimes' globals. */
export interface Globals {
  readonly Deno?: unknown
  readonly Bun?: unknown
  readonly navigator?: { readonly userAgent?: string }
  readonly process?: { readonly versions?: { readonly node?: string; readonly bun?: string } }
}

export const detectRuntime = (globals: Globals = globalThis as Globals): Runtime => {
  // Deno and Bun both define Node's `process`, with a `versions.node`: ask for them first.
  if (globals.Deno !== undefined) return "deno"
  if (globals.Bun !== undefined || globals.process?.versions?.bun !== undefined) return "bun"
  if (globals.navigator?.userAgent === "Cloudflare-Workers") return "workerd"
  if (globals.process?.versions?.node !== undefined) return "node"
  return "unknown"
}
