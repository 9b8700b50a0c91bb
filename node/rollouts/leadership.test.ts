import { describe, expect, it } from 'vitest'
import { isNewerProgress, leadershipMove, quorumOf, refusalFences } from './leadership.js'
import type { LeadershipInput } from './leadership.js'

const BASE: LeadershipInput = { self: 'a', fresh: true, currentAlive: true, deferred: false, first: 'a' }

describe('leadershipMove', () => {
  it.each<[string, Partial<LeadershipInput>, string]>([
    ['no progress yet, ranks first', {}, 'takeOver'],
    ['no progress yet, another ranks first', { first: 'b' }, 'follow'],
    ['a live coordinator with fresh progress keeps it, even when this node ranks first', { current: { coordinator: 'b', epoch: 1 } }, 'follow'],
    ['its progress is stale: the first-ranked takes over', { current: { coordinator: 'b', epoch: 1 }, fresh: false }, 'takeOver'],
    ['it is not alive in the view: the first-ranked takes over', { current: { coordinator: 'b', epoch: 1 }, currentAlive: false }, 'takeOver'],
    ['fenced off a moment ago: waits', { current: { coordinator: 'b', epoch: 1 }, fresh: false, deferred: true }, 'follow'],
    ['just (re)started, its view still filling: waits, though it ranks first in what it sees', { settling: true }, 'follow'],
    ['just (re)started, with only stale progress of its own: waits', { current: { coordinator: 'a', epoch: 3 }, fresh: false, settling: true }, 'follow'],
    ['settling does not make a leader let go', { leadingEpoch: 2, settling: true }, 'keep'],
    ['progress naming this node itself (after a restart) does not hold it back', { current: { coordinator: 'a', epoch: 3 } }, 'takeOver'],
    ['leading, progress of a lower epoch', { leadingEpoch: 2, current: { coordinator: 'b', epoch: 1 } }, 'keep'],
    ['leading, an alive coordinator with a higher epoch', { leadingEpoch: 2, current: { coordinator: 'b', epoch: 3 } }, 'stepDown'],
    ['leading, a higher epoch from a coordinator not alive in the view', { leadingEpoch: 2, current: { coordinator: 'b', epoch: 3 }, currentAlive: false }, 'keep'],
    ['leading, its own progress', { leadingEpoch: 2, current: { coordinator: 'a', epoch: 2 } }, 'keep']
  ])('%s', (_, input, kind) => {
    expect(leadershipMove({ ...BASE, ...input }).kind).toBe(kind)
  })
})

describe('quorumOf', () => {
  const alive = new Set(['a', 'b', 'c'])
  it.each<[string[], string[], boolean, number]>([
    [['a', 'b', 'c'], ['a', 'b'], true, 2],
    [['a', 'b', 'c', 'd', 'e'], ['a', 'b'], false, 2],
    // d and e are dead in the view: their promises do not count, their places in the quorum do
    [['a', 'b', 'c', 'd', 'e'], ['a', 'd', 'e'], false, 1],
    [['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c'], true, 3],
    [[], ['a'], false, 0],
    [['a', 'a', 'b'], ['a'], false, 1]
  ])('quorum %j promised %j -> %s', (quorum, promised, reached, count) => {
    const q = quorumOf(quorum, new Set(promised), p => alive.has(p))
    expect(q.reached).toBe(reached)
    expect(q.promised).toBe(count)
  })
})

describe('refusalFences and isNewerProgress', () => {
  it.each<[number, number, string | undefined, boolean]>([
    [2, 3, 'b', true], [2, 2, 'b', true], [2, 2, 'a', false], [2, 1, 'b', false]
  ])('leading epoch %i, refusal promised %i to %s -> %s', (epoch, promisedEpoch, promisedTo, fenced) => {
    expect(refusalFences(epoch, 'a', { promisedEpoch, promisedTo })).toBe(fenced)
  })

  it.each<[[number, number, number], [number, number, number] | undefined, boolean]>([
    [[1, 1, 1], undefined, true], [[2, 0, 1], [1, 9, 1], true], [[1, 2, 1], [1, 1, 1], true], [[1, 1, 1], [1, 1, 1], false],
    [[1, 0, 1], [2, 5, 1], false], [[1, 0, 2], [2, 5, 1], true]
  ])('progress %j over held %j -> %s', (a, b, newer) => {
    const p = (x: [number, number, number]) => ({ epoch: x[0], seq: x[1], policyVersion: x[2] })
    expect(isNewerProgress(p(a), b === undefined ? undefined : p(b))).toBe(newer)
  })
})
