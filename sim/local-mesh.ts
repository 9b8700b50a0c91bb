/**
 * An in-process mesh of real Tutti nodes on libp2p's memory transport: the harness for multi-node
 * tests and benchmarks (the simulator's in-process mode, sim/real/inprocess.ts, runs its nodes
 * over the shaped transport instead). Every node is the production `TuttiNode`; only the
 * transport is in memory.
 */
import { randomBytes } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createFleet } from '../node/fleet/fleet.js'
import { createLogger, silentLogger } from '../core/logger.js'
import { TuttiNode } from '../node/tutti-node.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { Logger } from '../core/logger.js'
import type { TuttiNodeComponents, TuttiNodeInit } from '../node/tutti-node.js'
import type { PrivateKey } from '@libp2p/interface'

/** A fleet created in memory, with its admin key. */
export async function createTestFleet (name = 'test'): Promise<{ fleet: FleetConfig, adminKey: PrivateKey }> {
  return await createFleet({ name })
}

export interface LocalMeshInit {
  size: number
  fleet: FleetConfig
  /** Per-node settings on top of the defaults (labels, props, data dir...). */
  node?: (index: number) => Partial<TuttiNodeInit>
  /** Heartbeat interval for every node, in ms. @default 200 */
  heartbeatMs?: number
  logger?: Logger
  /** Components for node i (a seeded `random`, a shared `clock`...). */
  components?: (index: number) => TuttiNodeComponents
}

export interface LocalMesh {
  nodes: TuttiNode[]
  /** Memory address of node i. */
  address(i: number): string
  stop(): Promise<void>
}

let meshCounter = 0

/** Starts `size` nodes; node 0 is everyone's bootstrap peer. */
export async function startLocalMesh (init: LocalMeshInit): Promise<LocalMesh> {
  const tag = `${process.pid}-${meshCounter++}-${randomBytes(3).toString('hex')}`
  const address = (i: number): string => `/memory/tutti-${tag}-${i}`
  const nodes: TuttiNode[] = []
  const mesh: LocalMesh = {
    nodes,
    address,
    stop: async () => { await Promise.all(nodes.map(async n => { await n.stop() })) }
  }
  try {
    for (let i = 0; i < init.size; i++) {
      const node = await createMeshNode(init, i, address)
      await node.start()
      nodes.push(node)
    }
  } catch (err) {
    await mesh.stop()
    throw err
  }
  return mesh
}

export async function createMeshNode (init: LocalMeshInit, i: number, address: (i: number) => string): Promise<TuttiNode> {
  const bootstrapAddr = i === 0 ? [] : [address(0)]
  const extra = init.node?.(i) ?? {}
  return await TuttiNode.create({
    fleet: init.fleet,
    transport: 'memory',
    listen: [address(i)],
    bootstrap: bootstrapAddr,
    api: false,
    heartbeat: { baseIntervalMs: init.heartbeatMs ?? 200 },
    connectivityCheckMs: 250,
    ...extra
  }, { logger: init.logger ?? meshLogger(i), ...init.components?.(i) })
}

/**
 * Silent, unless `TUTTI_MESH_LOG=FILE` is set: then every node's debug log is appended to FILE as
 * JSON lines tagged with the node's index (for finding out why a mesh test failed).
 */
function meshLogger (i: number): Logger {
  const file = process.env.TUTTI_MESH_LOG
  if (file == null || file === '') return silentLogger
  return createLogger({ level: 'debug', fields: { node: i }, sink: r => { appendFileSync(file, JSON.stringify(r, logReplacer) + '\n') } })
}

/** A line from the test itself in the `TUTTI_MESH_LOG` file, if one is set. */
export function testLog (msg: string, fields: Record<string, unknown> = {}): void {
  const file = process.env.TUTTI_MESH_LOG
  if (file == null || file === '') return
  appendFileSync(file, JSON.stringify({ ts: new Date().toISOString(), level: 'info', component: 'test', msg, node: '-', ...fields }) + '\n')
}

function logReplacer (_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code }
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** Polls `predicate` until it holds, or throws after `timeoutMs` saying what was awaited. */
export async function waitFor (what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 50): Promise<void> {
  const started = Date.now()
  const deadline = started + timeoutMs
  for (;;) {
    if (await predicate()) {
      testLog('waited', { what, ms: Date.now() - started })
      return
    }
    if (Date.now() > deadline) {
      testLog('timed out', { what, ms: Date.now() - started })
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** Whether every node sees every other node alive. */
export function fullyConverged (nodes: TuttiNode[]): boolean {
  const ids = new Set(nodes.map(n => n.peerId))
  return nodes.every(n => {
    const alive = n.nodes().filter(m => m.status === 'alive' && ids.has(m.peerId))
    return alive.length === ids.size
  })
}
