import { describe, expect, it } from 'vitest'
import { formatSelector, matchesSelector, parseSelector, SelectorError, validateSelector } from './selector.js'
import type { Selector } from './selector.js'

const camera = { class: 'camera', zone: 'lobby', battery: '72', arch: 'arm64' }
const gateway = { class: 'gateway', zone: 'dock', battery: 'n/a', gpu: 'true' }

describe('matchesSelector', () => {
  it.each<[string, Selector, Record<string, string>, boolean]>([
    ['empty selector matches all', {}, camera, true],
    ['empty selector matches a node without attributes', {}, {}, true],
    ['matchLabels equal', { matchLabels: { class: 'camera' } }, camera, true],
    ['matchLabels differ', { matchLabels: { class: 'camera' } }, gateway, false],
    ['matchLabels missing key', { matchLabels: { gpu: 'true' } }, camera, false],
    ['matchLabels ANDed', { matchLabels: { class: 'camera', zone: 'dock' } }, camera, false],
    ['In hit', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['lobby', 'dock'] }] }, camera, true],
    ['In miss', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['yard'] }] }, camera, false],
    ['In absent key', { matchExpressions: [{ key: 'site', operator: 'In', values: ['a'] }] }, camera, false],
    ['NotIn hit', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['dock'] }] }, camera, true],
    ['NotIn miss', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['dock'] }] }, gateway, false],
    ['NotIn absent key matches', { matchExpressions: [{ key: 'site', operator: 'NotIn', values: ['a'] }] }, camera, true],
    ['Exists', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, gateway, true],
    ['Exists absent', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, camera, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, camera, true],
    ['DoesNotExist present', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, gateway, false],
    ['Gt hit', { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['50'] }] }, camera, true],
    ['Gt equal is a miss', { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['72'] }] }, camera, false],
    ['Gt decimal bound', { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['71.5'] }] }, camera, true],
    ['Gt non-numeric attribute', { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['0'] }] }, gateway, false],
    ['Gt absent attribute', { matchExpressions: [{ key: 'temp', operator: 'Gt', values: ['0'] }] }, camera, false],
    ['Gt empty attribute is not zero', { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['-1'] }] }, { battery: '' }, false],
    ['Lt hit', { matchExpressions: [{ key: 'battery', operator: 'Lt', values: ['80'] }] }, camera, true],
    ['Lt miss', { matchExpressions: [{ key: 'battery', operator: 'Lt', values: ['-3'] }] }, camera, false],
    ['labels and expressions ANDed', { matchLabels: { class: 'camera' }, matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, camera, false]
  ])('%s', (_name, selector, attrs, expected) => {
    expect(matchesSelector(selector, attrs)).toBe(expected)
  })

  it('does not match inherited object keys', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {})).toBe(false)
  })
})

describe('parseSelector', () => {
  it.each<[string, Selector]>([
    ['', {}],
    ['  ', {}],
    ['class=camera', { matchLabels: { class: 'camera' } }],
    ['class==camera', { matchLabels: { class: 'camera' } }],
    ['class=camera, zone!=dock', { matchLabels: { class: 'camera' }, matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['dock'] }] }],
    ['battery>50', { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['50'] }] }],
    ['battery<12.5', { matchExpressions: [{ key: 'battery', operator: 'Lt', values: ['12.5'] }] }],
    ['zone in (a, b)', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }],
    ['zone notin (a,b)', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a', 'b'] }] }],
    ['!gpu', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }],
    ['gpu', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }],
    ['a=1,a=2', { matchLabels: { a: '1' }, matchExpressions: [{ key: 'a', operator: 'In', values: ['2'] }] }],
    ['tutti.dev/tier=edge', { matchLabels: { 'tutti.dev/tier': 'edge' } }],
    ['class=camera,zone!=dock,battery>50,zone in (a,b),!gpu,gpu', {
      matchLabels: { class: 'camera' },
      matchExpressions: [
        { key: 'zone', operator: 'NotIn', values: ['dock'] },
        { key: 'battery', operator: 'Gt', values: ['50'] },
        { key: 'zone', operator: 'In', values: ['a', 'b'] },
        { key: 'gpu', operator: 'DoesNotExist' },
        { key: 'gpu', operator: 'Exists' }
      ]
    }]
  ])('parses %j', (text, expected) => {
    expect(parseSelector(text)).toEqual(expected)
  })

  it.each([
    ['class=camera,,zone=a', 'empty term'],
    ['class=camera,', 'empty term'],
    ['battery>high', '"high" is not a number'],
    ['zone in (a,,b)', 'empty value'],
    ['zone in (a', 'unbalanced'],
    ['zone)', 'unbalanced'],
    ['bad key=1', 'term "bad key=1"'],
    ['-x', '"-x" is not a label key'],
    ['class=has space', 'term "class=has space"'],
    ['class=a*b', 'matchLabels.class']
  ])('rejects %j naming the bad term', (text, fragment) => {
    let caught: unknown
    try { parseSelector(text) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(SelectorError)
    expect((caught as SelectorError).code).toBe('ERR_SELECTOR')
    expect((caught as SelectorError).message).toContain(fragment)
  })
})

describe('formatSelector', () => {
  it('writes kubectl syntax, labels sorted first', () => {
    expect(formatSelector({
      matchLabels: { zone: 'lobby', class: 'camera' },
      matchExpressions: [
        { key: 'zone', operator: 'NotIn', values: ['dock'] },
        { key: 'tier', operator: 'NotIn', values: ['a', 'b'] },
        { key: 'battery', operator: 'Gt', values: ['50'] },
        { key: 'battery', operator: 'Lt', values: ['90'] },
        { key: 'site', operator: 'In', values: ['x'] },
        { key: 'gpu', operator: 'DoesNotExist' },
        { key: 'npu', operator: 'Exists' }
      ]
    })).toBe('class=camera,zone=lobby,zone!=dock,tier notin (a,b),battery>50,battery<90,site in (x),!gpu,npu')
    expect(formatSelector({})).toBe('')
  })

  it.each([
    'class=camera,zone!=dock,battery>50,zone in (a,b),!gpu,gpu',
    'a=1,a=2',
    'x notin (p,q),y<3'
  ])('round-trips %j', text => {
    const parsed = parseSelector(text)
    expect(parseSelector(formatSelector(parsed))).toEqual(parsed)
  })
})

describe('validateSelector', () => {
  it('accepts valid selectors', () => {
    expect(validateSelector({})).toEqual([])
    expect(validateSelector(parseSelector('class=camera,battery>50,zone in (a,b),!gpu'))).toEqual([])
  })

  it('reports every issue with its path', () => {
    expect(validateSelector({
      matchLabels: { class: 3, 'bad key': 'x' },
      matchExpressions: [
        { key: 'zone', operator: 'In', values: [] },
        { key: 'battery', operator: 'Gt', values: ['fifty'] },
        { key: 'gpu', operator: 'Exists', values: ['x'] },
        { key: 'a', operator: 'Like' },
        { key: 'b', operator: 'Lt', values: ['1', '2'], extra: true }
      ],
      other: 1
    }, 'spec.selector')).toEqual([
      { path: 'spec.selector.other', message: 'unknown field' },
      { path: 'spec.selector.matchLabels.class', message: 'value must be a string' },
      { path: 'spec.selector.matchLabels.bad key', message: expect.stringContaining('key must be') },
      { path: 'spec.selector.matchExpressions[0].values', message: 'must have at least one value for In' },
      { path: 'spec.selector.matchExpressions[1].values[0]', message: 'must be an integer or decimal number' },
      { path: 'spec.selector.matchExpressions[2].values', message: 'must be empty for Exists' },
      { path: 'spec.selector.matchExpressions[3].operator', message: expect.stringContaining('must be one of') },
      { path: 'spec.selector.matchExpressions[4].extra', message: 'unknown field' },
      { path: 'spec.selector.matchExpressions[4].values', message: 'must have exactly one value for Lt' }
    ])
  })

  it('rejects non-objects and too many terms', () => {
    expect(validateSelector('class=camera', 'spec.selector')).toEqual([{ path: 'spec.selector', message: 'must be an object' }])
    expect(validateSelector({ matchExpressions: 'x' })).toEqual([{ path: 'matchExpressions', message: 'must be a list' }])
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']))
    expect(validateSelector({ matchLabels: many })).toEqual([{ path: '(root)', message: '33 terms, at most 32' }])
  })
})
