/**
 * Clocks for real nodes in one process: a virtual clock that runs `scale` times as fast as the wall
 * clock (every node's timers, heartbeats, rollout pauses and RPC deadlines shrink with it), and a
 * per-node view of it that can be frozen, the in-process approximation of SIGSTOP.
 */
import { monotonicMs, sleepWith } from '../../core/clock.js'
import type { Clock, TimerHandle } from '../../core/clock.js'

interface PendingTimer {
  /** Virtual time it is due at (unrounded). */
  dueMs: number
  fire: () => void
  timer?: ReturnType<typeof setTimeout>
}

/**
 * Virtual time at `scale` x the wall clock. `now()` starts at `originMs`. Timers keep the process
 * alive. The scale can change while it runs ({@link setScale}): virtual time goes on from where it
 * stood, and every pending timer keeps its virtual due time (it is re-armed at the new pace).
 */
export class ScaledClock implements Clock {
  private wallBase: number
  private virtualBase: number
  private pace: number
  private readonly pending = new Set<PendingTimer>()

  /** `wall`: the wall clock's ms (monotonic); its timers are the platform's setTimeout. */
  constructor (scale: number, originMs = 0, private readonly wall: () => number = monotonicMs) {
    if (!(scale > 0)) throw new RangeError('the time scale must be > 0')
    this.wallBase = wall()
    this.pace = scale
    this.virtualBase = originMs
  }

  /** Virtual ms per wall ms now. */
  get scale (): number {
    return this.pace
  }

  now (): number {
    // Whole milliseconds, as Date.now() gives (heartbeats carry integers).
    return Math.floor(this.exactNow())
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const entry: PendingTimer = { dueMs: this.exactNow() + Math.max(0, ms), fire: () => { this.pending.delete(entry); fn() } }
    entry.timer = setTimeout(entry.fire, Math.max(0, ms) / this.pace)
    this.pending.add(entry)
    return { cancel: () => { clearTimeout(entry.timer); this.pending.delete(entry) } }
  }

  async sleep (ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await sleepWith(this, ms, options.signal)
  }

  /** Runs at `scale` x the wall clock from now on; pending timers fire at their virtual due times. */
  setScale (scale: number): void {
    if (!(scale > 0)) throw new RangeError('the time scale must be > 0')
    if (scale === this.pace) return
    const now = this.exactNow()
    this.virtualBase = now
    this.wallBase = this.wall()
    this.pace = scale
    for (const entry of this.pending) {
      clearTimeout(entry.timer)
      entry.timer = setTimeout(entry.fire, Math.max(0, entry.dueMs - now) / scale)
    }
  }

  private exactNow (): number {
    return this.virtualBase + (this.wall() - this.wallBase) * this.pace
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
