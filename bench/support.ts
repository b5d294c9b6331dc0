import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

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

declare const console: { error(line: string): void }
declare const TextEncoder: new () => { encode(input: string): Uint8Array }

/** A benchmark's child process, once it has printed "READY". */
export interface Child<Figures> {
  /** Writes a line to its standard input. */
  readonly send: (line: string) => Effect.Effect<void, PlatformError>
  /** The JSON object it prints last, once it prints it; fails if it ends without one. */
  readonly figures: Effect.Effect<Figures, Error>
}

/**
 * Starts `command` as a benchmark's child named `name`: its standard output is read line by line
 * ("READY", then its figures as one JSON object; any other line goes to standard error, named),
 * its standard error is passed through. Returns once it is ready, or fails past `readyWithin`.
 */
export const startChild = <Figures>(
  name: string,
  command: Command.Command,
  readyWithin: Duration.DurationInput,
): Effect.Effect<
  Child<Figures>,
  PlatformError | Cause.TimeoutException,
  CommandExecutor.CommandExecutor | Scope.Scope
> =>
  Effect.gen(function* () {
    const child = yield* Command.start(Command.stderr(command, "inherit"))
    const ready = yield* Deferred.make<void>()
    const result = yield* Deferred.make<Figures, Error>()
    yield* child.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) =>
        line === "READY"
          ? Deferred.succeed(ready, undefined)
          : line.startsWith("{")
          ? Deferred.succeed(result, JSON.parse(line))
          : Effect.sync(() => console.error(`[${name}] ${line}`))
      ),
      Effect.ensuring(Deferred.fail(result, new Error(`${name} ended without its figures`))),
      Effect.forkScoped,
    )
    yield* Deferred.await(ready).pipe(Effect.timeout(readyWithin))
    return {
      send: (line) => Stream.run(Stream.make(new TextEncoder().encode(`${line}\n`)), child.stdin),
      figures: Deferred.await(result),
    }
  })
