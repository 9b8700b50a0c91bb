/**
 * Timeouts from the injected clock, in place of `AbortSignal.timeout` (which reads the wall
 * clock, so tests would have to wait for it).
 */
import type { Clock } from './clock.js'

/** A signal whose timer can be released early, once the guarded work is done. */
export interface TimeoutSignal extends AbortSignal {
  /** Cancels the timer: the signal then aborts only if its parent does. Idempotent. */
  clear(): void
}

export interface TimeoutSignalOptions {
  /**
   * A parent: the signal also aborts, with the parent's reason, when the parent does, and its
   * timer is cancelled then. One call replaces `AbortSignal.any([signal, AbortSignal.timeout(ms)])`.
   */
  signal?: AbortSignal
  /** The message of the TimeoutError. @default 'The operation was aborted due to timeout' */
  reason?: string
}

/**
 * A signal that aborts after `ms` on `clock` with a `DOMException` named `TimeoutError`, as
 * `AbortSignal.timeout` does, so code that tells timeouts apart by `name` keeps working. The
 * timer is cancelled as soon as the signal aborts for another reason (its parent) or `clear()`
 * is called; on the system clock it is unref'd, so it never keeps the process alive. The parent
 * is joined with `AbortSignal.any`, which holds it weakly and adds no listener to it, so a
 * long-lived parent can guard any number of timeouts.
 */
export function timeoutSignal (clock: Pick<Clock, 'setTimeout'>, ms: number, options: TimeoutSignalOptions = {}): TimeoutSignal {
  const own = new AbortController()
  const signal = (options.signal == null ? own.signal : AbortSignal.any([options.signal, own.signal])) as TimeoutSignal
  if (signal.aborted) {
    signal.clear = () => {}
    return signal
  }
  const timer = clock.setTimeout(() => {
    own.abort(new DOMException(options.reason ?? 'The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  signal.addEventListener('abort', () => { timer.cancel() }, { once: true })
  signal.clear = () => { timer.cancel() }
  return signal
}

/**
 * Waits `ms` on `clock`; rejects with the signal's reason as soon as `signal` aborts (the timer
 * is cancelled then). The injected-clock replacement for `timers/promises` `setTimeout`.
 */
export async function delay (clock: Pick<Clock, 'setTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel()
      reject(signal?.reason)
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
