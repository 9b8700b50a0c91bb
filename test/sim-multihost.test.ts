/**
 * The simulator's multi-host fleet on the real kernel: `tutti node start` processes in network
 * namespaces, driven and observed as the runner does, and cleaned up on every exit path. Needs root,
 * `ip`, `tc` and `nft` (skipped, saying why, otherwise). Node processes cost ~1.5 CPU-s each to
 * start, so the fleets are small and every wait is on a state, bounded generously, never a timing.
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.js'
import { createFleet } from '../node/fleet/fleet.js'
import { createMultihostFleet, multihostUnavailable } from '../sim/real/multihost.js'
import { pack } from '../node/models/pack.js'
import { linearClassifier } from '../node/inference/testing/models.js'
import { cleanLeftovers } from '../sim/netns/lab.js'
import { runScenarioFile } from '../sim/run.js'
import { runTutti } from '../cli/process-nodes.js'
import type { MultihostFleet } from '../sim/real/multihost.js'
import type { SimEvent } from '../sim/des/invariants.js'
import type { FleetLogRecord, NodeObservation } from '../sim/real/fleet.js'

const why = multihostUnavailable()
if (why != null) console.warn(`skipping the multihost fleet test: ${why}`)
const REPO = join(import.meta.dirname, '..')
const CHILD = join(import.meta.dirname, 'fixtures', 'multihost-child.ts')
const LINKS = { latencyMs: 0, jitterMs: 0, bytesPerSec: 5_000_000, loss: 0 }
const SCENARIO = join(REPO, 'sim', 'scenarios', 'multihost-coordinator-crash.yaml')
const isRoot = process.getuid?.() === 0

/** The namespaces of lab `lab` (of every lab with ''). */
function namespacesOf (lab: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0]!).filter(n => n.startsWith(lab === '' ? 'tlab-' : `tlab-${lab}-`))
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function cgroupsOf (lab: string): string[] {
  return ['/sys/fs/cgroup', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/blkio'].filter(existsSync)
    .flatMap(d => readdirSync(d).filter(n => n.startsWith(`tutti-lab-${lab}-`)).map(n => join(d, n)))
}

/** Polls `fn` until it returns a value (not undefined); fails after `ms` (a bound, not a timing). */
async function until<T> (what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await systemClock.sleep(250)
  }
}

describe.skipIf(why != null)('multihost fleet', () => {
  const dirs: string[] = []
  afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

  it('runs node processes that import and activate a real model; crash, restart, pause, partition, props, caps and a late joiner act on them; stop leaves nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-mh-'))
    dirs.push(dir)
    const { fleet, adminKey } = await createFleet()
    await mkdir(join(dir, 'models'))
    await writeFile(join(dir, 'models', 'det.onnx'), linearClassifier({ seed: 1 }).bytes)
    const packed = [await pack(join(dir, 'models', 'det.onnx'), { name: 'det', version: '1.0.0', adminKey, outDir: join(dir, 'models', 'det-1.0.0') })]
    // No admin key handed in (as the runner builds it): the fleet observes with its own, added to the nodes' admins.
    const mh: MultihostFleet = createMultihostFleet({ handleSignals: false })
    const records: FleetLogRecord[] = []
    mh.onRecord(r => { records.push(r) })
    let lab = ''
    let pids: number[] = []
    try {
      await mh.start({ fleet, nodes: [0, 1, 2].map(i => ({ labels: { class: 'cam' }, props: { battery: String(60 + i) } })), links: LINKS, originBytesPerSec: LINKS.bytesPerSec, heartbeatMs: 500, timeScale: 1, workDir: join(dir, 'fleet') })
      lab = mh.labId!
      expect(namespacesOf(lab)).toHaveLength(3)
      pids = [0, 1, 2].map(i => mh.pidOf(i)!)
      const { cid } = await mh.importModel(packed[0]!.dir)
      expect(cid).toBe(packed[0]!.cid)
      for (const i of [0, 1, 2]) await mh.activate(i, cid)
      for (const i of [0, 1, 2]) expect((await mh.observe(i))?.running).toEqual({ det: '1.0.0' })
      // Inference over the node's HTTP API, from this (root) namespace through the bridge.
      const answer = await mh.infer(1, 'det', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8], data: [1, 2, 3, 4, 5, 6, 7, 8] }] }) as { model_name: string, outputs: Array<{ name: string }> }
      expect(answer.model_name).toBe('det')
      expect(answer.outputs.map(o => o.name).sort()).toEqual(['logits', 'probs'])
      // Every node's log lines reach the listener, with their node and a time since the start.
      expect(new Set(records.filter(r => r.record.msg === 'model active').map(r => r.node))).toEqual(new Set([0, 1, 2]))
      expect(records.every(r => r.t >= 0)).toBe(true)

      // drainBattery: the property changes on node 1 and others learn it from its next heartbeat.
      await mh.setProps(1, { battery: '5' })
      await until('node 0 to learn node 1\'s battery', async () => (await mh.viewOf(0)).find(n => n.index === 1)?.props.battery === '5' ? true : undefined)

      // A partition cuts node 2 off: the others see it go, and it sees them go; heal brings them back.
      await mh.partition([[0, 1], [2]])
      await until('node 0 to see node 2 leave', async () => {
        const seen = await mh.viewOf(0)
        return seen.find(n => n.index === 2)?.status !== 'alive' ? true : undefined
      })
      await mh.heal()
      await until('node 0 to see node 2 again', async () => (await mh.viewOf(0)).find(n => n.index === 2)?.status === 'alive' ? true : undefined)

      // Pause: the node answers nothing and is not observed; resume brings it back as it was.
      await mh.pause(2)
      expect(await mh.observe(2)).toBeUndefined()
      await mh.resume(2)
      await until('node 2 to answer after resume', async () => await mh.observe(2).catch(() => undefined))

      // Crash keeps the data directory; the restart is the same node on it, its files verify.
      const before = (await mh.observe(2))!.peerId
      await mh.crash(2)
      expect(alive(pids[2]!)).toBe(false)
      expect(await mh.observe(2)).toBeUndefined()
      await mh.restart(2)
      const after: NodeObservation = await until('node 2 to serve again', async () => {
        const o = await mh.observe(2).catch(() => undefined)
        return o?.running.det === '1.0.0' ? o : undefined
      })
      expect(after.peerId).toBe(before)
      expect(await mh.verifyModels(2)).toEqual([{ file: 'det@1.0.0', ok: true }])

      // Slow: the CPU cap lands in the node's cgroup.
      if (mh.capabilities.slow) {
        await mh.slow(1, { disk: 1, cpu: 4 })
        // A quarter of a core: 25 ms of every 100 ms, and node 1's process is in the group.
        const group = cgroupsOf(lab).find(d => d.endsWith('-n1') && !d.includes('blkio'))!
        const quota = existsSync(join(group, 'cpu.max')) ? readFileSync(join(group, 'cpu.max'), 'utf8').trim() : `${readFileSync(join(group, 'cpu.cfs_quota_us'), 'utf8').trim()} ${readFileSync(join(group, 'cpu.cfs_period_us'), 'utf8').trim()}`
        expect(quota).toBe('25000 100000')
        expect(readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(mh.pidOf(1)))
      }
      await mh.shapeLinks([1], { bytesPerSec: 1_000_000, loss: 0.01 })

      // A late joiner: its own namespace and process, bootstrapped from the live nodes.
      expect(await mh.addNodes([{ labels: { class: 'late' }, props: {} }])).toEqual([3])
      pids.push(mh.pidOf(3)!)
      expect(namespacesOf(lab)).toHaveLength(4)
      await until('the joiner to see all four alive', async () => (await mh.viewOf(3)).filter(n => n.status === 'alive').length === 4 ? true : undefined)
    } finally {
      await mh.stop()
    }
    expect(namespacesOf(lab)).toEqual([])
    expect(cgroupsOf(lab)).toEqual([])
    for (const pid of pids) expect(alive(pid)).toBe(false)
  })

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`leaves nothing behind when its process gets ${signal}${signal === 'SIGKILL' ? ' (the next lab removes it)' : ''}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tutti-mh-sig-'))
      dirs.push(dir)
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
      const exited = once(child, 'exit')
      await until('the child to start its fleet', async () => /^up \S+ \d+\n/.test(out) ? true : undefined, 120_000)
      const [, lab, pid] = out.split(/\s+/)
      expect(namespacesOf(lab!)).toHaveLength(1)
      expect(alive(Number(pid))).toBe(true)
      child.kill(signal)
      await exited
      // Nothing ran to clean up after SIGKILL: the next lab's creation does (this call, or another
      // test file's lab created in parallel, which would remove it first).
      if (signal === 'SIGKILL') cleanLeftovers()
      expect(namespacesOf(lab!)).toEqual([])
      await until('the node process to be gone', async () => alive(Number(pid)) ? undefined : true, 10_000)
    })
  }
})

describe('tutti sim run --mode multihost', () => {
  it.skipIf(process.platform !== 'linux')('as a user other than root says it needs root and exits 2, before building anything', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tutti-mh-cli-'))
    try {
      // As root the same command runs as `nobody` (setpriv), so the check is the real one either way.
      const prefix = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
      const r = await runTutti(['sim', 'run', SCENARIO, '--mode', 'multihost', '--out', join(out, 'run')], { prefix, timeoutMs: 60_000 })
      expect(r.stderr).toMatch(/simulator mode "multihost" cannot run here: .*need root/)
      expect(r.code).toBe(2)
      expect(existsSync(join(out, 'run'))).toBe(false)
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })

  it.skipIf(why != null)('runs the coordinator-crash scenario on real node processes and judges it green', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tutti-mh-run-'))
    const before = namespacesOf('')
    try {
      const report = await runScenarioFile(SCENARIO, { outDir: out, plots: false })
      expect(report.violations, `seed ${report.seed}`).toEqual([])
      expect(report.mode).toBe('multihost')
      expect(report.phase).toBe('Completed')
      const events = (await readFile(join(out, 'timeline.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as SimEvent)
      // The coordinator was killed; another node took the rollout over with a higher epoch and drove it.
      const crash = events.find(e => e.type === 'down' && e.how === 'crash')
      expect(crash).toBeDefined()
      const killed = crash!.type === 'down' ? crash!.node : -1
      const first = events.find(e => e.type === 'coordinator' && e.action === 'established')
      expect(first?.type === 'coordinator' && first.node).toBe(killed)
      expect(events.some(e => e.type === 'coordinator' && e.action === 'established' && e.node !== killed && e.epoch > (first as { epoch: number }).epoch)).toBe(true)
      // It came back on its data directory; its model files verify.
      expect(events.some(e => e.type === 'up' && e.node === killed && e.how === 'restart')).toBe(true)
      expect(events.filter(e => e.type === 'digestCheck').length).toBeGreaterThan(0)
      expect(await readFile(join(out, 'summary.md'), 'utf8')).toContain('outcome: Completed; invariants: all hold')
      expect(namespacesOf('').filter(n => !before.includes(n))).toEqual([])
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  }, 300_000)
})
