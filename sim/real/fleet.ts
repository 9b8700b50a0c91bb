/**
 * The contract between the simulator's real-node runner (sim/real/runner.ts) and a fleet of real
 * Tutti nodes, whatever they run in: `inprocess` (real `TuttiNode`s in this process over the
 * shaped in-memory transport, sim/real/inprocess.ts) or `multihost` (separate `tutti node start`
 * processes in network namespaces). The runner drives a scenario's timeline through it and builds
 * the recorded history (`SimEvent`s) from what it reports; the invariants are judged on that.
 *
 * Everything crosses a process boundary cleanly: indices, strings, bytes and paths go in; JSON
 * comes out. What the runner learns comes from two sources a separate process also has:
 *
 * - **Log records** ({@link FleetLogRecord}): the node's own structured log lines (the JSON lines
 *   of `node.log` for a process; the logger's sink in-process). The runner reads the lines named in
 *   {@link NODE_LOG} (their `msg`, with the fields listed there), for what must not be missed
 *   between two polls: epochs promised, commands accepted and refused, coordinator changes.
 * - **Observations** ({@link NodeObservation}): a node's state as its admin protocol or HTTP API
 *   tells it (running versions, policies held, rollout progress and device state), polled by the
 *   runner every sample interval of virtual time.
 *
 * Time: a fleet runs on a virtual clock (`clock`, ms since the run started) that goes
 * `timeScale` times as fast as the wall clock, or as fast as it can honestly make its nodes'
 * timers go (a fleet of unmodified processes runs at 1). Scenario times are virtual.
 */
import { AGENT_LOG } from '../../node/rollouts/agent.js'
import type { Clock } from '../../core/clock.js'
import type { LogRecord } from '../../core/logger.js'
import type { FleetConfig } from '../../node/fleet/fleet.js'
import type { LinkShape } from '../scenario.js'
import type { AbortOptions } from '@libp2p/interface'

/** A node to start: its labels and properties (battery, ...). */
export interface FleetNodeSpec {
  labels: Record<string, string>
  props: Record<string, string>
}

export interface RealFleetInit {
  /** The fleet every node belongs to (swarm key, admin public key). The runner holds the admin key. */
  fleet: FleetConfig
  nodes: FleetNodeSpec[]
  /** The shape of every link at the start (per directed pair of nodes). */
  links: LinkShape
  /** Upload rate of node 0 (where the models are imported), bytes per virtual second. */
  originBytesPerSec: number
  /** The nodes' base heartbeat interval, virtual ms. */
  heartbeatMs: number
  /** Virtual ms per wall ms asked for; the fleet reports what it runs at in `timeScale`. */
  timeScale: number
  /** A directory the fleet may use (data dirs, logs); it is removed by the caller. */
  workDir: string
  /** Seeds the fleet's own randomness (link jitter and loss draws, node ids where it picks them). */
  seed?: number
}

/** One input of an OIP (KServe v2) inference request. */
export interface OipInput {
  name: string
  datatype: string
  shape: number[]
  data: number[]
}

/** A node's state as its own admin protocol reports it; `undefined` from `observe` when it is down or paused. */
export interface NodeObservation {
  peerId: string
  /** Model name -> the version it serves. */
  running: Record<string, string>
  /** Rollout name -> the version of its policy this node holds. */
  policies: Record<string, number>
  /** Rollout name -> this node's device record and the newest progress it heard. */
  rollouts: Record<string, {
    /** The device state (`Downloading`, `Active`, `Failed`...), absent before any command. */
    state?: string
    reason?: string
    /** The epoch this device promised. */
    promised: number
    /** The newest progress this node heard (`tutti rollout status`); seq and policyVersion order them. */
    progress?: { phase: string, epoch: number, seq: number, policyVersion: number, coordinator: string, step: number, message?: string, trip?: string }
  }>
  /** Chunk data bytes this node's chunk server sent since it (re)started. */
  chunkBytesSent: number
  /** Nodes this node's mesh view holds alive, itself included. */
  aliveSeen: number
}

/** One log line of one node, with its virtual time. */
export interface FleetLogRecord {
  node: number
  /** Virtual ms since the run started. */
  t: number
  record: LogRecord
}

/** A model file found in a node's store, re-hashed against its manifest. */
export interface DigestCheck {
  file: string
  ok: boolean
}

/**
 * The log lines the runner reads (`msg`, and the fields it needs). The node writes them
 * (node/rollouts/agent.ts, coordinator.ts); they are part of this contract.
 */
export const NODE_LOG = {
  /** Device (AGENT_LOG.promised): `{ rollout, epoch, coordinator }` (coordinator = a peer id). */
  promised: AGENT_LOG.promised,
  /** Device: `{ rollout, epoch, coordinator, action: 'activate' | 'revert' }`. */
  accepted: AGENT_LOG.accepted,
  /** Device: `{ rollout, epoch, coordinator, code }`. */
  refused: AGENT_LOG.refused,
  /** Coordinator (component `*.coordinator`, field `rollout`): `{ epoch }`. */
  takeOver: 'taking over the rollout',
  /** Coordinator: `{ epoch }`, once a quorum promised. */
  established: 'coordinating the rollout',
  /** Coordinator: `{ epoch, why }`. */
  stepDown: 'no longer coordinating'
} as const

/** What a fleet can do faithfully; the runner records an action it cannot as a fault event that says so. */
export interface FleetCapabilities {
  /** `slow` (disk and CPU factors). */
  slow: boolean
  /** `pause` freezes the node's process (SIGSTOP) rather than approximating it. */
  truePause: boolean
}

export interface RealFleet {
  readonly mode: 'inprocess' | 'multihost'
  readonly capabilities: FleetCapabilities
  /** Virtual time: `now()` is ms since the run started; its timers fire in virtual time. */
  readonly clock: Clock
  /** Virtual ms per wall ms the fleet runs at. */
  readonly timeScale: number
  /**
   * Runs at `scale` x the wall clock from now on (virtual time goes on from where it stands; timers
   * keep their virtual due times). The runner sets the fleet up at a gentler pace than the scenario
   * runs at. A fleet that can only run at 1 throws ERR_SIM_UNSUPPORTED for any other scale.
   */
  setTimeScale(scale: number): void
  /** Nodes started so far (indices 0..size-1, in start order; addNodes appends). */
  readonly size: number

  /** Starts `init.nodes`; node 0 is everyone's bootstrap peer. Resolves once every node is up. */
  start(init: RealFleetInit, options?: AbortOptions): Promise<void>
  /** Imports a model package directory (`tutti model pack` output) on node 0 and announces it. */
  importModel(packageDir: string, options?: AbortOptions): Promise<{ cid: string }>
  /** Activates a model version (by manifest CID) on node `i`, fetching it from peers if needed. */
  activate(i: number, cid: string, options?: AbortOptions): Promise<void>
  /** Hands an admin-signed policy envelope to node `i` (`tutti apply`). */
  applyPolicy(i: number, envelope: Uint8Array, options?: AbortOptions): Promise<void>
  /** An OIP (KServe v2) inference on node `i`'s served `model`; resolves with the response body. */
  infer(i: number, model: string, request: { inputs: OipInput[] }, options?: AbortOptions): Promise<unknown>

  /** Every node is in exactly one group; links between groups are blocked (see the fleet's doc for how). */
  partition(groups: number[][]): Promise<void>
  heal(): Promise<void>
  /** Kills node `i` abruptly; its data directory stays. */
  crash(i: number): Promise<void>
  /** Starts a crashed node again on its data directory. */
  restart(i: number): Promise<void>
  pause(i: number): Promise<void>
  resume(i: number): Promise<void>
  /** Overrides live properties of node `i` (they travel in its next heartbeat). */
  setProps(i: number, props: Record<string, string>): Promise<void>
  /** Starts more nodes (late joiners); returns their indices. */
  addNodes(specs: FleetNodeSpec[], options?: AbortOptions): Promise<number[]>
  /** Disk (verify) and CPU (load, inference) slow-down factors; only when `capabilities.slow`. */
  slow(i: number, factors: { disk: number, cpu: number }): Promise<void>
  /** Every link touching these nodes takes this shape (fields left out keep theirs). */
  shapeLinks(nodes: number[], shape: Partial<LinkShape>): Promise<void>

  /** Node `i`'s state, or undefined when it is down or paused. */
  observe(i: number, options?: AbortOptions): Promise<NodeObservation | undefined>
  /** Re-hashes every complete model file in node `i`'s store (after a restart). */
  verifyModels(i: number, options?: AbortOptions): Promise<DigestCheck[]>
  /** Every log line of every node from now on; returns the unsubscribe. */
  onRecord(listener: (r: FleetLogRecord) => void): () => void
  /** Stops every node; leaves nothing running. */
  stop(): Promise<void>
}
