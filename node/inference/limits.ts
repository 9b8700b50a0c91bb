/**
 * Resource limits as operators write them in Kubernetes (`cpu: "500m"`, `memory: "256Mi"`), and
 * the pure decisions made from them: onnxruntime thread counts, the duty cycle that holds a model
 * to its CPU share, and whether a model may load at all given its memory estimate.
 */
import { parseBytes, parseCpu as parseCpuQuantity, QuantityError } from '../../core/quantity.js'
import { InsufficientMemoryError, InvalidLimitError, MemoryLimitError } from './errors.js'

/** Limits for one model version, in Kubernetes quantity syntax (or plain numbers: cores, bytes). */
export interface ResourceLimits {
  /** Cores: `"500m"`, `"0.5"`, `"2"`, `0.5`. @default unlimited: every core, no duty cycle */
  cpu?: string | number
  /** Bytes: `"256Mi"`, `"1Gi"`, `"300M"`, `268435456`. @default no per-model limit (the device's free memory still applies) */
  memory?: string | number
}

/** {@link ResourceLimits} parsed and checked. */
export interface ResolvedLimits {
  cpuCores?: number
  memoryBytes?: number
}

/** Runs a core/quantity parser, raising its error as the runtime's {@link InvalidLimitError}. */
function asLimit<T> (parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof QuantityError) throw new InvalidLimitError(err.message, { cause: err })
    throw err
  }
}

/** Cores from a CPU limit: `"500m"` -> 0.5, `"2"` -> 2, `1.5` -> 1.5. Rounded up to whole millicores. */
export function parseCpu (input: string | number): number {
  return asLimit(() => parseCpuQuantity(input, 'cpu limit'))
}

/** Bytes from a memory limit: `"256Mi"` -> 268435456, `"1G"` -> 1e9. Rounded up to whole bytes. */
export function parseMemory (input: string | number): number {
  return asLimit(() => parseBytes(input, 'memory limit'))
}

/** Parses both limits; throws {@link InvalidLimitError} naming the bad one. Changes nothing. */
export function resolveLimits (limits: ResourceLimits = {}): ResolvedLimits {
  if (typeof limits !== 'object' || limits == null) throw new InvalidLimitError('limits must be an object like { cpu: "500m", memory: "256Mi" }')
  const resolved: ResolvedLimits = {}
  if (limits.cpu !== undefined && limits.cpu !== null) resolved.cpuCores = parseCpu(limits.cpu)
  if (limits.memory !== undefined && limits.memory !== null) resolved.memoryBytes = parseMemory(limits.memory)
  return resolved
}

/** How one model version uses the CPU. */
export interface CpuPlan {
  /** onnxruntime intra-op threads (parallelism inside one operator). */
  intraOpThreads: number
  /** onnxruntime inter-op threads; always 1: graphs run sequentially, so this adds no thread. */
  interOpThreads: number
  /** The share the model is held to, in cores (never more than the device has). */
  cores: number
  /** Whether the duty cycle applies (the share is below what the threads could use). */
  throttled: boolean
}

/**
 * Maps a CPU limit to threads and a duty cycle. A limit of c cores gets ceil(c) intra-op threads
 * (at most the device's cores); when c is not a whole number of threads, the duty cycle makes up
 * the difference: 500m -> 1 thread busy half the time, 1500m -> 2 threads busy 3/4 of the time.
 * No limit -> one thread per device core, unthrottled.
 */
export function planCpu (cpuCores: number | undefined, deviceCores: number): CpuPlan {
  const device = Math.max(1, Math.floor(deviceCores))
  if (cpuCores === undefined) return { intraOpThreads: device, interOpThreads: 1, cores: device, throttled: false }
  const cores = Math.min(cpuCores, device)
  const intraOpThreads = Math.min(device, Math.max(1, Math.ceil(cores - 1e-9)))
  return { intraOpThreads, interOpThreads: 1, cores, throttled: cores < intraOpThreads - 1e-9 }
}

/** What one run cost, as the worker measured it. */
export interface RunCost {
  /** Wall time of `session.run()`, ms. */
  wallMs: number
  /**
   * CPU time charged to the run, ms, when measured: what the session's threads (the worker thread
   * and onnxruntime's pool threads) used since the previous run ended (see worker.js).
   */
  cpuMs?: number
}

/**
 * How long a model version must stay idle after a run so that, over any stretch of back-to-back
 * runs, it uses at most `plan.cores` cores: a run that used C ms of CPU earns the next run a start
 * no earlier than C / cores ms after this one started. C is the measured CPU time; unmeasured, it
 * is wall × threads (what the threads could have used at most).
 */
export function throttleDelayMs (run: RunCost, plan: CpuPlan): number {
  if (!plan.throttled) return 0
  return Math.max(0, chargedCpuMs(run, plan) / plan.cores - run.wallMs)
}

/** CPU ms a run is charged: what was measured, or wall × threads when nothing was. */
export function chargedCpuMs (run: RunCost, plan: CpuPlan): number {
  return run.cpuMs === undefined || !Number.isFinite(run.cpuMs) ? run.wallMs * plan.intraOpThreads : Math.max(0, run.cpuMs)
}

/** Free memory that a load may use, and what is already promised to loads under way. */
export interface MemoryBudget {
  /** The device's free memory now, bytes. */
  freeBytes: number
  /** Kept free for the OS and the node itself. */
  reserveBytes: number
  /** Estimates of loads started but not yet visible in `freeBytes`. */
  pendingBytes: number
}

/**
 * Throws unless a model needing `estimateBytes` fits both its own limit and the device. Called
 * before a session exists, so a model that would exhaust the device never starts loading.
 */
export function checkMemory (estimateBytes: number, limitBytes: number | undefined, budget: MemoryBudget, what: string): void {
  if (limitBytes !== undefined && estimateBytes > limitBytes) throw new MemoryLimitError(estimateBytes, limitBytes, what)
  const available = Math.max(0, budget.freeBytes - budget.reserveBytes - budget.pendingBytes)
  if (estimateBytes > available) throw new InsufficientMemoryError(estimateBytes, available, what)
}

/**
 * The duty-cycle state of one model version: when its next run may start. Time comes from the
 * caller (`now`), so the same code runs under the system clock and a ManualClock.
 */
export class DutyCycle {
  private readyAt = -Infinity

  constructor (readonly plan: CpuPlan) {}

  /** Records a run that ended at `now`; returns the pause it earned, ms. */
  afterRun (now: number, run: RunCost): number {
    const wait = throttleDelayMs(run, this.plan)
    this.readyAt = now + wait
    return wait
  }

  /** How long from `now` until the next run may start (0 = now). */
  delayMs (now: number): number {
    return Math.max(0, this.readyAt - now)
  }
}
