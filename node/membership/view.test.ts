import { describe, expect, it } from 'vitest'
import { DEFAULT_LIVENESS, MAX_PAST_BOOTS, judgedIntervalMs, nextStatusChangeMs, observe, observeDigest, shouldForget, statusOf, validateLiveness } from './view.js'
import type { Heartbeat } from '../../protocols/heartbeat/index.js'
import type { LivenessParams, MemberEntry, MemberStatus } from './view.js'

const T0 = 1_700_000_000_000
const PEER = '12D3KooWPeer'

function hb (bootMs: number, seq: number, intervalMs = 1000): Heartbeat {
  return { bootMs, seq, sentMs: bootMs + seq * intervalMs, intervalMs, nodeVersion: '0.1.0', uptimeMs: seq * intervalMs, labels: {}, props: {}, fleetSize: 3 }
}

function entry (heartbeat: Heartbeat, receivedMs: number, restarts = 0): MemberEntry {
  return { peerId: PEER, heartbeat, receivedMs, firstSeenMs: T0, restarts }
}

describe('observe', () => {
  it('a first heartbeat joins the peer, first seen now, no restarts', () => {
    const result = observe(undefined, PEER, hb(T0, 1), T0 + 5)
    expect(result).toEqual({ kind: 'joined', entry: { peerId: PEER, heartbeat: hb(T0, 1), receivedMs: T0 + 5, firstSeenMs: T0 + 5, restarts: 0 } })
  })

  it.each<[string, number, number, 'updated' | 'restarted' | 'stale']>([
    ['next seq of the same boot', T0, 6, 'updated'],
    ['a seq that skips ahead (lost heartbeats)', T0, 50, 'updated'],
    ['the same seq again (a duplicate)', T0, 5, 'stale'],
    ['an older seq (reordered)', T0, 4, 'stale'],
    ['a later boot, seq restarted at 1', T0 + 60_000, 1, 'restarted'],
    ['an earlier boot with a higher seq', T0 - 60_000, 99, 'stale'],
    ['an earlier boot', T0 - 1, 1, 'stale']
  ])('held boot T0 seq 5, then %s: %s', (_what, bootMs, seq, kind) => {
    const previous = entry(hb(T0, 5), T0 + 100, 2)
    const now = T0 + 200
    const result = observe(previous, PEER, hb(bootMs, seq), now)
    expect(result.kind).toBe(kind)
    if (result.kind === 'stale') return
    expect(result.entry.heartbeat).toEqual(hb(bootMs, seq))
    expect(result.entry.receivedMs).toBe(now)
    expect(result.entry.firstSeenMs).toBe(T0) // kept from the first sighting
    expect(result.entry.restarts).toBe(kind === 'restarted' ? 3 : 2)
  })

  it('does not modify the entry it is given', () => {
    const previous = entry(hb(T0, 5), T0 + 100)
    const copy = structuredClone(previous)
    observe(previous, PEER, hb(T0 + 1, 1), T0 + 500)
    observe(previous, PEER, hb(T0, 6), T0 + 500)
    expect(previous).toEqual(copy)
  })
})

describe('statusOf', () => {
  // Defaults: suspect after 3 intervals of silence, dead after 6, on the receiver's clock.
  it.each<[number, number, MemberStatus]>([
    [1000, 0, 'alive'],
    [1000, 3000, 'alive'],
    [1000, 3001, 'suspect'],
    [1000, 6000, 'suspect'],
    [1000, 6001, 'dead'],
    [60_000, 3001, 'alive'], // a slow heartbeater in a big fleet is not suspect after 3 s...
    [60_000, 180_000, 'alive'],
    [60_000, 180_001, 'suspect'], // ...only after 3 of its own intervals
    [60_000, 360_001, 'dead'],
    [200, 601, 'suspect'],
    [200, 1201, 'dead']
  ])('interval %i ms, silent for %i ms: %s', (intervalMs, ageMs, status) => {
    expect(statusOf(entry(hb(T0, 1, intervalMs), T0), T0 + ageMs)).toBe(status)
  })

  it('treats a receive time in the future (clock stepped back) as just heard', () => {
    expect(statusOf(entry(hb(T0, 1), T0 + 10_000), T0)).toBe('alive')
  })

  it('follows custom thresholds', () => {
    const params: LivenessParams = { suspectAfterIntervals: 1, deadAfterIntervals: 2, forgetAfterMs: 0 }
    const e = entry(hb(T0, 1, 500), T0)
    expect(statusOf(e, T0 + 500, params)).toBe('alive')
    expect(statusOf(e, T0 + 501, params)).toBe('suspect')
    expect(statusOf(e, T0 + 1001, params)).toBe('dead')
  })
})

describe('nextStatusChangeMs', () => {
  const e = (receivedMs: number, intervalMs = 1000): MemberEntry => entry(hb(T0, 1, intervalMs), receivedMs)

  it.each<[string, Array<[string, MemberEntry]>, number, number | undefined]>([
    ['nobody', [], T0, undefined],
    ['only self', [['self', e(T0)]], T0, undefined],
    ['alive: when it turns suspect', [['a', e(T0)]], T0 + 10, T0 + 3001],
    ['suspect: when it turns dead', [['a', e(T0)]], T0 + 3001, T0 + 6001],
    ['dead: never again', [['a', e(T0)]], T0 + 6001, undefined],
    ['the earliest of several', [['a', e(T0 + 500)], ['b', e(T0, 200)], ['c', e(T0 + 100)]], T0 + 10, T0 + 601],
    ['in each member\'s own interval', [['slow', e(T0, 60_000)]], T0 + 5000, T0 + 180_001]
  ])('%s', (_what, entries, now, next) => {
    expect(nextStatusChangeMs(entries, now, DEFAULT_LIVENESS, 'self')).toBe(next)
  })

  it('agrees with statusOf: the status differs 1 ms after, not at, the moment before', () => {
    const m = e(T0, 700)
    let now = T0
    for (let k = 0; k < 2; k++) {
      const next = nextStatusChangeMs([['a', m]], now, DEFAULT_LIVENESS, 'self')!
      expect(statusOf(m, next - 1)).toBe(statusOf(m, now))
      expect(statusOf(m, next)).not.toBe(statusOf(m, now))
      now = next
    }
  })
})

describe('shouldForget', () => {
  const hour = DEFAULT_LIVENESS.forgetAfterMs

  it.each<[number, number, boolean]>([
    [1000, 6000, false], // just dead
    [1000, 6000 + hour, false],
    [1000, 6001 + hour, true],
    [60_000, 6001 + hour, false], // dead later, forgotten later: the clock starts at death
    [60_000, 360_001 + hour, true]
  ])('interval %i ms, silent for %i ms: %s', (intervalMs, ageMs, forget) => {
    expect(shouldForget(entry(hb(T0, 1, intervalMs), T0), T0 + ageMs)).toBe(forget)
  })

  it('never forgets a peer that is not dead yet, even with forgetAfterMs 0', () => {
    const params: LivenessParams = { ...DEFAULT_LIVENESS, forgetAfterMs: 0 }
    const e = entry(hb(T0, 1, 1000), T0)
    expect(shouldForget(e, T0 + 5999, params)).toBe(false)
    expect(statusOf(e, T0 + 6001, params)).toBe('dead')
    expect(shouldForget(e, T0 + 6001, params)).toBe(true)
  })
})

describe('validateLiveness', () => {
  it('accepts the defaults and returns what it was given', () => {
    expect(validateLiveness(DEFAULT_LIVENESS)).toBe(DEFAULT_LIVENESS)
    expect(validateLiveness({ suspectAfterIntervals: 1, deadAfterIntervals: 1.5, forgetAfterMs: 0 })).toBeTruthy()
  })

  it.each<[string, Partial<LivenessParams>, RegExp]>([
    ['suspect after 0 intervals', { suspectAfterIntervals: 0 }, /suspectAfterIntervals/],
    ['suspect after NaN intervals', { suspectAfterIntervals: Number.NaN }, /suspectAfterIntervals/],
    ['dead no later than suspect', { suspectAfterIntervals: 3, deadAfterIntervals: 3 }, /deadAfterIntervals/],
    ['dead before suspect', { suspectAfterIntervals: 4, deadAfterIntervals: 2 }, /deadAfterIntervals/],
    ['a negative forget time', { forgetAfterMs: -1 }, /forgetAfterMs/],
    ['a NaN forget time', { forgetAfterMs: Number.NaN }, /forgetAfterMs/]
  ])('rejects %s', (_what, patch, message) => {
    expect(() => validateLiveness({ ...DEFAULT_LIVENESS, ...patch })).toThrow(message)
  })
})

describe('observe after a restart with a clock that went backwards', () => {
  it('treats an earlier boot as a restart once the held boot has gone quiet, and as stale while it is alive', () => {
    const previous = observe(undefined, PEER, hb(T0 + 10_000, 5), T0 + 10_000)
    if (previous.kind !== 'joined') throw new Error('expected joined')
    const whileAlive = observe(previous.entry, PEER, hb(T0, 1), T0 + 10_500)
    expect(whileAlive.kind).toBe('stale')
    const quietFor = DEFAULT_LIVENESS.suspectAfterIntervals * previous.entry.heartbeat.intervalMs + 1
    const afterQuiet = observe(previous.entry, PEER, hb(T0, 1), T0 + 10_000 + quietFor)
    expect(afterQuiet.kind).toBe('restarted')
    if (afterQuiet.kind === 'restarted') expect(afterQuiet.entry.restarts).toBe(1)
  })
})

describe('observe replayed heartbeats', () => {
  const dead = DEFAULT_LIVENESS.deadAfterIntervals * 1000 + 1

  /** A peer seen on boot T0 up to seq 5, then restarted as boot T0 + 60 s up to seq 3, then killed. */
  function killedAfterRestart (): { entry: MemberEntry, killedAt: number } {
    let e = entry(hb(T0, 5), T0 + 5000)
    const restarted = observe(e, PEER, hb(T0 + 60_000, 1), T0 + 61_000)
    if (restarted.kind !== 'restarted') throw new Error('expected restarted')
    e = restarted.entry
    const updated = observe(e, PEER, hb(T0 + 60_000, 3), T0 + 63_000)
    if (updated.kind !== 'updated') throw new Error('expected updated')
    return { entry: updated.entry, killedAt: T0 + 63_000 }
  }

  it.each<[string, Heartbeat]>([
    ['the old boot, its last seq', hb(T0, 5)],
    ['the old boot, a seq the receiver never saw', hb(T0, 9)],
    ['the old boot, its first seq', hb(T0, 1)],
    ['the current boot, a seq already seen', hb(T0 + 60_000, 3)],
    ['the current boot, an older seq', hb(T0 + 60_000, 2)]
  ])('a dead node stays dead, restarts unchanged, when %s is replayed', (_what, replayed) => {
    const { entry: e, killedAt } = killedAfterRestart()
    const now = killedAt + dead
    expect(statusOf(e, now)).toBe('dead')
    expect(e.restarts).toBe(1)
    expect(observe(e, PEER, replayed, now).kind).toBe('stale')
  })

  it('an earlier boot that was already running while the held boot spoke is not a restart', () => {
    // Boot T0 - 100 s claims 100 s of uptime, but the held boot was heard 6 s ago: it cannot be new.
    const e = entry(hb(T0, 5), T0 + 5000)
    const replay: Heartbeat = { ...hb(T0 - 100_000, 100), uptimeMs: 100_000 }
    expect(observe(e, PEER, replay, T0 + 5000 + dead).kind).toBe('stale')
    // The same boot with an uptime that fits the silence is a device whose clock went back.
    const rebooted: Heartbeat = { ...hb(T0 - 100_000, 1), uptimeMs: 1000 }
    expect(observe(e, PEER, rebooted, T0 + 5000 + dead).kind).toBe('restarted')
  })

  it(`remembers at most ${MAX_PAST_BOOTS} replaced boots, the latest ones`, () => {
    let e = entry(hb(T0, 1), T0)
    for (let i = 1; i <= MAX_PAST_BOOTS + 4; i++) {
      const r = observe(e, PEER, hb(T0 + i * 1000, 1), T0 + i * 1000)
      if (r.kind !== 'restarted') throw new Error('expected restarted')
      e = r.entry
    }
    expect(e.pastBoots).toHaveLength(MAX_PAST_BOOTS)
    expect(e.pastBoots?.at(-1)).toBe(T0 + (MAX_PAST_BOOTS + 3) * 1000)
    expect(e.restarts).toBe(MAX_PAST_BOOTS + 4)
  })
})

describe('observeDigest: merging a shard digest into the view', () => {
  const VIA = { aggregator: 'agg', intervalMs: 20_000 }
  const NOW = T0 + 100_000

  it('a peer listed in full joins, heard ageMs ago on the receiver\'s clock, judged by the digest interval too', () => {
    const r = observeDigest(undefined, PEER, { ageMs: 3000, heartbeat: hb(T0, 5) }, VIA, NOW)
    expect(r).toEqual({ kind: 'joined', entry: { peerId: PEER, heartbeat: hb(T0, 5), receivedMs: NOW - 3000, firstSeenMs: NOW, restarts: 0, viaDigest: VIA, detailFromDigest: true } })
    if (r.kind !== 'joined') throw new Error('unreachable')
    expect(judgedIntervalMs(r.entry)).toBe(20_000)
    // 3 of the digest's intervals, not of the peer's own 1 s: still alive 50 s later.
    expect(statusOf(r.entry, NOW + 50_000)).toBe('alive')
    expect(statusOf(r.entry, NOW + 70_000)).toBe('suspect')
  })

  it('a tag alone never adds a peer (it does not say who it is)', () => {
    expect(observeDigest(undefined, PEER, { ageMs: 0 }, VIA, NOW)).toEqual({ kind: 'stale' })
  })

  const firstHand = entry(hb(T0, 10), NOW - 500)
  const fromDigest = { ...entry(hb(T0, 10), NOW - 8000), viaDigest: VIA, detailFromDigest: true }
  it.each<[string, MemberEntry, { ageMs: number, heartbeat?: Heartbeat }, string, number | undefined, number | undefined]>([
    // name, held, listing, kind, seq after, receivedMs after
    ['newer detail never overrides live first-hand detail: freshness only', firstHand, { ageMs: 100, heartbeat: hb(T0, 11) }, 'refreshed', 10, NOW - 100],
    ['an older listing of a live first-hand peer changes nothing', firstHand, { ageMs: 4000, heartbeat: hb(T0, 9) }, 'stale', undefined, undefined],
    ['a peer heard alive on a shard topic is left alone', { ...firstHand, heardOnShard: true }, { ageMs: 0, heartbeat: hb(T0, 11) }, 'stale', undefined, undefined],
    ['first-hand detail kept alive only by digests is updated by newer digest detail', { ...firstHand, viaDigest: VIA }, { ageMs: 100, heartbeat: hb(T0, 11) }, 'updated', 11, NOW - 100],
    ['newer detail replaces detail that came from a digest', fromDigest, { ageMs: 2000, heartbeat: hb(T0, 12) }, 'updated', 12, NOW - 2000],
    ['newer detail replaces first-hand detail gone quiet (missed heartbeats)', entry(hb(T0, 10), NOW - 5000), { ageMs: 100, heartbeat: hb(T0, 14) }, 'updated', 14, NOW - 100],
    ['a later boot listed in full is a restart', fromDigest, { ageMs: 0, heartbeat: hb(T0 + 50_000, 1) }, 'restarted', 1, NOW],
    ['a listing of an older boot says nothing of the boot held', fromDigest, { ageMs: 0, heartbeat: hb(T0 - 50_000, 99) }, 'stale', undefined, undefined],
    ['a tag refreshes a peer heard longer ago', fromDigest, { ageMs: 1000 }, 'refreshed', 10, NOW - 1000],
    ['a tag older than what is held changes nothing (time only moves forward)', fromDigest, { ageMs: 9000 }, 'stale', undefined, undefined]
  ])('%s', (_name, held, listed, kind, seq, receivedMs) => {
    const r = observeDigest(held, PEER, listed, VIA, NOW)
    expect(r.kind).toBe(kind)
    if (r.kind === 'stale') return
    expect(r.entry.heartbeat.seq).toBe(seq)
    expect(r.entry.receivedMs).toBe(receivedMs)
    expect(r.entry.viaDigest).toEqual(VIA)
  })

  it('a peer the digests stop listing ages out as any silent peer', () => {
    const r = observeDigest(undefined, PEER, { ageMs: 0, heartbeat: hb(T0, 5) }, VIA, NOW)
    if (r.kind !== 'joined') throw new Error('unreachable')
    expect(statusOf(r.entry, NOW + 6 * 20_000)).toBe('suspect')
    expect(statusOf(r.entry, NOW + 6 * 20_000 + 1)).toBe('dead')
    expect(nextStatusChangeMs([[PEER, r.entry]], NOW, DEFAULT_LIVENESS, 'self')).toBe(NOW + 3 * 20_000 + 1)
  })
})
