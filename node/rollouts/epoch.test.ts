import { describe, expect, it } from 'vitest'
import { hasMajority, INITIAL_ACCEPTOR_STATE, majorityOf, nextEpoch, onCommand, onPrepare } from './epoch.js'
import type { AcceptorState } from './epoch.js'

const held: AcceptorState = { promised: 5, promisedTo: 'A' }

describe('onPrepare', () => {
  it.each<[string, AcceptorState, number, string, unknown]>([
    ['first prepare is promised', INITIAL_ACCEPTOR_STATE, 1, 'A', { kind: 'promised', state: { promised: 1, promisedTo: 'A' }, changed: true }],
    ['a higher epoch is promised to its coordinator', held, 6, 'B', { kind: 'promised', state: { promised: 6, promisedTo: 'B' }, changed: true }],
    ['a higher epoch from the same coordinator is promised', held, 9, 'A', { kind: 'promised', state: { promised: 9, promisedTo: 'A' }, changed: true }],
    ['the same epoch from the same coordinator is promised again, unchanged', held, 5, 'A', { kind: 'promised', state: held, changed: false }],
    ['the same epoch from a different coordinator is rejected', held, 5, 'B', { kind: 'rejected', code: 'ERR_STALE_EPOCH', promised: 5, promisedTo: 'A' }],
    ['a stale coordinator is rejected', held, 4, 'A', { kind: 'rejected', code: 'ERR_STALE_EPOCH', promised: 5, promisedTo: 'A' }],
    ['a stale other coordinator is rejected', held, 1, 'C', { kind: 'rejected', code: 'ERR_STALE_EPOCH', promised: 5, promisedTo: 'A' }],
    ['epoch 0 is invalid', INITIAL_ACCEPTOR_STATE, 0, 'A', { kind: 'rejected', code: 'ERR_INVALID_EPOCH', promised: 0 }],
    ['a fractional epoch is invalid', held, 5.5, 'A', { kind: 'rejected', code: 'ERR_INVALID_EPOCH', promised: 5, promisedTo: 'A' }],
    ['an unsafe epoch is invalid', held, 2 ** 53, 'A', { kind: 'rejected', code: 'ERR_INVALID_EPOCH', promised: 5, promisedTo: 'A' }],
    ['an empty coordinator is invalid', held, 6, '', { kind: 'rejected', code: 'ERR_INVALID_EPOCH', promised: 5, promisedTo: 'A' }]
  ])('%s', (_name, state, epoch, from, expected) => {
    expect(onPrepare(state, epoch, from)).toEqual(expected)
  })

  it('does not modify the given state', () => {
    const state = { promised: 2, promisedTo: 'A' }
    onPrepare(state, 3, 'B')
    expect(state).toEqual({ promised: 2, promisedTo: 'A' })
  })
})

describe('onCommand', () => {
  it.each<[string, AcceptorState, number, string, unknown]>([
    ['a command of the promised epoch and coordinator is accepted', held, 5, 'A', { kind: 'accepted', state: held, changed: false }],
    ['a command of a higher epoch is accepted and promises it', held, 7, 'B', { kind: 'accepted', state: { promised: 7, promisedTo: 'B' }, changed: true }],
    ['a command on a fresh node is accepted', INITIAL_ACCEPTOR_STATE, 1, 'A', { kind: 'accepted', state: { promised: 1, promisedTo: 'A' }, changed: true }],
    ['same epoch, different coordinator is stale', held, 5, 'B', { kind: 'rejected', code: 'ERR_STALE_EPOCH', promised: 5, promisedTo: 'A' }],
    ['a stale coordinator is rejected', held, 3, 'A', { kind: 'rejected', code: 'ERR_STALE_EPOCH', promised: 5, promisedTo: 'A' }],
    ['an invalid epoch is rejected', held, -1, 'A', { kind: 'rejected', code: 'ERR_INVALID_EPOCH', promised: 5, promisedTo: 'A' }]
  ])('%s', (_name, state, epoch, from, expected) => {
    expect(onCommand(state, epoch, from)).toEqual(expected)
  })

  it('a coordinator deposed by a higher prepare can no longer command', () => {
    const first = onPrepare(INITIAL_ACCEPTOR_STATE, 1, 'A')
    if (first.kind !== 'promised') throw new Error('expected a promise')
    const second = onPrepare(first.state, 2, 'B')
    if (second.kind !== 'promised') throw new Error('expected a promise')
    expect(onCommand(second.state, 1, 'A')).toMatchObject({ kind: 'rejected', code: 'ERR_STALE_EPOCH', promised: 2, promisedTo: 'B' })
    expect(onCommand(second.state, 2, 'B')).toMatchObject({ kind: 'accepted' })
  })
})

describe('nextEpoch', () => {
  it.each<[number[], number]>([
    [[], 1],
    [[1], 2],
    [[3, 9, 4], 10],
    [[0, -2, Number.NaN, 2.5], 1],
    [[7, Number.POSITIVE_INFINITY], 8]
  ])('%j -> %i', (seen, expected) => {
    expect(nextEpoch(seen)).toBe(expected)
  })
})

describe('hasMajority', () => {
  it.each<[string, string[], string[], boolean]>([
    ['no targets is never a majority', ['a'], [], false],
    ['1 of 1', ['a'], ['a'], true],
    ['0 of 1', [], ['a'], false],
    ['1 of 2 is not a majority', ['a'], ['a', 'b'], false],
    ['2 of 2', ['a', 'b'], ['a', 'b'], true],
    ['2 of 3', ['a', 'c'], ['a', 'b', 'c'], true],
    ['2 of 4 is not a majority', ['a', 'b'], ['a', 'b', 'c', 'd'], false],
    ['3 of 4', ['a', 'b', 'd'], ['a', 'b', 'c', 'd'], true],
    ['promises from non-targets do not count', ['a', 'x', 'y'], ['a', 'b', 'c'], false],
    ['a duplicated promise counts once', ['a', 'a'], ['a', 'b', 'c'], false],
    ['a duplicated target counts once', ['a', 'b'], ['a', 'a', 'b', 'c'], true]
  ])('%s', (_name, promised, targets, expected) => {
    expect(hasMajority(promised, targets)).toBe(expected)
    expect(hasMajority(new Set(promised), targets)).toBe(expected)
  })

  it('majorityOf is floor(n/2)+1', () => {
    expect([0, 1, 2, 3, 4, 5, 10_000].map(majorityOf)).toEqual([1, 1, 2, 2, 3, 3, 5001])
  })
})
