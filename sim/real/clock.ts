/**
 * Clocks for real nodes in one process: a virtual clock that runs `scale` times as fast as the wall
 * clock (every node's timers, heartbeats, rollout pauses and RPC deadlines shrink with it), and a
 * per-node view of it that can be frozen, the in-process approximation of SIGSTOP.
 */
import { monotonicMs, sleepWith } from '../../core/clock.js'
import type { Clock, TimerHandle } from '../../core/clock.js'

/** Virtual time at `scale` x the wall clock. `now()` starts at `originMs`. Timers keep the process alive. */
export class ScaledClock implements Clock {
  private readonly wall0 = monotonicMs()

  constructor (readonly scale: number, private readonly originMs = 0) {
    if (!(scale > 0)) throw new RangeError('the time scale must be > 0')
  }

  now (): number {
    // Whole milliseconds, as Date.now() gives (heartbeats carry integers).
    return Math.floor(this.originMs + (monotonicMs() - this.wall0) * this.scale)
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms) / this.scale)
    return { cancel: () => { clearTimeout(t) } }
  }

  async sleep (ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await sleepWith(this, ms, options.signal)
  }
}

/**
 * One node's view of a shared clock. While frozen, `now()` stands still and timers that come due
 * wait; on `thaw` they fire at once, with the state of before (what a resumed process sees).
 */
export class FreezableClock implements Clock {
  private frozenAt?: number
  private readonly due: Array<() => void> = []

  constructor (private readonly base: Clock) {}

  get frozen (): boolean {
    return this.frozenAt !== undefined
  }

  now (): number {
    return this.frozenAt ?? this.base.now()
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    let cancelled = false
    const run = (): void => { if (!cancelled) fn() }
    const handle = this.base.setTimeout(() => {
      if (this.frozenAt !== undefined) this.due.push(run)
      else run()
    }, ms)
    return { cancel: () => { cancelled = true; handle.cancel() } }
  }

  async sleep (ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await sleepWith(this, ms, options.signal)
  }

  freeze (): void {
    this.frozenAt ??= this.base.now()
  }

  thaw (): void {
    this.frozenAt = undefined
    for (const fn of this.due.splice(0)) fn()
  }
}
