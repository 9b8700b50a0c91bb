import type { Clock, TimerHandle } from '../../core/clock.js'

/**
 * Aborts its signal when nothing happened for `idleMs` (or when a parent signal aborts). Call
 * `kick()` on every sign of progress. One clock timer at a time, however many kicks.
 */
export class Watchdog {
  readonly signal: AbortSignal
  private readonly controller = new AbortController()
  private readonly clock: Clock
  private readonly idleMs: number
  private readonly onTimeout: () => Error
  private lastMs: number
  private timer?: TimerHandle
  private readonly parent?: AbortSignal
  private readonly onParentAbort = (): void => { this.abort(this.parent?.reason) }

  constructor (clock: Clock, idleMs: number, onTimeout: () => Error, parent?: AbortSignal) {
    this.clock = clock
    this.idleMs = idleMs
    this.onTimeout = onTimeout
    this.signal = this.controller.signal
    this.lastMs = clock.now()
    this.parent = parent
    if (parent?.aborted === true) {
      this.controller.abort(parent.reason)
      return
    }
    parent?.addEventListener('abort', this.onParentAbort, { once: true })
    this.arm(idleMs)
  }

  kick (): void {
    this.lastMs = this.clock.now()
  }

  abort (reason: unknown): void {
    this.stop()
    if (!this.controller.signal.aborted) this.controller.abort(reason)
  }

  /** Cancels the timer and the parent link; the signal stays as it is. */
  stop (): void {
    this.timer?.cancel()
    this.timer = undefined
    this.parent?.removeEventListener('abort', this.onParentAbort)
  }

  private arm (ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      const idle = this.clock.now() - this.lastMs
      if (idle >= this.idleMs) {
        this.abort(this.onTimeout())
      } else {
        this.arm(this.idleMs - idle)
      }
    }, ms)
  }
}
