// What the process tests share: Node's context (processes, files) without a static import, and a
// TypeScript program bundled for Node (which cannot run .ts) with esbuild.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

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
