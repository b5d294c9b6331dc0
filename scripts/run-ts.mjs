// Node 20 cannot run .ts: bundle the entry with esbuild into a temp .mjs and run it with this
// same node (same flags, e.g. --expose-gc), passing args, signals and the exit code through.
//
//   node [node flags] scripts/run-ts.mjs file.ts [args...]
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const [entry, ...args] = process.argv.slice(2)
if (!entry) {
  console.error("usage: node scripts/run-ts.mjs file.ts [args...]")
  process.exit(2)
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
// Inside the repo (gitignored) so the bundle's bare imports resolve from node_modules.
mkdirSync(join(root, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(root, ".tmp", "run-ts-"))
const outfile = join(dir, "main.mjs")
const cleanup = () => rmSync(dir, { recursive: true, force: true })

try {
  await esbuild.build({
    entryPoints: [resolve(entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    sourcemap: "inline",
    logLevel: "warning",
  })
} catch {
  cleanup()
  process.exit(1)
}

const child = spawn(
  process.execPath,
  [...process.execArgv, "--enable-source-maps", outfile, ...args],
  // Its own process group: a terminal's Ctrl-C (sent to the whole foreground group) then
  // reaches the child once, through us, not twice (a second SIGINT means "exit now" to runMain).
  { stdio: "inherit", detached: true },
)
// Let the child decide how to shut down (e.g. run finalizers), then mirror its exit.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => {
  cleanup()
  if (signal) {
    // Die of the same signal: drop our forwarding handler so the default action applies.
    process.removeAllListeners(signal)
    process.kill(process.pid, signal)
  } else process.exit(code ?? 1)
})
