import { describe, expect, it } from 'vitest'
import { sweepDecisions } from './membership.js'
import type { SweepDecision } from './membership.js'
import type { Heartbeat } from '../../protocols/heartbeat/index.js'
import type { LivenessParams, MemberEntry, MemberStatus } from './view.js'

const T0 = 1_700_000_000_000
const SELF = 'self'
/** 1 s heartbeats: alive up to 3 s of silence, suspect up to 6 s, forgotten 10 s after dying. */
const PARAMS: LivenessParams = { suspectAfterIntervals: 3, deadAfterIntervals: 6, forgetAfterMs: 10_000 }

function entry (peerId: string, receivedMs: number, intervalMs = 1000): MemberEntry {
  const heartbeat: Heartbeat = { bootMs: T0, seq: 1, sentMs: receivedMs, intervalMs, nodeVersion: '0.1.0', uptimeMs: 0, labels: {}, props: {}, fleetSize: 2 }
  return { peerId, heartbeat, receivedMs, firstSeenMs: T0, restarts: 0 }
}

describe('sweepDecisions: what a sweep changes in the mesh view', () => {
  const cases: Array<{ name: string, silentMs: number, last?: MemberStatus, intervalMs?: number, want: SweepDecision[] }> = [
    { name: 'a peer heard recently and announced alive: nothing', silentMs: 3000, last: 'alive', want: [] },
    { name: 'a peer never announced counts as alive', silentMs: 1000, want: [] },
    { name: 'silent past 3 intervals: suspect', silentMs: 3001, last: 'alive', want: [{ kind: 'status', peerId: 'p', from: 'alive', to: 'suspect', ageMs: 3001 }] },
    { name: 'suspect already announced: nothing', silentMs: 4000, last: 'suspect', want: [] },
    { name: 'silent past 6 intervals: dead', silentMs: 6001, last: 'suspect', want: [{ kind: 'status', peerId: 'p', from: 'suspect', to: 'dead', ageMs: 6001 }] },
    { name: 'straight from alive to dead (no sweep in between)', silentMs: 7000, last: 'alive', want: [{ kind: 'status', peerId: 'p', from: 'alive', to: 'dead', ageMs: 7000 }] },
    { name: 'dead, not yet forgotten: nothing', silentMs: 16_000, last: 'dead', want: [] },
    { name: 'dead for longer than forgetAfterMs: forgotten', silentMs: 16_001, last: 'dead', want: [{ kind: 'forget', peerId: 'p' }] },
    { name: 'forgotten even if its death was never announced', silentMs: 20_000, last: 'alive', want: [{ kind: 'forget', peerId: 'p' }] },
    { name: 'announced dead, heard again since: announced alive', silentMs: 10, last: 'dead', want: [{ kind: 'status', peerId: 'p', from: 'dead', to: 'alive', ageMs: 10 }] },
    { name: 'a slow peer is judged by its own interval', silentMs: 20_000, last: 'alive', intervalMs: 10_000, want: [] }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const now = T0 + 100_000
      const entries = new Map([['p', entry('p', now - c.silentMs, c.intervalMs)]])
      const last = new Map<string, MemberStatus>(c.last == null ? [] : [['p', c.last]])
      expect(sweepDecisions(entries, last, now, PARAMS, SELF)).toEqual(c.want)
    })
  }

  it('never judges this node itself, however long since its own heartbeat', () => {
    const now = T0 + 100_000
    expect(sweepDecisions(new Map([[SELF, entry(SELF, T0)]]), new Map(), now, PARAMS, SELF)).toEqual([])
  })

  it('changes nothing it is given', () => {
    const now = T0 + 100_000
    const entries = new Map([['p', entry('p', now - 50_000)]])
    const last = new Map<string, MemberStatus>([['p', 'alive']])
    sweepDecisions(entries, last, now, PARAMS, SELF)
    expect([...entries.keys()]).toEqual(['p'])
    expect(last.get('p')).toBe('alive')
  })
})
