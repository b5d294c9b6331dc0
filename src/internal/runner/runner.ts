/**
 * A runner put together: its tasks checked once, its core, the engine of its mode, the driver
 * fiber, and a stop in its scope's finalizer.
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Either from "effect/Either"
import * as PubSub from "effect/PubSub"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type * as PeriodicTask from "../../PeriodicTask.ts"
import * as Option from "effect/Option"
import { current as currentCluster } from "../cluster.ts"
import {
  InvalidPeriodicTask,
  resolve,
  type ResolvedTask,
  triggeredCopy,
  withRun,
} from "../periodicTask.ts"
import { sleepLong, SteadyClock } from "../steadyClock.ts"
import { Alarm } from "./alarm.ts"
import { makeConcurrentEngine } from "./concurrent.ts"
import { telemetryOf } from "./instrument.ts"
import { makeControl } from "./control.ts"
import { add, enlist, nameTaken, remove, type TaskNames } from "./membership.ts"
import { type Engine, RunnerCore } from "./core.ts"
import type { PeriodicTaskFailed } from "./errors.ts"
import { makeSequentialEngine } from "./sequential.ts"
import { onDriverExit, stop, type Stopper } from "./stop.ts"
import { makeRunnerTask } from "./task.ts"
import { IDLE_CAP_MILLIS } from "./timing.ts"
import { decodeRunnerOptions, decodeShutdownTimeout, type RunnerConfig } from "../runnerOptions.ts"
import type { InvalidOption } from "../options.ts"

/** @internal */
export const TypeId: PeriodicRunner.TypeId = Symbol.for(
  "effect-manager/PeriodicRunner",
) as PeriodicRunner.TypeId

/** @internal */
export const isPeriodicRunner = (u: unknown): u is PeriodicRunner.PeriodicRunner<unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/** @internal Checks every task and that names are unique. */
export const resolveAll = <E, R>(
  tasks: Iterable<PeriodicTask.PeriodicTask<E, R>>,
): Effect.Effect<Array<ResolvedTask<E, R>>, InvalidPeriodicTask> =>
  Effect.suspend(() => {
    const resolved: Array<ResolvedTask<E, R>> = []
    const seen = new Set<string>()
    for (const task of tasks) {
      const result = resolve(task)
      if (Either.isLeft(result)) return Effect.fail(result.left)
      if (seen.has(task.name)) return Effect.fail(nameTaken(task.name))
      seen.add(task.name)
      resolved.push(result.right)
    }
    return Effect.succeed(resolved)
  })

/** @internal */
export const make = <E, R>(
  tasks: Iterable<PeriodicTask.PeriodicTask<E, R>>,
  options: PeriodicRunner.Options = {},
): Effect.Effect<
  PeriodicRunner.PeriodicRunner<E>,
  InvalidPeriodicTask | InvalidOption,
  R | Scope.Scope
> =>
  Effect.flatMap(
    Effect.zip(resolveAll(tasks), decodeRunnerOptions(options)),
    ([resolved, config]) => makeResolved(resolved, config),
  )

/** @internal Runs the tasks until interrupted; fails if a `"fail"`-policy task fails. */
export const run = <E, R>(
  tasks: Iterable<PeriodicTask.PeriodicTask<E, R>>,
  options?: PeriodicRunner.Options,
): Effect.Effect<void, InvalidPeriodicTask | InvalidOption | PeriodicTaskFailed<E>, R> =>
  Effect.scoped(Effect.flatMap(make(tasks, options), (runner) => runner.join))

/**
 * A runner of tasks already checked (by `resolveAll`) with decoded options. In a cluster, each
 * leader task is handed to it and joins the runner only while this runner leads it, and each
 * instant of a cluster cron task the cluster hands this runner is run here.
 *
 * @internal
 */
export const makeResolved = <E, R>(
  resolved: ReadonlyArray<ResolvedTask<E, R>>,
  config: RunnerConfig,
): Effect.Effect<PeriodicRunner.PeriodicRunner<E>, InvalidPeriodicTask, R | Scope.Scope> =>
  Effect.flatMap(currentCluster, (found) => {
    const clustered = Option.isSome(found)
      ? resolved.filter(({ task }) => task.cluster !== "local")
      : []
    if (clustered.length === 0) return makeLocal(resolved, config)
    const cluster = Option.getOrThrow(found)
    return Effect.gen(function* () {
      const runner = yield* makeLocal(
        resolved.filter(({ task }) => task.cluster === "local"),
        config,
      )
      const context = yield* Effect.context<R>()
      for (const { task, timing } of clustered) {
        const provided = withRun(task, Effect.provide(task.run, context))
        if (task.cluster === "leader") yield* cluster.leader(task.name, lead(runner, provided))
        // A disabled task runs nowhere; a cluster cron task was checked to have a cron rule.
        else if (task.enabled && timing._tag === "Schedule" && timing.rule !== undefined) {
          yield* cluster.cron(task.name, timing.rule, runInstant(runner, provided))
        }
      }
      return runner
    })
  })

/**
 * One instant of a cluster cron task, run and recorded by this runner: the task joins the runner
 * for the run (triggered, with its own timeout and error policy) and leaves it once the run and
 * its outcome are done. One instant at a time: a second one handed over meanwhile waits.
 */
const runInstant = <E>(
  runner: PeriodicRunner.PeriodicRunner<E>,
  task: PeriodicTask.PeriodicTask<E>,
): Effect.Effect<void> => {
  const oneAtATime = Effect.unsafeMakeSemaphore(1)
  return oneAtATime.withPermits(1)(Effect.gen(function* () {
    const done = yield* Deferred.make<void>()
    const once = triggeredCopy(task, Effect.ensuring(task.run, Deferred.succeed(done, undefined)))
    // A runner that stopped runs nothing more.
    if (Either.isLeft(yield* Effect.either(runner.add(once)))) return
    yield* Effect.either(runner.trigger(task.name)).pipe(
      Effect.flatMap((triggered) => Either.isRight(triggered) ? Deferred.await(done) : Effect.void),
      // Once the run has ended, the task leaves as soon as its outcome is recorded; an instant
      // taken back (the runner stopping) interrupts the run where it is.
      Effect.onExit((exit) =>
        Effect.ignore(runner.remove(task.name, { interrupt: Exit.isFailure(exit), wait: true }))
      ),
    )
  }))
}

/**
 * While the cluster has this runner lead the task: the task is in the runner, timed from the
 * takeover. When the lead moves (or the runner stops), the task is removed with its run
 * interrupted, and the lead is given up only once that run has ended: no two runners run it at
 * once.
 */
const lead = <E>(
  runner: PeriodicRunner.PeriodicRunner<E>,
  task: PeriodicTask.PeriodicTask<E>,
): Effect.Effect<void> =>
  Effect.acquireRelease(
    Effect.as(runner.add(task), true).pipe(
      // A runner that stopped has nothing to lead; a task was checked when the runner was made.
      Effect.catchAll(() => Effect.succeed(false)),
    ),
    (added) =>
      added
        ? Effect.ignore(runner.remove(task.name, { interrupt: true, wait: true }))
        : Effect.void,
  ).pipe(Effect.zipRight(Effect.never), Effect.scoped)

const makeLocal = <E, R>(
  resolved: ReadonlyArray<ResolvedTask<E, R>>,
  config: RunnerConfig,
): Effect.Effect<PeriodicRunner.PeriodicRunner<E>, InvalidPeriodicTask, R | Scope.Scope> =>
  Effect.gen(function* () {
    const core = yield* makeCore(resolved, config)
    const engine: Engine<E, R> = config.mode === "sequential"
      ? makeSequentialEngine(core, config)
      : makeConcurrentEngine(core, config)
    for (const task of core.tasks) {
      yield* enlist(core, engine, resolved[task.index]!, task, config.resume.has(task.name))
    }
    const stopper: Stopper<E> = {
      done: yield* Deferred.make<void, PeriodicTaskFailed<E>>(),
      driver: undefined,
    }
    if (config.start) startDriver(core, engine, stopper, config.initialDelay)
    function shutdown(): Effect.Effect<void>
    function shutdown(timeout: Duration.DurationInput): Effect.Effect<void, InvalidOption>
    function shutdown(timeout?: Duration.DurationInput): Effect.Effect<void, InvalidOption> {
      return timeout === undefined
        ? stop(core, engine, stopper, config.shutdownTimeout)
        : Effect.flatMap(decodeShutdownTimeout(timeout), (limit) =>
          stop(core, engine, stopper, limit))
    }
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        stop(core, engine, stopper, config.shutdownTimeout),
        PubSub.shutdown(core.outcomes),
      )
    )
    return assemble(core, engine, stopper, shutdown)
  })

const makeCore = <E, R>(resolved: ReadonlyArray<ResolvedTask<E, R>>, config: RunnerConfig) =>
  Effect.gen(function* () {
    const { runtime, telemetry } = telemetryOf(yield* Effect.runtime<R>(), {
      runSpans: config.runSpans,
      metrics: config.metrics,
    })
    const clock = yield* Effect.clock
    const steady = new SteadyClock(clock)
    const start = steady.now()
    const wallOffset = steady.wallOffset()
    const tasks = resolved.map((task, index) => {
      const resumed = config.resume.get(task.task.name)
      return makeRunnerTask(
        task,
        index,
        start,
        resumed === undefined ? undefined : resumed - wallOffset,
      )
    })
    const fork = Runtime.runFork(runtime)
    const alarm = new Alarm(
      clock,
      () => steady.now(),
      (effect) => fork(effect, { immediate: false }),
    )
    return new RunnerCore<E, R>(
      config.mode,
      tasks,
      runtime,
      clock,
      yield* Effect.random,
      steady,
      yield* PubSub.sliding<PeriodicRunner.TaskOutcome>(config.outcomeBuffer),
      alarm,
      config.start,
      telemetry,
    )
  })

const startDriver = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  stopper: Stopper<E>,
  initialDelay: number,
): void => {
  const drive = initialDelay > 0
    ? Effect.zipRight(sleepLong(core.clock, initialDelay), engine.drive)
    : engine.drive
  stopper.driver = Runtime.runFork(core.runtime)(
    Effect.onExit(drive, onDriverExit(core, engine, stopper)),
  )
}

const assemble = <E, R>(
  core: RunnerCore<E, R>,
  engine: Engine<E, R>,
  stopper: Stopper<E>,
  shutdown: PeriodicRunner.PeriodicRunner<E>["shutdown"],
): PeriodicRunner.PeriodicRunner<E> => {
  // A tick runs in the caller's fiber; sequential runs happen there and need the tasks' context.
  // Once the runner stops, a tick runs nothing (and never waits for a pass a stop left behind).
  const tick = Effect.suspend(() =>
    core.lifecycle._tag !== "Open"
      ? Effect.succeed(Duration.millis(IDLE_CAP_MILLIS))
      : Effect.provide(Effect.map(engine.tick, Duration.millis), core.runtime.context)
  )
  const names: TaskNames<R> = new Map(core.tasks.map((task) => [task.name, task] as const))
  const control = makeControl(core, names)
  return {
    [TypeId]: TypeId,
    mode: core.mode,
    get tasks() {
      return core.liveTasks().map((task) => task.name)
    },
    tick,
    join: Deferred.await(stopper.done),
    outcomes: subscribe(core),
    status: control.status,
    pause: control.pause,
    resume: control.resume,
    trigger: control.trigger,
    add: (task) => add(core, engine, names, task),
    remove: (name, options) => remove(core, engine, names, name, options),
    shutdown,
  }
}

/**
 * A subscription to the outcomes, counted while it lasts. Built as a channel, not with
 * `Stream.unwrapScoped`, whose channel executor alone is 7.5 KB of an edge bundle, gzipped.
 */
const subscribe = <E, R>(core: RunnerCore<E, R>) =>
  Stream.fromChannel(Channel.unwrapScoped(
    Effect.gen(function* () {
      const subscription = yield* PubSub.subscribe(core.outcomes)
      core.subscribers++
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          core.subscribers--
        })
      )
      return Stream.toChannel(Stream.fromQueue(subscription))
    }),
  ))
