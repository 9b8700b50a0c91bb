/**
 * Across processes over TCP: real `tutti node start` processes on loopback and the real `tutti`
 * CLI attached to one of them.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet, writeKeyFile } from '../node/fleet/fleet.js'
import { aliveCount, loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { waitFor } from '../sim/local-mesh.js'
import type { NodeProcess } from '../cli/process-nodes.js'

describe('the CLI attached to a peer over TCP', () => {
  let root: string
  let adminKey: string
  let fleetFile: string
  const nodes: NodeProcess[] = []

  const start = async (name: string, fleet: string, extra: string[] = []): Promise<NodeProcess> => {
    const dir = join(root, name)
    const node = await startNodeProcess(name, dir, loopbackNodeArgs(dir, fleet, { extra }))
    nodes.push(node)
    return node
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tutti-cli-'))
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    adminKey = fleet.adminKeyFile
    fleetFile = fleet.fleetFile
    const first = await start('a', fleetFile, ['--label', 'zone=east', '--prop', 'battery=77'])
    await start('b', fleetFile, ['--bootstrap', first.addr!, '--label', 'zone=west'])
    await start('c', fleetFile, ['--bootstrap', first.addr!])
    await waitFor('3 processes to see each other', async () => {
      const counts = await Promise.all(nodes.map(aliveCount))
      return counts.every(c => c === 3)
    }, 60_000, 200)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    await rm(root, { recursive: true, force: true })
  })

  it('lists all nodes from any one peer, as JSON and as a table', async () => {
    const json = await runTutti(['--peer', nodes[2]!.addr!, '--key', adminKey, 'get', 'nodes', '-o', 'json'])
    expect(json.stderr).toBe('')
    expect(json.code).toBe(0)
    const list = JSON.parse(json.stdout) as { observer: string, nodes: Array<{ peerId: string, status: string, labels: Record<string, string>, props: Record<string, string> }> }
    expect(list.observer).toBe(nodes[2]!.peerId)
    expect(list.nodes.map(n => n.peerId).sort()).toEqual(nodes.map(n => n.peerId!).sort())
    expect(list.nodes.every(n => n.status === 'alive')).toBe(true)
    expect(list.nodes.find(n => n.peerId === nodes[0]!.peerId)?.props.battery).toBe('77')

    const table = await runTutti(['get', 'nodes', '-o', 'wide'], { env: { TUTTI_PEER: nodes[1]!.addr!, TUTTI_KEY: adminKey } })
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^PEER\s+STATUS\s+LAST-SEEN\s+UPTIME\s+BATTERY\s+ARCH/)
    for (const n of nodes) expect(table.stdout).toContain(n.peerId!)
  })

  it('describes a node by a suffix of its peer id', async () => {
    const id = nodes[1]!.peerId!
    const res = await runTutti(['describe', 'node', id.slice(-10), '--peer', nodes[0]!.addr!, '--key', adminKey])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(new RegExp(`^Peer ID:\\s+${id}$`, 'm'))
    expect(res.stdout).toMatch(/^Labels:\s+zone=west$/m)
    const json = await runTutti(['describe', 'node', id, '-o', 'json', '--peer', nodes[0]!.addr!, '--key', adminKey])
    expect(JSON.parse(json.stdout).node.peerId).toBe(id)
    // The id as the table prints it, ellipsis and all, copied from 'get nodes'.
    const listed = (await runTutti(['get', 'nodes', '--peer', nodes[0]!.addr!, '--key', adminKey])).stdout
    const shown = listed.split('\n').map(line => line.split(/\s+/)[0]!).find(cell => cell.startsWith('…') && id.endsWith(cell.slice(1)))
    expect(shown).toBeDefined()
    const copied = await runTutti(['describe', 'node', shown!, '--peer', nodes[0]!.addr!, '--key', adminKey])
    expect(copied.stderr).toBe('')
    expect(copied.stdout).toMatch(new RegExp(`^Peer ID:\\s+${id}$`, 'm'))
  })

  it('refuses a key that is not an admin of the fleet', async () => {
    await writeKeyFile(join(root, 'stranger.key'), await generateKeyPair('Ed25519'), 'x', 'stranger')
    const res = await runTutti(['get', 'nodes', '--peer', nodes[0]!.addr!, '--key', join(root, 'stranger.key'), '--fleet', fleetFile])
    expect(res.code).toBe(1)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toMatch(/not authorized/)
  })

  it('cannot connect with another fleet\'s network key, and a node of another fleet never joins', async () => {
    const other = await initFleet({ dir: join(root, 'other-fleet') })
    const res = await runTutti(['get', 'nodes', '--peer', nodes[0]!.addr!, '--key', other.adminKeyFile, '--timeout', '5'])
    expect(res.code).toBe(1)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toMatch(/^error: cannot reach/)

    const intruder = await start('intruder', other.fleetFile, ['--bootstrap', nodes[0]!.addr!])
    // Give it many heartbeat intervals to try; it must never be seen, nor see anyone.
    await new Promise(resolve => setTimeout(resolve, 3000))
    expect(await aliveCount(intruder)).toBe(1)
    const list = JSON.parse((await runTutti(['get', 'nodes', '-o', 'json', '--peer', nodes[0]!.addr!, '--key', adminKey])).stdout) as { nodes: Array<{ peerId: string }> }
    expect(list.nodes.map(n => n.peerId)).not.toContain(intruder.peerId)
  })

  it('names the node that answered when the address is right but the peer id is another node\'s of the fleet', async () => {
    const address = nodes[0]!.addr!.replace(/\/p2p\/.*$/, '')
    const res = await runTutti(['get', 'nodes', '--peer', `${address}/p2p/${nodes[1]!.peerId!}`, '--key', adminKey, '--timeout', '5'])
    expect(res.code).toBe(1)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toContain(`the node at that address is ${nodes[0]!.peerId!}, not ${nodes[1]!.peerId!}`)
    expect(res.stderr).not.toMatch(/different fleet|network key does not match/)
  })

  it('answers bad flags, unreachable peers and bad files with one line and a non-zero exit', async () => {
    const cases: Array<{ args: string[], code: number, match: RegExp }> = [
      { args: ['get', 'nodes', '--bogus'], code: 2, match: /unknown option '--bogus'/ },
      { args: ['get', 'pods', '--peer', nodes[0]!.addr!, '--key', adminKey], code: 2, match: /unknown resource type "pods"/ },
      { args: ['get', 'nodes', '-o', 'xml', '--peer', nodes[0]!.addr!, '--key', adminKey], code: 2, match: /-o must be one of/ },
      { args: ['get', 'nodes', '--key', adminKey], code: 2, match: /no peer to attach to/ },
      { args: ['get', 'nodes', '--peer', 'not-a-multiaddr', '--key', adminKey], code: 2, match: /is not a multiaddr/ },
      { args: ['get', 'nodes', '--peer', '/ip4/127.0.0.1/tcp/7410/p2p/bogus', '--key', adminKey], code: 2, match: /"bogus" is not a peer id/ },
      { args: ['get', 'nodes', '--peer', '/ip4/127.0.0.1/tcp/1', '--key', adminKey], code: 1, match: /cannot reach .*connection refused/ },
      { args: ['get', 'nodes', '--peer', nodes[0]!.addr!, '--key', join(root, 'missing.key')], code: 1, match: /no such file/ },
      { args: ['node', 'start', '--data', join(root, 'x'), '--fleet', join(root, 'nope.json')], code: 1, match: /no such file/ },
      { args: ['node', 'start', '--data', join(root, 'x'), '--fleet', fleetFile, '--label', 'bad key=1'], code: 2, match: /--label bad key=1/ },
      { args: ['frobnicate'], code: 2, match: /unknown command "frobnicate"/ }
    ]
    await writeFile(join(root, 'garbage.json'), '{ not json')
    cases.push({ args: ['node', 'start', '--data', join(root, 'y'), '--fleet', join(root, 'garbage.json')], code: 1, match: /not valid JSON/ })
    for (const c of cases) {
      const res = await runTutti(c.args)
      expect({ args: c.args, code: res.code }).toEqual({ args: c.args, code: c.code })
      expect(res.stderr).toMatch(c.match)
      expect(res.stderr).not.toMatch(/\n\s+at /) // no stack trace
      expect(res.stderr.trim().split('\n').length).toBeLessThanOrEqual(2) // the error, and for usage a pointer to --help
    }
  })

  it('speaks kubectl: -l, -o name, --no-headers, the footer on stderr, -w, dead nodes without stale state, delete node', async () => {
    const ask = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
      await runTutti([...args, '--peer', nodes[0]!.addr!, '--key', adminKey])
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess]

    const east = await ask('get', 'nodes', '-l', 'zone=east', '-o', 'name')
    expect(east).toEqual({ code: 0, stdout: `node/${a.peerId!}\n`, stderr: '' })
    expect((await ask('get', 'nodes', '-l', 'zone in (east,west),battery>50', '-o', 'name')).stdout).toBe(`node/${a.peerId!}\n`)
    const table = await ask('get', 'nodes', '--no-headers')
    expect(table.stdout.split('\n').filter(l => l !== '')).toHaveLength(3)
    expect(table.stdout).not.toMatch(/PEER|the peer that answered/)
    expect(table.stderr).toBe('(* the peer that answered)\n')
    const json = JSON.parse((await ask('get', 'nodes', '-o', 'json')).stdout) as { nodes: Array<Record<string, unknown>> }
    expect(json.nodes[0]).toMatchObject({ bootTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), lastSeenTime: expect.any(String), firstSeenTime: expect.any(String) })
    expect(json.nodes[0]).not.toHaveProperty('bootMs')

    // -w: the list, then a row for every node that joins or changes.
    const watch = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'tutti.js'), 'get', 'nodes', '-w', '--no-headers', '--peer', a.addr!, '--key', adminKey], { stdio: ['ignore', 'pipe', 'pipe'] })
    let watched = ''
    watch.stdout.on('data', (d: Buffer) => { watched += d.toString() })
    try {
      await waitFor('the first list', async () => watched.split('\n').filter(l => l !== '').length >= 3, 30_000, 100)
      const e = await start('e', fleetFile, ['--bootstrap', a.addr!, '--label', 'zone=south'])
      const tail = e.peerId!.slice(-12)
      await waitFor('-w to print the node that joined', async () => new RegExp(`^…${tail}\\s+alive\\s`, 'm').test(watched), 30_000, 100)
      await stopChild(e.child)
      await waitFor('-w to print it dead', async () => new RegExp(`^…${tail}\\s+dead\\s+\\S+ ago\\s+-\\s+-\\s+-\\s+zone=south$`, 'm').test(watched), 60_000, 100)

      // Dead: no uptime or models in the table; describe marks what it announced last.
      const described = await ask('describe', 'node', tail)
      expect(described.stdout).toMatch(/^Uptime:\s+- \(was up /m)
      expect(described.stdout).toMatch(/^Properties:\s+\(as announced before it went quiet, /m)

      // delete node forgets a dead node; an alive one, or the answering peer itself, is refused.
      expect(await ask('delete', 'node', `…${tail}`)).toMatchObject({ code: 0, stdout: expect.stringContaining(`node/${e.peerId!} forgotten by`) })
      expect((await ask('get', 'nodes', '-o', 'name')).stdout).not.toContain(e.peerId!)
      const alive = await ask('delete', 'node', b.peerId!)
      expect(alive.code).toBe(1)
      expect(alive.stderr).toMatch(/is alive: its next heartbeat would bring it back/)
      expect((await ask('delete', 'node', a.peerId!)).stderr).toMatch(/cannot forget itself/)
      expect((await ask('get', 'nodes', '-o', 'name')).stdout.split('\n').filter(l => l !== '').sort()).toEqual([a, b, c].map(n => `node/${n.peerId!}`).sort())
    } finally {
      watch.kill('SIGINT')
    }
  })
})
