// ServiceRegistry.layerFileSystem shared by real processes: children of the runtime the suite
// runs on (Node under vitest, Deno under deno test, Bun under bun test) register services into
// one directory at the same time; the parent then lists them all.
import * as Command from "@effect/platform/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ServiceRegistry from "../src/ServiceRegistry.ts"
import { bundleForNode, NodeContextLive, root } from "./support/nodeBundle.ts"
import { detectRuntime } from "./support/runtime.ts"

const runtime = detectRuntime()
// workerd has no processes and no file system.
const live = runtime === "workerd" ? it.scopedLive.skip : it.scopedLive

const fixture = `${root}/test/support/registerServices.ts`

/** The fixture bundled for Node (which cannot run .ts) into `directory`, inside the project. */
const bundle = (directory: string) =>
  bundleForNode("test/support/registerServices.ts", `${directory}/registerServices.mjs`)

/** Runs one child to its end: its exit code and its standard output. */
const run = (script: string, ...args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const command = runtime === "deno"
      ? Command.make(
        `${root}/node_modules/.bin/deno`,
        "run",
        `--config=${root}/deno.json`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        script,
        ...args,
      )
      // Bun runs the .ts fixture as it is.
      : runtime === "bun"
      ? Command.make(`${root}/node_modules/.bin/bun`, script, ...args)
      : Command.make("node", script, ...args)
    const child = yield* Command.start(command.pipe(Command.stderr("inherit")))
    const stdout = yield* child.stdout.pipe(Stream.decodeText(), Stream.mkString)
    return { exitCode: yield* child.exitCode, stdout }
  }).pipe(Effect.scoped)

const PROCESSES = 4
const SERVICES = 10

describe(`ServiceRegistry.layerFileSystem shared by ${runtime} processes`, () => {
  live(
    `${PROCESSES} processes registering ${SERVICES} services each at once: all ${
      PROCESSES * SERVICES
    } are listed`,
    () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        // Inside the project: a Node bundle there finds node_modules.
        yield* fs.makeDirectory(`${root}/.tmp`, { recursive: true })
        const work = yield* fs.makeTempDirectoryScoped({ directory: `${root}/.tmp` })
        const directory = `${work}/services`
        const script = runtime === "node" ? yield* bundle(work) : fixture
        const workers = Array.from({ length: PROCESSES }, (_, i) => `worker${i}`)
        const outcomes = yield* Effect.forEach(
          workers,
          (worker) => run(script, directory, worker, String(SERVICES)),
          { concurrency: "unbounded" },
        )
        expect(outcomes).toEqual(
          workers.map(() => ({ exitCode: 0, stdout: `registered ${SERVICES}\n` })),
        )
        const listed = yield* Effect.flatMap(
          ServiceRegistry.ServiceRegistry,
          (registry) => registry.list,
        ).pipe(Effect.provide(ServiceRegistry.layerFileSystem(directory)))
        const hosts = workers.flatMap((worker) =>
          Array.from({ length: SERVICES }, (_, i) => `${worker}-${i}`)
        ).sort()
        expect(listed.map((record) => [record.topic, record.host, record.reportCount])).toEqual(
          hosts.map((host) => ["compute", host, 1]),
        )
        // Every temporary file was renamed into place.
        expect((yield* fs.readDirectory(directory)).length).toBe(PROCESSES * SERVICES)
      }).pipe(Effect.provide(NodeContextLive)),
    30_000,
  )
})
