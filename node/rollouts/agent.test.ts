import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { AgentErrorCode, checkCommand, retryDelayMs, RolloutAgent } from './agent.js'
import { FetchStalledError, NoProvidersError } from '../fetcher/errors.js'
import type { AgentServing, CommandCheckInput, CommandInput } from './agent.js'
import type { RolloutSpec } from './spec.js'
import type { PolicyControl } from '../policy/document.js'
import type { VerifiedPolicy } from '../policy/document.js'

const CID_OLD = 'bagaaieraold'
const CID_NEW = 'bagaaieranew'
const COORD = '12D3KooWCoordinator'

function spec (over: Partial<RolloutSpec> = {}): RolloutSpec {
  return {
    model: { name: 'clf', version: '2.0.0', cid: CID_NEW },
    selector: { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['50'] }] },
    resources: { limits: { cpu: '500m' } },
    strategy: { steps: [{ setPercent: 100 }], rate: { unlimited: true }, activationTimeoutMs: 60_000, abort: [], rollback: 'automatic' },
    ...over
  }
}

const OPEN: PolicyControl = { paused: false, resumedThrough: -1, undo: false, deleted: false }

/** A serving stand-in that records what it was asked and serves what it last activated. */
function fakeServing (): AgentServing & { calls: Array<{ ref: string, localOnly?: boolean }>, active: { version: string, cid: string } | undefined } {
  const s = {
    calls: [] as Array<{ ref: string, localOnly?: boolean }>,
    active: { version: '1.0.0', cid: CID_OLD } as { version: string, cid: string } | undefined,
    activate: async (ref: string, _limits: unknown, options: { localOnly?: boolean, onPhase?: (p: 'downloading' | 'verifying' | 'loading' | 'smoke-test') => void }) => {
      s.calls.push({ ref, localOnly: options.localOnly })
      for (const p of ['downloading', 'verifying', 'loading', 'smoke-test'] as const) options.onPhase?.(p)
      s.active = { version: ref === CID_NEW ? '2.0.0' : '1.0.0', cid: ref }
      return {}
    },
    deactivate: async () => { s.active = undefined },
    activeOf: () => s.active == null ? undefined : { ...s.active, limits: {} },
    isLocal: () => true
  }
  return s
}

describe('the rollout agent: what a device accepts from a coordinator', () => {
  const dirs: string[] = []
  afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })

  const make = (policy: VerifiedPolicy | undefined, attrs: Record<string, string> = { battery: '80' }, stateFile?: string): { agent: RolloutAgent, serving: ReturnType<typeof fakeServing> } => {
    const serving = fakeServing()
    const agent = new RolloutAgent({ clock: new ManualClock(), logger: silentLogger, peerId: 'me', serving, policy: () => policy, attributes: () => attrs }, { stateFile })
    return { agent, serving }
  }
  const held = (version: number, control: PolicyControl = OPEN, s = spec()): VerifiedPolicy => ({
    doc: { kind: 'RolloutPolicy', schema: 1, name: 'r', version, issuedAt: '2026-12-01T00:00:00.000Z', spec: s, control },
    envelope: new Uint8Array(),
    cid: 'x',
    signer: 'admin'
  }) as unknown as VerifiedPolicy
  const cmd = (over: Partial<CommandInput> = {}): CommandInput => ({ rollout: 'r', policyVersion: 5, epoch: 1, coordinator: COORD, action: 'activate', ...over })

  it.each([
    ['no policy held yet', undefined, {}, AgentErrorCode.PolicyUnknown, true],
    ['an older policy held', held(4), {}, AgentErrorCode.PolicyUnknown, true],
    ['a newer policy held', held(6), {}, AgentErrorCode.PolicyNewer, true], // the coordinator is behind: it retries,
    ['a deleted rollout', held(5, { ...OPEN, deleted: true }), {}, AgentErrorCode.PolicyEnded, false],
    ['an activate while undoing', held(5, { ...OPEN, undo: true }), {}, AgentErrorCode.PolicyEnded, false],
    ['a revert that changed nothing here', held(5), { action: 'revert' as const }, AgentErrorCode.NothingToRevert, false]
  ])('refuses %s', async (_what, policy, over, code, retryable) => {
    const { agent, serving } = make(policy)
    await expect(agent.command(cmd(over))).rejects.toMatchObject({ code, retryable })
    expect(serving.calls).toEqual([])
  })

  it('refuses to activate on a node the selector does not pick, and a stale epoch', async () => {
    const off = make(held(5), { battery: '20' })
    await expect(off.agent.command(cmd())).rejects.toMatchObject({ code: AgentErrorCode.NotTarget })
    const { agent } = make(held(5))
    expect((await agent.prepare('r', 7, 'other')).ok).toBe(true)
    await expect(agent.command(cmd({ epoch: 6 }))).rejects.toMatchObject({ code: AgentErrorCode.StaleEpoch })
    await expect(agent.command(cmd({ epoch: 7 }))).rejects.toMatchObject({ code: AgentErrorCode.StaleEpoch })
    expect((await agent.prepare('r', 6, COORD)).ok).toBe(false)
  })

  it('activates the policy\'s model, not anything the command says, and reverts to what ran before from the store', async () => {
    const { agent, serving } = make(held(5))
    await agent.command(cmd())
    await new Promise(resolve => setImmediate(resolve)) // the activation runs in the background
    expect(serving.calls).toEqual([{ ref: CID_NEW, localOnly: undefined }])
    expect(agent.get('r')?.device).toEqual({ kind: 'Active' })
    expect(agent.get('r')?.previous).toMatchObject({ version: '1.0.0', cid: CID_OLD })
    const again = make(held(5))
    await again.agent.command(cmd())
    await new Promise(resolve => setImmediate(resolve))
    await again.agent.command(cmd({ action: 'revert' }))
    await new Promise(resolve => setImmediate(resolve))
    expect(again.serving.calls.at(-1)).toEqual({ ref: CID_OLD, localOnly: true })
    expect(again.agent.get('r')?.device?.kind).toBe('RolledBack')
  })

  it('keeps its promise and state across a restart, and refuses the stale epoch after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-agent-'))
    dirs.push(dir)
    const file = join(dir, 'rollouts.json')
    const first = make(held(5), undefined, file)
    await first.agent.start()
    await first.agent.prepare('r', 9, COORD)
    await first.agent.command(cmd({ epoch: 9 }))
    await new Promise(resolve => setImmediate(resolve))
    await first.agent.stop()
    const second = make(held(5), undefined, file)
    await second.agent.start()
    expect(second.agent.get('r')).toMatchObject({ acceptor: { promised: 9, promisedTo: COORD }, device: { kind: 'Active' }, cid: CID_NEW })
    await expect(second.agent.command(cmd({ epoch: 8 }))).rejects.toMatchObject({ code: AgentErrorCode.StaleEpoch })
    expect(second.agent.heartbeatRollouts(8)).toEqual([{ name: 'r', policyVersion: 5, state: 'Active', reason: '', epoch: 9 }])
  })

  it('retries a download that found no holder or stalled, within activationTimeout, and fails at once on anything else', async () => {
    const clock = new ManualClock()
    const serving = fakeServing()
    const failures = [new NoProvidersError(CID_NEW, 'no holder'), new FetchStalledError(CID_NEW, 1, 'stalled')]
    const activate = serving.activate
    serving.activate = async (ref, limits, options) => {
      options.onPhase?.('downloading')
      const err = failures.shift()
      if (err != null) throw err
      return await activate(ref, limits, options)
    }
    const agent = new RolloutAgent({ clock, logger: silentLogger, peerId: 'me', serving, policy: () => held(5), attributes: () => ({ battery: '80' }) })
    await agent.command(cmd())
    await clock.advanceAsync(0)
    expect(agent.get('r')?.device?.kind).toBe('Downloading')
    await clock.advanceAsync(retryDelayMs(0))
    expect(agent.get('r')?.device?.kind).toBe('Downloading')
    await clock.advanceAsync(retryDelayMs(1))
    expect(agent.get('r')?.device).toEqual({ kind: 'Active' })

    // The version's own fault (here: a model that does not load) is not retried.
    const bad = fakeServing()
    bad.activate = async (_ref, _limits, options) => {
      options.onPhase?.('downloading')
      throw Object.assign(new Error('onnxruntime cannot load it'), { code: 'ERR_MODEL_LOAD' })
    }
    const other = new RolloutAgent({ clock, logger: silentLogger, peerId: 'me', serving: bad, policy: () => held(5), attributes: () => ({ battery: '80' }) })
    await other.command(cmd())
    await clock.advanceAsync(0)
    expect(other.get('r')?.device?.kind).toBe('Failed')
  })

  it('ends TimedOut when the retries outlast activationTimeout', async () => {
    const clock = new ManualClock()
    const serving = fakeServing()
    serving.activate = async (_ref, _limits, options) => {
      options.onPhase?.('downloading')
      throw new NoProvidersError(CID_NEW, 'no holder')
    }
    const agent = new RolloutAgent({ clock, logger: silentLogger, peerId: 'me', serving, policy: () => held(5), attributes: () => ({ battery: '80' }) })
    await agent.command(cmd())
    await clock.advanceAsync(60_000)
    expect(agent.get('r')?.device).toEqual({ kind: 'TimedOut' })
  })

  it.each([
    [0, 1000], [1, 2000], [4, 16_000], [5, 30_000], [100, 30_000]
  ])('waits retryDelayMs(%i) = %i ms', (attempt, ms) => {
    expect(retryDelayMs(attempt)).toBe(ms)
  })
})

describe('checkCommand (the pure checks of a wave command)', () => {
  const policy = { version: 5, control: { deleted: false, undo: false }, spec: { selector: { matchLabels: { class: 'camera' } }, model: { cid: 'bagaaieranew' } } } as unknown as NonNullable<CommandCheckInput['policy']>
  const base: CommandCheckInput = {
    policy,
    record: { acceptor: { promised: 2, promisedTo: 'c1' } },
    cmd: { rollout: 'r', policyVersion: 5, epoch: 2, coordinator: 'c1', action: 'activate' },
    attributes: { class: 'camera' },
    activating: false,
    reverting: false
  }
  const run = (patch: Partial<CommandCheckInput>, cmd: Partial<CommandCheckInput['cmd']> = {}): string => {
    const r = checkCommand({ ...base, ...patch, cmd: { ...base.cmd, ...cmd } })
    return r.kind === 'refuse' ? `${r.code}${r.retryable ? ' (retryable)' : ''}` : `accept ${r.start}${r.setPolicyVersion ? '' : ' (version kept)'}`
  }
  it.each<[string, Partial<CommandCheckInput>, Partial<CommandCheckInput['cmd']>, string]>([
    ['an activation of the promised coordinator', {}, {}, 'accept activation'],
    ['no policy held yet', { policy: undefined }, {}, 'ERR_POLICY_UNKNOWN (retryable)'],
    ['the command is for a newer policy', {}, { policyVersion: 6 }, 'ERR_POLICY_UNKNOWN (retryable)'],
    ['the command is for an older policy', {}, { policyVersion: 4 }, 'ERR_POLICY_NEWER (retryable)'],
    ['a deleted rollout', { policy: { ...policy, control: { deleted: true, undo: false } } }, {}, 'ERR_POLICY_ENDED'],
    ['a stale epoch', {}, { epoch: 1 }, 'ERR_STALE_EPOCH'],
    ['the same epoch from another coordinator', {}, { coordinator: 'c2' }, 'ERR_STALE_EPOCH'],
    ['a higher epoch implies its prepare', {}, { epoch: 3, coordinator: 'c2' }, 'accept activation'],
    ['an activation while undone', { policy: { ...policy, control: { deleted: false, undo: true } } }, {}, 'ERR_POLICY_ENDED'],
    ['a device that does not match', { attributes: { class: 'gateway' } }, {}, 'ERR_NOT_TARGET'],
    ['already Active on the CID', { record: { acceptor: { promised: 2, promisedTo: 'c1' }, cid: 'bagaaieranew', device: { kind: 'Active' } } }, {}, 'accept none'],
    ['Failed on the CID: no retry', { record: { acceptor: { promised: 2, promisedTo: 'c1' }, cid: 'bagaaieranew', device: { kind: 'Failed', reason: 'x' } } }, {}, 'accept none'],
    ['an activation already running', { activating: true }, {}, 'accept none'],
    ['a revert of nothing', {}, { action: 'revert' }, 'ERR_NOTHING_TO_REVERT'],
    ['a revert of an activation', { record: { acceptor: { promised: 2, promisedTo: 'c1' }, cid: 'bagaaieranew', device: { kind: 'Loading' } } }, { action: 'revert' }, 'accept revert'],
    ['a revert while one runs', { reverting: true, record: { acceptor: { promised: 2, promisedTo: 'c1' }, cid: 'bagaaieranew', device: { kind: 'RollingBack' } } }, { action: 'revert' }, 'accept none'],
    ['a revert of a rolled-back device', { record: { acceptor: { promised: 2, promisedTo: 'c1' }, cid: 'bagaaieranew', device: { kind: 'RolledBack' } } }, { action: 'revert' }, 'accept none (version kept)']
  ])('%s', (_, patch, cmd, expected) => {
    expect(run(patch, cmd)).toBe(expected)
  })
})
