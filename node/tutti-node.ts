/**
 * The one program every device runs: a libp2p node of the fleet's private mesh, its heartbeat and
 * mesh view, the admin protocol any operator can attach to, and a local HTTP API.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { LevelDatastore } from 'datastore-level'
import { PeerCachingDatastore } from './mesh/peer-datastore.js'
import { z } from 'zod'
import { checkKeyValue } from '../protocols/heartbeat/labels.js'
import { createAdminStreamHandler, ADMIN_PROTOCOL, AdminErrorCode, AdminRequestError } from '../protocols/admin/index.js'
import { adminParams, base64Bytes, boundedString, rolloutName } from './admin-params.js'
import { MAX_POLICY_BYTES } from '../protocols/policy/constants.js'
import { ApiRouter, startApiServer } from './api/http.js'
import { ADDRESS_IN_USE, addressesInUse, hasErrorCode } from './api/listen.js'
import { registerNodeRoutes } from './api/node-routes.js'
import { isLoopbackHost, loadOrCreateApiToken } from './api/token.js'
import { isoTime, systemClock } from '../core/clock.js'
import { ConfigError } from '../core/errors.js'
import { isAdmin, swarmKey } from './fleet/fleet.js'
import { writeFileAtomic } from './fs.js'
import { countBoot, loadOrCreateIdentity } from './identity.js'
import { updateNodeConfig } from './node-config.js'
import { createLogger } from '../core/logger.js'
import { randomSeed, seededRandom } from '../core/random.js'
import { Membership } from './membership/membership.js'
import { MAX_ENVELOPE_BYTES } from './models/constants.js'
import { ModelService, openModelParts } from './models/service.js'
import { InferenceRuntime, inferenceAdminHandlers, OipBodyParser, registerOipRoutes } from './inference/index.js'
import { Serving } from './serving/serving.js'
import { Connectivity } from './mesh/connectivity.js'
import { createMeshLibp2p } from './mesh/libp2p.js'
import { libp2pMesh } from './mesh/mesh.js'
import { readDeviceProperties } from './telemetry/props.js'
import { PolicyService } from './policy/service.js'
import { PolicyError } from './policy/errors.js'
import { RolloutService } from './rollouts/service.js'
import { validateRolloutSpec } from './rollouts/spec.js'
import { NODE_VERSION } from './version.js'
import type { DevicePace } from '../core/pace.js'
import type { ApiServer } from './api/http.js'
import type { Clock, TimerHandle } from '../core/clock.js'
import type { FleetConfig } from './fleet/fleet.js'
import type { Logger } from '../core/logger.js'
import type { IntervalParams } from './membership/interval.js'
import type { AggregationParams } from './membership/shards.js'
import type { MemberInfo } from './membership/membership.js'
import type { LivenessParams } from './membership/view.js'
import type { MeshLibp2p, TransportKind } from './mesh/libp2p.js'
import type { NodeLibp2p, TuttiMesh } from './mesh/mesh.js'
import type { Properties } from './telemetry/props.js'
import type { ModelParts, ModelServiceInit } from './models/service.js'
import type { InferenceRuntimeInit } from './inference/index.js'
import type { AdminHandler } from '../protocols/admin/index.js'
import type { ConnectionGater, PrivateKey, Transport } from '@libp2p/interface'

export const NODE_FILE = 'node.json'

export interface TuttiNodeInit {
  fleet: FleetConfig
  /** Persistent identity and datastore live here. Without it, identity and data are in memory. */
  dataDir?: string
  /**
   * Peer-store records in memory, written to the datastore behind (node/mesh/peer-datastore.ts).
   * `false` writes each one to LevelDB at once, as libp2p does: the baseline of
   * `npm run bench -- peer-store`. @default true
   */
  peerRecordCache?: boolean
  /** Identity when there is no dataDir (tests, simulator). @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /** @default 'tcp' */
  transport?: TransportKind
  /** @default ['/ip4/0.0.0.0/tcp/0'] for tcp */
  listen?: string[]
  bootstrap?: string[]
  labels?: Record<string, string>
  /** Override live properties (battery, ...). */
  props?: Properties
  /**
   * Local HTTP API address, or false for none. Beyond loopback it needs `tokenFile`: the bearer
   * token every request must carry, created (0600) if missing; the node refuses to start without
   * one. @default { host: '127.0.0.1', port: 7411 }
   */
  api?: { host: string, port: number, tokenFile?: string } | false
  /** @default false */
  mdns?: boolean
  heartbeat?: Partial<IntervalParams>
  liveness?: Partial<LivenessParams>
  /**
   * Heartbeat aggregation: from which fleet size heartbeats are sharded, how large shards are,
   * how digests are sized (node/membership/shards.ts, docs/HEARTBEATS.md). Tests force sharding
   * in small meshes with a low `shardAboveNodes` and `minShardSize`.
   */
  aggregation?: Partial<AggregationParams>
  /** Connections a node tries to keep. @default 6 */
  targetPeers?: number
  /** Redial/connectivity check period, in ms. @default 2000 */
  connectivityCheckMs?: number
  /**
   * The model store and peer-to-peer distribution. Its root defaults to `dataDir/models`; a node
   * with neither a data dir nor `models.root` has no models. `false` turns it off.
   */
  models?: Partial<ModelServiceInit> | false
  /** Local inference settings (memory reserve, queue sizes, default limits). */
  inference?: InferenceRuntimeInit
}

export interface TuttiNodeComponents {
  clock?: Clock
  logger?: Logger
  random?: () => number
  /** Where live properties come from. @default the platform */
  readProperties?: () => Promise<Properties>
  /** Which peers and connections the mesh refuses (a test's partition). @default allow all */
  connectionGater?: ConnectionGater
  /** libp2p transports instead of `init.transport`'s (the simulator's shaped network). */
  transports?: Array<(components: any) => Transport>
  /** A device slower than this machine (the simulator's `slow`; core/pace.ts). @default none */
  pace?: DevicePace
}

/** What a node is assembled from: its mesh, and the parts the factory built for it. */
export interface TuttiNodeParts<L extends NodeLibp2p = NodeLibp2p> extends TuttiNodeComponents {
  /** The mesh the node runs on; the node starts and stops it. */
  mesh: TuttiMesh<L>
  /** The model store, chunk server and fetcher. Without them the node keeps no models. */
  models?: ModelParts
  /** Closed after the mesh stops (the datastore behind the mesh's records). */
  datastore?: { close: () => Promise<void> }
  /**
   * The node's own key (its peer id's): it signs the wave commands and progress of rollouts this
   * node coordinates. Without it the node follows rollouts but never coordinates one.
   */
  privateKey?: PrivateKey
}

/** What a node says about itself (`GET /v1/node`, `tutti describe node`). */
export interface NodeInfo {
  peerId: string
  fleetId: string
  fleetName: string
  version: string
  addresses: string[]
  api?: string
  labels: Record<string, string>
  startedAt: string
  uptimeMs: number
  connections: number
  heartbeatIntervalMs: number
  meshSize: number
  /** Versions of each model this node keeps (`--keep-versions`); absent without a model store. */
  keepVersions?: number
}

/** One node of the mesh view with what this node knows of its connections and addresses. */
export interface NodeDescription extends MemberInfo {
  connected: boolean
  addresses: string[]
  /** The answering node's own policy store: what it holds and what it refused, by code. */
  policies?: { held: number, tombstones: number, accepted: number, duplicates: number, rejected: Record<string, number> }
  /** The answering node's own local health score (membership/health.ts): 0 while its timers run on time. */
  localHealth?: number
  /** Requests the answering node's device answered from rollout coordinators since it started, by kind. */
  rolloutRequests?: { prepare: number, command: number, report: number }
}

/** How long a heartbeat asked for on a state change waits for further changes to share it, ms. */
const HEARTBEAT_SOON_MS = 100
/** Least time between two heartbeats asked for on state changes, ms. */
const HEARTBEAT_SOON_GAP_MS = 1000

/**
 * Builds the production node: its identity and datastore (under `init.dataDir`), the libp2p mesh
 * of `createMeshLibp2p`, and the model store, chunk server and fetcher (under `dataDir/models` or
 * `init.models.root`), then assembles them into a {@link TuttiNode}.
 */
export async function createTuttiNode (init: TuttiNodeInit, components: TuttiNodeComponents = {}): Promise<TuttiNode<MeshLibp2p>> {
  const privateKey = init.dataDir != null
    ? await loadOrCreateIdentity(init.dataDir)
    : init.privateKey ?? await (await import('@libp2p/crypto/keys')).generateKeyPair('Ed25519')
  // Settings given once on the command line persist with the node (DATA/config.json).
  const config = init.dataDir != null
    ? await updateNodeConfig(init.dataDir, { keepVersions: init.models === false ? undefined : init.models?.retainVersions })
    : undefined
  const level = init.dataDir != null ? new LevelDatastore(join(init.dataDir, 'datastore')) : undefined
  if (level != null) await level.open()
  // Peer records in memory, written behind (node/mesh/peer-datastore.ts); the rest goes to LevelDB.
  const datastore = level == null || init.peerRecordCache === false
    ? level
    : new PeerCachingDatastore(level, { clock: components.clock ?? systemClock, logger: (components.logger ?? createLogger()).child('datastore') })
  try {
    const transport = init.transport ?? 'tcp'
    const libp2p = await createMeshLibp2p({
      privateKey,
      swarmKey: swarmKey(init.fleet),
      transport,
      listen: listenAddresses(init),
      bootstrap: init.bootstrap,
      mdns: init.mdns,
      datastore,
      connectionGater: components.connectionGater,
      transports: components.transports,
      logger: components.logger ?? createLogger()
    })
    const modelsRoot = init.models === false ? undefined : init.models?.root ?? (init.dataDir != null ? join(init.dataDir, 'models') : undefined)
    const models = modelsRoot == null || init.models === false
      ? undefined
      : await openModelParts({
        libp2p,
        fleet: init.fleet,
        clock: components.clock ?? systemClock,
        logger: nodeLogger(components.logger, libp2p.peerId.toString()),
        random: components.random,
        pace: components.pace
      }, { ...init.models, root: modelsRoot, retainVersions: config?.keepVersions ?? init.models?.retainVersions })
    return new TuttiNode(init, { ...components, mesh: libp2pMesh(libp2p), models, datastore, privateKey })
  } catch (err) {
    await datastore?.close()
    throw err
  }
}

const nodesGetParams = z.object({ peerId: boundedString('a peer id or a unique suffix of one', 128) })
const policiesGetParams = z.object({ name: rolloutName })
const policiesApplyParams = z.object({ envelope: base64Bytes('policy envelope', MAX_POLICY_BYTES) })
/** `node.setProperty`: a live property's override (a value), or none (`value` left out). */
const setPropertyParams = z.object({
  key: boundedString('a property key', 256),
  value: boundedString('a property value', 1024).optional()
}).superRefine((p, ctx) => {
  const problem = checkKeyValue(p.key, p.value ?? '')
  if (problem != null) ctx.addIssue({ code: 'custom', message: problem, path: ['key'] })
})

function listenAddresses (init: TuttiNodeInit): string[] {
  return init.listen ?? ((init.transport ?? 'tcp') === 'tcp' ? ['/ip4/0.0.0.0/tcp/0'] : [])
}

/**
 * Whether `signature` is the key of `peerId`'s over `data` (a shard digest's aggregator). Ed25519
 * keys are embedded in their peer ids and verify synchronously on Node; anything else fails.
 */
function verifyPeerSignature (peerId: string, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return peerIdFromString(peerId).publicKey?.verify(data, signature) === true
  } catch {
    return false
  }
}

function nodeLogger (logger: Logger | undefined, peerId: string): Logger {
  return (logger ?? createLogger()).child('node', { peer: peerId.slice(-8) })
}

/**
 * A node of the fleet, assembled from its parts: heartbeats and the mesh view, connectivity, the
 * admin protocol, the model subsystem, local inference and the HTTP API. It takes its mesh as a
 * part (`createTuttiNode` builds the libp2p one), so a simulator can hand in its own.
 */
export class TuttiNode<L extends NodeLibp2p = MeshLibp2p> {
  readonly libp2p: L
  readonly mesh: TuttiMesh<L>
  readonly membership: Membership
  readonly fleet: FleetConfig
  readonly peerId: string
  /** The model subsystem, when this node has a place to keep models. */
  readonly models?: ModelService
  /** Local inference: onnxruntime sessions in worker threads. */
  readonly inference: InferenceRuntime
  /** Activation of model versions: store + runtime + persistence. */
  readonly serving: Serving
  /** Admin-signed policies (rollouts), replicated on every node. */
  readonly policies: PolicyService
  /** The device agent and the coordinators of rollouts; absent without the node's key. */
  readonly rollouts?: RolloutService
  private readonly init: TuttiNodeInit
  private readonly clock: Clock
  private readonly log: Logger
  private readonly connectivity: Connectivity
  private readonly datastore?: { close: () => Promise<void> }
  private readonly adminHandlers: Record<string, AdminHandler> = {}
  private readonly router = new ApiRouter()
  private api?: ApiServer
  /** Parses OIP request bodies, large ones in a worker thread (ended on stop). */
  private readonly oipParser: OipBodyParser
  private startedAtMs = 0
  private running = false
  /** A heartbeat asked for outside the schedule (a device state changed), not yet sent. */
  private soonTimer?: TimerHandle
  private lastSoonMs = Number.NEGATIVE_INFINITY
  private restoreController?: AbortController
  private restoringRef?: Promise<void>

  /** Builds the production node; see {@link createTuttiNode}. */
  static async create (init: TuttiNodeInit, components: TuttiNodeComponents = {}): Promise<TuttiNode<MeshLibp2p>> {
    return await createTuttiNode(init, components)
  }

  constructor (init: TuttiNodeInit, parts: TuttiNodeParts<L>) {
    const { mesh } = parts
    const libp2p = mesh.libp2p
    this.init = init
    this.fleet = init.fleet
    this.mesh = mesh
    this.libp2p = libp2p
    this.datastore = parts.datastore
    this.peerId = libp2p.peerId.toString()
    this.clock = parts.clock ?? systemClock
    const random = parts.random ?? seededRandom(randomSeed())
    this.log = nodeLogger(parts.logger, this.peerId)
    if (parts.models != null) {
      this.models = new ModelService({
        ...parts.models,
        libp2p,
        clock: this.clock,
        logger: this.log,
        members: () => this.membership.view(),
        onHeld: async () => { await this.membership.publishNow() }
      }, init.models === false ? {} : init.models)
    }
    this.inference = new InferenceRuntime({ clock: this.clock, logger: this.log, random, pace: parts.pace }, init.inference)
    this.serving = new Serving({
      runtime: this.inference,
      models: this.models,
      logger: this.log,
      // Retention never removes what a rollout here may still activate or revert to.
      referenced: () => this.rollouts?.referencedCids() ?? []
    }, {
      stateFile: init.dataDir != null ? join(init.dataDir, 'serving.json') : undefined
    })
    this.membership = new Membership({
      clock: this.clock,
      logger: this.log,
      random,
      peerId: this.peerId,
      transport: mesh.pubsub,
      readProperties: parts.readProperties ?? (async () => await readDeviceProperties()),
      readModels: () => this.serving.heartbeatModels(),
      readRollouts: () => this.rollouts?.heartbeatRollouts() ?? [],
      ...(parts.privateKey != null ? { signDigest: async (payload: Uint8Array) => await parts.privateKey!.sign(payload) } : {}),
      verifyDigest: verifyPeerSignature
    }, {
      labels: init.labels,
      propertyOverrides: init.props,
      nodeVersion: NODE_VERSION,
      interval: init.heartbeat,
      liveness: init.liveness,
      aggregation: init.aggregation
    })
    this.policies = new PolicyService({
      clock: this.clock,
      random,
      logger: this.log,
      peerId: this.peerId,
      pubsub: mesh.pubsub,
      libp2p,
      fleet: init.fleet,
      dataDir: init.dataDir,
      validateSpec: spec => { validateRolloutSpec(spec) }
    })
    if (parts.privateKey != null) {
      const serving = this.serving
      this.rollouts = new RolloutService({
        clock: this.clock,
        random,
        logger: this.log,
        peerId: this.peerId,
        privateKey: parts.privateKey,
        streams: libp2p,
        peerIdFromString,
        pubsub: mesh.pubsub,
        policies: this.policies,
        serving: {
          activate: async (ref, limits, options) => await serving.activate(ref, limits, options),
          deactivate: async (name, options) => { await serving.deactivate(name, options) },
          activeOf: name => serving.activeOf(name),
          isLocal: cid => serving.isLocal(cid),
          prefetch: this.models == null ? undefined : async (cid, options) => { await this.models!.pull(cid, options) }
        },
        view: () => this.membership.view(),
        attributes: () => ({ ...this.membership.get(this.peerId)?.props, ...this.membership.propertyOverrides(), ...init.labels }),
        nudge: () => { this.heartbeatSoon() },
        // A coordinator hears every shard first-hand while it leads (docs/HEARTBEATS.md).
        onLeading: leading => { this.membership.watchAllShards(leading) }
      }, {
        dataDir: init.dataDir,
        heartbeatMs: init.heartbeat?.baseIntervalMs,
        tickMs: Math.min(1000, init.heartbeat?.baseIntervalMs ?? 1000)
      })
      this.membership.addEventListener('member:status', () => { this.rollouts?.kick() })
    }
    this.connectivity = new Connectivity({
      libp2p,
      clock: this.clock,
      logger: this.log,
      random,
      knownPeers: () => this.membership.view().filter(m => m.status !== 'dead').map(m => m.peerId),
      lastHeardMs: () => this.membership.lastHeardMs(),
      gossipPeerCount: mesh.pubsub.peerCount?.bind(mesh.pubsub),
      shardPeers: () => this.membership.shardPeers(),
      ...mesh.gossipRepair
    }, {
      bootstrap: init.bootstrap,
      targetPeers: init.targetPeers,
      checkIntervalMs: init.connectivityCheckMs,
      // Deaf: more than the dead threshold of the current interval without hearing anyone.
      deafAfterMs: Math.max(10_000, 8 * (init.heartbeat?.baseIntervalMs ?? 5000))
    })
    this.oipParser = new OipBodyParser({ clock: this.clock, logger: this.log })
    this.registerBuiltins()
  }

  get apiUrl (): string | undefined {
    return this.api?.url
  }

  /** Registers an admin method (later subsystems add theirs: models, rollouts, inference). */
  handleAdmin (method: string, handler: AdminHandler): void {
    this.adminHandlers[method] = handler
  }

  /** The local HTTP API router, for subsystems that add endpoints. */
  get http (): ApiRouter {
    return this.router
  }

  /**
   * The restore of the models active before a restart, while it runs: it settles when every one
   * is back (failures are logged), or rejects with ERR_RESTORE_ABORTED when `stop()` cut it short.
   */
  get restoring (): Promise<void> | undefined {
    return this.restoringRef
  }

  async start (): Promise<void> {
    if (this.running) return
    this.startedAtMs = this.clock.now()
    try {
      await this.startParts()
    } catch (err) {
      // Leave nothing half-running (listeners, the datastore lock) behind a failed start.
      await this.stop().catch(stopErr => { this.log.error('stopping after a failed start failed', { err: stopErr }) })
      throw err
    }
    this.running = true
    if (this.init.dataDir != null) {
      await writeFileAtomic(join(this.init.dataDir, NODE_FILE), JSON.stringify(this.nodeFile(), null, 2) + '\n')
    }
    this.log.info('node started', { addresses: this.addresses(), api: this.api?.url, fleet: this.fleet.fleetId })
    // Models active before a restart come back; loading can take seconds, so the node is up first.
    const controller = new AbortController()
    this.restoreController = controller
    this.restoringRef = this.serving.restore({ signal: controller.signal })
    this.restoringRef.catch(err => {
      if (controller.signal.aborted) this.log.info('restoring active models stopped with the node', { err })
      else this.log.error('restoring active models failed', { err })
    })
  }

  private async startParts (): Promise<void> {
    const api = this.init.api
    if (api != null && api !== false && !isLoopbackHost(api.host) && api.tokenFile == null) {
      throw new ConfigError(`the HTTP API on ${api.host}:${api.port} would accept requests from other machines without authentication: give it a token file (--api-token-file FILE, created 0600 if missing), or listen on 127.0.0.1`)
    }
    try {
      await this.libp2p.start()
    } catch (err) {
      const listen = this.init.listen ?? []
      const inUse = await addressesInUse(err, listen)
      if (inUse.length > 0) throw new ConfigError(`cannot listen on ${inUse.join(', ')}: the address is in use (another node? pick a port with --listen)`, { cause: err })
      throw err
    }
    // Every admin method is registered (constructor) before the protocol answers.
    await this.libp2p.handle(ADMIN_PROTOCOL, createAdminStreamHandler({
      authorize: peer => isAdmin(this.fleet, peer),
      handlers: this.adminHandlers,
      logger: this.log,
      clock: this.clock,
      // A manifest envelope (up to MAX_ENVELOPE_BYTES) rides base64 in one models.push request.
      methodRequestBytes: { 'models.push': Math.ceil(MAX_ENVELOPE_BYTES / 3) * 4 + 1024 }
    }))
    await this.models?.start()
    this.inference.start()
    await this.policies.start()
    // Counted once the node can run (its listeners are up), so a start that fails is no restart.
    this.membership.start({ restarts: this.init.dataDir != null ? await countBoot(this.init.dataDir) : 0 })
    this.connectivity.start()
    await this.rollouts?.start()
    if (this.init.api !== false) {
      const host = this.init.api?.host ?? '127.0.0.1'
      const port = this.init.api?.port ?? 7411
      const tokenFile = this.init.api?.tokenFile
      const token = tokenFile != null ? await loadOrCreateApiToken(tokenFile) : undefined
      try {
        this.api = await startApiServer({ router: this.router, logger: this.log, host, port, token })
      } catch (err) {
        const why = hasErrorCode(err, ADDRESS_IN_USE) ? 'the address is in use (another node? pick one with --api)' : (err as Error).message
        throw new ConfigError(`cannot listen for the HTTP API on ${host}:${port}: ${why}`, { cause: err })
      }
    }
  }

  /** Stops everything the node runs; a restore in progress is aborted, not waited out. */
  async stop (): Promise<void> {
    this.running = false
    this.soonTimer?.cancel()
    this.soonTimer = undefined
    this.restoreController?.abort(new Error('the node is stopping'))
    await this.rollouts?.stop()
    this.connectivity.stop()
    this.membership.stop()
    await this.policies.stop()
    await this.restoringRef?.catch(() => undefined)
    await this.inference.stop()
    await this.models?.stop()
    await this.api?.close()
    this.api = undefined
    await this.oipParser.close()
    await this.libp2p.stop()
    await this.datastore?.close()
    if (this.init.dataDir != null) await rm(join(this.init.dataDir, NODE_FILE), { force: true })
    this.log.info('node stopped')
  }

  /**
   * Publishes a heartbeat soon, outside the schedule: this node's rollout state changed, and
   * every peer (a `rollout status` attached anywhere, the coordinator's view) should see it within
   * a gossip hop, not an interval (up to 60 s in a large fleet). Changes in quick succession
   * (Downloading, Verifying, Loading...) share one heartbeat: it waits HEARTBEAT_SOON_MS, and two
   * are at least HEARTBEAT_SOON_GAP_MS apart.
   */
  private heartbeatSoon (): void {
    if (!this.running || this.soonTimer != null) return
    const wait = Math.max(HEARTBEAT_SOON_MS, this.lastSoonMs + HEARTBEAT_SOON_GAP_MS - this.clock.now())
    this.soonTimer = this.clock.setTimeout(() => {
      this.soonTimer = undefined
      this.lastSoonMs = this.clock.now()
      this.membership.publishNow().catch(err => { this.log.debug('heartbeat on a state change failed', { err }) })
    }, wait)
  }

  /** Overrides a live property (or with `undefined` stops overriding it) from the next heartbeat on; the selector of a rollout sees it too. */
  setProperty (key: string, value: string | undefined): void {
    this.membership.setProperty(key, value)
  }

  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  info (): NodeInfo {
    return {
      peerId: this.peerId,
      fleetId: this.fleet.fleetId,
      fleetName: this.fleet.name,
      version: NODE_VERSION,
      addresses: this.addresses(),
      api: this.api?.url,
      labels: { ...this.init.labels },
      startedAt: isoTime(this.startedAtMs),
      uptimeMs: this.clock.now() - this.startedAtMs,
      connections: this.libp2p.getConnections().length,
      heartbeatIntervalMs: this.membership.currentIntervalMs(),
      meshSize: this.membership.liveCount(),
      keepVersions: this.models?.store.keepVersions
    }
  }

  nodes (): MemberInfo[] {
    return this.membership.view()
  }

  async describe (peerId: string): Promise<NodeDescription | undefined> {
    const member = this.membership.get(peerId)
    if (member == null) return undefined
    const id = peerIdFromString(peerId)
    let addresses: string[] = []
    if (member.self) {
      addresses = this.addresses()
    } else {
      try {
        const peer = await this.libp2p.peerStore.get(id)
        addresses = peer.addresses.map(a => a.multiaddr.toString())
      } catch {
        addresses = [] // known from gossip only; no address record yet
      }
    }
    const connected = member.self || this.libp2p.getConnections(id).length > 0
    if (!member.self) return { ...member, connected, addresses }
    const { held, tombstones, accepted, duplicates, rejected } = this.policies.stats()
    return { ...member, connected, addresses, policies: { held, tombstones, accepted, duplicates, rejected }, localHealth: this.membership.localHealth(), ...(this.rollouts != null ? { rolloutRequests: { ...this.rollouts.served } } : {}) }
  }

  private nodeFile (): Record<string, unknown> {
    return {
      peerId: this.peerId,
      fleetId: this.fleet.fleetId,
      addresses: this.addresses(),
      api: this.api?.url ?? null,
      pid: process.pid,
      startedAt: isoTime(this.startedAtMs)
    }
  }

  private registerBuiltins (): void {
    if (this.models == null) {
      for (const method of ['models.list', 'models.get', 'models.pull', 'models.push', 'models.job', 'models.serverStats']) {
        this.handleAdmin(method, async () => {
          throw new AdminRequestError('ERR_NO_MODEL_STORE', `peer ${this.peerId} keeps no models (it runs without a data directory)`)
        })
      }
    }
    this.handleAdmin('node.info', async () => this.info())
    this.handleAdmin('nodes.list', async () => ({ observer: this.peerId, nodes: this.nodes() }))
    // A live property changed at run time (a battery draining, in the simulator; an operator's
    // override otherwise): the next heartbeat carries it and rollout selectors see it.
    this.handleAdmin('node.setProperty', async (params) => {
      const { key, value } = adminParams(setPropertyParams, params)
      this.setProperty(key, value)
      this.log.info('property set', { key, value })
      this.rollouts?.kick()
      return { observer: this.peerId, key, value: value ?? null }
    })
    this.handleAdmin('nodes.get', async (params) => {
      const { peerId: id } = adminParams(nodesGetParams, params)
      const match = this.resolvePeerId(id)
      const node = match == null ? undefined : await this.describe(match)
      if (node == null) throw new AdminRequestError(AdminErrorCode.NotFound, `node ${id} is not in the mesh view of ${this.peerId}`)
      return { observer: this.peerId, node }
    })
    this.handleAdmin('nodes.forget', async (params) => {
      const { peerId: id } = adminParams(nodesGetParams, params)
      const match = this.resolvePeerId(id)
      const outcome = match == null ? 'unknown' : this.membership.forget(match)
      switch (outcome) {
        case 'forgotten': return { observer: this.peerId, peerId: match }
        case 'unknown': throw new AdminRequestError(AdminErrorCode.NotFound, `node ${id} is not in the mesh view of ${this.peerId}`)
        case 'self': throw new AdminRequestError(AdminErrorCode.BadRequest, `node ${match!} is the peer that answered; it cannot forget itself`)
        case 'alive': throw new AdminRequestError(AdminErrorCode.BadRequest, `node ${match!} is alive: its next heartbeat would bring it back (stop it first; a dead or suspect node can be forgotten)`)
        default: {
          const unreachable: never = outcome
          throw new Error(`unknown outcome ${String(unreachable)}`)
        }
      }
    })
    const notServedHint = (model: string, version: string | undefined): string | undefined => {
      const held = this.models?.list().find(e => e.name === model && e.complete && (version == null || e.version === version))
      if (held == null) return undefined
      return `this peer holds ${held.name}@${held.version} (${held.active ? 'active' : held.previous ? 'previous' : 'staged'}) but does not serve it; activate it with: tutti model activate ${held.name}@${held.version}`
    }
    for (const [method, handler] of Object.entries(inferenceAdminHandlers(this.inference, { notServedHint }))) this.handleAdmin(method, handler)
    for (const [method, handler] of Object.entries(this.serving.adminHandlers())) this.handleAdmin(method, handler)
    if (this.models != null) {
      for (const [method, handler] of Object.entries(this.models.adminHandlers())) this.handleAdmin(method, handler)
    }
    this.handleAdmin('policies.get', async (params) => {
      const { name } = adminParams(policiesGetParams, params)
      const held = this.policies.get(name)
      return { observer: this.peerId, doc: held?.doc, cid: held?.cid, signer: held?.signer }
    })
    this.handleAdmin('policies.apply', async (params, ctx) => {
      const { envelope } = adminParams(policiesApplyParams, params)
      try {
        const result = await this.policies.apply(envelope, { signal: ctx.signal })
        this.rollouts?.kick()
        return { ...result, name: this.policies.list().find(p => p.cid === result.cid)?.doc.name, observer: this.peerId }
      } catch (err) {
        if (err instanceof PolicyError) throw new AdminRequestError(err.code, err.message)
        throw err
      }
    })
    if (this.rollouts != null) {
      for (const [method, handler] of Object.entries(this.rollouts.adminHandlers())) this.handleAdmin(method, handler)
    }
    registerOipRoutes(this.router, this.inference, { parser: this.oipParser })
    registerNodeRoutes(this.router, {
      peerId: this.peerId,
      info: () => this.info(),
      nodes: () => this.nodes(),
      find: async (id) => {
        const match = this.resolvePeerId(id)
        return match == null ? undefined : await this.describe(match)
      }
    })
  }

  /** A full peer id, or a unique suffix of one (as `get nodes` shows them shortened). */
  private resolvePeerId (id: string): string | undefined {
    const ids = this.membership.view().map(m => m.peerId)
    if (ids.includes(id)) return id
    const matches = ids.filter(p => p.endsWith(id))
    return matches.length === 1 ? matches[0] : undefined
  }
}
