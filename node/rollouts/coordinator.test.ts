import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { seededRandom } from '../../core/random.js'
import { RolloutCoordinator } from './coordinator.js'
import { hrwRank } from './hrw.js'
import type { CommandReply, CoordinatorRpc, DeviceAnswer } from './coordinator.js'
import type { RolloutSpec } from './spec.js'
import type { MemberInfo } from '../membership/membership.js'
import type { PolicyDocument } from '../policy/document.js'
import type { RolloutProgress } from '../../protocols/rollout/index.js'

const CID = 'bagaaieranew'
const PEERS = ['12D3KooWa', '12D3KooWb', '12D3KooWc']
const SPEC: RolloutSpec = {
  model: { name: 'clf', version: '2.0.0', cid: CID },
  selector: {},
  resources: {},
  strategy: { steps: [{ setPercent: 100 }], rate: { unlimited: true }, activationTimeoutMs: 60_000, abort: [], rollback: 'automatic' }
} as unknown as RolloutSpec

function member (peerId: string, self: boolean, now: number): MemberInfo {
  return {
    peerId, self, status: 'alive', labels: {}, props: {}, nodeVersion: '0.1.0', uptimeMs: 1000, bootMs: 1, seq: 1, intervalMs: 1000,
    fleetSize: PEERS.length, models: [], rollouts: [], lastSeenMs: now, ageMs: 0, firstSeenMs: 0, restarts: 0
  }
}

/**
 * Devices as the coordinator's RPC sees them: each holds a policy version and refuses a command
 * for an older one the way a remote device does (ERR_POLICY_NEWER, not marked retryable: an
 * older build answers so).
 */
function fleet (policyAt: Map<string, number>): CoordinatorRpc & { active: Set<string> } {
  const active = new Set<string>()
  const answer = (peer: string): DeviceAnswer => ({ state: active.has(peer) ? 'Active' : undefined, policyVersion: policyAt.get(peer)!, cid: CID })
  return {
    active,
    prepare: async (peer) => ({ kind: 'promised', device: answer(peer) }),
    command: async (peer, cmd): Promise<CommandReply> => {
      const held = policyAt.get(peer)!
      if (held > cmd.policyVersion) return { kind: 'refused', code: 'ERR_POLICY_NEWER', message: `this node holds version ${held}`, retryable: false }
      active.add(peer)
      return { kind: 'accepted', device: answer(peer) }
    },
    report: async (peer) => answer(peer)
  }
}

/** A coordinator on `self` over PEERS, all alive; `latest()` is the progress it last published. */
function coordinatorOn (clock: ManualClock, self: string, rpc: CoordinatorRpc, policy: () => PolicyDocument, staleAfterMs: number): { coordinator: RolloutCoordinator, latest: () => RolloutProgress | undefined } {
  let latest: { progress: RolloutProgress, receivedMs: number } | undefined
  const coordinator = new RolloutCoordinator('r', {
    clock,
    random: seededRandom(1),
    logger: silentLogger,
    peerId: self,
    view: () => PEERS.map(p => member(p, p === self, clock.now())),
    policy,
    latestProgress: () => latest,
    ownPromised: () => 0,
    rpc,
    publishProgress: async progress => { latest = { progress, receivedMs: clock.now() } }
  }, { staleAfterMs, progressEveryMs: 1000 })
  return { coordinator, latest: () => latest?.progress }
}

const POLICY: PolicyDocument = { kind: 'RolloutPolicy', schema: 1, name: 'r', version: 1, issuedAt: '2026-12-01T00:00:00.000Z', spec: SPEC, control: { paused: false, resumedThrough: -1, undo: false, deleted: false } }

describe('the rollout coordinator', () => {
  it('takes a device that holds a newer policy than the coordinator for a coordinator behind, not a failed device', async () => {
    const clock = new ManualClock(1_000_000)
    const self = hrwRank('r', PEERS)[0]!
    const device = PEERS.find(p => p !== self)!
    // The device got version 2 (say, a resume) before the coordinator did.
    const policyAt = new Map(PEERS.map(p => [p, p === device ? 2 : 1]))
    const rpc = fleet(policyAt)
    let policy = POLICY
    const { coordinator, latest } = coordinatorOn(clock, self, rpc, () => policy, 3000)

    await coordinator.tick()
    expect(rpc.active.has(device)).toBe(false)
    expect(latest()?.phase).not.toBe('Completed')
    // Another tick under the old policy changes nothing: the device is not written off as Failed.
    clock.advance(1000)
    await coordinator.tick()
    expect(latest()?.phase).not.toBe('Completed')

    // The newer version reaches the coordinator: the device gets the model, and only then is it done.
    policy = { ...policy, version: 2 }
    policyAt.set(self, 2)
    for (const p of PEERS) policyAt.set(p, 2)
    clock.advance(1000)
    await coordinator.tick()
    clock.advance(1000)
    await coordinator.tick()
    expect([...rpc.active].sort()).toEqual([...PEERS].sort())
    expect(latest()?.phase).toBe('Completed')
  })

  it('asks a device in flight ever less often while its state stands still, and soon again after it changes', async () => {
    const clock = new ManualClock(1_000_000)
    const self = hrwRank('r', PEERS)[0]!
    const device = PEERS.find(p => p !== self)!
    let state: DeviceAnswer['state'] = 'Downloading'
    const asked: number[] = []
    const answer = (peer: string): DeviceAnswer => peer === device
      ? { state, policyVersion: 1, cid: CID }
      : { state: 'Active', policyVersion: 1, cid: CID }
    const rpc: CoordinatorRpc = {
      prepare: async (peer) => ({ kind: 'promised', device: peer === device ? { policyVersion: 1 } : answer(peer) }),
      command: async (peer) => ({ kind: 'accepted', device: answer(peer) }),
      report: async (peer) => {
        if (peer === device) asked.push(clock.now() - 1_000_000)
        return answer(peer)
      }
    }
    const { coordinator, latest } = coordinatorOn(clock, self, rpc, () => POLICY, 60_000)
    // The service's loop: tick, then wait until the coordinator is next due (at most a second).
    const runUntil = async (t: number): Promise<void> => {
      while (clock.now() - 1_000_000 < t) {
        await coordinator.tick()
        const due = coordinator.nextDueMs()
        clock.advance(Math.max(20, Math.min(1000, (due ?? Infinity) - clock.now())))
      }
    }

    await runUntil(6000)
    // Dispatched at t = 0 (the first tick): asked at 200, then gaps of 400, 800, 1600, 1600...
    expect(asked).toEqual([200, 600, 1400, 3000, 4600])
    state = 'Verifying'
    await runUntil(7000)
    // The change is seen at the next ask (6200); the next one comes 200 ms after it, then 400 later.
    expect(asked.slice(5)).toEqual([6200, 6400, 6800])
    state = 'Active'
    await runUntil(9000)
    expect(asked.length).toBe(9)
    expect(coordinator.nextDueMs()).toBeUndefined()
    expect(latest()?.phase).toBe('Completed')
  })
})
