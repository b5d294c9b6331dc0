/**
 * What a runner reports: the outcome of every occurrence, and its errors.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"

/** @internal */
export const TaskOutcome = Data.taggedEnum<PeriodicRunner.TaskOutcome>()

// The enum is a Proxy that makes a new constructor on every property access: take them once.
/** @internal */
export const { Failed, Interrupted, Skipped, Succeeded, TimedOut } = TaskOutcome

// Each error's base class has its type written out: JSR documents and type-checks
// the package from explicit types (no "slow types"), and cannot infer a call's. The errors are
// `Data.TaggedError` classes rather than `Schema.TaggedError` ones: none crosses a wire, and
// Schema is about 15 KB of a gzipped edge bundle (README, Size).
const NoSuchTaskBase: ReturnType<typeof Data.TaggedError<"NoSuchTask">> = Data.TaggedError(
  "NoSuchTask",
)

/** @internal */
export class NoSuchTask extends NoSuchTaskBase<{
  readonly task: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `No periodic task named ${JSON.stringify(this.task)}; known tasks: ${
      this.known.map((name) => JSON.stringify(name)).join(", ") || "none"
    }`
  }
}

const CannotTriggerBase: ReturnType<typeof Data.TaggedError<"CannotTrigger">> = Data.TaggedError(
  "CannotTrigger",
)

/** @internal */
export class CannotTrigger extends CannotTriggerBase<{
  readonly task: string
  readonly reason: string
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} cannot be triggered: ${this.reason}`
  }
}

const RunnerStoppedBase: ReturnType<typeof Data.TaggedError<"RunnerStopped">> = Data.TaggedError(
  "RunnerStopped",
)

/** @internal */
export class RunnerStopped extends RunnerStoppedBase<{ readonly task: string }> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} cannot be added: the runner has stopped`
  }
}

const TaskTimedOutBase: ReturnType<typeof Data.TaggedError<"TaskTimedOut">> = Data.TaggedError(
  "TaskTimedOut",
)

/** @internal */
export class TaskTimedOut extends TaskTimedOutBase<{
  readonly task: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} timed out after ${
      Duration.format(this.timeoutMillis)
    }`
  }
}

const PeriodicTaskFailedBase: ReturnType<typeof Data.TaggedError<"PeriodicTaskFailed">> = Data
  .TaggedError("PeriodicTaskFailed")

/** @internal */
export class PeriodicTaskFailed<E> extends PeriodicTaskFailedBase<{
  readonly task: string
  readonly cause: Cause.Cause<E | TaskTimedOut>
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} failed and its error policy is "fail": ${
      Cause.pretty(this.cause)
    }`
  }
}
