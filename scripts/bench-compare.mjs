// Paired periodic-engine benchmark: the engine of a git revision against the working tree's, in
// one invocation, alternating REF, tree, REF, tree, … so that both sides see the same machine.
//
//   npm run bench:compare -- REF [--pairs 2] [--tasks 10000] [--spacing 100] [--seconds 5]
//                                [--aligned] [--only concurrent,sequential] [--ref-bench]
//                                [--metrics]
//
// REF (also `--compare REF`) is checked out with `git worktree add --detach` into a temporary
// folder (its node_modules a symlink to this checkout's); each run is a child process
// `node --expose-gc scripts/run-ts.mjs <side>/bench/periodic.ts --only concurrent,sequential …`.
// Both sides run the working tree's bench/periodic.ts and bench/support.ts (copied over the REF's),
// so only the engine differs; `--ref-bench` keeps the REF's own. Each child's lines go out as they
// come, prefixed with its side and pair; its last line (a JSON object) is parsed. The worktree is
// removed at the end, on failure and on Ctrl-C. The last line is one JSON object: per mode, both
// sides' runs kept, CPU µs per run, peak RSS and p99 lateness per pair and their means, and
// `cpuRatio`, the tree's mean CPU per run divided by the REF's.
import { execFileSync, spawn } from "node:child_process"
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const args = process.argv.slice(2)

/** `--name N` from the command line, a positive number, or `fallback`. */
const numberFlag = (name, fallback) => {
  const at = args.indexOf(name)
  if (at < 0) return fallback
  const value = Number(args[at + 1])
  if (!(value > 0)) throw new Error(`${name} needs a positive number, got ${args[at + 1]}`)
  return value
}

/** `--name value` from the command line, or `undefined` when the flag is absent. */
const stringFlag = (name) => {
  const at = args.indexOf(name)
  if (at < 0) return undefined
  const value = args[at + 1]
  if (value === undefined || value.startsWith("--")) throw new Error(`${name} needs a value`)
  return value
}

/** `--name` present on the command line. */
const booleanFlag = (name) => args.includes(name)

/** Flags that take a value; any other word not after one of them is the REF. */
const valued = ["--compare", "--pairs", "--tasks", "--spacing", "--seconds", "--only"]
const known = [...valued, "--aligned", "--ref-bench", "--metrics"]
const positional = args.filter((arg, i) => !arg.startsWith("--") && !valued.includes(args[i - 1]))
const unknown = args.filter((arg) => arg.startsWith("--") && !known.includes(arg))
const ref = stringFlag("--compare") ?? positional[0]
if (
  ref === undefined || unknown.length > 0 || positional.length > (ref === positional[0] ? 1 : 0)
) {
  console.error(
    `${unknown.length > 0 ? `unknown flag ${unknown.join(", ")}\n` : ""}usage: ` +
      "npm run bench:compare -- REF [--pairs 2] [--tasks N] [--spacing MS] [--seconds S] " +
      "[--aligned] [--only concurrent,sequential] [--ref-bench] [--metrics]",
  )
  process.exit(2)
}
const pairs = numberFlag("--pairs", 2)
if (!Number.isInteger(pairs)) throw new Error(`--pairs needs a whole number, got ${pairs}`)
const modes = (stringFlag("--only") ?? "concurrent,sequential").split(",")
const badMode = modes.filter((mode) => mode !== "concurrent" && mode !== "sequential")
if (badMode.length > 0) throw new Error(`--only: not an engine mode: ${badMode.join(", ")}`)
/** What each child gets: the load flags as given (its defaults otherwise) and the modes. */
const forwarded = [
  ...["--tasks", "--spacing", "--seconds"].flatMap((name) => {
    const value = stringFlag(name)
    if (value === undefined) return []
    numberFlag(name, 0) // the same check as the bench's, before anything is set up
    return [name, value]
  }),
  ...(booleanFlag("--aligned") ? ["--aligned"] : []),
  ...(booleanFlag("--metrics") ? ["--metrics"] : []),
  "--only",
  modes.join(","),
]
const ownBench = booleanFlag("--ref-bench")

const git = (...gitArgs) =>
  execFileSync("git", gitArgs, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    .trim()

let refCommit
try {
  refCommit = git("rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`)
} catch {
  console.error(`bench:compare: ${ref} is not a commit here`)
  process.exit(2)
}
const head = git("rev-parse", "--short=12", "HEAD")
/** Uncommitted changes to what the engine is built from (bench and scripts do not count). */
const dirty = git("status", "--porcelain", "--", "src", "mod.ts") !== ""

// --- the REF's worktree, and its removal on every way out -----------------------------------

const temp = mkdtempSync(join(tmpdir(), "effect-manager-bench-"))
const worktree = join(temp, "ref")
let removed = false
const removeWorktree = () => {
  if (removed) return
  removed = true
  // Unlink the symlink first, so that nothing below can follow it into our node_modules.
  try {
    unlinkSync(join(worktree, "node_modules"))
  } catch { /* not made yet */ }
  try {
    git("worktree", "remove", "--force", worktree)
  } catch {
    // Not added yet, or half added: the folder goes, and prune forgets it if git knew it.
    rmSync(temp, { recursive: true, force: true })
    try {
      git("worktree", "prune")
    } catch { /* nothing to prune */ }
  }
  rmSync(temp, { recursive: true, force: true })
}
process.on("exit", removeWorktree)

/** The child running now, and the signal that asked us to stop, if one did. */
let running
let stoppedBy
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    stoppedBy = signal
    // The child shuts down in its own way and the loop below stops when it has exited.
    if (running !== undefined) running.kill(signal)
    else stop()
  })
}
/** Removes the worktree, then dies of the signal that stopped us (or exits with `code`). */
const stop = (code = 1) => {
  removeWorktree()
  if (stoppedBy !== undefined) {
    process.removeAllListeners(stoppedBy)
    process.kill(process.pid, stoppedBy)
  } else process.exit(code)
}

/** Lines of `stream` to `out`, each prefixed; the lines are also collected. */
const relay = (stream, out, prefix, lines) => {
  let pending = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk) => {
    const parts = (pending + chunk).split("\n")
    pending = parts.pop()
    for (const line of parts) {
      lines.push(line)
      out.write(`${prefix}${line}\n`)
    }
  })
  stream.on("end", () => {
    if (pending !== "") {
      lines.push(pending)
      out.write(`${prefix}${pending}\n`)
    }
  })
}

/** One run of the bench in `dir`; resolves with its last JSON line, parsed. */
const runBench = (dir, label) =>
  new Promise((resolvePromise, reject) => {
    const lines = []
    const child = spawn(
      process.execPath,
      [
        "--expose-gc",
        join(root, "scripts/run-ts.mjs"),
        join(dir, "bench/periodic.ts"),
        ...forwarded,
      ],
      // Its own process group: a terminal's Ctrl-C reaches it once, through us.
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"], detached: true },
    )
    running = child
    relay(child.stdout, process.stdout, `[${label}] `, lines)
    relay(child.stderr, process.stderr, `[${label}] `, [])
    child.on("error", reject)
    child.on("close", (code, signal) => {
      running = undefined
      if (code !== 0) {
        reject(new Error(`${label}: the bench ended with ${signal ?? `exit code ${code}`}`))
        return
      }
      const last = lines.filter((line) => line.trim() !== "").at(-1)
      try {
        resolvePromise(JSON.parse(last))
      } catch {
        reject(new Error(`${label}: the last line is not JSON: ${last}`))
      }
    })
  })

// --- main ------------------------------------------------------------------------------------

const round = (value, digits) => Number(value.toFixed(digits))
const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length
const fields = ["runs", "cpuUsPerRun", "rssMb", "p99LatenessMs"]
const digits = { runs: 1, cpuUsPerRun: 3, rssMb: 1, p99LatenessMs: 2 }

/** One side's figures of one mode: each field per pair, and their means. */
const side = (results, mode) => {
  const perPair = Object.fromEntries(
    fields.map((field) => [field, results.map((result) => result[mode][field])]),
  )
  const means = Object.fromEntries(
    fields.map((field) => [field, round(mean(perPair[field]), digits[field])]),
  )
  return { ...perPair, mean: means }
}

const main = async () => {
  git("worktree", "add", "--detach", worktree, refCommit)
  symlinkSync(join(root, "node_modules"), join(worktree, "node_modules"), "dir")
  if (!ownBench) {
    for (const file of ["bench/periodic.ts", "bench/support.ts"]) {
      copyFileSync(join(root, file), join(worktree, file))
    }
  }
  const refLabel = `${ref} (${refCommit.slice(0, 12)})`
  const treeLabel = `working tree (HEAD ${head}${dirty ? " + uncommitted src changes" : ""})`
  console.log(
    `bench:compare: ${refLabel} against the ${treeLabel}, ${pairs} pair${
      pairs === 1 ? "" : "s"
    }, modes ${modes.join(", ")}; both sides run ${
      ownBench ? "their own bench/periodic.ts" : "the working tree's bench/periodic.ts"
    } ${forwarded.join(" ")}`,
  )
  const refResults = []
  const treeResults = []
  for (let pair = 1; pair <= pairs; pair++) {
    for (
      const [label, dir, results] of [["ref", worktree, refResults], ["tree", root, treeResults]]
    ) {
      results.push(await runBench(dir, `${label} ${pair}/${pairs}`))
      if (stoppedBy !== undefined) return stop()
    }
  }

  const first = treeResults[0]
  const summary = {
    ref,
    refCommit: refCommit.slice(0, 12),
    treeHead: head,
    treeDirty: dirty,
    pairs,
    tasks: first.tasks,
    spacingMs: first.spacingMs,
    seconds: first.seconds,
    phases: first.phases,
    refBench: ownBench ? "ref" : "tree",
  }
  for (const mode of modes) {
    const refSide = side(refResults, mode)
    const treeSide = side(treeResults, mode)
    const cpuRatio = round(treeSide.mean.cpuUsPerRun / refSide.mean.cpuUsPerRun, 3)
    summary[mode] = {
      expectedRuns: first[mode].expectedRuns,
      ref: refSide,
      tree: treeSide,
      cpuRatio,
    }
    const show = (s) =>
      `runs ${s.mean.runs}/${first[mode].expectedRuns}, ${s.mean.cpuUsPerRun} µs CPU/run ` +
      `(${s.cpuUsPerRun.join(", ")}), peak RSS ${s.mean.rssMb} MB, p99 ${s.mean.p99LatenessMs} ms`
    console.log(`${mode.padEnd(10)} ref  ${show(refSide)}`)
    console.log(`${"".padEnd(10)} tree ${show(treeSide)}`)
    console.log(`${"".padEnd(10)} tree/ref CPU per run ${cpuRatio}`)
  }
  console.log(JSON.stringify(summary))
}

main().then(
  () => stop(0),
  (error) => {
    console.error(`bench:compare: ${error instanceof Error ? error.message : error}`)
    stop(1)
  },
)
