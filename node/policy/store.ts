/**
 * The policy store every node keeps: the head of every rollout's policy (tombstones included),
 * verified, merged (merge.ts) and, with a data directory, persisted crash-safe under
 * `DATA/policies/`, one file per rollout name holding the envelope bytes exactly as signed.
 * A policy is on disk before it counts as held, so after a restart a replay of an older version
 * is stale. Files are verified again on load; one that does not verify is ignored and reported.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { TypedEventEmitter } from 'main-event'
import { errorMessage } from '../../core/errors.js'
import { MAX_DIGEST_ENTRIES, MAX_POLICY_BYTES } from '../../protocols/policy/index.js'
import { writeFileAtomic } from '../fs.js'
import { isPolicyName, openPolicy } from './document.js'
import { POLICY_ERROR_CODES, PolicyError, PolicyErrorCode } from './errors.js'
import { mergePolicy } from './merge.js'
import type { SpecValidator, VerifiedPolicy } from './document.js'
import type { PolicyErrorCodeValue } from './errors.js'
import type { Logger } from '../../core/logger.js'
import type { DigestEntry, PolicySyncStore } from '../../protocols/policy/index.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { AbortOptions } from '@libp2p/interface'

/** Directory under the node's data directory. */
export const POLICIES_DIR = 'policies'
/** Extension of a policy file: `DATA/policies/<name>.policy`. */
export const POLICY_FILE_EXT = '.policy'

/** How a policy reached this node. */
export type PolicySource = 'local' | 'gossip' | 'sync'

export type OfferResult =
  | { kind: 'accepted', name: string, policy: VerifiedPolicy, previous?: VerifiedPolicy }
  | { kind: 'duplicate', name: string, policy: VerifiedPolicy }
  | { kind: 'rejected', name?: string, error: PolicyError }

/** What {@link PolicyStore.assess} says an offer would do, changing nothing. */
export type Assessment =
  | { kind: 'acceptable', name: string, policy: VerifiedPolicy }
  | { kind: 'duplicate', name: string, policy: VerifiedPolicy }
  | { kind: 'rejected', name?: string, error: PolicyError }

export interface OfferOptions extends AbortOptions {
  /** @default 'sync' */
  via?: PolicySource
}

export interface PolicyChange {
  policy: VerifiedPolicy
  previous?: VerifiedPolicy
  /** The peer that sent it (this node's own id for a local apply). */
  from: string
  via: PolicySource
}

export interface PolicyStoreEvents {
  'policy:changed': CustomEvent<PolicyChange>
}

/** A file under DATA/policies that was not loaded. */
export interface IgnoredPolicyFile {
  file: string
  code: string
  message: string
}

export interface PolicyStoreStats {
  /** Policies held, tombstones included. */
  held: number
  tombstones: number
  accepted: number
  duplicates: number
  /** Rejected offers, by code. */
  rejected: Record<PolicyErrorCodeValue, number>
  /** Files found on load that did not verify. */
  ignoredFiles: IgnoredPolicyFile[]
}

export interface PolicyStoreComponents {
  fleet: FleetConfig
  logger: Logger
  /** The node's data directory; without it the store lives in memory. */
  dataDir?: string
  /** The rollout package's spec check. @default none (the spec must be an object) */
  validateSpec?: SpecValidator
}

export interface PolicyStoreInit {
  /** Most policies held, tombstones included. @default MAX_DIGEST_ENTRIES */
  maxPolicies?: number
}

/** The replicated policy store. Implements the sync protocol's store. */
export class PolicyStore extends TypedEventEmitter<PolicyStoreEvents> implements PolicySyncStore {
  private readonly components: PolicyStoreComponents
  private readonly dir?: string
  private readonly maxPolicies: number
  private readonly log: Logger
  private readonly heads = new Map<string, VerifiedPolicy>()
  private readonly counters = { accepted: 0, duplicates: 0 }
  private readonly rejected = Object.fromEntries(POLICY_ERROR_CODES.map(c => [c, 0])) as Record<PolicyErrorCodeValue, number>
  private readonly ignored: IgnoredPolicyFile[] = []
  /** Merges and writes run one at a time, so two copies of one policy cannot race to disk. */
  private tail: Promise<unknown> = Promise.resolve()
  private loaded = false

  constructor (components: PolicyStoreComponents, init: PolicyStoreInit = {}) {
    super()
    this.components = components
    this.dir = components.dataDir == null ? undefined : join(components.dataDir, POLICIES_DIR)
    this.maxPolicies = Math.min(init.maxPolicies ?? MAX_DIGEST_ENTRIES, MAX_DIGEST_ENTRIES)
    this.log = components.logger.child('policy-store')
  }

  /**
   * Loads and verifies every policy file. A file that is too large, does not verify, or names
   * another rollout than its file name is ignored, logged and listed in `stats().ignoredFiles`.
   * Leftover temporary files of an interrupted write are removed. Loads once; later calls do nothing.
   */
  async load (options: AbortOptions = {}): Promise<void> {
    if (this.dir == null || this.loaded) return
    await mkdir(this.dir, { recursive: true })
    for (const entry of (await readdir(this.dir)).sort()) {
      options.signal?.throwIfAborted()
      const file = join(this.dir, entry)
      if (entry.startsWith('.') && entry.endsWith('.tmp')) {
        await rm(file, { force: true })
        continue
      }
      if (!entry.endsWith(POLICY_FILE_EXT)) continue
      const name = entry.slice(0, -POLICY_FILE_EXT.length)
      try {
        const info = await stat(file)
        if (info.size > MAX_POLICY_BYTES) throw new PolicyError(PolicyErrorCode.TooLarge, `${info.size} bytes, at most ${MAX_POLICY_BYTES}`)
        const policy = await openPolicy(await readFile(file), this.components.fleet, this.components.validateSpec, options)
        if (policy.doc.name !== name) throw new PolicyError(PolicyErrorCode.Invalid, `holds the policy of "${policy.doc.name}"`)
        this.heads.set(name, policy)
      } catch (err) {
        const code = err instanceof PolicyError ? err.code : 'ERR_IO'
        this.ignored.push({ file, code, message: errorMessage(err) })
        this.log.warn('ignored a policy file that does not verify', { file, code, reason: errorMessage(err) })
      }
    }
    this.loaded = true
    this.log.info('loaded policies', { held: this.heads.size, ignored: this.ignored.length })
  }

  digest (): DigestEntry[] {
    return [...this.heads.values()].map(p => ({ name: p.doc.name, version: p.doc.version, cid: p.cid }))
  }

  /** The envelope bytes of the head held for `name`. */
  get (name: string): Uint8Array | undefined {
    return this.heads.get(name)?.envelope
  }

  policy (name: string): VerifiedPolicy | undefined {
    return this.heads.get(name)
  }

  /** Every head held, tombstones included, by name. */
  list (): VerifiedPolicy[] {
    return [...this.heads.values()].sort((a, b) => a.doc.name < b.doc.name ? -1 : a.doc.name > b.doc.name ? 1 : 0)
  }

  /**
   * Verifies an envelope and says what an offer would do, changing nothing but the counters: a
   * gossip validator's question. Rejections are counted and logged here, since a rejected
   * message is never offered.
   */
  async assess (bytes: Uint8Array, from: string, options: AbortOptions = {}): Promise<Assessment> {
    let policy: VerifiedPolicy
    try {
      policy = await openPolicy(bytes, this.components.fleet, this.components.validateSpec, options)
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err
      return this.reject(err, from)
    }
    const verdict = this.decide(policy)
    if (verdict.kind === 'rejected') return this.reject(verdict.error, from, policy.doc.name)
    if (verdict.kind === 'duplicate') this.counters.duplicates++
    return verdict
  }

  /**
   * Verifies and merges an envelope from `from`. Bad input is a `rejected` result (typed,
   * counted, logged with the sender) and changes nothing; a newer policy is written to disk,
   * then held, then announced ('policy:changed'). Throws only when the disk write fails.
   */
  async offer (bytes: Uint8Array, from: string, options: OfferOptions = {}): Promise<OfferResult> {
    let policy: VerifiedPolicy
    try {
      policy = await openPolicy(bytes, this.components.fleet, this.components.validateSpec, options)
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err
      return this.reject(err, from)
    }
    return await this.offerVerified(policy, from, options)
  }

  /** Merges a policy that {@link openPolicy} verified (a gossip validator's result), as {@link offer}. */
  async offerVerified (policy: VerifiedPolicy, from: string, options: OfferOptions = {}): Promise<OfferResult> {
    const run = this.tail.then(async () => await this.merge(policy, from, options))
    this.tail = run.catch(() => {})
    return await run
  }

  stats (): PolicyStoreStats {
    let tombstones = 0
    for (const p of this.heads.values()) if (p.doc.control.deleted) tombstones++
    return { held: this.heads.size, tombstones, ...this.counters, rejected: { ...this.rejected }, ignoredFiles: [...this.ignored] }
  }

  private decide (policy: VerifiedPolicy): Assessment {
    const name = policy.doc.name
    const held = this.heads.get(name)
    const decision = mergePolicy(held == null ? undefined : { version: held.doc.version, cid: held.cid }, { version: policy.doc.version, cid: policy.cid })
    switch (decision.kind) {
      case 'accept':
        if (held == null && this.heads.size >= this.maxPolicies) {
          return { kind: 'rejected', name, error: new PolicyError(PolicyErrorCode.Limit, `the store holds ${this.heads.size} policies, at most ${this.maxPolicies}; "${name}" is refused`) }
        }
        return { kind: 'acceptable', name, policy }
      case 'duplicate': return { kind: 'duplicate', name, policy: held ?? policy }
      case 'stale': return { kind: 'rejected', name, error: new PolicyError(PolicyErrorCode.Stale, `policy "${name}": ${decision.reason}`) }
      default: {
        const unreachable: never = decision
        throw new Error(`unknown merge decision ${String(unreachable)}`)
      }
    }
  }

  private async merge (policy: VerifiedPolicy, from: string, options: OfferOptions): Promise<OfferResult> {
    options.signal?.throwIfAborted()
    const verdict = this.decide(policy)
    if (verdict.kind === 'rejected') return this.reject(verdict.error, from, verdict.name)
    if (verdict.kind === 'duplicate') {
      this.counters.duplicates++
      return verdict
    }
    const name = verdict.name
    if (!isPolicyName(name)) throw new Error(`unreachable: "${name}" passed validation`)
    if (this.dir != null) {
      await mkdir(this.dir, { recursive: true })
      await writeFileAtomic(join(this.dir, `${name}${POLICY_FILE_EXT}`), policy.envelope)
    }
    const previous = this.heads.get(name)
    this.heads.set(name, policy)
    this.counters.accepted++
    const via = options.via ?? 'sync'
    this.log.info('policy accepted', { name, version: policy.doc.version, cid: policy.cid, deleted: policy.doc.control.deleted, from, via })
    this.safeDispatchEvent('policy:changed', { detail: { policy, previous, from, via } })
    return previous == null ? { kind: 'accepted', name, policy } : { kind: 'accepted', name, policy, previous }
  }

  private reject (error: PolicyError, from: string, name?: string): { kind: 'rejected', name?: string, error: PolicyError } {
    this.rejected[error.code]++
    const fields = { from, code: error.code, reason: error.message, ...(name == null ? {} : { name }) }
    if (error.code === PolicyErrorCode.Stale) this.log.debug('policy rejected', fields)
    else this.log.warn('policy rejected', fields)
    return name == null ? { kind: 'rejected', error } : { kind: 'rejected', name, error }
  }
}
