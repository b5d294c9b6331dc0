// Fails when a function in src/ spans more than MAX_LINES lines: a function that does not fit on a
// screen is several functions (see the developers' guide, "Small rooms").
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import ts from "typescript"

const MAX_LINES = 80
const root = new URL("..", import.meta.url).pathname

const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : []
  })

const tooLong = []
for (const file of [...files(join(root, "src")), join(root, "mod.ts")]) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line
      const lines = last - first + 1
      if (lines > MAX_LINES) {
        tooLong.push(`${relative(root, file)}:${first + 1} a function of ${lines} lines`)
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}
if (tooLong.length > 0) {
  console.error(`Functions longer than ${MAX_LINES} lines:\n${tooLong.join("\n")}`)
  process.exit(1)
}
console.log(`check-function-size: no function in src/ is longer than ${MAX_LINES} lines`)
