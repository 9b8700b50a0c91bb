/**
 * Time, injected. Nothing under `node/` or `protocols/` reads the wall clock or arms a timer
 * directly: it asks a {@link Clock}, so tests and the simulator can drive time themselves.
 */

export interface TimerHandle {
  /** Cancels the timer; calling it twice is harmless. */
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

async function sleepWith (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
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

interface PendingTimer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer due in that window, in
 * order of due time, including timers armed by the timers it fires.
 */
export class ManualClock implements Clock {
  private current: number
  private seq = 0
  private readonly timers: PendingTimer[] = []

  constructor (startMs = 1_700_000_000_000) {
    this.current = startMs
  }

  now (): number {
    return this.current
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false }
    this.timers.push(timer)
    return { cancel: () => { timer.cancelled = true } }
  }

  async sleep (ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await sleepWith(this, ms, options.signal)
  }

  /** Number of timers still waiting to fire. */
  get pending (): number {
    return this.timers.filter(t => !t.cancelled).length
  }

  advance (ms: number): void {
    const until = this.current + ms
    for (;;) {
      const live = this.timers.filter(t => !t.cancelled && t.at <= until)
      if (live.length === 0) break
      live.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = live[0]!
      next.cancelled = true
      this.timers.splice(this.timers.indexOf(next), 1)
      this.current = Math.max(this.current, next.at)
      next.fn()
    }
    this.current = until
    for (let i = this.timers.length - 1; i >= 0; i--) {
      if (this.timers[i]!.cancelled) this.timers.splice(i, 1)
    }
  }
}
