// Runs the suite under `deno test` (config: deno.json) and fails when no test passed:
// `deno test` itself exits 0 when every test is ignored or filtered away.
//
//   node scripts/test-deno.mjs [deno test args, e.g. paths or --filter x]
import { spawn } from "node:child_process"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { testDatabaseEnv } from "./postgres.mjs"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const deno = join(root, "node_modules/.bin/deno")
// Tests may touch temp dirs, env and child processes; no network. @effect/platform-node's
// FileSystem.exists is node:fs `access`, which Deno gates behind --allow-sys.
// --allow-net: the RPC transports' tests serve and connect on loopback only.
const permissions = [
  "--allow-read",
  "--allow-env",
  "--allow-write",
  "--allow-run",
  "--allow-sys",
  "--allow-net=127.0.0.1,localhost",
]

// The SQL registry's and the cluster's tests need PostgreSQL: a throw-away server for this run.
const database = await testDatabaseEnv()
const started = Date.now()
const child = spawn(deno, ["test", "--quiet", ...permissions, ...process.argv.slice(2)], {
  cwd: root,
  env: database.env,
  stdio: ["inherit", "pipe", "inherit"],
})
let output = ""
child.stdout.on("data", (chunk) => {
  output += chunk
  process.stdout.write(chunk)
})
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
child.on("close", async (status, signal) => {
  await database.stop().catch((error) => console.error(`PostgreSQL: stop failed: ${error}`))
  // Last summary line, e.g. "ok | 2 passed | 0 failed (51ms)" (colours sit outside the match).
  const passed = [...output.matchAll(/\| (\d+) passed \| \d+ failed/g)].at(-1)?.[1]
  let code = status ?? (signal ? 1 : 0)
  if (code === 0 && (passed === undefined || passed === "0")) {
    console.error("deno: no test passed")
    code = 1
  }
  console.error(`deno: finished in ${Date.now() - started} ms`)
  process.exit(code)
})
