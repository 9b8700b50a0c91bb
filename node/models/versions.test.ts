import { describe, expect, it } from 'vitest'
import { announcedCandidates, announcedConflicts, announcersOf, pickAnnouncedVersion } from './versions.js'
import type { VersionHolder } from './versions.js'

type Held = VersionHolder['models'][number]
const m = (version: string, cid: string, state: Held['state'] = 'active', name = 'face'): Held => ({ name, version, cid, state })
const peer = (models: Held[], status: VersionHolder['status'] = 'alive'): VersionHolder => ({ status, models })

describe('pickAnnouncedVersion: which manifest NAME[@VERSION] means from what peers hold', () => {
  const cases: Array<{ name: string, ref: [string, string | undefined], members: VersionHolder[], want: string | undefined }> = [
    { name: 'nobody holds it', ref: ['face', undefined], members: [peer([m('1.0.0', 'a', 'active', 'other')])], want: undefined },
    { name: 'a bare name takes the highest version', ref: ['face', undefined], members: [peer([m('1.2.0', 'a')]), peer([m('1.10.0', 'b')])], want: 'b' },
    { name: 'a release outranks its pre-release', ref: ['face', undefined], members: [peer([m('2.0.0-rc.1', 'a')]), peer([m('2.0.0', 'b', 'staged')])], want: 'b' },
    { name: 'an exact version takes that version, not the highest', ref: ['face', '1.0.0'], members: [peer([m('1.0.0', 'a'), m('2.0.0', 'b')])], want: 'a' },
    { name: 'an exact version nobody holds', ref: ['face', '3.0.0'], members: [peer([m('1.0.0', 'a')])], want: undefined },
    { name: 'partial copies do not count', ref: ['face', undefined], members: [peer([m('2.0.0', 'b', 'partial'), m('1.0.0', 'a', 'previous')])], want: 'a' },
    { name: 'dead peers do not count', ref: ['face', undefined], members: [peer([m('2.0.0', 'b')], 'dead'), peer([m('1.0.0', 'a')], 'suspect')], want: 'a' },
    { name: 'a version that is not semver is ignored', ref: ['face', undefined], members: [peer([m('latest', 'x'), m('1.0.0', 'a')])], want: 'a' },
    { name: 'one version packed twice: more holders win', ref: ['face', undefined], members: [peer([m('1.0.0', 'b')]), peer([m('1.0.0', 'c')]), peer([m('1.0.0', 'c')])], want: 'c' },
    { name: 'one version packed twice, as many holders: the lower CID wins', ref: ['face', undefined], members: [peer([m('1.0.0', 'd')]), peer([m('1.0.0', 'c')])], want: 'c' },
    { name: 'a peer listing a CID twice counts once', ref: ['face', undefined], members: [peer([m('1.0.0', 'b'), m('1.0.0', 'b')]), peer([m('1.0.0', 'a')])], want: 'a' }
  ]
  for (const c of cases) {
    it(c.name, () => {
      expect(pickAnnouncedVersion(c.ref[0], c.ref[1], c.members)?.cid).toBe(c.want)
    })
  }

  it('reports the version and its holders', () => {
    expect(pickAnnouncedVersion('face', undefined, [peer([m('1.0.0', 'a')]), peer([m('1.0.0', 'a', 'staged')])])).toEqual({ cid: 'a', version: '1.0.0', holders: 2 })
  })
})

describe('announcedCandidates and announcedConflicts: what peers claim, to be checked against signed manifests', () => {
  const at = (peerId: string, models: Held[], status: VersionHolder['status'] = 'alive'): VersionHolder => ({ peerId, status, models })

  it('lists every candidate best first with the peers announcing it', () => {
    const members = [at('p1', [m('2.0.0', 'b'), m('1.0.0', 'a')]), at('p2', [m('2.0.0', 'b')]), at('p3', [m('99.0.0', 'a')]), at('p4', [m('3.0.0', 'z')], 'dead')]
    expect(announcedCandidates('face', undefined, members)).toEqual([
      { cid: 'a', version: '99.0.0', peers: ['p3'] },
      { cid: 'b', version: '2.0.0', peers: ['p1', 'p2'] },
      { cid: 'a', version: '1.0.0', peers: ['p1'] }
    ])
    expect(announcedCandidates('face', '2.0.0', members).map(c => c.cid)).toEqual(['b'])
    expect(announcersOf('a', members)).toEqual(['p1', 'p3'])
  })

  const cases: Array<{ name: string, held: Array<{ name: string, version: string, cid: string }>, members: VersionHolder[], want: string[] }> = [
    { name: 'one CID everywhere is no conflict', held: [{ name: 'face', version: '1.0.0', cid: 'a' }], members: [at('p1', [m('1.0.0', 'a')])], want: [] },
    { name: 'held here and another CID on a peer', held: [{ name: 'face', version: '1.0.0', cid: 'a' }], members: [at('p1', [m('1.0.0', 'b', 'partial')])], want: ['face@1.0.0:a,b'] },
    { name: 'two peers, two CIDs', held: [], members: [at('p1', [m('1.0.0', 'a')]), at('p2', [m('1.0.0', 'b', 'staged')])], want: ['face@1.0.0:a,b'] },
    { name: 'dead peers do not count', held: [], members: [at('p1', [m('1.0.0', 'a')]), at('p2', [m('1.0.0', 'b')], 'dead')], want: [] },
    { name: 'different versions are no conflict', held: [], members: [at('p1', [m('1.0.0', 'a')]), at('p2', [m('2.0.0', 'b')])], want: [] }
  ]
  for (const c of cases) {
    it(c.name, () => {
      expect(announcedConflicts(c.held, c.members).map(x => `${x.name}@${x.version}:${x.cids.map(y => y.cid).sort().join(',')}`)).toEqual(c.want)
    })
  }
})
