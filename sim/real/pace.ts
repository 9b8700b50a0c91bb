/**
 * The in-process fleet's slow devices ({@link DevicePace}): a scenario's `slow: {disk, cpu}` on
 * one node of a shared process. The multi-host mode caps the node's process with cgroups; here the
 * node itself waits, at the points core/pace.ts lists:
 *
 * - CPU `f`: work that took `ms` of this machine's time takes `f x ms` on the device, as under a
 *   cgroup cap of 1/f of a core, so the node waits `(f - 1) x ms` more. An inference answers that
 *   much later (its latency, in the node's metrics and gates, is f times this machine's) and its
 *   model runs nothing else meanwhile.
 * - disk `f`: a rate cap of {@link DISK_BYTES_PER_SEC} / f shared by the node's chunk writes
 *   and model reads, queued in order (what `io.max` does to the multi-host node's data disk).
 *
 * The waits are in this machine's time. The node's clock runs `scale` times as fast (the fleet's
 * time scale, read at each wait), so a wait of w ms is `w x scale` ms on it: the slow device is
 * slow against everything else the shared machine does, not against the virtual clock alone.
 */
import { TokenBucket } from '../../node/ratelimit/token-bucket.js'
import { DISK_BYTES_PER_SEC } from '../des/engine.js'
import type { Clock } from '../../core/clock.js'
import type { DevicePace } from '../../core/pace.js'
import type { AbortOptions } from '@libp2p/interface'

export interface SlowFactors {
  /** Times slower than this machine's disk rate cap; 1 = not slowed. */
  disk: number
  /** Times slower than this machine's CPU; 1 = not slowed. */
  cpu: number
}

export class SlowDevice implements DevicePace {
  private factors: SlowFactors = { disk: 1, cpu: 1 }
  /**
   * The disk cap, in bytes per second of the node's clock, with a burst of one byte: an idle cap
   * earns no credit, so every read or write waits its full time.
   */
  private readonly diskCap: TokenBucket

  /**
   * @param clock - the node's clock
   * @param scale - its ms per ms of this machine's time now
   */
  constructor (private readonly clock: Clock, private readonly scale: () => number) {
    this.diskCap = new TokenBucket(clock, DISK_BYTES_PER_SEC, 1)
  }

  /** Slows the device from now on (1, 1 puts it back at this machine's pace). */
  set (factors: SlowFactors): void {
    if (!(factors.disk >= 1) || !(factors.cpu >= 1)) throw new RangeError('slow-down factors are >= 1')
    this.factors = { ...factors }
  }

  get current (): SlowFactors { return { ...this.factors } }

  get cpuSlowed (): boolean { return this.factors.cpu > 1 }

  async cpu (ms: number, options: AbortOptions = {}): Promise<void> {
    const f = this.factors.cpu
    if (f <= 1 || !(ms > 0)) return
    await this.clock.sleep((f - 1) * ms * this.scale(), options)
  }

  async disk (bytes: number, options: AbortOptions = {}): Promise<void> {
    const f = this.factors.disk
    if (f <= 1 || !(bytes > 0)) return
    const rate = DISK_BYTES_PER_SEC / f / this.scale()
    if (rate !== this.diskCap.params.rateBytesPerSec) this.diskCap.setRate(rate)
    await this.diskCap.take(bytes, options)
  }
}
