/**
 * Where a runner is in its life, as one tagged value (in the manner of effect's `RcMap`): what
 * it may still do, and why it stopped, are read from the same place.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as PeriodicRunner from "../../PeriodicRunner.ts"
import type { PeriodicTaskFailed } from "./errors.ts"

/** @internal */
export type Lifecycle<E> =
  /**
   * Runs tasks. `driven`: a driver fiber runs passes (else only `tick` does). `failure`: a
   * `"fail"`-policy task failed, and no later task starts until whoever runs passes raises it.
   */
  | {
    readonly _tag: "Open"
    readonly driven: boolean
    readonly failure: PeriodicTaskFailed<E> | undefined
  }
  /**
   * Starts nothing more; running tasks get the rest of the deadline. `cause`: why the driver
   * failed, when it did. `failure`: a `"fail"`-policy failure not raised yet (a run that failed
   * during the stop): a pass the stop lets finish raises it, or else the stop does.
   */
  | {
    readonly _tag: "Stopping"
    readonly cause: Cause.Cause<PeriodicTaskFailed<E>> | undefined
    readonly failure: PeriodicTaskFailed<E> | undefined
  }
  /** Stopped; `cause`: why the runner failed, when it did (then `join` fails with it). */
  | { readonly _tag: "Stopped"; readonly cause: Cause.Cause<PeriodicTaskFailed<E>> | undefined }

/** @internal */
export const open = <E>(driven: boolean): Lifecycle<E> => ({
  _tag: "Open",
  driven,
  failure: undefined,
})

/** @internal What `status` shows of a lifecycle. */
export const publicState = <E>(lifecycle: Lifecycle<E>): PeriodicRunner.RunnerState => {
  switch (lifecycle._tag) {
    case "Open":
      return lifecycle.driven ? "running" : "idle"
    case "Stopping":
      return lifecycle.cause === undefined ? "stopping" : "failed"
    case "Stopped":
      return lifecycle.cause === undefined ? "stopped" : "failed"
  }
}
