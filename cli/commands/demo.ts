/**
 * `npm run demo`: a fleet of N nodes as separate processes on loopback, with varied labels and
 * battery levels. It waits until every node sees all N, prints `get nodes` from a randomly chosen
 * peer, then tells the rollout story (v1 everywhere, v2 with a canary where the battery allows,
 * a broken v3 tripping a gate and rolled back), and keeps running until Ctrl-C (or exits with
 * --once). It leaves nothing behind.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
prints 'tutti get nodes' from a randomly chosen peer, then rolls three versions of a model out
(all nodes; battery > 50 with a canary; a broken one that a health gate rolls back), runs an
inference over OIP, and runs until Ctrl-C.
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
    const { initFleet } = await import('../../node/fleet/fleet.js')
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
      io.out(result.stdout + result.stderr + '\n')
      return result.stdout
    }
    await run(['get', 'nodes', '--peer', chosen.addr!, '--key', adminKeyFile], ['--peer', chosen.addr!, '--key', adminKeyFile, 'get', 'nodes'])

    // The product's story: three versions of a model, rolled out by the mesh itself. v1 goes to
    // every node, v2 only where the battery allows with a canary first, and v3, broken, trips a
    // health gate on its canary and is rolled back automatically.
    io.out(`With TUTTI_KEY=${adminKeyFile} and TUTTI_PEER=<a peer>:\n\n`)
    const seed = nodes[0]!
    const ask = async (args: string[], peer: NodeProcess, expectCode = 0): Promise<string> => {
      io.out(`$ tutti ${args.join(' ')}\n`)
      const result = await runTutti(args, { env: { TUTTI_KEY: adminKeyFile, TUTTI_PEER: peer.addr! }, timeoutMs: 180_000 })
      if (result.code !== expectCode) throw new CliError(`tutti ${args.slice(0, 2).join(' ')} exited ${String(result.code)}: ${result.stderr.trim()}`)
      io.out(result.stdout + (result.code !== 0 ? `(exit code ${String(result.code)}: ${result.stderr.trim().replace(/^error: /, '')})\n` : result.stderr) + '\n')
      return result.stdout
    }
    io.out('Three versions of a detector, built in code: 1.0.0, 2.0.0, and 3.0.0 that answers NaN on real inputs.\n\n')
    const { linearClassifier } = await import('../../node/inference/testing/models.js')
    for (const [version, options] of [['1.0.0', { seed: 1 }], ['2.0.0', { seed: 2 }], ['3.0.0', { seed: 3, sqrtInput: true }]] as const) {
      const file = join(root, `detector-${version}.onnx`)
      await writeFile(file, linearClassifier(options).bytes)
      await ask(['model', 'pack', file, '--name', 'detector', '--version', version, '--label', 'task=detect', '--key', adminKeyFile, '--out', join(root, `detector-${version}`)], seed)
      await ask(['model', 'push', join(root, `detector-${version}`)], seed)
    }

    const manifest = async (name: string, version: string, body: string): Promise<string> => {
      const file = join(root, `${name}.yaml`)
      const text = `apiVersion: tutti.dev/v1\nkind: Rollout\nmetadata: { name: ${name} }\nspec:\n  model: { name: detector, version: ${version} }\n${body}`
      await writeFile(file, text)
      io.out(`# ${file}\n${text}\n`)
      return file
    }
    io.out('1. detector 1.0.0 to every node. Any peer takes the policy; an elected coordinator drives it.\n\n')
    const v1 = await manifest('detector-v1', '1.0.0', `  selector: {}                 # every node\n  resources: { limits: { cpu: 500m, memory: 256Mi } }\n  strategy:\n    steps: [ {setPercent: 100} ]\n`)
    await ask(['apply', '-f', v1], chosen)
    await ask(['rollout', 'status', 'detector-v1', '--watch'], chosen)

    const charged = nodes.filter((_, i) => (PROFILES[i % PROFILES.length]!.battery ?? 0) > 50)
    const target = charged[0] ?? seed
    io.out(`An inference over the Open Inference Protocol on ${target.name}:\n\n`)
    const sample = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8], data: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] }] }
    io.out(`$ curl -X POST ${target.api!}/v2/models/detector/infer -d '${JSON.stringify(sample)}'\n`)
    io.out(JSON.stringify(await oipInfer(target, sample)) + '\n\n')

    io.out('2. detector 2.0.0 only where battery > 50, one canary first, 5 s of bake, then the rest.\n\n')
    const v2 = await manifest('detector-v2', '2.0.0', `  selector:\n    matchExpressions:\n      - { key: battery, operator: Gt, values: ["50"] }\n  strategy:\n    steps: [ {setPercent: 50}, {pause: 5s}, {setPercent: 100} ]\n    abort:\n      - { failureType: FAILED, thresholdPercentage: 10, minNodes: 1 }\n`)
    await ask(['apply', '-f', v2, '--dry-run'], chosen)
    await ask(['apply', '-f', v2], chosen)
    await ask(['rollout', 'status', 'detector-v2', '--watch'], chosen)

    io.out('3. detector 3.0.0 the same way, with health gates. Every node now serves traffic with real\n   (negative) inputs; 3.0.0 answers them with NaN, its canary reports it in its heartbeats,\n   and the coordinator aborts and rolls back on its own.\n\n')
    let traffic = true
    const load = Promise.all(nodes.map(async n => {
      while (traffic) {
        const data = Array.from({ length: 8 }, () => Math.random() * 2 - 1)
        await oipInfer(n, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8], data }] }).catch(() => undefined)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }))
    try {
      const v3 = await manifest('detector-v3', '3.0.0', `  selector:\n    matchExpressions:\n      - { key: battery, operator: Gt, values: ["50"] }\n  strategy:\n    steps: [ {setPercent: 50}, {pause: 1m}, {setPercent: 100} ]\n    abort:\n      - { metric: nonFiniteRate, max: 0, minRequests: 5 }\n      - { metric: errorRate, max: 0.02, minRequests: 5 }\n    rollback: automatic\n`)
      await ask(['apply', '-f', v3], chosen)
      await ask(['rollout', 'status', 'detector-v3', '--watch'], chosen, 1)
    } finally {
      traffic = false
      await load
    }
    await ask(['rollout', 'history', 'detector-v3'], chosen)
    await ask(['get', 'rollouts'], chosen)
    await new Promise(resolve => setTimeout(resolve, 1500)) // one heartbeat, so every peer sees the new state
    await ask(['get', 'nodes', '-o', 'wide'], chosen)
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

/** One OIP (KServe v2) inference over a node's HTTP API. */
async function oipInfer (node: NodeProcess, body: unknown): Promise<unknown> {
  const res = await fetch(`${node.api!}/v2/models/detector/infer`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(10_000) })
  const answer = await res.json() as Record<string, unknown>
  if (!res.ok) throw new CliError(`inference on ${node.name} failed: ${JSON.stringify(answer)}`)
  return answer
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
