/** A counting semaphore with a bounded FIFO wait queue; waiting can be aborted. */
export class Slots {
  private free: number
  private readonly maxQueued: number
  private readonly waiting: Array<{ grant: () => void }> = []

  constructor (slots: number, maxQueued: number) {
    this.free = slots
    this.maxQueued = maxQueued
  }

  /** Whether a new caller would get a slot or a place in the queue. */
  canQueue (): boolean {
    return this.free > 0 || this.waiting.length < this.maxQueued
  }

  get queued (): number {
    return this.waiting.length
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason. */
  async acquire (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.free > 0) {
      this.free--
      return this.releaser()
    }
    return await new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(this.releaser())
        }
      }
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(entry)
    })
  }

  private releaser (): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      if (next != null) next.grant()
      else this.free++
    }
  }
}
