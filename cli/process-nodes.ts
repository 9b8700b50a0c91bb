/**
 * Tutti nodes as separate processes (the demo, cross-process tests): start one from `tutti node
 * start` arguments, learn its peer id and addresses from its node.json, stop it cleanly.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CliError } from './errors.js'
import type { ChildProcess } from 'node:child_process'

/** The `tutti` executable. */
const BIN = fileURLToPath(new URL('../bin/tutti.js', import.meta.url))

export interface NodeProcess {
  name: string
  dir: string
  child: ChildProcess
  peerId?: string
  /** A loopback address with /p2p/ suffix. */
  addr?: string
  api?: string
  /** Exit code once it has exited (null when killed by a signal). */
  exited?: number | null
}

export interface ProcessOptions {
  /** A command to run `tutti` under, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec, not fork). */
  prefix?: string[]
}

function command (args: string[], options: ProcessOptions): [string, string[]] {
  const full = [process.execPath, BIN, ...args]
  const prefixed = [...(options.prefix ?? []), ...full]
  return [prefixed[0]!, prefixed.slice(1)]
}

/**
 * `tutti node start` arguments for a node on loopback: a free TCP port, the API on a free port,
 * a fast heartbeat. What the demo, the cross-process tests and the benchmarks start.
 */
export function loopbackNodeArgs (dir: string, fleetFile: string, options: { heartbeatMs?: number, extra?: string[] } = {}): string[] {
  return ['node', 'start', '--data', dir, '--fleet', fleetFile, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0',
    '--heartbeat-ms', String(options.heartbeatMs ?? 300), ...(options.extra ?? [])]
}

export async function startNodeProcess (name: string, dir: string, args: string[], stopping: () => boolean = () => false, options: ProcessOptions = {}): Promise<NodeProcess> {
  await mkdir(dir, { recursive: true })
  await rm(join(dir, 'node.json'), { force: true }) // left behind by a killed run
  const log = openSync(join(dir, 'node.log'), 'a')
  const [cmd, argv] = command(args, options)
  const child = spawn(cmd, argv, { stdio: ['ignore', log, log], env: { ...process.env, TUTTI_DEBUG: '' } })
  closeSync(log)
  const node: NodeProcess = { name, dir, child }
  child.on('exit', code => { node.exited = code })
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(dir, 'node.json'), 'utf8')) as { peerId: string, addresses: string[], api: string }
      node.peerId = info.peerId
      node.addr = info.addresses.find(a => a.includes('/127.0.0.1/')) ?? info.addresses[0]
      node.api = info.api
      return node
    } catch {
      // not written yet
    }
    if (node.exited !== undefined || stopping()) {
      await stopChild(child)
      throw new CliError(`${name} exited before it started; see ${join(dir, 'node.log')}`)
    }
    if (Date.now() > deadline) {
      await stopChild(child)
      throw new CliError(`${name} did not start within 30 s; see ${join(dir, 'node.log')}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

export async function aliveCount (node: NodeProcess): Promise<number> {
  try {
    const res = await fetch(`${node.api!}/v1/nodes`, { signal: AbortSignal.timeout(2000) })
    const body = await res.json() as { nodes: Array<{ status: string }> }
    return body.nodes.filter(n => n.status === 'alive').length
  } catch {
    return 0
  }
}

/** Runs the `tutti` command as a separate process and collects its output. */
export async function runTutti (args: string[], options: ProcessOptions & { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    const [cmd, argv] = command(args, options)
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('exit', code => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

export async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

