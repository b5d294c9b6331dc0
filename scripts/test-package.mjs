// Tests the package as npm would publish it, from the outside: `npm pack` (its prepack builds
// dist/ afresh), install the tarball into a temporary consumer project (in the OS temp dir,
// removed at the end), then check what a user gets:
//   - the files shipped, every "exports" target and the top-level "types";
//   - exactly one copy of `effect` (`npm ls effect`) and satisfied peer dependencies;
//   - every subpath export imports from plain Node ESM, from Deno (npm's node_modules, nothing
//     downloaded) and from Bun when node_modules/.bin/bun (or a `bun` on PATH) exists, and a
//     small periodic task runs on the consumer's own `effect`;
//   - a small consumer type-checks with strict `tsc`, once with NodeNext and once with bundler
//     module resolution, against the shipped .d.ts (skipLibCheck off).
// One line per check; exit 1 on any failure.
//
//   node scripts/test-package.mjs [--keep]     (--keep: leave the temp dir for inspection)
import { spawn } from "node:child_process"
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => join(root, "node_modules/.bin", name)
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const keep = process.argv.includes("--keep")
const started = Date.now()
const work = mkdtempSync(join(tmpdir(), "effect-manager-package-"))
const consumer = join(work, "consumer")
const installed = join(consumer, "node_modules", manifest.name)
// What the tarball may hold besides package.json: dist/ and the sources its maps point at.
const shippable = /^(dist\/.+|src\/.+\.ts|mod\.ts|README\.md|LICENSE)$/

const children = new Set()
const cleanup = () => {
  if (keep) console.log(`package: kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of children) child.kill("SIGKILL")
    console.error(`package: stopped by ${signal}`)
    cleanup()
    process.exit(1)
  })
}

// The parent `npm run` exports its own project's prefix and package fields; the consumer's npm
// must find its own project instead.
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) =>
    !/^(npm_config_local_prefix|npm_package_|npm_lifecycle_|INIT_CWD$)/i.test(key)
  ),
)

/** Runs a command, collecting its output; never throws. */
const run = (command, args, { cwd = consumer, timeoutMs = 120_000 } = {}) =>
  new Promise((done) => {
    const child = spawn(command, args, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] })
    children.add(child)
    let output = ""
    child.stdout.on("data", (chunk) => output += chunk)
    child.stderr.on("data", (chunk) => output += chunk)
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("error", (error) => output += `\n${error.message}`)
    child.on("close", (status) => {
      children.delete(child)
      clearTimeout(timer)
      done({ status, output })
    })
  })

const failures = []
/** Runs one check: `body` returns a short detail, or throws with the reason. */
const check = async (name, body) => {
  const t0 = Date.now()
  try {
    const detail = await body()
    console.log(`ok   ${name}${detail ? `: ${detail}` : ""} (${Date.now() - t0} ms)`)
    return true
  } catch (error) {
    failures.push(name)
    console.log(`FAIL ${name}: ${error.message}`)
    return false
  }
}
const succeed = async (command, args, options) => {
  const result = await run(command, args, options)
  if (result.status !== 0) {
    throw new Error(`${[command, ...args].join(" ")} exited ${result.status}\n${result.output}`)
  }
  return result.output
}

/** The package's subpath exports as specifiers ("effect-manager", "effect-manager/Manager", …). */
const specifiers = Object.keys(manifest.exports)
  .filter((key) => key !== "./package.json")
  .map((key) => key === "." ? manifest.name : `${manifest.name}/${key.slice(2)}`)

const filesUnder = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .map((file) => file.split("\\").join("/"))

// --- the consumer's files ------------------------------------------------------------------

// Run by Node, Deno and Bun: import every subpath, check the root re-exports the same module
// instances, that internals stay private, and run a task on the consumer's `effect`.
const importsScript = `
import { createRequire } from "node:module"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

const require = createRequire(import.meta.url)
const result = { modules: {}, errors: [] }
const specifiers = ${JSON.stringify(specifiers)}
for (const specifier of specifiers) {
  try {
    const module = await import(specifier)
    result.modules[specifier] = Object.keys(module).length
    if (Object.keys(module).length === 0) result.errors.push(specifier + ": no exports")
  } catch (error) {
    result.errors.push(specifier + ": " + error)
  }
}
try {
  const name = require(${JSON.stringify(`${manifest.name}/package.json`)}).name
  if (name !== ${JSON.stringify(manifest.name)}) result.errors.push("package.json: name " + name)
} catch (error) {
  result.errors.push("package.json: " + error)
}
try {
  await import(${JSON.stringify(`${manifest.name}/dist/src/internal/options.js`)})
  result.errors.push("an internal module is importable")
} catch {
  // expected: not in "exports"
}
try {
  const root = await import(${JSON.stringify(manifest.name)})
  const PeriodicTask = await import(${JSON.stringify(`${manifest.name}/PeriodicTask`)})
  const PeriodicRunner = await import(${JSON.stringify(`${manifest.name}/PeriodicRunner`)})
  if (root.PeriodicTask !== PeriodicTask) result.errors.push("the root and ./PeriodicTask differ")
  // The task itself reports its run: runner.outcomes only has occurrences after subscribing.
  result.ran = await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
    const ran = yield* Deferred.make()
    const task = PeriodicTask.spaced("hello", "1 hour", Deferred.succeed(ran, "hello ran"), {
      runImmediately: true,
    })
    yield* PeriodicRunner.make([task])
    return yield* Deferred.await(ran)
  })))
} catch (error) {
  result.errors.push("running a task: " + error)
}
console.log("RESULT " + JSON.stringify(result))
`

// Type-checked, never run. The @ts-expect-error lines fail the check if the package's types
// degrade to \`any\` or an internal path becomes importable.
const consumerSource = `
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Manager, PeriodicRunner, PeriodicTask, Service, ServiceRegistry } from "effect-manager"
import { runMain } from "effect-manager/platform/node"
${specifiers.map((specifier, i) => `import * as module${i} from "${specifier}"`).join("\n")}

export const modules = [${specifiers.map((_, i) => `module${i}`).join(", ")}]

const heal = PeriodicTask.spaced("heal_instance_info_cache", "60 seconds", Effect.log("healing"), {
  runImmediately: true,
})
export const program: Effect.Effect<void> = Effect.gen(function* () {
  const runner = yield* PeriodicRunner.make([heal])
  yield* runner.outcomes.pipe(Stream.take(3), Stream.runForEach(Effect.log))
}).pipe(Effect.scoped, Effect.orDie)

class Compute extends Context.Tag("Compute")<Compute, { readonly ping: Effect.Effect<string> }>() {}
const ComputeManager = Manager.layer(
  Compute,
  Effect.succeed({ service: { ping: Effect.succeed("pong") }, cleanup: () => Effect.log("bye") }),
)
export const main = () =>
  runMain(
    Service.layer({ host: "compute-1", topic: "compute" }, ComputeManager).pipe(
      Layer.provide(ServiceRegistry.layerMemory),
    ),
  )

// @ts-expect-error a task is not a number: the shipped types are real, not any
export const notANumber: number = heal
// @ts-expect-error internal modules are not exported
export const internal = import("effect-manager/dist/src/internal/options.js")
`

// msgpackr, which @effect/rpc serializes with, names Node's Buffer and "stream" in its
// declarations, so with skipLibCheck off an RPC user needs Node's types (@types/node, or Deno's
// or Bun's). This stands in for them here (no network); the core check below has none.
const nodeTypesShim = `declare class Buffer extends Uint8Array {}
declare module "stream" {
  export class Transform {}
  export class Readable {}
}
`

// Only the modules that do not use @effect/rpc (@effect/cluster is built on it): they type-check
// with no Node types at all.
const coreSpecifiers = specifiers.filter((specifier) =>
  !/\/(Remote|Cluster|platform\/(node|nodeCluster|deno|bun))$/.test(specifier)
)
const coreConsumerSource = `
${coreSpecifiers.map((specifier, i) => `import * as module${i} from "${specifier}"`).join("\n")}
export const modules = [${coreSpecifiers.map((_, i) => `module${i}`).join(", ")}]
`

const tsconfig = (module, moduleResolution, files = ["consumer.ts", "node-types-shim.d.ts"]) =>
  JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      // effect's own .d.ts name web globals (URL, AbortSignal, ReadableStream).
      lib: ["ES2022", "DOM"],
      types: [],
      module,
      moduleResolution,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    },
    files,
  })

// --- the checks ----------------------------------------------------------------------------

const importCheck = (runtime, command, args) =>
  check(`${runtime}: import every subpath export and run a task`, async () => {
    const output = await succeed(command, [...args, "imports.mjs"], { timeoutMs: 60_000 })
    const line = output.split("\n").find((l) => l.startsWith("RESULT "))
    if (line === undefined) throw new Error(`no result\n${output}`)
    const result = JSON.parse(line.slice("RESULT ".length))
    if (result.errors.length > 0) throw new Error(result.errors.join("\n  "))
    return `${Object.keys(result.modules).length} specifiers, task ${result.ran}`
  })

const findBun = () => {
  if (existsSync(bin("bun"))) return bin("bun")
  return (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "bun")).find(existsSync)
}

const main = async () => {
  let tarball
  const packed = await check("npm pack (prepack builds dist/)", async () => {
    await succeed("npm", ["pack", "--pack-destination", work], { cwd: root, timeoutMs: 180_000 })
    const name = readdirSync(work).find((file) => file.endsWith(".tgz"))
    if (name === undefined) throw new Error("no tarball")
    tarball = join(work, name)
    return name
  })
  if (!packed) return

  mkdirSync(consumer)
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2),
  )
  // The peers at the versions this repo tests with; --prefer-offline uses npm's cache first.
  const peers = Object.keys(manifest.peerDependencies)
    .map((peer) => `${peer}@${manifest.devDependencies[peer]}`)
  const installedOk = await check("npm install the tarball into a consumer", async () => {
    await succeed("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--prefer-offline",
      "--loglevel=error",
      tarball,
      ...peers,
    ])
    return peers.join(", ")
  })
  if (!installedOk) return

  await check("tarball contents", () => {
    const files = filesUnder(installed)
    const unexpected = files.filter((file) => file !== "package.json" && !shippable.test(file))
    if (unexpected.length > 0) throw new Error(`unexpected files: ${unexpected.join(", ")}`)
    const shipped = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"))
    const targets = [
      shipped.types,
      ...Object.values(shipped.exports).flatMap((target) =>
        typeof target === "string" ? [target] : Object.values(target)
      ),
    ]
    const missing = targets.filter((target) => !existsSync(join(installed, target)))
    for (const file of ["README.md", "LICENSE"]) if (!files.includes(file)) missing.push(file)
    if (missing.length > 0) throw new Error(`missing: ${missing.join(", ")}`)
    // A source map must carry its sources or point at shipped files (bundlers warn otherwise).
    const maps = files.filter((file) => file.endsWith(".map"))
    const dangling = maps.flatMap((map) => {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed, map), "utf8"))
      return sources.filter((source, i) =>
        sourcesContent?.[i] == null && !existsSync(join(installed, dirname(map), source))
      ).map((source) => `${map} -> ${source}`)
    })
    if (dangling.length > 0) {
      throw new Error(
        `${dangling.length} source map sources are not shipped (ship them in "files", or inline ` +
          `them): ${dangling.slice(0, 3).join(", ")}, …`,
      )
    }
    return `${files.length} files, ${targets.length} export targets, ${maps.length} maps resolve`
  })

  await check("one copy of effect (npm ls effect)", async () => {
    const output = await succeed("npm", ["ls", "effect", "--all", "--parseable"])
    const copies = [...new Set(output.split("\n").filter((line) => line.trim() !== ""))]
      .filter((path) => path !== consumer)
    if (copies.length !== 1) throw new Error(`${copies.length} copies:\n${copies.join("\n")}`)
    const { version } = JSON.parse(readFileSync(join(copies[0], "package.json"), "utf8"))
    return `effect@${version}`
  })

  writeFileSync(join(consumer, "imports.mjs"), importsScript)
  writeFileSync(join(consumer, "consumer.ts"), consumerSource)
  writeFileSync(join(consumer, "tsconfig.nodenext.json"), tsconfig("NodeNext", "NodeNext"))
  writeFileSync(join(consumer, "tsconfig.bundler.json"), tsconfig("ESNext", "bundler"))
  writeFileSync(join(consumer, "node-types-shim.d.ts"), nodeTypesShim)
  writeFileSync(join(consumer, "core-consumer.ts"), coreConsumerSource)
  writeFileSync(
    join(consumer, "tsconfig.core.json"),
    tsconfig("NodeNext", "NodeNext", ["core-consumer.ts"]),
  )

  await importCheck("node", process.execPath, [])
  await importCheck("deno", bin("deno"), [
    "run",
    "--quiet",
    "--node-modules-dir=manual",
    "--cached-only",
    `--allow-read=${consumer}`,
    "--allow-env",
  ])
  const bun = findBun()
  if (bun === undefined) {
    console.log("skip bun: no node_modules/.bin/bun and no bun on PATH")
  } else {
    await importCheck("bun", bun, [])
  }

  // Both at once (tsc is mostly single-threaded); each line prints as its check ends.
  await Promise.all([
    ...["nodenext", "bundler"].map((variant) =>
      check(`tsc --strict, ${variant} resolution`, async () => {
        await succeed(process.execPath, [bin("tsc"), "-p", `tsconfig.${variant}.json`])
        return `${specifiers.length} subpaths, skipLibCheck off (Node's Buffer shimmed for msgpackr)`
      })
    ),
    check("tsc --strict, the modules without @effect/rpc and no Node types at all", async () => {
      await succeed(process.execPath, [bin("tsc"), "-p", "tsconfig.core.json"])
      return `${coreSpecifiers.length} subpaths, skipLibCheck off`
    }),
  ])
}

try {
  await main()
} catch (error) {
  failures.push("unexpected")
  console.log(`FAIL unexpected: ${error.stack}`)
} finally {
  cleanup()
}
const seconds = ((Date.now() - started) / 1000).toFixed(1)
if (failures.length > 0) {
  console.error(`package: ${failures.length} check(s) failed in ${seconds} s`)
  process.exit(1)
}
console.log(`package: all checks passed in ${seconds} s`)
