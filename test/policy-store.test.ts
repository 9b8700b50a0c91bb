import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { canonicalBytes } from '../core/canonical-json.js'
import { sealEnvelope } from '../core/envelope.js'
import { silentLogger } from '../core/logger.js'
import { SignedEnvelope } from '../core/pb/envelope.js'
import { MAX_POLICY_BYTES, POLICY_PAYLOAD_TYPE } from '../protocols/policy/index.js'
import { sealPolicy } from '../node/policy/document.js'
import { PolicyErrorCode } from '../node/policy/errors.js'
import { POLICIES_DIR, PolicyStore } from '../node/policy/store.js'
import { policyDoc } from './policy-helpers.js'
import { createTestFleet } from '../sim/local-mesh.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PrivateKey } from '@libp2p/interface'

describe('the policy store on disk', () => {
  const dirs: string[] = []
  let fleet: FleetConfig
  let adminKey: PrivateKey

  afterEach(async () => {
    await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  })

  async function dataDir (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-policy-'))
    dirs.push(dir)
    return dir
  }

  async function openStore (dir?: string): Promise<PolicyStore> {
    const store = new PolicyStore({ fleet, logger: silentLogger, dataDir: dir })
    await store.load()
    return store
  }

  it('keeps the newest version across a restart and refuses a replay of an older one', async () => {
    ({ fleet, adminKey } = await createTestFleet())
    const dir = await dataDir()
    const v1 = await sealPolicy(policyDoc('cams', 1), adminKey)
    const v2 = await sealPolicy(policyDoc('cams', 2), adminKey)
    const first = await openStore(dir)
    expect((await first.offer(v1, 'peer-a')).kind).toBe('accepted')
    expect((await first.offer(v2, 'peer-a')).kind).toBe('accepted')
    expect(await readdir(join(dir, POLICIES_DIR))).toEqual(['cams.policy'])
    expect(Buffer.from(await readFile(join(dir, POLICIES_DIR, 'cams.policy'))).equals(Buffer.from(v2))).toBe(true)

    const restarted = await openStore(dir)
    expect(restarted.policy('cams')?.doc.version).toBe(2)
    expect(restarted.digest()).toEqual(first.digest())
    const replay = await restarted.offer(v1, 'peer-b')
    expect(replay).toMatchObject({ kind: 'rejected', name: 'cams', error: { code: PolicyErrorCode.Stale } })
    expect((await restarted.offer(v2, 'peer-b')).kind).toBe('duplicate')
    expect(restarted.policy('cams')?.doc.version).toBe(2)
    expect(restarted.stats()).toMatchObject({ held: 1, accepted: 0, duplicates: 1, rejected: { [PolicyErrorCode.Stale]: 1 } })
  })

  it('never lets a replay resurrect a deleted rollout, also after a restart', async () => {
    ({ fleet, adminKey } = await createTestFleet())
    const dir = await dataDir()
    const live = await sealPolicy(policyDoc('cams', 1), adminKey)
    const deleted = await sealPolicy(policyDoc('cams', 2, { deleted: true }), adminKey)
    const store = await openStore(dir)
    await store.offer(live, 'p')
    await store.offer(deleted, 'p')
    const restarted = await openStore(dir)
    expect(restarted.policy('cams')?.doc.control.deleted).toBe(true)
    expect(await restarted.offer(live, 'p')).toMatchObject({ kind: 'rejected', error: { code: PolicyErrorCode.Stale } })
    expect(restarted.stats()).toMatchObject({ held: 1, tombstones: 1 })
  })

  it('rejects forged, non-admin and oversized envelopes by code and changes nothing, also after a restart', async () => {
    ({ fleet, adminKey } = await createTestFleet())
    const dir = await dataDir()
    const store = await openStore(dir)
    const good = await sealPolicy(policyDoc('cams', 1), adminKey)
    await store.offer(good, 'p')
    const pb = SignedEnvelope.decode(await sealPolicy(policyDoc('cams', 9), adminKey))
    const forged = SignedEnvelope.encode({ ...pb, payload: canonicalBytes(policyDoc('cams', 10)) as Uint8Array<ArrayBuffer> })
    const stranger = await sealPolicy(policyDoc('cams', 11), await generateKeyPair('Ed25519'))
    const oversized = await sealEnvelope(adminKey, POLICY_PAYLOAD_TYPE, canonicalBytes({ ...policyDoc('cams', 12), spec: { pad: 'x'.repeat(MAX_POLICY_BYTES) } }))
    for (const s of [store, await openStore(dir)]) {
      expect(await s.offer(forged, 'mallory')).toMatchObject({ kind: 'rejected', error: { code: PolicyErrorCode.Signature } })
      expect(await s.offer(stranger, 'mallory')).toMatchObject({ kind: 'rejected', error: { code: PolicyErrorCode.NotAdmin } })
      expect(await s.offer(oversized, 'mallory')).toMatchObject({ kind: 'rejected', error: { code: PolicyErrorCode.TooLarge } })
      expect(s.policy('cams')?.doc.version).toBe(1)
      expect(s.stats().rejected).toMatchObject({ [PolicyErrorCode.Signature]: 1, [PolicyErrorCode.NotAdmin]: 1, [PolicyErrorCode.TooLarge]: 1 })
    }
    expect(await readdir(join(dir, POLICIES_DIR))).toEqual(['cams.policy'])
  })

  it('ignores and reports a tampered file, a misnamed file and leftovers of an interrupted write', async () => {
    ({ fleet, adminKey } = await createTestFleet())
    const dir = await dataDir()
    const store = await openStore(dir)
    await store.offer(await sealPolicy(policyDoc('cams', 1), adminKey), 'p')
    await store.offer(await sealPolicy(policyDoc('gates', 1), adminKey), 'p')
    await store.offer(await sealPolicy(policyDoc('doors', 1), adminKey), 'p')
    const policies = join(dir, POLICIES_DIR)
    // Flip one byte inside the signed payload of cams: the signature no longer verifies.
    const bytes = await readFile(join(policies, 'cams.policy'))
    const at = bytes.indexOf('"version":1')
    bytes[at + 10] = '7'.charCodeAt(0)
    await writeFile(join(policies, 'cams.policy'), bytes)
    // gates' valid envelope under another rollout's name.
    await writeFile(join(policies, 'other.policy'), await readFile(join(policies, 'gates.policy')))
    await writeFile(join(policies, '.doors.policy.abc123.tmp'), 'partial')

    const restarted = await openStore(dir)
    expect(restarted.list().map(p => p.doc.name)).toEqual(['doors', 'gates'])
    expect(restarted.stats().ignoredFiles).toEqual([
      { file: join(policies, 'cams.policy'), code: PolicyErrorCode.Signature, message: expect.stringMatching(/does not verify/) },
      { file: join(policies, 'other.policy'), code: PolicyErrorCode.Invalid, message: 'holds the policy of "gates"' }
    ])
    expect((await readdir(policies)).sort()).toEqual(['cams.policy', 'doors.policy', 'gates.policy', 'other.policy'])
    // The ignored rollout is not held: a valid copy from a peer is taken again.
    expect((await restarted.offer(await sealPolicy(policyDoc('cams', 1), adminKey), 'p')).kind).toBe('accepted')
  })

  it('lives in memory without a data directory', async () => {
    ({ fleet, adminKey } = await createTestFleet())
    const store = await openStore()
    expect((await store.offer(await sealPolicy(policyDoc('cams', 3), adminKey), 'p')).kind).toBe('accepted')
    expect(store.digest()).toEqual([{ name: 'cams', version: 3, cid: store.policy('cams')!.cid }])
  })

  it('serializes concurrent copies of one policy: one is accepted, the rest are duplicates', async () => {
    ({ fleet, adminKey } = await createTestFleet())
    const store = await openStore(await dataDir())
    const v1 = await sealPolicy(policyDoc('cams', 1), adminKey)
    const results = await Promise.all([1, 2, 3, 4].map(async () => await store.offer(v1, 'p')))
    expect(results.map(r => r.kind).sort()).toEqual(['accepted', 'duplicate', 'duplicate', 'duplicate'])
  })
})
