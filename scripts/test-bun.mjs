// Runs the suite under `bun test` (Bun from npm's `bun` package), with "@effect/vitest" mapped
// to our bun:test adapter (test/support/bun-vitest.ts, preloaded), and fails when a test failed
// or none passed: `bun test` exits 0 when every test is skipped or filtered away.
//
//   node scripts/test-bun.mjs [bun test args, e.g. ./test/x.test.ts or -t name]   (default: ./test)
import { spawn } from "node:child_process"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { stripVTControlCharacters } from "node:util"
import { testDatabaseEnv } from "./postgres.mjs"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const bun = join(root, "node_modules/.bin/bun")
const args = process.argv.slice(2)

// The SQL registry's and the cluster's tests need PostgreSQL: a throw-away server for this run.
const database = await testDatabaseEnv()
const started = Date.now()
const child = spawn(
  bun,
  ["test", "--preload", "./test/support/bun-vitest.ts", ...(args.length > 0 ? args : ["./test"])],
  { cwd: root, env: database.env, stdio: ["inherit", "pipe", "pipe"] },
)
// Bun prints its report on stderr and the tests' own output on stdout: echo both, read both.
let output = ""
const echo = (sink) => (chunk) => {
  output += chunk
  sink.write(chunk)
}
child.stdout.on("data", echo(process.stdout))
child.stderr.on("data", echo(process.stderr))
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
child.on("error", (error) => {
  console.error(error)
  process.exit(1)
})
child.on("close", async (status, signal) => {
  await database.stop().catch((error) => console.error(`PostgreSQL: stop failed: ${error}`))
  // Bun's closing lines: " 12 pass", " 1 skip", " 0 fail", "Ran 13 tests across 2 files." (some
  // omitted when zero; colours stripped before matching).
  const plain = stripVTControlCharacters(output)
  const count = (word) =>
    Number([...plain.matchAll(new RegExp(`^ *(\\d+) ${word}$`, "gm"))].at(-1)?.[1] ?? 0)
  const ran = /^Ran \d+ tests? across \d+ files?\./m.test(plain)
  const passed = count("pass")
  const failed = count("fail") + count("errors?")
  const skipped = count("skip") + count("todo")
  console.log(`bun: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
  let code = status ?? (signal ? 1 : 0)
  const broken = !ran
    ? "no summary"
    : failed > 0
    ? "failures"
    : passed === 0
    ? "no test passed"
    : ""
  if (code === 0 && broken) {
    console.error(`bun: exit 0 but ${broken}`)
    code = 1
  }
  console.error(`bun: finished in ${Date.now() - started} ms`)
  process.exit(code)
})
