/**
 * What a sequential pass reads of every task, in definition order and in flat arrays.
 *
 * oslo's pass examines every task on every pass: whether it is due, and how much it lowers the
 * pass's idle time. Read from the tasks' state objects, that is a few cache misses per task (at
 * 10,000 tasks and a pass per millisecond, about half a microsecond per run); read from two
 * `Float64Array`s it is a tight loop over 160 KB.
 *
 * @internal
 */

/** Where a pass is: the next task to examine and the idle time so far (oslo P16). */
export interface Pass {
  index: number
  idle: number
}

/** @internal */
export class PassTable {
  /** The instant task i is next due; +∞ while it is not considered (disabled, paused, done, running). */
  private due: Float64Array
  /** Task i's spacing; +∞ while it is not considered (disabled, paused, done). */
  private spacing: Float64Array

  constructor(public size: number) {
    this.due = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
    this.spacing = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
  }

  /** Room for tasks below `size` (a task added to a running runner): the new ones are not due. */
  ensureSize(size: number): void {
    if (size <= this.size) return
    const grown = (from: Float64Array) => {
      const to = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
      to.set(from)
      return to
    }
    this.due = grown(this.due)
    this.spacing = grown(this.spacing)
    this.size = size
  }

  /** Records task `index`'s state: considered or not, running or not, its spacing and next due instant. */
  set(index: number, considered: boolean, running: boolean, spacing: number, due: number): void {
    this.spacing[index] = considered ? spacing : Number.POSITIVE_INFINITY
    this.due[index] = considered && !running ? due : Number.POSITIVE_INFINITY
  }

  /**
   * Moves `pass.index` to the next task due at `at` (`size` when none is), lowering `pass.idle`
   * by the spacing of every considered task it passes and by the wait of every one not yet due.
   */
  seek(pass: Pass, at: number): void {
    const due = this.due
    const spacing = this.spacing
    const size = this.size
    let index = pass.index
    let idle = pass.idle
    for (; index < size; index++) {
      const every = spacing[index]!
      if (every < idle) idle = every
      const wait = due[index]! - at
      if (wait > 0) {
        if (wait < idle) idle = wait
        continue
      }
      break
    }
    pass.index = index
    pass.idle = idle
  }
}
