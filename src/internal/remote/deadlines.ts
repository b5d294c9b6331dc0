/**
 * Time limits for many calls with one timer: each call adds a deadline and cancels it when it
 * ends; one fiber sleeps (through `Clock`) until the earliest deadline and runs its action.
 * `Effect.timeoutFail` forks two fibers and arms a timer per call, which cost 50–60 µs of CPU on
 * Node, more than the rest of a small call; this costs a few array and map operations.
 *
 * Deadlines with the same time limit end in the order they were added, so each limit keeps a
 * first-in-first-out queue (O(1) per call, where a heap such as the runner's `DueHeap` would
 * cost log n); a cancelled deadline stays in its queue, marked, until it reaches the head or the
 * queue is compacted. A queue left empty is dropped, so finding the earliest head loops over
 * the limits in use: one or two for a server's methods and a client's calls, more while fan-outs
 * with other limits run.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** @internal A deadline that was added: cancelling it after it ran, or twice, does nothing. */
export interface Deadline {
  readonly cancel: () => void
}

/** @internal */
export interface Deadlines {
  /**
   * Runs `onExpire` `millis` from now, unless cancelled first; an infinite `millis` never runs
   * it. The action runs in the deadlines' own fiber: it must not wait long.
   */
  readonly add: (millis: number, onExpire: () => Effect.Effect<void>) => Deadline
  /** How many deadlines are pending. */
  readonly size: () => number
}

interface Entry extends Deadline {
  readonly at: number
  readonly queue: Queue
  readonly onExpire: () => Effect.Effect<void>
  done: boolean
}

/** The deadlines of one time limit, in the order they end. */
interface Queue {
  entries: Array<Entry>
  head: number
  pending: number
}

const never: Deadline = { cancel: () => {} }

/** A queue holding this many ended entries or more, most of it ended, is compacted. */
const COMPACT_AT = 1024

const compact = (queue: Queue): void => {
  const length = queue.entries.length - queue.head
  if (length < COMPACT_AT || queue.pending * 2 > length) return
  queue.entries = queue.entries.slice(queue.head).filter((entry) => !entry.done)
  queue.head = 0
}

/** The queue's first pending entry, dropping the ended ones before it. */
const headOf = (queue: Queue): Entry | undefined => {
  while (queue.head < queue.entries.length && queue.entries[queue.head]!.done) queue.head++
  if (queue.head === queue.entries.length) {
    queue.entries = []
    queue.head = 0
    return undefined
  }
  return queue.entries[queue.head]
}

/** @internal Deadlines whose fiber runs until the scope closes. */
export const make: Effect.Effect<Deadlines, never, Scope.Scope> = Effect.gen(function* () {
  const clock = yield* Effect.clock
  const queues = new Map<number, Queue>()
  const wake = yield* Effect.makeLatch(false)
  let pending = 0
  // When the fiber wakes by itself next: Infinity while it waits for a deadline to be added.
  let wakesAt = Infinity

  const earliest = (): Entry | undefined => {
    let first: Entry | undefined
    for (const [limit, queue] of queues) {
      const head = headOf(queue)
      if (head === undefined) queues.delete(limit) // nothing pending: a later add makes a new one
      else if (first === undefined || head.at < first.at) first = head
    }
    return first
  }
  const end = (entry: Entry): boolean => {
    if (entry.done) return false
    entry.done = true
    pending--
    entry.queue.pending--
    return true
  }
  // An action that fails or dies is logged: the deadlines after it still run.
  const expire = (entry: Entry) =>
    Effect.catchAllCause(
      Effect.suspend(entry.onExpire),
      (cause) => Effect.logError("A deadline's action failed", cause),
    )
  const step = Effect.suspend(() => {
    wake.unsafeClose()
    const first = earliest()
    const now = clock.unsafeCurrentTimeMillis()
    if (first === undefined) {
      wakesAt = Infinity
      return wake.await
    }
    if (first.at <= now) return end(first) ? expire(first) : Effect.void
    wakesAt = first.at
    return Effect.raceFirst(Clock.sleep(first.at - now), wake.await)
  })
  yield* Effect.forkScoped(Effect.forever(step))

  const add = (millis: number, onExpire: () => Effect.Effect<void>): Deadline => {
    if (!Number.isFinite(millis)) return never
    let queue = queues.get(millis)
    if (queue === undefined) queues.set(millis, queue = { entries: [], head: 0, pending: 0 })
    const entry: Entry = {
      at: clock.unsafeCurrentTimeMillis() + millis,
      queue,
      onExpire,
      done: false,
      cancel: () => {
        end(entry)
      },
    }
    queue.entries.push(entry)
    queue.pending++
    pending++
    compact(queue)
    if (entry.at < wakesAt) wake.unsafeOpen()
    return entry
  }
  return { add, size: () => pending }
})
