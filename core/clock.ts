/**
 * Time, injected. Nothing under `node/` or `protocols/` reads the wall clock or arms a timer
 * directly: it asks a {@link Clock}, so tests and the simulator can drive time themselves.
 * `scripts/check-time.mjs` (`npm run lint:time`) enforces it.
 */
import { performance } from 'node:perf_hooks'

export interface TimerHandle {
  /** Cancels the timer; calling it twice, or after it fired, is harmless. */
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the Unix epoch (virtual in tests and the simulator). */
  now(): number
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts. */
  sleep(ms: number, options?: { signal?: AbortSignal }): Promise<void>
}

/** The real clock, for production. Timers are unref'd so they never keep a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout (fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return { cancel: () => { clearTimeout(t) } }
  },
  sleep: async (ms, options = {}) => sleepWith(systemClock, ms, options.signal)
}

/**
 * A monotonic reading in milliseconds (sub-millisecond resolution, arbitrary origin), for
 * measuring durations on real hardware. Components that measure take it as an injectable
 * `monotonicMs` so tests can substitute a virtual one.
 */
export function monotonicMs (): number {
  return performance.now()
}

/** `ms` since the epoch as an ISO 8601 string (`2026-12-01T20:36:20.000Z`): the one way to format a timestamp. */
export function isoTime (ms: number): string {
  return new Date(ms).toISOString()
}

/** `clock.sleep` for any {@link Clock}: resolves after `ms` on it, or rejects with the signal's reason. */
export async function sleepWith (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      handle.cancel()
      reject(signal?.reason)
    }
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A binary min-heap ordered by `less`: push and pop cost O(log n) comparisons. `less` must be a
 * strict weak order; ties pop in no particular order, so callers that need FIFO break ties
 * themselves (as {@link ManualClock} does with a sequence number).
 */
export class MinHeap<T> {
  private items: T[] = []

  constructor (private readonly less: (a: T, b: T) => boolean) {}

  get size (): number {
    return this.items.length
  }

  peek (): T | undefined {
    return this.items[0]
  }

  push (item: T): void {
    const items = this.items
    let i = items.length
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(item, items[parent]!)) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = item
  }

  pop (): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) this.siftDown(0, last)
    return top
  }

  /** Keeps only the items `keep` accepts, then restores the heap in O(n). */
  retain (keep: (item: T) => boolean): void {
    this.items = this.items.filter(keep)
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i, this.items[i]!)
  }

  private siftDown (start: number, item: T): void {
    const items = this.items
    const n = items.length
    let i = start
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && this.less(items[child + 1]!, items[child]!)) child++
      if (!this.less(items[child]!, item)) break
      items[i] = items[child]!
      i = child
    }
    items[i] = item
  }
}

interface PendingTimer {
  at: number
  seq: number
  fn: () => void
  state: 'pending' | 'fired' | 'cancelled'
}

function earlier (a: PendingTimer, b: PendingTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

export interface ManualClockInit {
  /**
   * Event-loop turns (`setImmediate`) the async methods yield after each timer fires, so the
   * promise chains it started run before the next timer. One turn drains every chain made only
   * of promises; a chain that itself waits on `setImmediate` needs one more turn per wait. Real
   * I/O (sockets, files, worker threads) is not waited for: it cannot be seen from here.
   * Bounded rather than "until quiescent" because quiescence cannot be observed from JavaScript
   * (pending promises and I/O are invisible), and each turn costs the same for every event of a
   * long simulation, so the cost stays predictable.
   * @default 1
   */
  flushTurns?: number
}

/**
 * A clock that only moves when told to: the scheduler a discrete-event simulation drives. Timers
 * sit in a binary heap ordered by due time, then by the order they were armed (same-time timers
 * fire first in, first out); arming costs O(log T), cancelling O(1) (the timer is marked and
 * skipped when it reaches the top; the heap is compacted when cancelled timers outnumber live ones).
 *
 * - `advance(ms)` fires, synchronously, every timer due in that window in order, including timers
 *   armed by the timers it fires, then sets the time to the window's end.
 * - `runUntil(timeMs)`, `advanceAsync(ms)` and `runNext()` do the same one timer at a time and
 *   yield to the event loop after each (see {@link ManualClockInit.flushTurns}), so code that
 *   awaits a `sleep` resumes, and arms its next timer, before the next timer fires. Drive the
 *   clock from one place at a time: two concurrent `runUntil` calls interleave their events.
 */
export class ManualClock implements Clock {
  private current: number
  private seq = 0
  private live = 0
  private readonly heap = new MinHeap<PendingTimer>(earlier)
  private readonly flushTurns: number

  constructor (startMs = 1_700_000_000_000, init: ManualClockInit = {}) {
    this.current = startMs
    this.flushTurns = Math.max(0, Math.floor(init.flushTurns ?? 1))
  }

  now (): number {
    return this.current
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms)
    const timer: PendingTimer = { at: this.current + delay, seq: this.seq++, fn, state: 'pending' }
    this.heap.push(timer)
    this.live++
    return {
      cancel: () => {
        if (timer.state !== 'pending') return
        timer.state = 'cancelled'
        this.live--
        if (this.heap.size > 64 && this.heap.size > 2 * this.live) this.heap.retain(t => t.state === 'pending')
      }
    }
  }

  async sleep (ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await sleepWith(this, ms, options.signal)
  }

  /** Number of timers still waiting to fire. */
  get pending (): number {
    return this.live
  }

  /** When the next timer is due (ms since the epoch), or undefined when none is waiting. */
  nextAt (): number | undefined {
    return this.top()?.at
  }

  /** Fires every timer due within the next `ms`, synchronously, then moves the time to the window's end. */
  advance (ms: number): void {
    const until = this.current + ms
    for (let t = this.take(until); t != null; t = this.take(until)) t.fn()
    this.current = until
  }

  /**
   * Fires the timers due up to `timeMs` one at a time, yielding to the event loop after each, then
   * moves the time to `timeMs` (never backwards). Resolves to the number of timers fired.
   */
  async runUntil (timeMs: number): Promise<number> {
    let fired = 0
    await this.flush()
    for (let t = this.take(timeMs); t != null; t = this.take(timeMs)) {
      t.fn()
      fired++
      await this.flush()
    }
    this.current = Math.max(this.current, timeMs)
    return fired
  }

  /** {@link runUntil} the current time plus `ms`. */
  async advanceAsync (ms: number): Promise<number> {
    return await this.runUntil(this.current + ms)
  }

  /**
   * Jumps to the next timer, fires it and yields to the event loop. Resolves to false, with the
   * time unchanged, when no timer is waiting.
   */
  async runNext (): Promise<boolean> {
    await this.flush()
    const t = this.take(Infinity)
    if (t == null) return false
    t.fn()
    await this.flush()
    return true
  }

  /** The earliest live timer, dropping cancelled ones off the top. */
  private top (): PendingTimer | undefined {
    let t = this.heap.peek()
    while (t != null && t.state !== 'pending') {
      this.heap.pop()
      t = this.heap.peek()
    }
    return t
  }

  /** Removes the earliest live timer due at or before `until` and moves the time to it. */
  private take (until: number): PendingTimer | undefined {
    const t = this.top()
    if (t == null || !(t.at <= until)) return undefined
    this.heap.pop()
    t.state = 'fired'
    this.live--
    this.current = Math.max(this.current, t.at)
    return t
  }

  private async flush (): Promise<void> {
    for (let i = 0; i < this.flushTurns; i++) await new Promise<void>(resolve => { setImmediate(resolve) })
  }
}
