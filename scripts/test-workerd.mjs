// Runs the test suite inside workerd (the Cloudflare Workers runtime), with no Node
// compatibility flags: bundle test/**/*.test.ts with esbuild, "@effect/vitest" aliased to a
// collecting adapter, and run the worker's test() handler with `workerd test`.
//
//   node scripts/test-workerd.mjs [test-dir]     (default: test)
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const testDir = resolve(root, process.argv[2] ?? "test")
const adapter = join(root, "test/support/workerd-vitest.ts")
const workerd = join(root, "node_modules/.bin/workerd")
// The newest date this workerd build accepts is its own release date.
const compatibilityDate = "2026-11-17"

const files = readdirSync(testDir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".test.ts"))
  .sort()
  .map((f) => join(testDir, f))
if (files.length === 0) {
  console.error(`workerd: no test files in ${relative(root, testDir) || "."}`)
  process.exit(1)
}

// package.json says "sideEffects": false, which would let esbuild drop the test imports
// (they only register tests); mark the test files as having side effects.
const keepTestFiles = {
  name: "keep-test-files",
  setup(build) {
    build.onResolve({ filter: /\.test\.ts$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path),
      sideEffects: true,
    }))
  },
}

// A unique dir per run under the gitignored .tmp/, so parallel runs do not collide.
mkdirSync(join(root, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(root, ".tmp", "workerd-"))
const started = Date.now()
let code = 1
try {
  const entry = [
    ...files.map((f) => `import ${JSON.stringify(f)}`),
    `import { runAll } from ${JSON.stringify(adapter)}`,
    `export default { test: runAll }`,
  ].join("\n")
  await esbuild.build({
    stdin: { contents: entry, resolveDir: root, sourcefile: "workerd-tests.mjs" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    // "neutral" sets no main fields/conditions; pick ESM builds (effect's "import" condition
    // is applied automatically to import statements).
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    alias: { "@effect/vitest": adapter },
    plugins: [keepTestFiles],
    outfile: join(dir, "worker.mjs"),
    // workerd ignores source maps; we apply this one to its output ourselves (see remap).
    sourcemap: "external",
    sourcesContent: false,
    logLevel: "warning",
  })
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "tests", worker = .testWorker)],
);
const testWorker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = "${compatibilityDate}",
);
`,
  )
  const remap = sourceMapper(JSON.parse(readFileSync(join(dir, "worker.mjs.map"), "utf8")), dir)
  code = await run(workerd, ["test", join(dir, "config.capnp")], remap)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
console.error(`workerd: finished in ${Date.now() - started} ms`)
process.exit(code)

// Runs workerd, echoing its output, and double-checks the adapter's summary line: a missing
// summary, any failure or zero passed tests is a failed run even if workerd exits 0.
function run(cmd, args, remap) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] })
    // On Ctrl-C / SIGTERM stop workerd; its exit then runs the temp-dir cleanup below.
    for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
    let output = ""
    // Line-buffered, so a stack location split across two chunks is still remapped.
    const collect = (stream, sink) => {
      let pending = ""
      const emit = (text) => {
        output += text
        sink.write(remap(text))
      }
      stream.on("data", (chunk) => {
        const text = pending + chunk
        const end = text.lastIndexOf("\n") + 1
        pending = text.slice(end)
        emit(text.slice(0, end))
      })
      stream.on("end", () => emit(pending))
    }
    collect(child.stdout, process.stdout)
    collect(child.stderr, process.stderr)
    child.on("error", (error) => {
      console.error(error)
      resolvePromise(1)
    })
    child.on("close", (status) => {
      const summary = /^(?:\S+: )?(\d+) passed, (\d+) failed$/m.exec(output)
      const ok = status === 0 && summary !== null && summary[2] === "0" && summary[1] !== "0"
      if (!ok && status === 0) console.error("workerd: exit 0 but no passing summary line")
      resolvePromise(ok ? 0 : status || 1)
    })
  })
}

// Rewrites "file:///bundle/worker.mjs:L:C" in stack traces to "test/x.test.ts:l:c" using the
// bundle's source map (base64 VLQ "mappings", decoded per the source map v3 spec).
function sourceMapper(map, mapDir) {
  const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  const lines = [] // per generated line: [genCol, source, line, col] segments, sorted by genCol
  let source = 0, line = 0, col = 0
  for (const text of map.mappings.split(";")) {
    const segments = []
    let genCol = 0
    for (const segment of text.split(",").filter(Boolean)) {
      const values = []
      for (let i = 0, value = 0, shift = 0; i < segment.length; i++) {
        const digit = digits.indexOf(segment[i])
        value += (digit & 31) << shift
        shift += 5
        if (!(digit & 32)) {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = shift = 0
        }
      }
      genCol += values[0]
      if (values.length < 4) continue
      source += values[1], line += values[2], col += values[3]
      segments.push([genCol, source, line, col])
    }
    lines.push(segments)
  }
  return (text) =>
    text.replace(/file:\/\/\/bundle\/worker\.mjs:(\d+):(\d+)/g, (match, l, c) => {
      const found = (lines[l - 1] ?? []).findLast(([genCol]) => genCol <= c - 1)
      if (!found) return match
      const file = relative(root, resolve(mapDir, map.sources[found[1]]))
      return `${file}:${found[2] + 1}:${found[3] + 1}`
    })
}
