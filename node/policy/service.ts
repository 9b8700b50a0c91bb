/**
 * The policy service every node runs: the replicated {@link PolicyStore}, fed by gossip on
 * `tutti/policy/1` (new policies spread in a few hops) and repaired by anti-entropy on
 * `/tutti/policy-sync/1.0.0` (a sync with every new connection, and with one random connected
 * peer every `syncIntervalMs`), so a node that was offline or partitioned converges when it is back.
 *
 * `apply()` is how a policy enters the mesh at this node: stored durably first, then published,
 * then pushed to every connected peer, counting the peers that confirm they hold it.
 */
import { TypedEventEmitter } from 'main-event'
import { ConfigError, TuttiError, errorMessage } from '../../core/errors.js'
import { POLICY_TOPIC, PolicySync } from '../../protocols/policy/index.js'
import { PolicyErrorCode } from './errors.js'
import { PolicyStore } from './store.js'
import type { SpecValidator, VerifiedPolicy } from './document.js'
import type { PolicyChange, PolicyStoreStats } from './store.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { PolicySyncInit, SyncResult } from '../../protocols/policy/index.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { ValidationResult } from '../membership/membership.js'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

/** How often a node syncs with one random connected peer, in ms. @default 30 s */
export const DEFAULT_SYNC_INTERVAL_MS = 30_000

/** How long `apply()` waits for connected peers to confirm they hold the policy, in ms. @default 5 s */
export const DEFAULT_APPLY_CONFIRM_MS = 5_000

/**
 * The slice of a pubsub router the service needs: node/mesh/pubsub.ts `gossipsubTransport`
 * provides it. The validator is asynchronous because signatures are checked in it.
 */
export interface PolicyPubsub {
  subscribe(topic: string, onMessage: (from: string, data: Uint8Array) => void): void
  unsubscribe(topic: string): void
  setValidator(topic: string, validate: (from: string, data: Uint8Array) => Promise<ValidationResult>): void
  removeValidator(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<void>
}

/** The slice of libp2p the service needs: its sync protocol, the connected peers, connection events. */
export type PolicyLibp2p = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers' | 'addEventListener' | 'removeEventListener'>

export interface PolicyServiceComponents {
  clock: Clock
  /** Uniform in [0, 1); picks the anti-entropy peer. Seeded in the simulator. */
  random: () => number
  logger: Logger
  /** This node's peer id. */
  peerId: string
  pubsub: PolicyPubsub
  libp2p: PolicyLibp2p
  fleet: FleetConfig
  /** The node's data directory; policies persist under `policies/`. Without it, in memory. */
  dataDir?: string
  /** The rollout package's spec check. */
  validateSpec?: SpecValidator
}

export interface PolicyServiceInit {
  /** @default DEFAULT_SYNC_INTERVAL_MS */
  syncIntervalMs?: number
  /** @default DEFAULT_APPLY_CONFIRM_MS */
  applyConfirmMs?: number
  /** Settings of the sync protocol. */
  sync?: PolicySyncInit
  /** Most policies held, tombstones included. @default MAX_DIGEST_ENTRIES */
  maxPolicies?: number
}

export interface ApplyResult {
  version: number
  /** Payload CID of the policy applied. */
  cid: string
  /** On this node's disk (or in its memory, without a data directory) before anything was sent. */
  durable: true
  /** Connected peers that confirmed they hold this version within `applyConfirmMs`. */
  peers: number
}

export interface PolicyServiceStats extends PolicyStoreStats {
  syncs: {
    completed: number
    failed: number
    inFlight: number
  }
  /** When (this node's clock) a sync last completed. */
  lastSyncMs?: number
}

export interface PolicyServiceEvents {
  /** A newer policy was accepted: from gossip, a sync, or a local apply. */
  'policy:changed': CustomEvent<PolicyChange>
}

function resolvePositive (name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`policy service ${name} must be a positive integer, not ${v}`)
  return v
}

/** Replicates admin-signed policies across the mesh. */
export class PolicyService extends TypedEventEmitter<PolicyServiceEvents> {
  private readonly components: PolicyServiceComponents
  private readonly syncIntervalMs: number
  private readonly applyConfirmMs: number
  private readonly log: Logger
  private readonly store: PolicyStore
  private readonly sync: PolicySync
  /** Policies the gossip validator verified, by message bytes, so delivery does not verify again. */
  private readonly verified = new WeakMap<Uint8Array, VerifiedPolicy>()
  private readonly inFlight = new Set<Promise<unknown>>()
  private readonly syncing = new Set<string>()
  private readonly syncStats = { completed: 0, failed: 0 }
  private lastSyncMs?: number
  private controller = new AbortController()
  private timer?: TimerHandle
  private running = false
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => { this.syncWith(evt.detail, 'connect') }
  private readonly onChange = (evt: CustomEvent<PolicyChange>): void => { this.safeDispatchEvent('policy:changed', { detail: evt.detail }) }

  constructor (components: PolicyServiceComponents, init: PolicyServiceInit = {}) {
    super()
    this.components = components
    this.syncIntervalMs = resolvePositive('syncIntervalMs', init.syncIntervalMs, DEFAULT_SYNC_INTERVAL_MS)
    this.applyConfirmMs = resolvePositive('applyConfirmMs', init.applyConfirmMs, DEFAULT_APPLY_CONFIRM_MS)
    this.log = components.logger.child('policy')
    this.store = new PolicyStore({
      fleet: components.fleet,
      logger: components.logger,
      dataDir: components.dataDir,
      validateSpec: components.validateSpec
    }, { maxPolicies: init.maxPolicies })
    this.sync = new PolicySync({
      libp2p: components.libp2p,
      clock: components.clock,
      logger: components.logger,
      store: {
        digest: () => this.store.digest(),
        get: name => this.store.get(name),
        offer: async (bytes, from, options) => await this.store.offer(bytes, from, { ...options, via: 'sync' })
      }
    }, init.sync)
  }

  /** Loads the persisted policies, then joins gossip and anti-entropy. */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.running) return
    this.controller = new AbortController()
    await this.store.load(options)
    this.store.addEventListener('policy:changed', this.onChange)
    const { pubsub, libp2p } = this.components
    pubsub.setValidator(POLICY_TOPIC, async (from, data) => await this.validate(from, data))
    pubsub.subscribe(POLICY_TOPIC, (from, data) => { this.receive(from, data) })
    await this.sync.start(options)
    libp2p.addEventListener('peer:connect', this.onConnect)
    this.running = true
    this.arm()
    // Connections opened before the service started had no sync: catch up with them now.
    for (const peer of libp2p.getPeers()) this.syncWith(peer, 'start')
  }

  /** Stops gossip, anti-entropy and every exchange in flight; returns once nothing runs. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
    const { pubsub, libp2p } = this.components
    libp2p.removeEventListener('peer:connect', this.onConnect)
    pubsub.unsubscribe(POLICY_TOPIC)
    pubsub.removeValidator(POLICY_TOPIC)
    this.controller.abort(new Error('policy service stopped'))
    await this.sync.stop()
    await Promise.allSettled([...this.inFlight])
    this.store.removeEventListener('policy:changed', this.onChange)
  }

  /**
   * Applies a signed policy at this node: verified and stored durably first (a rejection throws
   * its {@link PolicyError} and changes nothing), then published on gossip, then pushed to every
   * connected peer. Resolves with how many of them confirmed holding it within `applyConfirmMs`.
   * Applying a policy already held announces it again.
   */
  async apply (envelope: Uint8Array, options: AbortOptions = {}): Promise<ApplyResult> {
    if (!this.running) throw new TuttiError('ERR_POLICY_SERVICE_STOPPED', 'the policy service is not running', { retryable: true })
    const result = await this.store.offer(envelope, this.components.peerId, { ...options, via: 'local' })
    if (result.kind === 'rejected') throw result.error
    const { policy } = result
    const name = policy.doc.name
    try {
      await this.components.pubsub.publish(POLICY_TOPIC, policy.envelope)
    } catch (err) {
      // Durable already, and the push below and anti-entropy still spread it.
      this.log.warn('publishing a policy failed', { name, version: policy.doc.version, err })
    }
    const signals = [this.controller.signal]
    if (options.signal != null) signals.push(options.signal)
    const confirm = new AbortController()
    const timer = this.components.clock.setTimeout(() => { confirm.abort(new Error(`peers did not confirm within ${this.applyConfirmMs} ms`)) }, this.applyConfirmMs)
    const signal = AbortSignal.any([...signals, confirm.signal])
    let peers = 0
    try {
      const syncs = this.components.libp2p.getPeers().map(async peer => await this.track(this.sync.sync(peer, { signal })))
      for (const outcome of await Promise.allSettled(syncs)) {
        if (outcome.status === 'rejected') continue
        this.recordSync(outcome.value)
        const head = outcome.value.remote.get(name)
        if (head?.version === policy.doc.version && head.cid === policy.cid) peers++
      }
    } finally {
      timer.cancel()
    }
    this.log.info('policy applied', { name, version: policy.doc.version, cid: policy.cid, confirmed: peers })
    return { version: policy.doc.version, cid: policy.cid, durable: true, peers }
  }

  /** The policy held for a rollout (a tombstone when it was deleted). */
  get (name: string): VerifiedPolicy | undefined {
    return this.store.policy(name)
  }

  /** Every policy held, tombstones included, by name. */
  list (): VerifiedPolicy[] {
    return this.store.list()
  }

  stats (): PolicyServiceStats {
    const s: PolicyServiceStats = { ...this.store.stats(), syncs: { ...this.syncStats, inFlight: this.syncing.size } }
    if (this.lastSyncMs != null) s.lastSyncMs = this.lastSyncMs
    return s
  }

  /** Runs one anti-entropy sync with `peer` now (the interval does this with a random peer). */
  async syncNow (peer: PeerId, options: AbortOptions = {}): Promise<SyncResult> {
    const signals = [this.controller.signal]
    if (options.signal != null) signals.push(options.signal)
    const result = await this.track(this.sync.sync(peer, { signal: AbortSignal.any(signals) }))
    this.recordSync(result)
    return result
  }

  /**
   * The gossip validator: accept a newer verified policy, ignore a stale or duplicate one, reject
   * a forged, non-admin, oversized or invalid one (gossipsub then penalises whoever forwarded it).
   */
  private async validate (from: string, data: Uint8Array): Promise<ValidationResult> {
    let assessment
    try {
      assessment = await this.store.assess(data, from, { signal: this.controller.signal })
    } catch (err) {
      this.log.error('policy validation failed', { from, err })
      return 'ignore'
    }
    switch (assessment.kind) {
      case 'acceptable':
        this.verified.set(data, assessment.policy)
        return 'accept'
      case 'duplicate':
        return 'ignore'
      case 'rejected':
        return assessment.error.code === PolicyErrorCode.Stale ? 'ignore' : 'reject'
      default: {
        const unreachable: never = assessment
        throw new Error(`unknown assessment ${String(unreachable)}`)
      }
    }
  }

  private receive (from: string, data: Uint8Array): void {
    if (!this.running) return
    const policy = this.verified.get(data)
    const offered = policy == null
      ? this.store.offer(data, from, { via: 'gossip', signal: this.controller.signal })
      : this.store.offerVerified(policy, from, { via: 'gossip', signal: this.controller.signal })
    this.track(offered).catch(err => { this.log.error('storing a gossiped policy failed', { from, err }) })
  }

  private arm (): void {
    this.timer = this.components.clock.setTimeout(() => { this.tick() }, this.syncIntervalMs)
  }

  private tick (): void {
    if (!this.running) return
    const peers = this.components.libp2p.getPeers()
    if (peers.length > 0) {
      const peer = peers[Math.min(peers.length - 1, Math.floor(this.components.random() * peers.length))]!
      this.syncWith(peer, 'interval')
    }
    this.arm()
  }

  /** A background sync with `peer`, unless one with it is already running. */
  private syncWith (peer: PeerId, reason: string): void {
    const id = peer.toString()
    if (!this.running || this.syncing.has(id)) return
    this.syncing.add(id)
    this.track(this.sync.sync(peer, { signal: this.controller.signal }))
      .then(result => {
        this.recordSync(result)
        this.log.debug('synced policies', { peer: id, reason, received: result.received, accepted: result.accepted, pushed: result.pushed })
      }, err => {
        this.syncStats.failed++
        this.log.debug('policy sync failed', { peer: id, reason, code: (err as { code?: string }).code, error: errorMessage(err) })
      })
      .finally(() => { this.syncing.delete(id) })
  }

  private recordSync (result: SyncResult): void {
    this.syncStats.completed++
    this.lastSyncMs = this.components.clock.now()
    if (result.more) this.log.debug('peer has more policies than one sync carries', { peer: result.peer })
  }

  private track<T> (promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise)
    promise.then(() => { this.inFlight.delete(promise) }, () => { this.inFlight.delete(promise) })
    return promise
  }
}
