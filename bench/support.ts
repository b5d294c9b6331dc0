/**
 * What every benchmark shares: the Node globals it uses (the project's lib, ES2022 without
 * Node types, does not declare them), explicit garbage collection and numeric flags.
 */

interface NodeProcess {
  readonly argv: ReadonlyArray<string>
  cpuUsage(): { readonly user: number; readonly system: number }
  readonly memoryUsage: { rss(): number }
  exitCode: number | undefined
}
declare const process: NodeProcess

/** The part of Node's `process` the benchmarks use. */
export const nodeProcess: NodeProcess = process

declare const gc: (() => void) | undefined

/** A full GC; present with `node --expose-gc`, which the `bench:*` scripts pass. */
export const collectGarbage = (): void => {
  if (typeof gc !== "function") throw new Error("run with node --expose-gc (npm run bench:* does)")
  gc()
}

const args = process.argv.slice(2)

/** `--name N` from the command line, a positive number, or `fallback`. */
export const numberFlag = (name: string, fallback: number): number => {
  const at = args.indexOf(name)
  if (at < 0) return fallback
  const value = Number(args[at + 1])
  if (!(value > 0)) throw new Error(`${name} needs a positive number, got ${args[at + 1]}`)
  return value
}

/** `--name value` from the command line, or `undefined` when the flag is absent. */
export const stringFlag = (name: string): string | undefined => {
  const at = args.indexOf(name)
  if (at < 0) return undefined
  const value = args[at + 1]
  if (value === undefined || value.startsWith("--")) throw new Error(`${name} needs a value`)
  return value
}

/** `--name` present on the command line. */
export const booleanFlag = (name: string): boolean => args.includes(name)
