import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { describe, expect, it, vi } from 'vitest'
import { canonicalBytes } from '../../core/canonical-json.js'
import { manifestCid } from '../../core/cid.js'
import { sealEnvelope } from '../../core/envelope.js'
import { SignedEnvelope } from '../../core/pb/envelope.js'
import { MAX_POLICY_BYTES, POLICY_PAYLOAD_TYPE } from '../../protocols/policy/index.js'
import { createTestFleet } from '../../sim/local-mesh.js'
import { openPolicy, sealPolicy, validatePolicyDocument } from './document.js'
import { PolicyErrorCode } from './errors.js'
import type { PolicyDocument } from './document.js'

function doc (overrides: Partial<PolicyDocument> = {}): PolicyDocument {
  return {
    kind: 'RolloutPolicy',
    schema: 1,
    name: 'face-v2',
    version: 1_764_620_000_000,
    issuedAt: '2026-12-01T20:00:00.000Z',
    spec: { model: { name: 'face', version: '2.0.0', cid: 'bagaaierarigtmt6iojwgrgiajm2dbk6xjg66krpjfxpjyngisoqfc25hi76q' }, selector: { matchLabels: { class: 'camera' } } },
    control: { paused: false, resumedThrough: -1, undo: false, deleted: false },
    ...overrides
  }
}

describe('policy documents', () => {
  it('opens what an admin sealed, with its signer and payload CID', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const bytes = await sealPolicy(doc(), adminKey)
    const policy = await openPolicy(bytes, fleet)
    expect(policy.doc).toEqual(doc())
    expect(policy.signer).toBe(peerIdFromPublicKey(adminKey.publicKey).toString())
    expect(policy.cid).toBe(manifestCid(canonicalBytes(doc())))
    expect(policy.envelope).toBe(bytes)
  })

  it('rejects a forged signature', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const pb = SignedEnvelope.decode(await sealPolicy(doc(), adminKey))
    const forged = SignedEnvelope.encode({ ...pb, payload: canonicalBytes(doc({ control: { paused: false, resumedThrough: -1, undo: true, deleted: false } })) as Uint8Array<ArrayBuffer> })
    await expect(openPolicy(forged, fleet)).rejects.toMatchObject({ code: PolicyErrorCode.Signature })
  })

  it('rejects a policy signed by a key that is not an admin of the fleet', async () => {
    const { fleet } = await createTestFleet()
    const stranger = await generateKeyPair('Ed25519')
    const bytes = await sealPolicy(doc(), stranger)
    await expect(openPolicy(bytes, fleet)).rejects.toMatchObject({ code: PolicyErrorCode.NotAdmin })
  })

  it('rejects an oversized envelope before decoding it', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const big = await sealEnvelope(adminKey, POLICY_PAYLOAD_TYPE, canonicalBytes(doc({ spec: { pad: 'x'.repeat(MAX_POLICY_BYTES) } })))
    const decode = vi.spyOn(SignedEnvelope, 'decode')
    await expect(openPolicy(big, fleet)).rejects.toMatchObject({ code: PolicyErrorCode.TooLarge })
    expect(decode).not.toHaveBeenCalled()
    vi.restoreAllMocks()
    await expect(sealPolicy(doc({ spec: { pad: 'x'.repeat(MAX_POLICY_BYTES) } }), adminKey)).rejects.toMatchObject({ code: PolicyErrorCode.TooLarge })
  })

  it('rejects a payload that is not canonical JSON, and another payload type', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const spaced = new TextEncoder().encode(JSON.stringify(doc(), null, 2))
    await expect(openPolicy(await sealEnvelope(adminKey, POLICY_PAYLOAD_TYPE, spaced), fleet)).rejects.toMatchObject({ code: PolicyErrorCode.Invalid, message: /not canonical/ })
    const other = await sealEnvelope(adminKey, 'tutti/model-manifest/1', canonicalBytes(doc()))
    await expect(openPolicy(other, fleet)).rejects.toMatchObject({ code: PolicyErrorCode.Invalid })
    await expect(openPolicy(Uint8Array.of(0xff, 0xff, 0xff), fleet)).rejects.toMatchObject({ code: PolicyErrorCode.Invalid })
  })

  it.each<[string, unknown, RegExp]>([
    ['a wrong kind', { ...doc(), kind: 'Rollout' }, /kind/],
    ['a newer schema', { ...doc(), schema: 2 }, /schema 2 is newer/],
    ['a name that is not a DNS label', { ...doc(), name: 'Face_V2' }, /DNS label/],
    ['a name of 64 characters', { ...doc(), name: 'a'.repeat(64) }, /DNS label/],
    ['version 0', { ...doc(), version: 0 }, /version/],
    ['a fractional version', { ...doc(), version: 1.5 }, /version/],
    ['an unsafe version', { ...doc(), version: 2 ** 53 }, /version/],
    ['issuedAt that is not RFC 3339', { ...doc(), issuedAt: 'yesterday' }, /issuedAt/],
    ['issuedAt on day 32', { ...doc(), issuedAt: '2026-12-32T00:00:00Z' }, /issuedAt/],
    ['a missing control field', { ...doc(), control: { paused: false, resumedThrough: -1, undo: false } }, /control.deleted/],
    ['resumedThrough below -1', { ...doc(), control: { paused: false, resumedThrough: -2, undo: false, deleted: false } }, /resumedThrough/],
    ['an unknown control field', { ...doc(), control: { ...doc().control, force: true } }, /unknown field "force"/],
    ['an unknown top-level field', { ...doc(), extra: 1 }, /unknown field "extra"/],
    ['a spec that is not an object', { ...doc(), spec: [1] }, /spec/]
  ])('refuses %s', (_what, value, message) => {
    expect(() => validatePolicyDocument(value)).toThrow(message)
    try {
      validatePolicyDocument(value)
    } catch (err) {
      expect((err as { code?: string }).code).toBe(PolicyErrorCode.Invalid)
    }
  })

  it('checks the spec with the injected validator, on seal and on open', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const validateSpec = (spec: unknown): void => {
      if ((spec as { selector?: unknown }).selector == null) throw new Error('spec.selector: required')
    }
    const noSelector = doc({ spec: { model: { cid: 'x' } } })
    await expect(sealPolicy(noSelector, adminKey, { validateSpec })).rejects.toMatchObject({ code: PolicyErrorCode.Invalid, message: /spec.selector: required/ })
    const bytes = await sealPolicy(noSelector, adminKey)
    await expect(openPolicy(bytes, fleet, validateSpec)).rejects.toMatchObject({ code: PolicyErrorCode.Invalid })
    await expect(openPolicy(await sealPolicy(doc(), adminKey), fleet, validateSpec)).resolves.toMatchObject({ doc: { name: 'face-v2' } })
  })
})
