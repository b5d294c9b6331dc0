/**
 * What a runner reports: the outcome of every occurrence, and its errors.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"

/** @internal */
export const TaskOutcome = Data.taggedEnum<PeriodicRunner.TaskOutcome>()

// The enum is a Proxy that makes a new constructor on every property access: take them once.
/** @internal */
export const { Failed, Interrupted, Skipped, Succeeded, TimedOut } = TaskOutcome

// Each error's base class has its type written out: JSR documents and type-checks
// the package from explicit types (no "slow types"), and cannot infer a call's.
const NoSuchTaskBase: Schema.TaggedErrorClass<NoSuchTask, "NoSuchTask", {
  readonly _tag: Schema.tag<"NoSuchTask">
  readonly task: typeof Schema.String
  readonly known: Schema.Array$<typeof Schema.String>
}> = Schema.TaggedError<NoSuchTask>("effect-manager/NoSuchTask")("NoSuchTask", {
  task: Schema.String,
  known: Schema.Array(Schema.String),
})

/** @internal */
export class NoSuchTask extends NoSuchTaskBase {
  override get message(): string {
    return `No periodic task named ${JSON.stringify(this.task)}; known tasks: ${
      this.known.map((name) => JSON.stringify(name)).join(", ") || "none"
    }`
  }
}

const CannotTriggerBase: Schema.TaggedErrorClass<CannotTrigger, "CannotTrigger", {
  readonly _tag: Schema.tag<"CannotTrigger">
  readonly task: typeof Schema.String
  readonly reason: typeof Schema.String
}> = Schema.TaggedError<CannotTrigger>("effect-manager/CannotTrigger")("CannotTrigger", {
  task: Schema.String,
  reason: Schema.String,
})

/** @internal */
export class CannotTrigger extends CannotTriggerBase {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} cannot be triggered: ${this.reason}`
  }
}

const RunnerStoppedBase: Schema.TaggedErrorClass<RunnerStopped, "RunnerStopped", {
  readonly _tag: Schema.tag<"RunnerStopped">
  readonly task: typeof Schema.String
}> = Schema.TaggedError<RunnerStopped>("effect-manager/RunnerStopped")("RunnerStopped", {
  task: Schema.String,
})

/** @internal */
export class RunnerStopped extends RunnerStoppedBase {
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
