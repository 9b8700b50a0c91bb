/**
 * mDNS discovery between two hosts, each a network namespace of its own joined by a veth pair
 * (no bootstrap flags: the nodes must find each other on the "LAN"). Needs root for `ip netns`;
 * without it the test is skipped and says why. Multicast never leaves the two namespaces.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { waitFor } from '../sim/local-mesh.js'
import type { NodeProcess } from '../cli/process-nodes.js'

function netnsUnavailable (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the suite as root to include this test)'
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
  } catch {
    return 'the `ip` command (iproute2) is not available'
  }
  return undefined
}

const why = netnsUnavailable()
if (why != null) console.warn(`skipping mDNS-over-netns test: ${why}`)

describe.skipIf(why != null)('mDNS discovery across two network namespaces', () => {
  const tag = randomBytes(3).toString('hex')
  const ns = [`tutti-a-${tag}`, `tutti-b-${tag}`]
  const ips = ['10.231.77.1', '10.231.77.2']
  const veth = [`tva${tag}`, `tvb${tag}`]
  let root: string
  let adminKey: string
  const nodes: NodeProcess[] = []
  const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: 'pipe' }) }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tutti-netns-'))
    for (const n of ns) ip('netns', 'add', n)
    ip('link', 'add', veth[0]!, 'netns', ns[0]!, 'type', 'veth', 'peer', 'name', veth[1]!, 'netns', ns[1]!)
    for (let i = 0; i < 2; i++) {
      ip('-n', ns[i]!, 'addr', 'add', `${ips[i]!}/24`, 'dev', veth[i]!)
      ip('-n', ns[i]!, 'link', 'set', veth[i]!, 'up', 'multicast', 'on')
      ip('-n', ns[i]!, 'link', 'set', 'lo', 'up')
      ip('-n', ns[i]!, 'route', 'add', '224.0.0.0/4', 'dev', veth[i]!)
    }
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    adminKey = fleet.adminKeyFile
    for (let i = 0; i < 2; i++) {
      const dir = join(root, `node-${i}`)
      nodes.push(await startNodeProcess(`node-${i}`, dir, [
        'node', 'start', '--data', dir, '--fleet', fleet.fleetFile, '--listen', `/ip4/${ips[i]!}/tcp/0`,
        '--api', '127.0.0.1:0', '--heartbeat-ms', '300', '--mdns'
      ], () => false, { prefix: ['ip', 'netns', 'exec', ns[i]!] }))
    }
  }, 60_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    for (const n of ns) {
      try { ip('netns', 'del', n) } catch { /* already gone */ }
    }
    if (root != null) await rm(root, { recursive: true, force: true })
  })

  it('two nodes with no bootstrap peer find each other and see each other alive', async () => {
    let seen: string[] = []
    await waitFor('the node in namespace A to see both nodes', async () => {
      const res = await runTutti(['get', 'nodes', '-o', 'json', '--peer', nodes[0]!.addr!, '--key', adminKey, '--timeout', '5'], { prefix: ['ip', 'netns', 'exec', ns[0]!] })
      if (res.code !== 0) return false
      const list = JSON.parse(res.stdout) as { nodes: Array<{ peerId: string, status: string }> }
      seen = list.nodes.filter(n => n.status === 'alive').map(n => n.peerId)
      return seen.length === 2
    }, 45_000, 500)
    expect(seen.sort()).toEqual(nodes.map(n => n.peerId!).sort())
  }, 60_000)
})
