/** A binary min-heap of timed events for the simulator; equal times keep insertion order. */

/** One scheduled event. */
export interface Timed {
  atMs: number;
  seq: number;
  run: () => void;
}

/** The simulator's event queue. */
export class EventQueue {
  private readonly heap: Timed[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `run` at `atMs`. */
  push(atMs: number, run: () => void): void {
    const item = { atMs, seq: this.seq++, run };
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  /** The time of the next event, or Infinity. */
  peekTime(): number {
    return this.heap[0]?.atMs ?? Infinity;
  }

  /** Removes and returns the next event. */
  pop(): Timed | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === index) break;
        [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
        index = smallest;
      }
    }
    return top;
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
