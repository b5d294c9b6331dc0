/**
 * A binary min-heap of task slots ordered by due instant, then by definition order, so that
 * tasks due at the same instant start in the order they were given. Each slot remembers its
 * position, which makes removal and re-keying O(log n).
 */

/** What the heap needs from an entry. */
export interface HeapEntry {
  readonly index: number
  nextDue: number
  heapPosition: number
}

const before = (a: HeapEntry, b: HeapEntry): boolean =>
  a.nextDue < b.nextDue || (a.nextDue === b.nextDue && a.index < b.index)

/** @internal */
export class DueHeap<A extends HeapEntry> {
  private readonly items: Array<A> = []

  /** The entry due first, if any. */
  peek(): A | undefined {
    return this.items[0]
  }

  push(entry: A): void {
    entry.heapPosition = this.items.length
    this.items.push(entry)
    this.up(entry.heapPosition)
  }

  remove(entry: A): void {
    if (entry.heapPosition >= 0) this.removeAt(entry.heapPosition)
  }

  /** Re-inserts an entry whose `nextDue` changed (or inserts it if absent). */
  update(entry: A): void {
    if (entry.heapPosition < 0) return this.push(entry)
    this.up(entry.heapPosition)
    this.down(entry.heapPosition)
  }

  private removeAt(position: number): void {
    const items = this.items
    const removed = items[position]!
    const last = items.pop()!
    removed.heapPosition = -1
    if (last !== removed) {
      items[position] = last
      last.heapPosition = position
      this.up(position)
      this.down(last.heapPosition)
    }
  }

  private up(position: number): void {
    const items = this.items
    const entry = items[position]!
    while (position > 0) {
      const parentPosition = (position - 1) >> 1
      const parent = items[parentPosition]!
      if (!before(entry, parent)) break
      items[position] = parent
      parent.heapPosition = position
      position = parentPosition
    }
    items[position] = entry
    entry.heapPosition = position
  }

  private down(position: number): void {
    const items = this.items
    const length = items.length
    const entry = items[position]!
    for (;;) {
      const left = 2 * position + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && before(items[right]!, items[left]!) ? right : left
      const childEntry = items[child]!
      if (!before(childEntry, entry)) break
      items[position] = childEntry
      childEntry.heapPosition = position
      position = child
    }
    items[position] = entry
    entry.heapPosition = position
  }
}
