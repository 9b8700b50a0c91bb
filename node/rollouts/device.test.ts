import { describe, expect, it } from 'vitest'
import { MAX_FAILURE_REASON_LENGTH } from './constants.js'
import { DEVICE_STATE_KINDS, isActivationOutcome, isFinal, isInProgress, isUpdated, transition } from './device.js'
import type { DeviceEvent, DeviceState, DeviceStateKind } from './device.js'

function state (kind: DeviceStateKind): DeviceState {
  return kind === 'Failed' ? { kind, reason: 'boom' } : { kind } as DeviceState
}

const EVENTS: DeviceEvent[] = [
  { type: 'dispatched' }, { type: 'downloadStarted' }, { type: 'downloaded' }, { type: 'verified' }, { type: 'loaded' },
  { type: 'smokePassed' }, { type: 'failed', reason: 'hash mismatch' }, { type: 'timedOut' }, { type: 'revertStarted' }, { type: 'reverted' }
]

// Every valid (from, event) -> to; anything not listed must be refused.
const VALID: Array<[DeviceStateKind | 'none', DeviceEvent['type'], DeviceStateKind]> = [
  ['none', 'dispatched', 'Pending'],
  ['Failed', 'dispatched', 'Pending'],
  ['TimedOut', 'dispatched', 'Pending'],
  ['RolledBack', 'dispatched', 'Pending'],
  ['Pending', 'downloadStarted', 'Downloading'],
  ['Downloading', 'downloaded', 'Verifying'],
  ['Verifying', 'verified', 'Loading'],
  ['Loading', 'loaded', 'SmokeTest'],
  ['SmokeTest', 'smokePassed', 'Active'],
  ...(['Pending', 'Downloading', 'Verifying', 'Loading', 'SmokeTest'] as const).flatMap(k => [
    [k, 'failed', 'Failed'],
    [k, 'timedOut', 'TimedOut'],
    [k, 'revertStarted', 'RollingBack']
  ] as Array<[DeviceStateKind, DeviceEvent['type'], DeviceStateKind]>),
  ['Active', 'revertStarted', 'RollingBack'],
  ['Failed', 'revertStarted', 'RollingBack'],
  ['TimedOut', 'revertStarted', 'RollingBack'],
  ['RollingBack', 'reverted', 'RolledBack'],
  ['RollingBack', 'failed', 'Failed']
]

describe('transition', () => {
  it.each(VALID)('%s --%s--> %s', (from, type, to) => {
    const event = EVENTS.find(e => e.type === type)!
    const result = transition(from === 'none' ? undefined : state(from), event)
    expect(result.ok).toBe(true)
    if (result.ok) expect(result.state.kind).toBe(to)
  })

  it('refuses every other (state, event) pair with a typed result, without throwing', () => {
    let refused = 0
    for (const from of [undefined, ...DEVICE_STATE_KINDS.map(state)]) {
      for (const event of EVENTS) {
        const fromKind = from?.kind ?? 'none'
        if (VALID.some(([f, e]) => f === fromKind && e === event.type)) continue
        const result = transition(from, event)
        expect(result, `${fromKind} --${event.type}-->`).toEqual({
          ok: false, code: 'ERR_INVALID_TRANSITION', from: fromKind, event: event.type, message: expect.stringContaining(event.type)
        })
        refused++
      }
    }
    expect(refused).toBe(11 * 10 - VALID.length)
  })

  it('keeps the failure reason, bounded and without control characters', () => {
    const short = transition({ kind: 'Loading' }, { type: 'failed', reason: 'out of\nmemory' })
    expect(short).toEqual({ ok: true, state: { kind: 'Failed', reason: 'out of memory' } })
    const long = transition({ kind: 'Loading' }, { type: 'failed', reason: 'x'.repeat(500) })
    expect(long.ok && long.state.kind === 'Failed' && long.state.reason.length).toBe(MAX_FAILURE_REASON_LENGTH)
    const empty = transition({ kind: 'Loading' }, { type: 'failed', reason: '  ' })
    expect(empty).toEqual({ ok: true, state: { kind: 'Failed', reason: 'unknown' } })
  })

  it('walks the happy path from dispatch to Active', () => {
    let s: DeviceState | undefined
    for (const type of ['dispatched', 'downloadStarted', 'downloaded', 'verified', 'loaded', 'smokePassed'] as const) {
      const r = transition(s, { type })
      if (!r.ok) throw new Error(r.message)
      s = r.state
    }
    expect(s).toEqual({ kind: 'Active' })
  })
})

describe('state classes', () => {
  it.each<[DeviceStateKind, boolean, boolean, boolean, boolean]>([
    // kind, inProgress, updated, activationOutcome, final
    ['Pending', true, true, false, false],
    ['Downloading', true, true, false, false],
    ['Verifying', true, true, false, false],
    ['Loading', true, true, false, false],
    ['SmokeTest', true, true, false, false],
    ['Active', false, true, true, true],
    ['Failed', false, false, true, true],
    ['TimedOut', false, false, true, true],
    ['RollingBack', false, false, false, false],
    ['RolledBack', false, false, false, true]
  ])('%s', (kind, inProgress, updated, outcome, final) => {
    expect([isInProgress(kind), isUpdated(kind), isActivationOutcome(kind), isFinal(kind)]).toEqual([inProgress, updated, outcome, final])
  })
})
