/**
 * CPU and disk caps for a lab's processes through cgroups: cgroup v2 (`cpu.max`, `io.max`) where
 * /sys/fs/cgroup is the unified hierarchy with those controllers, else cgroup v1 (`cpu` controller's
 * `cpu.cfs_quota_us`, `blkio` controller's `blkio.throttle.{read,write}_bps_device`). Each capped
 * process gets its own group named `tutti-lab-ID-NAME`; `removeGroups(id)` removes a lab's groups
 * (their processes must be gone). Imports only Node built-ins, like the lab.
 *
 * Limits: a disk cap throttles the block device holding the given path, so reads served from the
 * page cache (a file the node has just written) are not slowed, and buffered writes are throttled
 * only when they are written back (fully under v2, hardly under v1).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = '/sys/fs/cgroup'
const PREFIX = 'tutti-lab-'
/** cgroup v1 and v2 quota period, µs. */
const PERIOD_US = 100_000

export interface ProcessCaps {
  /** Share of one CPU core the process may use, in (0, 1]. Undefined: uncapped. */
  cpuCores?: number
  /** Bytes per second read from and written to the disk holding `diskPath`. Undefined: uncapped. */
  diskBytesPerSec?: number
  /** A path on the disk to throttle (the node's data directory). */
  diskPath?: string
}

type Layout =
  | { kind: 'v2', cpu: string, io?: string }
  | { kind: 'v1', cpu?: string, io?: string }

function layout (): Layout | undefined {
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const controllers = readFileSync(join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/)
    if (!controllers.includes('cpu')) return undefined
    // Children get a controller only once the parent enables it for them.
    for (const c of ['cpu', 'io']) {
      if (controllers.includes(c)) {
        try { writeFileSync(join(ROOT, 'cgroup.subtree_control'), `+${c}`) } catch { /* not delegable here */ }
      }
    }
    return { kind: 'v2', cpu: ROOT, ...(controllers.includes('io') ? { io: ROOT } : {}) }
  }
  const cpu = existsSync(join(ROOT, 'cpu', 'cpu.cfs_quota_us')) ? join(ROOT, 'cpu') : undefined
  const io = existsSync(join(ROOT, 'blkio', 'blkio.throttle.read_bps_device')) ? join(ROOT, 'blkio') : undefined
  return cpu == null && io == null ? undefined : { kind: 'v1', cpu, io }
}

/** What this machine can cap: undefined when nothing, else which of cpu and disk. */
export function cgroupSupport (): { cpu: boolean, disk: boolean, version: 1 | 2 } | undefined {
  const l = layout()
  if (l == null) return undefined
  return { cpu: l.cpu != null, disk: l.io != null, version: l.kind === 'v2' ? 2 : 1 }
}

/** major:minor of the block device holding `path`. */
function deviceOf (path: string): string {
  const dev = statSync(path).dev
  const major = (dev >> 8) & 0xfff
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
  return `${major}:${minor}`
}

function groupDir (base: string, lab: string, name: string): string {
  const dir = join(base, `${PREFIX}${lab}-${name}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

/**
 * Caps process `pid` of lab `lab` (node `name`): moves it into the node's group and sets the
 * limits; a field left undefined lifts that limit. Throws when the machine cannot cap what is asked.
 */
export function capProcess (lab: string, name: string, pid: number, caps: ProcessCaps): void {
  const l = layout()
  if (l == null) throw new Error('no cgroup controller for cpu or io is mounted')
  if (caps.cpuCores != null && !(caps.cpuCores > 0 && caps.cpuCores <= 1)) throw new Error(`cpuCores is in (0, 1], got ${caps.cpuCores}`)
  const quota = caps.cpuCores == null ? undefined : Math.max(1000, Math.round(PERIOD_US * caps.cpuCores))
  if (l.cpu != null) {
    const dir = groupDir(l.cpu, lab, name)
    if (l.kind === 'v2') writeFileSync(join(dir, 'cpu.max'), `${quota ?? 'max'} ${PERIOD_US}`)
    else {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US))
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota ?? -1))
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(pid))
  } else if (quota != null) {
    throw new Error('the cpu cgroup controller is not available')
  }
  if (l.io != null && l.io !== l.cpu) {
    const dir = groupDir(l.io, lab, name)
    writeFileSync(join(dir, 'cgroup.procs'), String(pid))
  }
  if (caps.diskBytesPerSec != null || caps.diskPath != null) {
    if (l.io == null) throw new Error('the io (blkio) cgroup controller is not available')
    const dir = groupDir(l.io, lab, name)
    const dev = deviceOf(caps.diskPath ?? '/')
    const bps = caps.diskBytesPerSec == null ? undefined : Math.max(4096, Math.round(caps.diskBytesPerSec))
    if (l.kind === 'v2') writeFileSync(join(dir, 'io.max'), `${dev} rbps=${bps ?? 'max'} wbps=${bps ?? 'max'}`)
    else {
      // v1: 0 removes the rule.
      writeFileSync(join(dir, 'blkio.throttle.read_bps_device'), `${dev} ${bps ?? 0}`)
      writeFileSync(join(dir, 'blkio.throttle.write_bps_device'), `${dev} ${bps ?? 0}`)
    }
  }
}

/** Removes every group of lab `lab` (or of every lab whose id `keep` rejects). Never throws. */
export function removeGroups (lab: string | ((id: string) => boolean)): void {
  const l = layout()
  if (l == null) return
  const matches = (dirName: string): boolean => {
    if (!dirName.startsWith(PREFIX)) return false
    const id = dirName.slice(PREFIX.length).split('-')[0]!
    return typeof lab === 'string' ? id === lab : lab(id)
  }
  for (const base of new Set([l.cpu, l.io].filter((b): b is string => b != null))) {
    let entries: string[] = []
    try {
      entries = readdirSync(base)
    } catch {
      continue
    }
    for (const entry of entries.filter(matches)) {
      // A process killed a moment ago leaves its group only once it has exited: wait up to 1 s.
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(join(base, entry))
          break
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EBUSY') break
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
        }
      }
    }
  }
}
