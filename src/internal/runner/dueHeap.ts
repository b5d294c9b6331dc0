/**
 * A binary min-heap of a runner's tasks ordered by due instant, then by definition order, so
 * that tasks due at the same instant start in the order they were given.
 *
 * The heap holds task indices in flat typed arrays, with each task's key and position beside
 * them: re-keying the task that just started sifts it down through log₂ n levels, and reading
 * two keys per level from a `Float64Array` costs a few nanoseconds where reading them from the
 * tasks' state objects, spread over the heap, cost a cache miss each (about a tenth of a
 * concurrent run's CPU time at 10,000 tasks).
 *
 * @internal
 */

/** What the heap needs from an entry: its definition index (below the heap's capacity) and key. */
export interface HeapEntry {
  readonly index: number
  readonly nextDue: number
}

/** @internal */
export class DueHeap<A extends HeapEntry> {
  /** The entry of each index, once it has been in the heap. */
  private readonly entries: Array<A | undefined>
  /** Heap order: `order[0]` is the index due first. */
  private order: Int32Array
  /** The key of each index, as of its latest `push` or `update`. */
  private due: Float64Array
  /** Where each index is in `order`; -1 when it is not in the heap. */
  private position: Int32Array
  private size = 0

  constructor(capacity: number) {
    this.entries = new Array(capacity).fill(undefined)
    this.order = new Int32Array(capacity)
    this.due = new Float64Array(capacity)
    this.position = new Int32Array(capacity).fill(-1)
  }

  /** Room for indices below `capacity` (a task added to a running runner): the arrays double. */
  ensureCapacity(capacity: number): void {
    const old = this.position.length
    if (capacity <= old) return
    const size = Math.max(capacity, old * 2)
    const grown = <T extends Int32Array | Float64Array>(from: T, make: (n: number) => T): T => {
      const to = make(size)
      to.set(from)
      return to
    }
    this.order = grown(this.order, (n) => new Int32Array(n))
    this.due = grown(this.due, (n) => new Float64Array(n))
    this.position = grown(this.position, (n) => new Int32Array(n))
    this.position.fill(-1, old)
    for (let i = old; i < size; i++) this.entries.push(undefined)
  }

  /** The entry due first, if any. */
  peek(): A | undefined {
    return this.size === 0 ? undefined : this.entries[this.order[0]!]
  }

  /** Whether the entry is in the heap. */
  has(entry: A): boolean {
    return this.position[entry.index]! >= 0
  }

  /** Adds the entry, or re-keys it when it is already in. */
  update(entry: A): void {
    const index = entry.index
    this.due[index] = entry.nextDue
    const at = this.position[index]!
    if (at < 0) {
      this.entries[index] = entry
      this.order[this.size] = index
      this.position[index] = this.size
      this.up(this.size++)
      return
    }
    this.up(at)
    this.down(this.position[index]!)
  }

  remove(entry: A): void {
    const index = entry.index
    const at = this.position[index]!
    if (at < 0) return
    this.position[index] = -1
    const last = this.order[--this.size]!
    if (last === index) return
    this.order[at] = last
    this.position[last] = at
    this.up(at)
    this.down(this.position[last]!)
  }

  /** Whether index `a` comes before index `b`. */
  private before(a: number, b: number): boolean {
    const due = this.due
    return due[a]! < due[b]! || (due[a] === due[b] && a < b)
  }

  private up(at: number): void {
    const order = this.order
    const position = this.position
    const index = order[at]!
    while (at > 0) {
      const parentAt = (at - 1) >> 1
      const parent = order[parentAt]!
      if (!this.before(index, parent)) break
      order[at] = parent
      position[parent] = at
      at = parentAt
    }
    order[at] = index
    position[index] = at
  }

  private down(at: number): void {
    const order = this.order
    const position = this.position
    const size = this.size
    const index = order[at]!
    for (;;) {
      const left = 2 * at + 1
      if (left >= size) break
      const right = left + 1
      const child = right < size && this.before(order[right]!, order[left]!) ? right : left
      const childIndex = order[child]!
      if (!this.before(childIndex, index)) break
      order[at] = childIndex
      position[childIndex] = at
      at = child
    }
    order[at] = index
    position[index] = at
  }
}
