// runMain: the portable logic with a fake host (signals sent by hand, TestClock), then
// examples/service.ts as a real child process under Node and under Deno, driven by signals.
import { describe, expect, it } from "@effect/vitest"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import { main, type RunMainOptions, type Signal } from "../src/internal/runMain.ts"
import * as Manager from "../src/Manager.ts"
import * as Service from "../src/Service.ts"
import * as ServiceRegistry from "../src/ServiceRegistry.ts"
import { bundledOnce, NodeContextLive, root } from "./support/nodeBundle.ts"

// Only what the runtimes provide; no Node/Deno/DOM types are in scope on purpose.
declare const globalThis: { readonly navigator?: { readonly userAgent?: string } }

// workerd has no processes.
const inWorkerd = globalThis.navigator?.userAgent === "Cloudflare-Workers"
const live = inWorkerd ? it.scopedLive.skip : it.scopedLive

describe("runMain (fake host)", () => {
  it.effect("a stop still going at the deadline plus stopGrace is given up: exit 1, naming what runs", () =>
    Effect.gen(function* () {
      // Released after the service (provided to it): the service's stop ends, this one waits
      // for the test (not on Effect.never, whose timer Deno's sanitizer would see leak).
      const release = yield* Deferred.make<void>()
      const hang = Layer.scopedDiscard(Effect.addFinalizer(() => Deferred.await(release)))
      const { logs, ready, send, exited, listeners } = yield* fakeHost(
        Service.layer({ ...options, shutdownTimeout: "1 second" }, ComputeManager(() => {})).pipe(
          Layer.provide(Layer.merge(ServiceRegistry.layerMemory, hang)),
        ),
        { stopGrace: "2 seconds" },
      )
      yield* ready
      expect(listeners()).toBe(3)
      yield* send("SIGTERM")
      yield* TestClock.adjust("2999 millis")
      expect(yield* Deferred.poll(exited)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      expect(yield* Deferred.await(exited)).toBe(1)
      expect(logs.filter((line) => line.startsWith("ERROR"))).toEqual([
        "ERROR The stop did not finish within 3s; still running: the finalizers of the other layers. Exiting.",
      ])
      expect(listeners()).toBe(0)
      yield* Deferred.succeed(release, undefined)
    }))

  it.effect("a start failure is logged with its cause and exits 1", () =>
    Effect.gen(function* () {
      const { logs, exited } = yield* fakeHost(
        Service.layer(options, ComputeManager(() => {}, { init: Effect.fail("no hypervisor") }))
          .pipe(
            Layer.provide(ServiceRegistry.layerMemory),
          ),
      )
      expect(yield* Deferred.await(exited)).toBe(1)
      const failure = logs.filter((line) => line.startsWith("ERROR"))
      expect(failure).toHaveLength(1)
      expect(failure[0]).toContain(`ERROR The service failed to start`)
      expect(failure[0]).toContain(`manager "Compute" failed in init`)
      expect(failure[0]).toContain(`no hypervisor`)
    }))

  it.effect("runMain's lines about a service are annotated with its host and topic, a failed start's with the manager too", () =>
    Effect.gen(function* () {
      const failed = yield* fakeHost(
        Service.layer(options, ComputeManager(() => {}, { init: Effect.fail("no hypervisor") }))
          .pipe(Layer.provide(ServiceRegistry.layerMemory)),
      )
      yield* Deferred.await(failed.exited)
      expect(failed.annotated.filter(([line]) => line.startsWith("ERROR"))).toEqual([
        ["ERROR The service failed to start", { ...options, manager: "Compute" }],
      ])
      const { annotated, exited, ready, send } = yield* fakeHost(
        Service.layer(options, ComputeManager(() => {})).pipe(
          Layer.provide(ServiceRegistry.layerMemory),
        ),
      )
      yield* ready
      yield* send("SIGTERM")
      yield* TestClock.adjust("1 second")
      expect(yield* Deferred.await(exited)).toBe(0)
      expect(annotated.filter(([line]) => !line.startsWith("INFO Stopping"))).toEqual([
        [
          "INFO Service compute on compute-1 started: SIGHUP resets it, SIGTERM or SIGINT stops it",
          options,
        ],
        ["INFO Caught SIGTERM: stopping", options],
        ["INFO Stopped in 0 ms", options],
      ])
    }))

  it.effect("a SIGHUP during the start resets the service once it runs", () =>
    Effect.gen(function* () {
      const hooks: Array<string> = []
      const reset = yield* Deferred.make<void>()
      const { ready, send, exited } = yield* fakeHost(
        Service.layer(
          options,
          ComputeManager((hook) => hooks.push(hook), {
            init: Effect.sleep("1 second"),
            reset: Deferred.complete(reset, Effect.void),
          }),
        ).pipe(Layer.provide(ServiceRegistry.layerMemory)),
      )
      yield* send("SIGHUP")
      yield* TestClock.adjust("1 second")
      yield* ready
      yield* Deferred.await(reset)
      yield* send("SIGTERM")
      expect(yield* Deferred.await(exited)).toBe(0)
      expect(hooks).toEqual(["init", "preStart", "postStart", "reset", "cleanup"])
    }))
})

for (const runtime of ["node", "deno"] as const) {
  describe(`examples/service.ts as a ${runtime} process`, () => {
    live(
      "SIGHUP resets it; SIGTERM stops the tasks, then cleanup, then marks the record down: exit 0",
      () =>
        Effect.gen(function* () {
          const child = yield* spawn(runtime)
          yield* child.waitFor("ready")
          yield* child.waitFor("task: update_available_resource #1")
          yield* child.kill("SIGHUP")
          yield* child.waitFor("hook: reset")
          yield* child.kill("SIGTERM")
          expect(yield* child.exitCode).toBe(0)
          const messages = yield* child.messages
          expect(trace(messages)).toEqual([
            ...STARTED,
            "Caught SIGHUP: resetting",
            "hook: reset",
            ...STOPPING,
            "Stopping: marking the service record of compute on compute-1 down",
            "Stopped in …",
          ])
          const cleanup = messages.indexOf("Stopping: cleanup of Compute")
          expect(messages.slice(cleanup).filter((m) => m.startsWith("task:"))).toEqual([])
        }),
      10_000,
    )

    live(
      "a cleanup that hangs: SIGTERM exits 1 at the 2 s deadline, naming the manager and cleanup",
      () =>
        Effect.gen(function* () {
          const child = yield* spawn(runtime, "--hang-cleanup")
          yield* child.waitFor("ready")
          const sent = Date.now()
          yield* child.kill("SIGTERM")
          expect(yield* child.exitCode).toBe(1)
          const elapsed = Date.now() - sent
          expect(elapsed).toBeGreaterThanOrEqual(2_000)
          expect(elapsed).toBeLessThan(3_000)
          const overrun = /^Manager "Compute": cleanup used up its .+ of the shutdown deadline/
          expect(trace(yield* child.messages, [overrun, /^Stopped in .* with 1 error/])).toEqual([
            ...STARTED,
            ...STOPPING,
            `/${overrun.source}/`,
            "Stopping: marking the service record of compute on compute-1 down",
            "/^Stopped in .* with 1 error/",
          ])
        }),
      10_000,
    )

    live("a second SIGTERM during the stop exits 1 at once", () =>
      Effect.gen(function* () {
        const child = yield* spawn(runtime, "--hang-cleanup")
        yield* child.waitFor("ready")
        yield* child.kill("SIGTERM")
        yield* child.waitFor("hook: cleanup")
        const sent = Date.now()
        yield* child.kill("SIGTERM")
        expect(yield* child.exitCode).toBe(1)
        expect(Date.now() - sent).toBeLessThan(1_000)
        expect(trace(yield* child.messages, [/^Caught SIGTERM again/])).toEqual([
          ...STARTED,
          ...STOPPING,
          "/^Caught SIGTERM again/",
        ])
      }), 10_000)

    live(
      "a failing reset is logged and the service runs on; SIGTERM then exits 0",
      () =>
        Effect.gen(function* () {
          const child = yield* spawn(runtime, "--fail-reset")
          yield* child.waitFor("ready")
          yield* child.kill("SIGHUP")
          yield* child.waitFor(`Manager "Compute": reset failed`)
          // Still running: the periodic task logs again after the failed reset.
          const ticks = (yield* child.messages).filter((m) => m.startsWith("task:")).length
          yield* child.waitFor(`task: update_available_resource #${ticks + 1}`)
          yield* child.kill("SIGTERM")
          expect(yield* child.exitCode).toBe(0)
          const failed = /^Manager "Compute": reset failed, the service keeps running/
          expect(trace(yield* child.messages, [failed])).toEqual([
            ...STARTED,
            "Caught SIGHUP: resetting",
            "hook: reset",
            `/${failed.source}/`,
            ...STOPPING,
            "Stopping: marking the service record of compute on compute-1 down",
            "Stopped in …",
          ])
        }),
      10_000,
    )

    live(
      "SIGTERM during a slow init interrupts the start and runs cleanup: exit 0",
      () =>
        Effect.gen(function* () {
          const child = yield* spawn(runtime, "--slow-init", "3000")
          yield* child.waitFor("hook: init")
          const sent = Date.now()
          yield* child.kill("SIGTERM")
          expect(yield* child.exitCode).toBe(0)
          expect(Date.now() - sent).toBeLessThan(1_000)
          expect(trace(yield* child.messages, [/^Stopped during the start/])).toEqual([
            "hook: init",
            "Caught SIGTERM during the start: stopping",
            "Stopping: cleanup of Compute",
            "hook: cleanup",
            "/^Stopped during the start/",
          ])
        }),
      10_000,
    )

    live(
      "SIGTERM during a slow init whose cleanup hangs: exit 1 at the deadline",
      () =>
        Effect.gen(function* () {
          const child = yield* spawn(runtime, "--slow-init", "3000", "--hang-cleanup")
          yield* child.waitFor("hook: init")
          yield* child.kill("SIGTERM")
          expect(yield* child.exitCode).toBe(1)
          const overrun = /^Manager "Compute": cleanup used up its .+ of the shutdown deadline/
          expect(trace(yield* child.messages, [overrun, /^Stopped during the start/])).toEqual([
            "hook: init",
            "Caught SIGTERM during the start: stopping",
            "Stopping: cleanup of Compute",
            "hook: cleanup",
            `/${overrun.source}/`,
            "/^Stopped during the start/",
          ])
          expect((yield* child.messages).at(-1)).toBe(
            "Stopped during the start, with errors (logged above)",
          )
        }),
      10_000,
    )
  })
}

// The steps of a start, and of a stop up to cleanup, as `trace` shows them.
const STARTED = ["hook: init", "hook: preStart", "hook: postStart", "ready"]
const STOPPING = [
  "Caught SIGTERM: stopping",
  "Stopping service compute on compute-1: periodic tasks",
  "Stopping: cleanup of Compute",
  "hook: cleanup",
]

// --- fake host ---------------------------------------------------------------------------------

const options = { host: "compute-1", topic: "compute" }

class Compute extends Context.Tag("Compute")<Compute, { readonly host: string }>() {}

type Hook = "init" | "preStart" | "postStart" | "cleanup" | "reset"

/** A manager whose hooks call `record`, then run the given effect, if any. */
const ComputeManager = (
  record: (hook: Hook) => void,
  effects: Partial<Record<Hook, Effect.Effect<void, string>>> = {},
) => {
  const hook = (hook: Hook) =>
    Effect.zipRight(Effect.sync(() => record(hook)), effects[hook] ?? Effect.void)
  return Manager.layer(
    Compute,
    Effect.succeed({
      service: { host: options.host },
      init: hook("init"),
      preStart: hook("preStart"),
      postStart: hook("postStart"),
      cleanup: () => hook("cleanup"),
      reset: hook("reset"),
    }),
  )
}

/**
 * Forks `main` on a host whose signals the test sends, once main listens; `ready` completes
 * once the layer is built, `exited` with the exit code; `logs` holds "LEVEL message" lines.
 */
const fakeHost = <E>(
  layer: Layer.Layer<Service.Service, E>,
  runOptions?: RunMainOptions,
) =>
  Effect.gen(function* () {
    const handlers = new Set<{ readonly signal: Signal; readonly handler: () => void }>()
    const exited = yield* Deferred.make<number>()
    const started = yield* Deferred.make<void>()
    const logs: Array<string> = []
    // Each line's level and message (no cause) with its annotations.
    const annotated: Array<[string, Record<string, unknown>]> = []
    const capture = Logger.make(({ annotations, cause, logLevel, message }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      logs.push(
        `${logLevel.label} ${text}${Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`}`,
      )
      annotated.push([`${logLevel.label} ${text}`, Object.fromEntries(annotations)])
    })
    const subscribed = yield* Deferred.make<void>()
    const host = {
      onSignal: (signal: Signal, handler: () => void) => {
        const entry = { signal, handler }
        handlers.add(entry)
        if (handlers.size === 3) Deferred.unsafeDone(subscribed, Exit.void)
        return () => void handlers.delete(entry)
      },
      exit: (code: number) => Deferred.unsafeDone(exited, Exit.succeed(code)),
    }
    const withReady = Layer.effectDiscard(Deferred.succeed(started, undefined)).pipe(
      Layer.provideMerge(layer),
    )
    yield* main(host, withReady, runOptions).pipe(
      Effect.locallyWith(FiberRef.currentLoggers, HashSet.add(capture)),
      Effect.fork,
    )
    // The signals a test sends must find main's listeners.
    yield* Deferred.await(subscribed)
    return {
      host,
      logs,
      annotated,
      exited,
      ready: Deferred.await(started),
      listeners: () => handlers.size,
      send: (signal: Signal) =>
        Effect.sync(() => {
          for (const entry of handlers) if (entry.signal === signal) entry.handler()
        }),
    }
  })

// --- child processes ---------------------------------------------------------------------------

type Environment = CommandExecutor.CommandExecutor | FileSystem.FileSystem

/** The example bundled for Node (which cannot run .ts), once per test run. */
const bundled = bundledOnce("examples/service.ts", "platform-test", "service")

interface Child {
  /** Waits (at most 5 s) for a message (see {@link message}) that contains `text`. */
  readonly waitFor: (text: string) => Effect.Effect<void, Error>
  /** Sends a signal; does not wait for the process to react. */
  readonly kill: (signal: Signal) => Effect.Effect<void>
  /** Waits (at most 10 s) for the exit and the end of the output. */
  readonly exitCode: Effect.Effect<number, PlatformError | Error>
  /** The log messages and plain lines so far (a log message's continuation lines dropped). */
  readonly messages: Effect.Effect<ReadonlyArray<string>>
}

const spawn = (
  runtime: "node" | "deno",
  ...flags: ReadonlyArray<string>
): Effect.Effect<Child, PlatformError | Error, Scope.Scope> =>
  Effect.gen(function* () {
    const command = runtime === "node"
      ? Command.make("node", "--enable-source-maps", yield* bundled, ...flags)
      : Command.make(
        `${root}/node_modules/.bin/deno`,
        "run",
        `--config=${root}/deno.json`,
        "--allow-env",
        "--allow-read",
        `${root}/examples/service.ts`,
        ...flags,
      )
    // The scope kills the process if the test ends early, and waits for it. Absolute paths,
    // no working directory: NodeCommandExecutor checks one with fs.access, which Deno allows
    // only with --allow-sys.
    const process = yield* Command.start(command)
    const scope = yield* Effect.scope
    const output = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
    const lines = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
      stream.pipe(Stream.decodeText(), Stream.splitLines)
    const reader = yield* Stream.merge(lines(process.stdout), lines(process.stderr)).pipe(
      Stream.runForEach((line) => SubscriptionRef.update(output, (all) => [...all, line])),
      Effect.fork,
    )
    const dump = Effect.map(SubscriptionRef.get(output), (all) => all.join("\n"))
    const waitFor = (text: string) =>
      output.changes.pipe(
        Stream.takeUntil((all) => all.flatMap(message).some((m) => m.includes(text))),
        Stream.runDrain,
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "timeout" as const }),
        Effect.catchAll(() =>
          Effect.flatMap(
            dump,
            (all) =>
              Effect.fail(
                new Error(`no message with ${JSON.stringify(text)} in 5 s; output:\n${all}`),
              ),
          )
        ),
      )
    return {
      waitFor,
      // Process.kill also waits for the exit: send from a fiber of the test's scope.
      kill: (signal) => Effect.asVoid(Effect.forkIn(Effect.ignore(process.kill(signal)), scope)),
      exitCode: Effect.zipLeft(process.exitCode, reader.await).pipe(
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error("the process did not exit within 10 s"),
        }),
      ),
      messages: Effect.map(SubscriptionRef.get(output), (all) => all.flatMap(message)),
    } satisfies Child
  }).pipe(Effect.provide(NodeContextLive))

/** A log line's message (its first line), or a line the example prints ("ready"). */
const message = (line: string): ReadonlyArray<string> => {
  if (line === "ready") return [line]
  const found = /^timestamp=\S+ level=\S+ fiber=\S+ message="((?:[^"\\]|\\.)*)/.exec(line)
  return found === null ? [] : [found[1]!.replace(/\\(.)/g, "$1")]
}

/**
 * The lifecycle steps among `messages`, in order: hooks, "ready", "Caught …", "Stopping…" and
 * "Stopped in …" (its time elided), plus the messages matching `extra` (shown as the pattern).
 */
const trace = (
  messages: ReadonlyArray<string>,
  extra: ReadonlyArray<RegExp> = [],
): ReadonlyArray<string> =>
  messages.flatMap((m) => {
    const pattern = extra.find((p) => p.test(m))
    if (pattern !== undefined) return [`/${pattern.source}/`]
    if (m.startsWith("hook: ") || m === "ready") return [m]
    if (m.startsWith("Caught ") || m.startsWith("Stopping")) return [m]
    return m.startsWith("Stopped in ") ? ["Stopped in …"] : []
  })
