import { afterEach, describe, expect, it } from 'vitest'
import { HEARTBEAT_TOPIC, MAX_HEARTBEAT_BYTES, encodeHeartbeat } from '../../protocols/heartbeat/index.js'
import { Heartbeat as HeartbeatPb } from '../../protocols/heartbeat/pb/heartbeat.js'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { Membership } from './membership.js'
import type { HeartbeatRollout } from '../../protocols/heartbeat/index.js'
import type { HeartbeatTransport, MembershipComponents, MembershipInit, ValidationResult } from './membership.js'
import type { MemberStatus } from './view.js'

interface Endpoint {
  onMessage?: (from: string, data: Uint8Array) => void
  validate?: (from: string, data: Uint8Array) => ValidationResult
}

/**
 * An in-memory pubsub: what one member publishes goes, through each receiver's validator, to every
 * other subscribed member. Only validated messages are delivered, as gossipsub does.
 */
class Bus {
  private readonly endpoints = new Map<string, Endpoint>()
  readonly delivered = new Map<string, number>()
  readonly lastFrom = new Map<string, Uint8Array>()

  transport (peerId: string): HeartbeatTransport {
    const end: Endpoint = {}
    this.endpoints.set(peerId, end)
    return {
      subscribe: (topic, onMessage) => { if (topic === HEARTBEAT_TOPIC) end.onMessage = onMessage },
      unsubscribe: () => { end.onMessage = undefined },
      setValidator: (topic, validate) => { if (topic === HEARTBEAT_TOPIC) end.validate = validate },
      removeValidator: () => { end.validate = undefined },
      publish: async (_topic, data) => {
        this.lastFrom.set(peerId, data)
        this.inject(peerId, data)
      }
    }
  }

  /** Delivers `data` as if `from` had published it; returns each receiver's verdict. */
  inject (from: string, data: Uint8Array): Record<string, ValidationResult> {
    const verdicts: Record<string, ValidationResult> = {}
    for (const [peerId, end] of this.endpoints) {
      if (peerId === from || end.onMessage == null) continue
      const verdict = end.validate?.(from, data) ?? 'accept'
      verdicts[peerId] = verdict
      if (verdict !== 'accept') continue
      this.delivered.set(peerId, (this.delivered.get(peerId) ?? 0) + 1)
      end.onMessage(from, data)
    }
    return verdicts
  }
}

const BASE_MS = 1000
const FORGET_MS = 20_000

interface Harness {
  clock: ManualClock
  bus: Bus
  members: Map<string, Membership>
  add(peerId: string, init?: MembershipInit, components?: Partial<MembershipComponents>): Membership
  /** Advances virtual time in steps, letting each step's async publishes settle. */
  run(ms: number, stepMs?: number): Promise<void>
}

function harness (): Harness {
  const clock = new ManualClock()
  const bus = new Bus()
  const members = new Map<string, Membership>()
  let seed = 1
  return {
    clock,
    bus,
    members,
    add (peerId, init = {}, components = {}) {
      const s = seed++
      const m = new Membership({
        clock,
        logger: silentLogger,
        random: () => (s * 0.37) % 1,
        peerId,
        transport: bus.transport(peerId),
        readProperties: async () => ({ cpus: '2', arch: 'arm64' }),
        ...components
      }, { interval: { baseIntervalMs: BASE_MS }, liveness: { forgetAfterMs: FORGET_MS }, ...init })
      members.set(peerId, m)
      return m
    },
    async run (ms, stepMs = 50) {
      for (let t = 0; t < ms; t += stepMs) {
        clock.advance(Math.min(stepMs, ms - t))
        await new Promise(resolve => setImmediate(resolve))
      }
    }
  }
}

function statusEvents (m: Membership, peerId: string): Array<{ from: MemberStatus, to: MemberStatus, ageMs: number }> {
  const events: Array<{ from: MemberStatus, to: MemberStatus, ageMs: number }> = []
  m.addEventListener('member:status', evt => {
    if (evt.detail.peerId !== peerId) return
    events.push({ from: evt.detail.from, to: evt.detail.to, ageMs: m.get(peerId)?.ageMs ?? -1 })
  })
  return events
}

function validHeartbeat (overrides: Partial<HeartbeatPb> = {}): Uint8Array {
  return HeartbeatPb.encode({
    schema: 1,
    bootMs: 1_700_000_000_000n,
    seq: 1n,
    sentMs: 1_700_000_000_000n,
    intervalMs: BASE_MS,
    nodeVersion: '0.1.0',
    uptimeMs: 0n,
    labels: new Map(),
    props: new Map(),
    fleetSize: 1,
    ...overrides
  })
}

describe('Membership', () => {
  let h: Harness

  afterEach(() => {
    for (const m of h.members.values()) m.stop()
  })

  async function threeConverged (): Promise<[Membership, Membership, Membership]> {
    h = harness()
    const a = h.add('peer-a', { labels: { zone: 'east' } })
    const b = h.add('peer-b', { labels: { zone: 'west' } })
    const c = h.add('peer-c', { labels: { zone: 'west' }, propertyOverrides: { battery: '42' } })
    a.start()
    b.start()
    c.start()
    await h.run(2 * BASE_MS + 500)
    return [a, b, c]
  }

  it('three members converge: each sees all three alive, with labels and properties', async () => {
    const [a, b, c] = await threeConverged()
    for (const m of [a, b, c]) {
      const view = m.view()
      expect(view.map(v => v.peerId).sort()).toEqual(['peer-a', 'peer-b', 'peer-c'])
      expect(view.every(v => v.status === 'alive')).toBe(true)
      expect(view.filter(v => v.self)).toHaveLength(1)
      expect(view[0]!.self).toBe(true) // self first
      expect(m.liveCount()).toBe(3)
    }
    const cSeenByA = a.get('peer-c')!
    expect(cSeenByA.labels).toEqual({ zone: 'west' })
    expect(cSeenByA.props).toEqual({ cpus: '2', arch: 'arm64', battery: '42' })
    expect(cSeenByA.intervalMs).toBe(BASE_MS)
    expect(cSeenByA.restarts).toBe(0)
  })

  it('marks a member that stops suspect, then dead, as time passes (thresholds in its intervals)', async () => {
    const [a, b, c] = await threeConverged()
    const seenByA = statusEvents(a, 'peer-c')
    const seenByB = statusEvents(b, 'peer-c')
    c.stop()
    const lastSeen = a.get('peer-c')!.lastSeenMs
    await h.run(lastSeen + 3 * BASE_MS - h.clock.now())
    expect(a.get('peer-c')?.ageMs).toBe(3 * BASE_MS)
    expect(a.get('peer-c')?.status).toBe('alive') // silent for exactly 3 intervals: not yet suspect
    expect(seenByA).toEqual([])
    await h.run(8 * BASE_MS)
    for (const events of [seenByA, seenByB]) {
      expect(events.map(e => `${e.from}->${e.to}`)).toEqual(['alive->suspect', 'suspect->dead'])
      // Judged on the receiver's clock, and noticed on the spot: a sweep is due the moment the
      // silence passes a threshold, on every node, not up to a sweep period later on some.
      expect(events[0]!.ageMs).toBe(3 * BASE_MS + 1)
      expect(events[1]!.ageMs).toBe(6 * BASE_MS + 1)
    }
    expect(a.get('peer-c')?.status).toBe('dead')
    expect(a.liveCount()).toBe(2)
    expect(a.get('peer-b')?.status).toBe('alive')
  })

  it('gives peers more time while its own timers run late (local health), and judges as usual once on time', async () => {
    // Node A's timers fire late by `lag` (a saturated CPU), and for as long the heartbeats it is
    // sent wait unread (they are not delivered). Its peer B is alive all along.
    const lag = { ms: 0 }
    const run = async (maxScore: number): Promise<{ during: MemberStatus | undefined, score: number, after: MemberStatus | undefined, events: string[] }> => {
      h = harness()
      const laggy = {
        now: () => h.clock.now(),
        setTimeout: (fn: () => void, ms: number) => h.clock.setTimeout(fn, ms + lag.ms),
        sleep: async (ms: number, options?: { signal?: AbortSignal }) => { await h.clock.sleep(ms, options) }
      }
      const a = h.add('peer-a', { localHealth: { maxScore } }, { clock: laggy as unknown as ManualClock })
      const b = h.add('peer-b')
      a.start()
      b.start()
      await h.run(2 * BASE_MS + 500)
      const events = statusEvents(a, 'peer-b')
      lag.ms = 4 * BASE_MS
      const held = a.get('peer-b')!.lastSeenMs
      const deliver = h.bus.inject.bind(h.bus)
      h.bus.inject = (from, data) => from === 'peer-b' ? {} : deliver(from, data)
      // The first timer armed after the lag began fires about 5 intervals in, 4 of them late.
      await h.run(held + 6 * BASE_MS - h.clock.now())
      const during = a.get('peer-b')?.status
      const score = a.localHealth()
      // On time again, and B's heartbeats read again: B alive, the score back to 0.
      h.bus.inject = deliver
      lag.ms = 0
      // (The timer armed while late still fires late once: up to 8, then one down per timer.)
      await h.run(16 * BASE_MS)
      return { during, score, after: a.get('peer-b')?.status, events: events.map(e => `${e.from}->${e.to}`) }
    }
    const off = await run(0)
    expect(off.during).not.toBe('alive') // 6 intervals unheard: suspect by its own slowness
    expect(off.score).toBe(0)
    for (const m of h.members.values()) m.stop()
    const on = await run(8)
    expect(on.score).toBeGreaterThanOrEqual(4)
    expect(on.during).toBe('alive')
    expect(on.events).toEqual([])
    expect(on.after).toBe('alive')
    expect(h.members.get('peer-a')!.localHealth()).toBe(0)
  })

  it('forgets a dead member forgetAfterMs after it died, without further status events', async () => {
    const [a, , c] = await threeConverged()
    const events = statusEvents(a, 'peer-c')
    c.stop()
    await h.run(8 * BASE_MS)
    expect(a.get('peer-c')?.status).toBe('dead')
    await h.run(FORGET_MS - 3 * BASE_MS)
    expect(a.get('peer-c')?.status).toBe('dead') // dead for < forgetAfterMs
    await h.run(3 * BASE_MS)
    expect(a.get('peer-c')).toBeUndefined()
    expect(a.view().map(v => v.peerId)).toEqual(['peer-a', 'peer-b'])
    expect(events.map(e => e.to)).toEqual(['suspect', 'dead'])
  })

  it('shows the restart count a node announces, on itself and on a peer that never saw the restarts', async () => {
    const [a, b] = await threeConverged()
    const d = h.add('peer-d')
    d.start({ restarts: 4 })
    await h.run(2 * BASE_MS)
    expect(d.get('peer-d')!.restarts).toBe(4)
    expect(a.get('peer-d')!.restarts).toBe(4)
    expect(b.get('peer-d')!.restarts).toBe(4)
  })

  it('counts a member that comes back with a new boot as a restart, alive again', async () => {
    const [a, , c] = await threeConverged()
    const events = statusEvents(a, 'peer-c')
    const restarted: string[] = []
    a.addEventListener('member:restarted', evt => { restarted.push(evt.detail.peerId) })
    const oldBoot = a.get('peer-c')!.bootMs
    c.stop()
    await h.run(4 * BASE_MS)
    expect(a.get('peer-c')?.status).toBe('suspect')

    const c2 = h.add('peer-c') // a new process with the same identity
    c2.start()
    await h.run(2 * BASE_MS)
    const seen = a.get('peer-c')!
    expect(seen.status).toBe('alive')
    expect(seen.restarts).toBe(1)
    expect(seen.bootMs).toBeGreaterThan(oldBoot)
    expect(seen.labels).toEqual({}) // the new process announces what it has now
    expect(restarted).toEqual(['peer-c'])
    expect(events.map(e => `${e.from}->${e.to}`)).toEqual(['alive->suspect', 'suspect->alive'])
    expect(c2.view().map(v => v.peerId).sort()).toEqual(['peer-a', 'peer-b', 'peer-c'])
  })

  it('rejects garbage and oversized heartbeats, ignores a newer schema, and the view is unchanged', async () => {
    const [a, b] = await threeConverged()
    a.stop()
    b.stop() // freeze the view
    const viewA = a.view()
    const statsA = a.getStats()

    expect(h.bus.inject('peer-x', new Uint8Array([0xff, 0xff, 0xff, 0x01]))['peer-c']).toBe('reject')
    expect(a.validate('peer-x', new Uint8Array([0xff, 0xff, 0xff, 0x01]))).toBe('reject')
    expect(a.validate('peer-x', new Uint8Array(MAX_HEARTBEAT_BYTES + 1))).toBe('reject')
    expect(a.validate('peer-x', validHeartbeat({ intervalMs: 10 }))).toBe('reject')
    expect(a.validate('peer-x', validHeartbeat({ schema: 2 }))).toBe('ignore')
    // A heartbeat that claims to come from this node is not this node's to judge.
    expect(a.validate('peer-a', validHeartbeat())).toBe('ignore')

    expect(a.view()).toEqual(viewA)
    expect(a.getStats()).toEqual({ ...statsA, rejected: statsA.rejected + 3, ignored: statsA.ignored + 1 })
  })

  it('accepts a valid heartbeat from a new peer through the same validator', async () => {
    const [a, b, c] = await threeConverged()
    const verdicts = h.bus.inject('peer-x', validHeartbeat({ bootMs: BigInt(h.clock.now()), sentMs: BigInt(h.clock.now()) }))
    expect(verdicts).toEqual({ 'peer-a': 'accept', 'peer-b': 'accept', 'peer-c': 'accept' })
    for (const m of [a, b, c]) expect(m.get('peer-x')?.status).toBe('alive')
  })

  it('keeps a view unchanged by a replayed heartbeat, counted as stale', async () => {
    const [a, b] = await threeConverged()
    b.stop()
    const before = a.get('peer-b')
    const stats = a.getStats()
    h.bus.inject('peer-b', h.bus.lastFrom.get('peer-b')!)
    expect(a.get('peer-b')).toEqual(before)
    expect(a.getStats()).toEqual({ ...stats, stale: stats.stale + 1 })
  })

  it('counts published, accepted, rejected, ignored and stale heartbeats', async () => {
    const [a, b, c] = await threeConverged()
    const statsA = a.getStats()
    expect(statsA.published).toBeGreaterThanOrEqual(3) // one at start, then one per interval
    expect(statsA.accepted).toBe(h.bus.delivered.get('peer-a'))
    expect(statsA.accepted).toBeGreaterThanOrEqual(2 * 2)
    expect(statsA).toMatchObject({ rejected: 0, ignored: 0, stale: 0 })
    const published = [a, b, c].reduce((n, m) => n + m.getStats().published, 0)
    const accepted = [a, b, c].reduce((n, m) => n + m.getStats().accepted, 0)
    // Every heartbeat reaches the two others, except those published before they subscribed.
    expect(accepted).toBeLessThanOrEqual(2 * published)
    expect(accepted).toBeGreaterThanOrEqual(2 * published - 3)

    h.bus.inject('peer-x', new Uint8Array(MAX_HEARTBEAT_BYTES + 100))
    h.bus.inject('peer-x', validHeartbeat({ schema: 9 }))
    expect(a.getStats()).toMatchObject({ rejected: 1, ignored: 1 })
  })

  it('carries rollout state from readRollouts into every peer\'s view, and follows its changes', async () => {
    h = harness()
    let rollouts: HeartbeatRollout[] = [{ name: 'vad-canary', policyVersion: 7, state: 'Downloading', reason: '', epoch: 2 }]
    const a = h.add('peer-a', {}, { readRollouts: () => rollouts })
    const b = h.add('peer-b')
    a.start()
    b.start()
    await h.run(2 * BASE_MS + 500)
    expect(b.get('peer-a')?.rollouts).toEqual(rollouts)
    expect(a.get('peer-a')?.rollouts).toEqual(rollouts) // its own view too
    expect(a.get('peer-b')?.rollouts).toEqual([]) // no readRollouts: in no rollout

    rollouts = [{ name: 'vad-canary', policyVersion: 7, state: 'Failed', reason: 'smoke test: outputs are NaN', epoch: 3 }]
    await h.run(2 * BASE_MS)
    expect(b.get('peer-a')?.rollouts).toEqual(rollouts)
  })

  it('sends a heartbeat without its rollout state when that state is invalid, keeping the models', async () => {
    h = harness()
    const model = { name: 'vad', version: '1.0.0', cid: 'bafkqaaa', state: 'active' as const }
    const a = h.add('peer-a', {}, {
      readModels: () => [model],
      readRollouts: () => [{ name: 'Not A DNS Label', policyVersion: 7, state: 'Active', reason: '', epoch: 1 }]
    })
    const b = h.add('peer-b')
    a.start()
    b.start()
    await h.run(2 * BASE_MS + 500)
    expect(b.get('peer-a')?.status).toBe('alive')
    expect(b.get('peer-a')?.models).toEqual([model])
    expect(b.get('peer-a')?.rollouts).toEqual([])
  })

  it('refuses invalid liveness and interval settings at construction', () => {
    h = harness()
    expect(() => h.add('peer-a', { liveness: { suspectAfterIntervals: 5, deadAfterIntervals: 4 } })).toThrow(/deadAfterIntervals/)
    expect(() => h.add('peer-a', { interval: { baseIntervalMs: 10 } })).toThrow(/baseIntervalMs/)
  })

  it('leaves no timer armed after stop', async () => {
    const [a, b, c] = await threeConverged()
    for (const m of [a, b, c]) m.stop()
    await h.run(100)
    expect(h.clock.pending).toBe(0)
    const published = a.getStats().published
    await h.run(5 * BASE_MS)
    expect(a.getStats().published).toBe(published)
  })
})
