import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { canonicalBytes, canonicalJson, parseCanonical } from './canonical-json.js'
import { EnvelopeErrorCode, openEnvelope, sealEnvelope, signedBytes } from './envelope.js'
import { SignedEnvelope } from './pb/envelope.js'

const TYPE = 'tutti/test/1'

describe('signed envelope', () => {
  it('opens what it sealed and names the signer', async () => {
    const key = await generateKeyPair('Ed25519')
    const payload = canonicalBytes({ b: 1, a: 'x' })
    const bytes = await sealEnvelope(key, TYPE, payload)
    const opened = await openEnvelope(bytes, { maxBytes: 4096, payloadType: TYPE })
    expect(opened.signer).toBe(peerIdFromPublicKey(key.publicKey).toString())
    expect(new TextDecoder().decode(opened.payload)).toBe('{"a":"x","b":1}')
    expect(opened.bytes).toBe(bytes)
  })

  it('rejects an oversized envelope before decoding', async () => {
    await expect(openEnvelope(new Uint8Array(5000).fill(0xff), { maxBytes: 4096, payloadType: TYPE }))
      .rejects.toMatchObject({ code: EnvelopeErrorCode.TooLarge })
  })

  it('rejects bytes that do not decode', async () => {
    await expect(openEnvelope(Uint8Array.of(0xff, 0xff, 0xff), { maxBytes: 4096, payloadType: TYPE }))
      .rejects.toMatchObject({ code: EnvelopeErrorCode.Invalid })
  })

  it('rejects a signature made for another payload type (domain separation)', async () => {
    const key = await generateKeyPair('Ed25519')
    const bytes = await sealEnvelope(key, 'tutti/other/1', canonicalBytes({ a: 1 }))
    await expect(openEnvelope(bytes, { maxBytes: 4096, payloadType: TYPE })).rejects.toMatchObject({ code: EnvelopeErrorCode.WrongType })
    // Relabelled as the expected type, the signature no longer verifies.
    const pb = SignedEnvelope.decode(bytes)
    const relabelled = SignedEnvelope.encode({ ...pb, payloadType: TYPE })
    await expect(openEnvelope(relabelled, { maxBytes: 4096, payloadType: TYPE })).rejects.toMatchObject({ code: EnvelopeErrorCode.Signature })
  })

  it('rejects a payload changed after signing', async () => {
    const key = await generateKeyPair('Ed25519')
    const bytes = await sealEnvelope(key, TYPE, canonicalBytes({ version: 1 }))
    const pb = SignedEnvelope.decode(bytes)
    const tampered = SignedEnvelope.encode({ ...pb, payload: canonicalBytes({ version: 2 }) as Uint8Array<ArrayBuffer> })
    await expect(openEnvelope(tampered, { maxBytes: 4096, payloadType: TYPE })).rejects.toMatchObject({ code: EnvelopeErrorCode.Signature })
  })

  it('frames every part so no two (type, payload) pairs sign the same bytes', () => {
    const a = signedBytes('ab', new TextEncoder().encode('c'))
    const b = signedBytes('a', new TextEncoder().encode('bc'))
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
  })
})

describe('canonical JSON', () => {
  it.each([
    [{ b: 2, a: [1, { d: null, c: true }] }, '{"a":[1,{"c":true,"d":null}],"b":2}'],
    [{ skip: undefined, k: 'v' }, '{"k":"v"}'],
    ['é', '"é"']
  ])('writes %j as %s', (value, text) => {
    expect(canonicalJson(value)).toBe(text)
  })

  it('refuses NaN', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError)
  })

  it('tells canonical bytes from merely valid JSON', () => {
    expect(parseCanonical(new TextEncoder().encode('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } })
    expect(parseCanonical(new TextEncoder().encode('{ "a": 1 }'))).toMatchObject({ ok: false })
    expect(parseCanonical(Uint8Array.of(0xff))).toMatchObject({ ok: false })
  })
})
