// Type-checks every ```ts block of README.md with the project's strict tsconfig, so the guide
// cannot drift from the API. Imports of "effect-manager" (and its subpaths) are pointed at the
// sources. Each block is its own module; a block may open with `// @check-skip` to opt out.
//
//   node scripts/check-readme.mjs
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, ".tmp", "readme-check")
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })

const readme = readFileSync(join(root, "README.md"), "utf8")
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
  .map((match) => ({ code: match[1], line: readme.slice(0, match.index).split("\n").length }))
  .filter((block) => !block.code.startsWith("// @check-skip"))
if (blocks.length === 0) {
  console.error("check-readme: README.md has no ```ts block")
  process.exit(1)
}

const files = blocks.map(({ code, line }) => {
  const file = join(dir, `README.md-line-${line}.ts`)
  const source = code
    .replace(/from "effect-manager"/g, `from "../../mod.ts"`)
    .replace(/from "effect-manager\/([\w/]+)"/g, `from "../../src/$1.ts"`)
  writeFileSync(file, source)
  return file
})
writeFileSync(
  join(dir, "tsconfig.json"),
  JSON.stringify({
    extends: "../../tsconfig.json",
    include: ["*.ts"],
    exclude: [],
    compilerOptions: { noUnusedLocals: false },
  }),
)
const tsc = spawnSync(join(root, "node_modules/.bin/tsc"), [
  "--noEmit",
  "-p",
  join(dir, "tsconfig.json"),
], {
  stdio: "inherit",
})
if (tsc.status !== 0) {
  console.error("check-readme: a README example does not type-check (file names give its line)")
  process.exit(1)
}
console.log(`check-readme: ${files.length} README examples type-check`)
