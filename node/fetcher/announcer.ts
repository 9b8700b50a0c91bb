/**
 * DHT announcements, deferred and made once. A provider record is the fallback way to find a
 * holder: heartbeats (and shard digests) name what every member holds within an interval, and a
 * download asks those holders and its connected peers first. A kad-dht provide, though, walks the
 * network (in a fleet of 20, every node) and costs each node on its way a peer-store write for
 * every peer its answers name. Made the moment a download had its manifest and again once it was
 * assembled, on every device of a wave at once, they took most of the wave's time: 20 nodes in one
 * process pulling a 0.5 MiB model were done in 6.4-9.6 s with them, 0.6-1.8 s without
 * (docs/BENCHMARKS.md). So each CID is announced once per process, 0.5 to 1.5 x `delayMs` (random)
 * after it is first asked for, out of the burst of transfers a wave is. A CID the store no longer
 * holds when its time comes is not announced; a failed announce may be asked for again.
 */
import { timeoutSignal } from '../../core/abort.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions } from '@libp2p/interface'

export interface DeferredAnnouncerComponents {
  /** The provide itself (`announce` of routing.ts). */
  announce: (manifestCid: string, options: AbortOptions) => Promise<void>
  /** Whether the store still holds (part of) the model when its announce is due. */
  holds: (manifestCid: string, options: AbortOptions) => Promise<boolean>
  clock: Clock
  random: () => number
  logger: Logger
}

export interface DeferredAnnouncerInit {
  /** The mean wait, ms; 0 announces at once. */
  delayMs: number
  /** One provide's deadline, ms. @default 30000 */
  timeoutMs?: number
}

type AnnounceState = { kind: 'scheduled', timer: TimerHandle } | { kind: 'announcing' } | { kind: 'announced' }

export class DeferredAnnouncer {
  private readonly c: DeferredAnnouncerComponents
  private readonly delayMs: number
  private readonly timeoutMs: number
  private readonly states = new Map<string, AnnounceState>()
  private readonly controller = new AbortController()

  constructor (components: DeferredAnnouncerComponents, init: DeferredAnnouncerInit) {
    this.c = components
    this.delayMs = init.delayMs
    this.timeoutMs = init.timeoutMs ?? 30_000
  }

  /** Schedules the announce of `manifestCid` unless it is scheduled, running or done already. */
  soon (manifestCid: string): void {
    if (this.controller.signal.aborted || this.states.has(manifestCid)) return
    if (this.delayMs === 0) {
      void this.run(manifestCid)
      return
    }
    const waitMs = Math.round(this.delayMs * (0.5 + this.c.random()))
    const timer = this.c.clock.setTimeout(() => { void this.run(manifestCid) }, waitMs)
    this.states.set(manifestCid, { kind: 'scheduled', timer })
  }

  /** Where the announce of `manifestCid` stands (undefined: never asked for, or failed). */
  state (manifestCid: string): AnnounceState['kind'] | undefined {
    return this.states.get(manifestCid)?.kind
  }

  /** Cancels every scheduled announce and aborts the running ones; later calls do nothing. */
  stop (): void {
    for (const s of this.states.values()) if (s.kind === 'scheduled') s.timer.cancel()
    this.controller.abort(new Error('announcer stopped'))
  }

  private async run (cid: string): Promise<void> {
    this.states.set(cid, { kind: 'announcing' })
    const signal = timeoutSignal(this.c.clock, this.timeoutMs, { signal: this.controller.signal, reason: `announce took longer than ${this.timeoutMs} ms` })
    try {
      if (!await this.c.holds(cid, { signal })) {
        this.states.delete(cid)
        return
      }
      await this.c.announce(cid, { signal })
      this.states.set(cid, { kind: 'announced' })
    } catch (err) {
      this.states.delete(cid)
      if (!this.controller.signal.aborted) this.c.logger.debug('announcing a manifest failed', { cid, err })
    } finally {
      signal.clear()
    }
  }
}
