// Size at the edge: the minified + gzipped size of three bundles, built from src/ with esbuild
// (ESM, tree-shaken, minified) and gzipped with node:zlib (level 9):
//
//   core       mod.ts, every module (platform neutral)
//   worker     a Cloudflare-style Worker whose `scheduled` handler is
//              `Workers.scheduledHandler` from effect-manager/platform/workers (platform browser)
//   periodic   PeriodicTask and PeriodicRunner alone (platform neutral)
//
// Then, per bundle, how much of it comes from effect's Schema (Schema, ParseResult, SchemaAST
// and internal/schema/*): the minified bytes of those inputs (esbuild's metafile), the gzipped
// bytes saved when they are left out of the bundle (marked external), and the modules of the
// bundle that import it (what would have to change to leave it out). The last line is JSON.
//
//   node scripts/size.mjs          (npm run size)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import * as esbuild from "esbuild"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const targets = { core: 60 * 1024, worker: 70 * 1024 }

// `effect-manager` and its subpaths point at the sources (the package's exports point at dist/).
const sources = {
  name: "effect-manager-sources",
  setup(build) {
    build.onResolve({ filter: /^effect-manager(\/.*)?$/ }, ({ path }) => ({
      path: path === "effect-manager"
        ? join(root, "mod.ts")
        : join(root, "src", `${path.slice("effect-manager/".length)}.ts`),
    }))
  },
}

// effect's Schema and the files only it uses.
const isSchemaFile = (file) =>
  /node_modules\/effect\/dist\/esm\/(Schema|ParseResult|SchemaAST)\.js$/.test(file) ||
  /node_modules\/effect\/dist\/esm\/internal\/schema\//.test(file)

// What a bundle's inputs are, coarsely: this package, effect's Schema, the rest of effect, …
const groupOf = (file) =>
  isSchemaFile(file)
    ? "effect/Schema"
    : /node_modules\/effect\/dist\/esm\/(Stream|Channel|Sink|internal\/(stream|channel|sink))/.test(
        file,
      )
    ? "effect Stream/Channel/Sink"
    : /node_modules\/effect\//.test(file)
    ? "effect (the rest)"
    : /node_modules\/(@[^/]+\/[^/]+|[^/]+)\//.test(file)
    ? file.match(/node_modules\/(@[^/]+\/[^/]+|[^/]+)\//)[1]
    : "effect-manager (src/)"

// Leaves effect's Schema out of the bundle, to measure what it adds after gzip.
const withoutSchema = {
  name: "without-schema",
  setup(build) {
    build.onResolve(
      { filter: /(Schema|ParseResult|SchemaAST)(\.js)?$|internal\/schema\// },
      (args) => {
        if (args.pluginData === "without-schema") return undefined
        return build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: "without-schema",
        }).then((resolved) =>
          resolved.errors.length === 0 && isSchemaFile(resolved.path)
            ? { path: args.path, external: true }
            : resolved
        )
      },
    )
  },
}

mkdirSync(join(root, ".tmp"), { recursive: true })
const dir = mkdtempSync(join(root, ".tmp", "size-"))

// A Worker module as a user would write it: one task, state in a KV namespace, modules imported by
// subpath (as README's Edge runtimes example): esbuild bundles a namespace imported by name from the
// root (`import { PeriodicTask } from "effect-manager"`) whole, cron parser included
// (evanw/esbuild#1420), and only the members used of one imported with `import * as`.
const workerEntry = join(dir, "worker.ts")
writeFileSync(
  workerEntry,
  `import * as Effect from "effect/Effect"
import * as PeriodicTask from "effect-manager/PeriodicTask"
import * as Workers from "effect-manager/platform/workers"

interface Env {
  readonly PERIODIC: Workers.KvNamespace
}

export default Workers.scheduledHandler(
  [PeriodicTask.fixed("purge_expired", "1 hour", Effect.log("purging"))],
  { store: (env: Env) => Workers.layerKv(env.PERIODIC) },
)
`,
)
// For reference, what effect itself costs: a program that logs, one that drains a scheduled
// Stream (the runner's outcomes are a Stream), and one that reads a @effect/platform KeyValueStore
// (its `make` and `PlatformError` bring effect/Schema: a Worker pays for it only through
// `Workers.layerKeyValueStore`; `Workers.layerKv` is a store of our own).
const floors = [
  [
    "Effect.runPromise(Effect.log(…))",
    `import * as Effect from "effect/Effect"
export default () => Effect.runPromise(Effect.log("x"))
`,
  ],
  [
    "the same draining a scheduled Stream",
    `import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
export default () =>
  Effect.runPromise(Stream.runDrain(Stream.take(Stream.fromSchedule(Schedule.spaced(1)), 2)))
`,
  ],
  [
    "the same reading a KeyValueStore",
    `import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Effect from "effect/Effect"
export default () =>
  Effect.runPromise(
    Effect.flatMap(KeyValueStore.KeyValueStore, (store) => store.get("x")).pipe(
      Effect.provide(KeyValueStore.layerMemory),
    ),
  )
`,
  ],
].map(([what, source], i) => {
  const entry = join(dir, `floor-${i}.ts`)
  writeFileSync(entry, source)
  return { name: `floor-${i}`, what, entry, platform: "neutral" }
})
const periodicEntry = join(dir, "periodic.ts")
writeFileSync(
  periodicEntry,
  `export * as PeriodicTask from "effect-manager/PeriodicTask"
export * as PeriodicRunner from "effect-manager/PeriodicRunner"
`,
)

const bundles = [
  { name: "core", what: "mod.ts (everything)", entry: join(root, "mod.ts"), platform: "neutral" },
  {
    name: "worker",
    what: "scheduled Worker (platform/workers)",
    entry: workerEntry,
    platform: "browser",
  },
  {
    name: "periodic",
    what: "PeriodicTask + PeriodicRunner",
    entry: periodicEntry,
    platform: "neutral",
  },
]

const build = async (bundle, plugins) => {
  const result = await esbuild.build({
    entryPoints: [bundle.entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: "esm",
    platform: bundle.platform,
    target: "es2022",
    // "neutral" sets no main fields or conditions: pick the ESM builds, as a Worker bundler does.
    mainFields: bundle.platform === "neutral" ? ["module", "main"] : ["browser", "module", "main"],
    conditions: ["workerd", "worker", "import"],
    treeShaking: true,
    minify: true,
    legalComments: "none",
    metafile: true,
    plugins: [sources, ...plugins],
    logLevel: "warning",
  })
  const code = result.outputFiles[0].contents
  const [output] = Object.values(result.metafile.outputs)
  return {
    minified: code.length,
    gzipped: gzipSync(code, { level: 9 }).length,
    output,
    inputs: result.metafile.inputs,
  }
}

const kb = (bytes) => Math.round(bytes / 102.4) / 10
const percent = (part, whole) => `${(100 * part / whole).toFixed(1)} %`
const results = {}
try {
  for (const bundle of bundles) {
    const full = await build(bundle, [])
    const bare = await build(bundle, [withoutSchema])
    const inputs = Object.entries(full.output.inputs).map(([file, { bytesInOutput }]) => ({
      file,
      bytes: bytesInOutput,
    }))
    const schemaMinified = inputs.filter((i) => isSchemaFile(i.file))
      .reduce((sum, i) => sum + i.bytes, 0)
    const left = Object.keys(bare.output.inputs).filter(isSchemaFile)
    if (left.length > 0) throw new Error(`${bundle.name} without Schema still has ${left}`)
    // The bundle's own modules (not Schema's) that import Schema: where it comes in.
    const schemaFrom = Object.entries(full.inputs)
      .filter(([file, { imports }]) =>
        !isSchemaFile(file) && file in full.output.inputs &&
        imports.some((i) => isSchemaFile(i.path))
      )
      .map(([file]) => relative(root, resolve(root, file)).replace(/^.*node_modules\//, ""))
      .sort()
    const groups = {}
    for (const { file, bytes } of inputs) {
      groups[groupOf(file)] = (groups[groupOf(file)] ?? 0) + bytes
    }
    results[bundle.name] = {
      ...bundle,
      minified: full.minified,
      gzipped: full.gzipped,
      schemaMinified,
      schemaGzipped: full.gzipped - bare.gzipped,
      schemaFrom,
      groups: Object.entries(groups).sort((a, b) => b[1] - a[1]),
      top: inputs.sort((a, b) => b.bytes - a.bytes).slice(0, 8),
    }
  }
  for (const floor of floors) Object.assign(floor, await build(floor, []))
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const row = (cells, widths) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ")
const widths = [9, 36, 9, 9, 16, 13]
console.log(row(["bundle", "entry", "minified", "gzipped", "target", "effect/Schema"], widths))
for (const r of Object.values(results)) {
  const target = targets[r.name]
  console.log(row([
    r.name,
    r.what,
    `${kb(r.minified)} KB`,
    `${kb(r.gzipped)} KB`,
    target === undefined ? "-" : `≤ ${kb(target)} KB ${r.gzipped <= target ? "met" : "NOT met"}`,
    `${percent(r.schemaMinified, r.minified)} min`,
  ], widths))
}

console.log("\nWhere the bytes are (minified bytes per input, esbuild's metafile):")
for (const r of Object.values(results)) {
  console.log(
    `  ${r.name}: effect/Schema (Schema, ParseResult, SchemaAST, internal/schema) is ` +
      `${kb(r.schemaMinified)} KB of ${kb(r.minified)} KB minified ` +
      `(${percent(r.schemaMinified, r.minified)}); left out, the bundle is ${
        kb(r.schemaGzipped)
      } KB ` +
      `smaller gzipped (${percent(r.schemaGzipped, r.gzipped)}, Schema and what only it uses)`,
  )
  if (r.schemaFrom.length > 0) console.log(`    Schema is imported by: ${r.schemaFrom.join(", ")}`)
  const groups = r.groups.map(([group, bytes]) => `${group} ${kb(bytes)} KB`)
  console.log(`    by origin: ${groups.join(", ")}`)
  console.log("    largest inputs:")
  for (const { file, bytes } of r.top) {
    console.log(`      ${`${kb(bytes)} KB`.padStart(9)}  ${relative(root, resolve(root, file))}`)
  }
}

console.log("\nFor reference, effect (and @effect/platform) alone, bundled the same way:")
for (const f of floors) {
  console.log(`  ${f.what}: ${kb(f.minified)} KB minified, ${kb(f.gzipped)} KB gzipped`)
}

const json = {}
for (const r of Object.values(results)) {
  json[r.name] = {
    minifiedBytes: r.minified,
    gzippedBytes: r.gzipped,
    gzippedKb: kb(r.gzipped),
    ...(targets[r.name] === undefined ? {} : { targetKb: kb(targets[r.name]) }),
    schemaMinifiedBytes: r.schemaMinified,
    schemaShareOfMinified: Math.round(1000 * r.schemaMinified / r.minified) / 1000,
    schemaGzippedBytes: r.schemaGzipped,
    schemaFrom: r.schemaFrom,
  }
}
console.log(JSON.stringify(json))
