import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { HEARTBEAT_TOPIC, encodeHeartbeat } from '../../protocols/heartbeat/index.js'
import { DEFAULT_ADMISSION, admitIdentity, refill, validateAdmission } from './admission.js'
import { Membership } from './membership.js'
import type { AdmissionDecision, AdmissionInput, AdmissionParams } from './admission.js'

const P: AdmissionParams = { maxMembers: 10, newPerSourceBurst: 3, newPerSourceEveryMs: 1000 }
const T = 1_000_000

describe('admitIdentity: which new identities enter the mesh view', () => {
  const base: AdmissionInput = { author: 'x', source: 'r', size: 2, canEvictDead: false, budget: undefined, now: T }
  const cases: Array<{ name: string, input: Partial<AdmissionInput>, want: AdmissionDecision }> = [
    { name: 'heard from itself: free', input: { source: 'x' }, want: { admit: true, evictDead: false } },
    { name: 'relayed by a source never seen: a full bucket, one token spent', input: {}, want: { admit: true, evictDead: false, budget: { tokens: 2, atMs: T } } },
    { name: 'relayed by a source with no token left', input: { budget: { tokens: 0, atMs: T - 999 } }, want: { admit: false, reason: 'source-rate' } },
    { name: 'a token earned back after newPerSourceEveryMs', input: { budget: { tokens: 0, atMs: T - 1500 } }, want: { admit: true, evictDead: false, budget: { tokens: 0, atMs: T - 500 } } },
    { name: 'a view at the cap with no dead entry: refused, even heard directly', input: { size: 10, source: 'x' }, want: { admit: false, reason: 'view-full' } },
    { name: 'a view at the cap with a dead entry: admitted in its place', input: { size: 10, canEvictDead: true }, want: { admit: true, evictDead: true, budget: { tokens: 2, atMs: T } } },
    { name: 'the rate holds at the cap too', input: { size: 10, canEvictDead: true, budget: { tokens: 0, atMs: T } }, want: { admit: false, reason: 'source-rate' } }
  ]
  for (const c of cases) {
    it(c.name, () => {
      expect(admitIdentity({ ...base, ...c.input }, P)).toEqual(c.want)
    })
  }

  it('a bucket refills to its burst and no further', () => {
    expect(refill({ tokens: 1, atMs: T }, T + 60_000, P)).toEqual({ tokens: 3, atMs: T + 60_000 })
    expect(refill({ tokens: 1, atMs: T }, T + 999, P)).toEqual({ tokens: 1, atMs: T })
  })

  it('refuses settings that would not bound anything', () => {
    expect(() => validateAdmission({ ...DEFAULT_ADMISSION, maxMembers: 1 })).toThrow(/maxMembers/)
    expect(() => validateAdmission({ ...DEFAULT_ADMISSION, newPerSourceBurst: 0 })).toThrow(/newPerSourceBurst/)
    expect(() => validateAdmission({ ...DEFAULT_ADMISSION, newPerSourceEveryMs: 0 })).toThrow(/newPerSourceEveryMs/)
  })
})

describe('Membership admission (validator with the propagation source)', () => {
  const clock = new ManualClock()
  const heartbeat = (): Uint8Array => encodeHeartbeat({
    bootMs: clock.now() - 1000, seq: 1, sentMs: clock.now(), intervalMs: 1000, nodeVersion: '0.1.0', uptimeMs: 1000, labels: {}, props: {}, fleetSize: 1
  })
  const membership = (init: { admission?: Partial<AdmissionParams>, admit?: (peerId: string, context: { source: string }) => boolean } = {}): Membership => {
    let validate: ((from: string, data: Uint8Array, source?: string) => string) | undefined
    let onMessage: ((from: string, data: Uint8Array, source?: string) => void) | undefined
    const m = new Membership({
      clock, logger: silentLogger, random: () => 0.5, peerId: 'self', readProperties: async () => ({}), admit: init.admit,
      transport: {
        subscribe: (t, fn) => { if (t === HEARTBEAT_TOPIC) onMessage = fn },
        unsubscribe: () => {},
        setValidator: (t, fn) => { if (t === HEARTBEAT_TOPIC) validate = fn },
        removeValidator: () => {},
        publish: async () => {}
      }
    }, { admission: init.admission })
    // Deliver as gossipsub does: validator first, then the message if accepted.
    ;(m as unknown as { deliver: (from: string, source?: string) => string }).deliver = (from, source) => {
      const data = heartbeat()
      const verdict = validate!(from, data, source)
      if (verdict === 'accept') onMessage!(from, data, source)
      return verdict
    }
    return m
  }
  const settle = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
  const deliver = (m: Membership, from: string, source?: string): string => (m as unknown as { deliver: (from: string, source?: string) => string }).deliver(from, source)

  it('a source may introduce newPerSourceBurst identities, then one per newPerSourceEveryMs; direct ones are free', async () => {
    const m = membership({ admission: { newPerSourceBurst: 2, newPerSourceEveryMs: 1000 } })
    m.start()
    await settle() // its own first heartbeat is in the view
    expect(['f1', 'f2', 'f3'].map(id => deliver(m, id, 'relay'))).toEqual(['accept', 'accept', 'ignore'])
    expect(deliver(m, 'f1', 'relay')).toBe('accept') // known: no token needed
    expect(deliver(m, 'direct', 'direct')).toBe('accept')
    expect(deliver(m, 'f4', 'other-relay')).toBe('accept') // another source has its own bucket
    clock.advance(1000)
    expect(deliver(m, 'f3', 'relay')).toBe('accept')
    expect(m.getStats().limited).toBe(1)
    expect(m.view().map(v => v.peerId).sort()).toEqual(['direct', 'f1', 'f2', 'f3', 'f4', 'self'])
    // Relayed by one source only: not counted for the interval; f1 heard from itself now is.
    expect(m.corroboratedCount()).toBe(2)
    deliver(m, 'f1', 'f1')
    expect(m.corroboratedCount()).toBe(3)
    m.stop()
  })

  it('stops at maxMembers, and a dead entry makes room for a new one', async () => {
    const m = membership({ admission: { maxMembers: 3 } })
    m.start()
    await settle() // its own first heartbeat is in the view
    expect(['a', 'b', 'c'].map(id => deliver(m, id))).toEqual(['accept', 'accept', 'ignore'])
    clock.advance(7000) // a and b dead (6 intervals of 1 s); self has not beaten since
    deliver(m, 'a')
    expect(deliver(m, 'c')).toBe('accept')
    expect(m.view().map(v => v.peerId).sort()).toEqual(['a', 'c', 'self'])
    m.stop()
  })

  it('asks the admission hook about identities it does not hold, with the source', async () => {
    const asked: Array<[string, string]> = []
    const m = membership({ admit: (peerId, { source }) => { asked.push([peerId, source]); return peerId === 'enrolled' } })
    m.start()
    await settle() // its own first heartbeat is in the view
    expect(deliver(m, 'enrolled', 'relay')).toBe('accept')
    expect(deliver(m, 'stranger', 'relay')).toBe('ignore')
    expect(deliver(m, 'enrolled', 'relay')).toBe('accept')
    expect(asked).toEqual([['enrolled', 'relay'], ['stranger', 'relay']])
    m.stop()
  })
})
