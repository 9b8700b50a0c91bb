/**
 * A timeout from the injected clock (in place of `AbortSignal.timeout`, which reads the wall
 * clock). Same shape as the planned core/abort `timeoutSignal`, so this file can go once that lands.
 */
import type { Clock } from '../../core/clock.js'

/** A signal whose pending timer can be released once the guarded work is done. */
export interface TimeoutSignal extends AbortSignal {
  /** Cancels the timer and detaches from the parent; the signal then never aborts. Idempotent. */
  clear(): void
}

/**
 * A signal that aborts after `ms` on `clock` with a DOMException named `TimeoutError`, or with
 * the parent's reason when `options.signal` aborts first.
 */
export function timeoutSignal (clock: Pick<Clock, 'setTimeout'>, ms: number, options: { signal?: AbortSignal, reason?: string } = {}): TimeoutSignal {
  const controller = new AbortController()
  const parent = options.signal
  const signal = controller.signal as TimeoutSignal
  if (parent?.aborted === true) {
    controller.abort(parent.reason)
    signal.clear = () => {}
    return signal
  }
  const onParentAbort = (): void => {
    timer.cancel()
    controller.abort(parent?.reason)
  }
  const timer = clock.setTimeout(() => {
    parent?.removeEventListener('abort', onParentAbort)
    controller.abort(new DOMException(options.reason ?? 'The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  parent?.addEventListener('abort', onParentAbort, { once: true })
  signal.clear = () => {
    timer.cancel()
    parent?.removeEventListener('abort', onParentAbort)
  }
  return signal
}
