/**
 * Both ends of `/tutti/policy-sync/1.0.0`. Each read is bounded in bytes before decoding (a
 * length-prefixed reader with that message's own limit) and in entries while decoding; timeouts
 * come from the injected clock.
 */
import { lpStream } from '@libp2p/utils'
import { ConfigError } from '../../core/errors.js'
import {
  DEFAULT_MAX_CONCURRENT_SYNCS, DEFAULT_SYNC_TIMEOUT_MS, MAX_ACK_BYTES, MAX_CID_LENGTH, MAX_DIGEST_ENTRIES,
  MAX_ENVELOPES_PER_MESSAGE, MAX_INBOUND_STREAMS, MAX_NAME_LENGTH, MAX_POLICY_BYTES, MAX_PUSH_BYTES, MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES, MAX_SYNC_ROUNDS, POLICY_SYNC_PROTOCOL, POLICY_SYNC_VERSION, SYNC_READ_TIMEOUT_MS
} from './constants.js'
import { newerThan } from './digest.js'
import { PolicySyncError, PolicySyncErrorCode } from './errors.js'
import { DigestEntry as DigestEntryPb, SyncAck, SyncPush, SyncRequest, SyncResponse } from './pb/policy-sync.js'
import type { DigestEntry, PolicySyncComponents, PolicySyncInit, SyncOptions, SyncResult } from './index.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

interface Deadline {
  signal: AbortSignal
  clear(): void
}

/** A signal that aborts after `ms` on the injected clock, or when `parent` aborts. */
function deadline (clock: Clock, ms: number, what: string, parent?: AbortSignal): Deadline {
  const controller = new AbortController()
  const timer = clock.setTimeout(() => {
    controller.abort(new PolicySyncError(PolicySyncErrorCode.Timeout, `${what} did not arrive within ${ms} ms`))
  }, ms)
  const signal = parent == null ? controller.signal : AbortSignal.any([parent, controller.signal])
  return { signal, clear: () => { timer.cancel() } }
}

/**
 * Reads one length-prefixed message of at most `maxBytes`: a longer one is refused from its
 * length prefix, before its bytes are read or decoded. `decode` applies the count limits.
 */
async function readMessage<T> (stream: Stream, maxBytes: number, what: string, signal: AbortSignal, decode: (bytes: Uint8ArrayList) => T): Promise<T> {
  const lp = lpStream(stream, { maxDataLength: maxBytes })
  let bytes: Uint8ArrayList
  try {
    bytes = await lp.read({ signal })
  } catch (err) {
    if (signal.aborted) {
      const reason: unknown = signal.reason
      if (reason instanceof PolicySyncError) throw reason
      throw new PolicySyncError(PolicySyncErrorCode.Timeout, `${what} was aborted`, { cause: reason })
    }
    const name = (err as Error).name
    if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') {
      throw new PolicySyncError(PolicySyncErrorCode.Invalid, `${what} is larger than ${maxBytes} bytes`, { cause: err })
    }
    throw new PolicySyncError(PolicySyncErrorCode.Transport, `${what} could not be read: ${(err as Error).message}`, { cause: err })
  } finally {
    lp.unwrap()
  }
  try {
    return decode(bytes)
  } catch (err) {
    throw new PolicySyncError(PolicySyncErrorCode.Invalid, `${what} does not decode: ${(err as Error).message}`, { cause: err })
  }
}

async function writeMessage (stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  const lp = lpStream(stream)
  try {
    await lp.write(bytes, { signal })
  } catch (err) {
    if (signal.aborted && signal.reason instanceof PolicySyncError) throw signal.reason
    throw new PolicySyncError(PolicySyncErrorCode.Transport, `writing to the peer failed: ${(err as Error).message}`, { cause: err })
  } finally {
    lp.unwrap()
  }
}

type Envelopes = Array<Uint8Array<ArrayBuffer>>

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Digest entries from the wire: every field in range, no name twice. */
function fromWire (entries: DigestEntryPb[], what: string): Map<string, DigestEntry> {
  const out = new Map<string, DigestEntry>()
  for (const e of entries) {
    if (e.name.length === 0 || e.name.length > MAX_NAME_LENGTH) throw new PolicySyncError(PolicySyncErrorCode.Invalid, `${what}: a name is empty or longer than ${MAX_NAME_LENGTH} characters`)
    if (e.version < 1n || e.version > MAX_SAFE) throw new PolicySyncError(PolicySyncErrorCode.Invalid, `${what}: version of "${e.name}" is out of range`)
    if (e.cid.length === 0 || e.cid.length > MAX_CID_LENGTH) throw new PolicySyncError(PolicySyncErrorCode.Invalid, `${what}: CID of "${e.name}" is empty or too long`)
    if (out.has(e.name)) throw new PolicySyncError(PolicySyncErrorCode.Invalid, `${what}: "${e.name}" is listed twice`)
    out.set(e.name, { name: e.name, version: Number(e.version), cid: e.cid })
  }
  return out
}

function toWire (entries: Iterable<DigestEntry>): DigestEntryPb[] {
  return [...entries].map(e => ({ name: e.name, version: BigInt(e.version), cid: e.cid }))
}

/**
 * Serves and runs anti-entropy exchanges against a {@link PolicySyncStore}. `start()` registers
 * the listener; `sync(peer)` runs the dialer's side; `stop()` aborts every exchange in flight.
 */
export class PolicySync {
  private readonly components: PolicySyncComponents
  private readonly readTimeoutMs: number
  private readonly syncTimeoutMs: number
  private readonly maxConcurrent: number
  private readonly perMessage: number
  private readonly log: Logger
  private readonly streams = new Set<Stream>()
  private controller = new AbortController()
  private serving = 0
  private running = false

  constructor (components: PolicySyncComponents, init: PolicySyncInit = {}) {
    this.components = components
    this.readTimeoutMs = init.readTimeoutMs ?? SYNC_READ_TIMEOUT_MS
    this.syncTimeoutMs = init.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS
    this.maxConcurrent = init.maxConcurrentSyncs ?? DEFAULT_MAX_CONCURRENT_SYNCS
    this.perMessage = init.envelopesPerMessage ?? MAX_ENVELOPES_PER_MESSAGE
    for (const [k, v] of [['readTimeoutMs', this.readTimeoutMs], ['syncTimeoutMs', this.syncTimeoutMs], ['maxConcurrentSyncs', this.maxConcurrent], ['envelopesPerMessage', this.perMessage]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`policy sync ${k} must be a positive integer, not ${v}`)
    }
    if (this.perMessage > MAX_ENVELOPES_PER_MESSAGE) throw new ConfigError(`policy sync envelopesPerMessage must be at most ${MAX_ENVELOPES_PER_MESSAGE}`)
    this.log = components.logger.child('policy-sync')
  }

  async start (options: AbortOptions = {}): Promise<void> {
    if (this.running) return
    this.controller = new AbortController()
    await this.components.libp2p.handle(POLICY_SYNC_PROTOCOL, async (stream, connection) => { await this.serve(stream, connection) }, {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      signal: options.signal
    })
    this.running = true
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.components.libp2p.unhandle(POLICY_SYNC_PROTOCOL)
    this.controller.abort(new PolicySyncError(PolicySyncErrorCode.Transport, 'policy sync stopped'))
    for (const stream of this.streams) stream.abort(new Error('policy sync stopped'))
    this.streams.clear()
  }

  /**
   * Runs exchanges with `peer` until neither side has more to send (at most MAX_SYNC_ROUNDS).
   * Throws {@link PolicySyncError}; what was offered before a failure stays offered.
   */
  async sync (peer: PeerId, options: SyncOptions = {}): Promise<SyncResult> {
    const signals = [this.controller.signal]
    if (options.signal != null) signals.push(options.signal)
    const budget = deadline(this.components.clock, this.syncTimeoutMs, 'the sync', AbortSignal.any(signals))
    const result: SyncResult = { peer: peer.toString(), rounds: 0, received: 0, accepted: 0, pushed: 0, remote: new Map(), more: false }
    try {
      do {
        result.rounds++
        result.more = await this.round(peer, result, budget.signal)
      } while (result.more && result.rounds < MAX_SYNC_ROUNDS)
      return result
    } finally {
      budget.clear()
    }
  }

  private async round (peer: PeerId, result: SyncResult, signal: AbortSignal): Promise<boolean> {
    const { store } = this.components
    let stream: Stream
    try {
      stream = await this.components.libp2p.dialProtocol(peer, POLICY_SYNC_PROTOCOL, { signal })
    } catch (err) {
      if (signal.aborted && signal.reason instanceof PolicySyncError) throw signal.reason
      throw new PolicySyncError(PolicySyncErrorCode.Transport, `could not open a sync stream to ${peer.toString()}: ${(err as Error).message}`, { cause: err })
    }
    this.streams.add(stream)
    try {
      await writeMessage(stream, SyncRequest.encode({ version: POLICY_SYNC_VERSION, entries: toWire(store.digest()) }), signal)
      const res = await readMessage(stream, MAX_RESPONSE_BYTES, 'the sync response', signal, bytes =>
        SyncResponse.decode(bytes, { limits: { envelopes: MAX_ENVELOPES_PER_MESSAGE, entries: MAX_DIGEST_ENTRIES } }))
      if (res.errorCode !== '') {
        const code = res.errorCode === PolicySyncErrorCode.Busy ? PolicySyncErrorCode.Busy : PolicySyncErrorCode.Unsupported
        throw new PolicySyncError(code, `${peer.toString()} refused the sync: ${res.errorCode.slice(0, 64)}`)
      }
      const remote = fromWire(res.entries, 'the sync response')
      for (const [name, entry] of remote) result.remote.set(name, entry)
      for (const envelope of res.envelopes) {
        result.received++
        const outcome = await store.offer(envelope, peer.toString(), { signal })
        if (outcome.kind === 'accepted') result.accepted++
      }
      const lacking = newerThan(store.digest(), result.remote.values())
      const envelopes = this.envelopesFor(lacking)
      await writeMessage(stream, SyncPush.encode({ envelopes }), signal)
      const ack = await readMessage(stream, MAX_ACK_BYTES, 'the sync acknowledgement', signal, bytes =>
        SyncAck.decode(bytes, { limits: { entries: MAX_ENVELOPES_PER_MESSAGE } }))
      for (const [name, entry] of fromWire(ack.entries, 'the sync acknowledgement')) result.remote.set(name, entry)
      result.pushed += envelopes.length
      await stream.close({ signal }).catch(err => { stream.abort(err as Error) })
      return res.more || lacking.length > envelopes.length
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      this.streams.delete(stream)
    }
  }

  /** The envelopes of the first names, as many as one message carries. */
  private envelopesFor (names: string[]): Envelopes {
    const out: Envelopes = []
    for (const name of names) {
      if (out.length >= this.perMessage) break
      const envelope = this.components.store.get(name)
      if (envelope != null && envelope.byteLength <= MAX_POLICY_BYTES) out.push(envelope as Uint8Array<ArrayBuffer>)
    }
    return out
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const { store, clock } = this.components
    if (this.serving >= this.maxConcurrent) {
      await this.refuse(stream, PolicySyncErrorCode.Busy)
      return
    }
    this.serving++
    this.streams.add(stream)
    const read = async <T>(maxBytes: number, what: string, decode: (bytes: Uint8ArrayList) => T): Promise<T> => {
      const d = deadline(clock, this.readTimeoutMs, what, this.controller.signal)
      try {
        return await readMessage(stream, maxBytes, what, d.signal, decode)
      } finally {
        d.clear()
      }
    }
    try {
      const req = await read(MAX_REQUEST_BYTES, 'the sync request', bytes => SyncRequest.decode(bytes, { limits: { entries: MAX_DIGEST_ENTRIES } }))
      if (req.version === 0 || req.version > POLICY_SYNC_VERSION) {
        await this.refuse(stream, PolicySyncErrorCode.Unsupported)
        return
      }
      const remote = fromWire(req.entries, 'the sync request')
      const local = store.digest()
      const newer = newerThan(local, remote.values())
      const envelopes = this.envelopesFor(newer)
      const write = deadline(clock, this.readTimeoutMs, 'the sync response', this.controller.signal)
      try {
        await writeMessage(stream, SyncResponse.encode({ envelopes, entries: toWire(local), more: newer.length > envelopes.length, errorCode: '' }), write.signal)
      } finally {
        write.clear()
      }
      const push = await read(MAX_PUSH_BYTES, 'the sync push', bytes => SyncPush.decode(bytes, { limits: { envelopes: MAX_ENVELOPES_PER_MESSAGE } }))
      const names = new Set<string>()
      for (const envelope of push.envelopes) {
        const outcome = await store.offer(envelope, peer, { signal: this.controller.signal })
        if (outcome.name != null && outcome.kind !== 'rejected') names.add(outcome.name)
      }
      const heads = store.digest().filter(e => names.has(e.name))
      const ack = deadline(clock, this.readTimeoutMs, 'the sync acknowledgement', this.controller.signal)
      try {
        await writeMessage(stream, SyncAck.encode({ entries: toWire(heads) }), ack.signal)
        await stream.close({ signal: ack.signal })
      } finally {
        ack.clear()
      }
      this.log.debug('served a policy sync', { peer, sent: envelopes.length, received: push.envelopes.length })
    } catch (err) {
      this.log.debug('policy sync stream ended early', { peer, err })
      stream.abort(err as Error)
    } finally {
      this.serving--
      this.streams.delete(stream)
    }
  }

  private async refuse (stream: Stream, code: string): Promise<void> {
    const d = deadline(this.components.clock, this.readTimeoutMs, 'the refusal', this.controller.signal)
    try {
      await writeMessage(stream, SyncResponse.encode({ envelopes: [], entries: [], more: false, errorCode: code }), d.signal)
      await stream.close({ signal: d.signal })
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      d.clear()
    }
  }
}
