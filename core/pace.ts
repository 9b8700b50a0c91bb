/**
 * Device pace: how much slower than the machine running the code the device is meant to be. The
 * simulator's in-process mode runs many nodes on one machine and gives a node a slow disk or CPU
 * (`slow: {disk, cpu}` in a scenario) through this seam; a production node has none (undefined),
 * and nothing waits. The multi-host mode slows real processes with cgroups instead.
 *
 * The node calls it where the work is:
 * - `cpu(ms)` after CPU work of its own that took `ms` of this machine's time: every inference
 *   run (the smoke test too) and every session load. An inference answers only after it.
 * - `disk(bytes)` before disk I/O the device would throttle: each chunk written to the model store
 *   and the model file read into a session.
 */
import type { AbortOptions } from '@libp2p/interface'

export interface DevicePace {
  /** The device's CPU is slower than this machine's now: a model runs one inference at a time. */
  readonly cpuSlowed: boolean
  /** Waits what CPU work that took `ms` of this machine's time costs the device on top of that. */
  cpu(ms: number, options?: AbortOptions): Promise<void>
  /** Waits what `bytes` of disk reads or writes cost the device on top of this machine's disk. */
  disk(bytes: number, options?: AbortOptions): Promise<void>
}
