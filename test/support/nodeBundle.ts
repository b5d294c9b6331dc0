// What the process tests share: Node's context (processes, files) without a static import, and a
// TypeScript program bundled for Node (which cannot run .ts) with esbuild.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"

/** The project's root directory (from this file, or from the bundle scripts/run-ts.mjs made). */
export const root: string = decodeURIComponent((import.meta as { readonly url: string }).url)
  .replace(/^file:\/\//, "")
  .replace(/\/(test\/support|\.tmp\/[^/]+)\/[^/]+$/, "")

// Not a static import: workerd's bundle of a test file must not pull in node:child_process.
const nodeContextModule = "@effect/platform-node/NodeContext"

/** Processes, files and paths, from `@effect/platform-node`. */
export const NodeContextLive: Layer.Layer<NodeContext.NodeContext> = Layer.unwrapEffect(
  Effect.map(
    Effect.promise(() => import(nodeContextModule) as Promise<typeof NodeContext>),
    (module) => module.layer,
  ),
)

/**
 * `source` (a path from the project's root) bundled for Node to `outfile`, which must lie inside
 * the project for the bundle to find node_modules.
 */
export const bundleForNode = (
  source: string,
  outfile: string,
): Effect.Effect<string, PlatformError | Error, CommandExecutor.CommandExecutor> =>
  Effect.gen(function* () {
    const code = yield* Command.make(
      `${root}/node_modules/.bin/esbuild`,
      `${root}/${source}`,
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--packages=external",
      "--sourcemap=inline",
      "--log-level=warning",
      `--outfile=${outfile}`,
    ).pipe(Command.stderr("inherit"), Command.exitCode)
    if (code !== 0) return yield* Effect.fail(new Error(`esbuild exited with ${code}`))
    return outfile
  })

/**
 * `source` bundled for Node once per test run, to `.tmp/<directory>/<name>.mjs`: written to a
 * unique name, then renamed, so that concurrent runs never read a half-written file.
 */
export const bundledOnce = (
  source: string,
  directory: string,
  name: string,
): Effect.Effect<
  string,
  PlatformError | Error,
  CommandExecutor.CommandExecutor | FileSystem.FileSystem
> =>
  Effect.runSync(Effect.cached(Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = `${root}/.tmp/${directory}`
    yield* fs.makeDirectory(dir, { recursive: true })
    const temp = `${dir}/${name}-${Date.now()}-${Math.random().toString(36).slice(2)}.mjs`
    yield* bundleForNode(source, temp)
    const file = `${dir}/${name}.mjs`
    yield* fs.rename(temp, file)
    return file
  })))

/** A process started by {@link startCollecting}, and every line it has printed so far. */
export interface Collecting {
  readonly process: CommandExecutor.Process
  /** Its standard output and error, line by line, in the order they came. */
  readonly output: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
  /** The fiber that reads them: done once both streams have ended. */
  readonly reader: Fiber.RuntimeFiber<void, PlatformError>
}

/**
 * Starts `command` and collects what it prints; killed with SIGKILL, if still running, when the
 * scope closes (before `Command.start`'s own finalizer, a SIGTERM and a wait).
 */
export const startCollecting = (
  command: Command.Command,
): Effect.Effect<Collecting, PlatformError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function* () {
    const process = yield* Command.start(command)
    yield* Effect.addFinalizer(() =>
      Effect.ignore(Effect.flatMap(
        process.isRunning,
        (running) => running ? process.kill("SIGKILL") : Effect.void,
      ))
    )
    const output = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
    const lines = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
      stream.pipe(Stream.decodeText(), Stream.splitLines)
    const reader = yield* Stream.merge(lines(process.stdout), lines(process.stderr)).pipe(
      Stream.runForEach((line) => SubscriptionRef.update(output, (all) => [...all, line])),
      Effect.forkScoped,
    )
    return { process, output, reader }
  })
