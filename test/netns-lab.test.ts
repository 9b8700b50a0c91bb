/**
 * The netns lab (sim/netns/lab.ts) on the real kernel: namespaces on a bridge, counters, caps,
 * partitions and loss by nftables, and cleanup. Needs root (skipped, saying why, otherwise);
 * partition and loss also need `nft`.
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanLeftovers, createLab, cpuSeconds, labUnavailable } from '../sim/netns/lab.js'
import type { Lab, LabNode } from '../sim/netns/lab.js'

const why = labUnavailable()
if (why != null) console.warn(`skipping netns lab test: ${why}`)
let nft = true
try {
  execFileSync('nft', ['--version'], { stdio: 'ignore' })
} catch {
  nft = false
}

/** A one-line TCP server in `node`'s namespace that sends `bytes` zero bytes to whoever connects. */
function server (lab: Lab, node: LabNode, bytes: number): ReturnType<Lab['spawn']> {
  const code = `const s = require('node:net').createServer(c => { c.on('error', () => {}); c.end(Buffer.alloc(${bytes})) }); s.listen(9000, '${node.ip}', () => console.log('up'))`
  return lab.spawn(node, process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
}

/** Connects from `node`'s namespace to ip:9000; resolves with the bytes read, or 'timeout' after `ms`. */
async function fetchFrom (lab: Lab, node: LabNode, ip: string, ms: number): Promise<number | 'timeout'> {
  const code = `const c = require('node:net').connect(9000, '${ip}'); let n = 0; c.on('data', d => { n += d.length }); c.on('end', () => { console.log(n); process.exit(0) }); c.on('error', () => process.exit(3)); setTimeout(() => { console.log('timeout'); process.exit(0) }, ${ms})`
  const child = lab.spawn(node, process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  await once(child, 'exit')
  return out.trim() === 'timeout' ? 'timeout' : Number(out.trim())
}

async function ready (child: ReturnType<Lab['spawn']>): Promise<void> {
  await once(child.stdout!, 'data')
}

function labNamespaces (id: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(l => l.startsWith(`tlab-${id}-`))
}

describe.skipIf(why != null)('netns lab', () => {
  let lab: Lab | undefined
  afterEach(async () => {
    await lab?.stopProcesses(2000)
    lab?.destroy()
  })

  it('moves bytes between namespaces, counts them in the kernel, and leaves nothing after destroy', async () => {
    lab = createLab()
    const a = lab.addNode('a', { mbit: 50 })
    const b = lab.addNode('b', { mbit: 50 })
    const srv = server(lab, a, 1_000_000)
    await ready(srv)
    if (nft) lab.countSources(b, [a])
    const before = { a: lab.counters(a), b: lab.counters(b) }
    expect(await fetchFrom(lab, b, a.ip, 120_000)).toBe(1_000_000)
    const after = { a: lab.counters(a), b: lab.counters(b) }
    if (nft) expect(lab.bytesFrom(b).get(a.ip)).toBeGreaterThan(1_000_000)
    // Payload plus TCP/IP and Ethernet headers, each direction seen from both ends.
    expect(after.a.txBytes - before.a.txBytes).toBeGreaterThan(1_000_000)
    expect(after.b.rxBytes - before.b.rxBytes).toBeGreaterThan(1_000_000)
    expect(after.b.rxBytes - before.b.rxBytes).toBeLessThan(1_100_000)
    expect(cpuSeconds(srv.pid!)).toBeGreaterThanOrEqual(0)
    const qdisc = execFileSync('tc', ['qdisc', 'show', 'dev', a.hostIf], { encoding: 'utf8' })
    expect(qdisc).toContain('tbf')
    const id = lab.id
    await lab.stopProcesses(2000)
    lab.destroy()
    expect(labNamespaces(id)).toEqual([])
    expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain(`tl${id}`)
  })

  it.skipIf(!nft)('a partition drops traffic between the groups until healed', async () => {
    lab = createLab()
    const a = lab.addNode('a')
    const b = lab.addNode('b')
    const c = lab.addNode('c')
    await ready(server(lab, a, 1000))
    lab.partition([a], [b])
    expect(await fetchFrom(lab, b, a.ip, 1500)).toBe('timeout')
    expect(await fetchFrom(lab, c, a.ip, 120_000)).toBe(1000)
    lab.heal()
    expect(await fetchFrom(lab, b, a.ip, 120_000)).toBe(1000)
  })

  it.skipIf(!nft)('loss of 1 drops every packet; loss of 0 none', async () => {
    lab = createLab()
    const a = lab.addNode('a')
    const b = lab.addNode('b')
    await ready(server(lab, a, 1000))
    lab.setLoss(b, 1)
    expect(await fetchFrom(lab, b, a.ip, 1500)).toBe('timeout')
    lab.setLoss(b, 0)
    expect(await fetchFrom(lab, b, a.ip, 120_000)).toBe(1000)
    expect(() => { lab!.setLoss(b, 1.5) }).toThrow(/loss fraction/)
  })

  it('removes what a lab whose owner died left behind, processes included', async () => {
    // A lab owned by a process that is gone: a child that records itself as the owner and dies.
    const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1e9)'], { stdio: 'ignore' })
    await once(owner, 'spawn')
    const orphan = createLab()
    const node = orphan.addNode('x')
    const stray = spawn('ip', ['netns', 'exec', node.namespace, process.execPath, '-e', 'setTimeout(() => {}, 1e9)'], { stdio: 'ignore', detached: true })
    const strayExit = once(stray, 'exit')
    await once(stray, 'spawn')
    execFileSync('sh', ['-c', `echo '{"pid":${owner.pid!}}' > /run/tutti-lab/${orphan.id}.json`])
    owner.kill('SIGKILL')
    await once(owner, 'exit')
    // From here any lab's creation removes it (another test file's, running in parallel, may be
    // first); this call does when none was.
    cleanLeftovers()
    await strayExit
    expect(labNamespaces(orphan.id)).toEqual([])
    expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain(`tl${orphan.id}`)
  })
})
