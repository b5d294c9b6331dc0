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

/** @internal */
export class NoSuchTask
  extends Schema.TaggedError<NoSuchTask>("effect-manager/NoSuchTask")("NoSuchTask", {
    task: Schema.String,
    known: Schema.Array(Schema.String),
  }) {
  override get message(): string {
    return `No periodic task named ${JSON.stringify(this.task)}; known tasks: ${
      this.known.map((name) => JSON.stringify(name)).join(", ") || "none"
    }`
  }
}

/** @internal */
export class CannotTrigger
  extends Schema.TaggedError<CannotTrigger>("effect-manager/CannotTrigger")("CannotTrigger", {
    task: Schema.String,
    reason: Schema.String,
  }) {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} cannot be triggered: ${this.reason}`
  }
}

/** @internal */
export class TaskTimedOut extends Data.TaggedError("TaskTimedOut")<{
  readonly task: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} timed out after ${
      Duration.format(this.timeoutMillis)
    }`
  }
}

/** @internal */
export class PeriodicTaskFailed<E> extends Data.TaggedError("PeriodicTaskFailed")<{
  readonly task: string
  readonly cause: Cause.Cause<E | TaskTimedOut>
}> {
  override get message(): string {
    return `Periodic task ${JSON.stringify(this.task)} failed and its error policy is "fail": ${
      Cause.pretty(this.cause)
    }`
  }
}
