import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { canonicalBytes } from '../../core/canonical-json.js'
import { EnvelopeErrorCode, sealEnvelope } from '../../core/envelope.js'
import {
  MAX_MESSAGE_LENGTH, MAX_WAVE_COMMAND_BYTES, ROLLOUT_PROGRESS_PAYLOAD_TYPE, RolloutDocumentError, RolloutErrorCode,
  WAVE_COMMAND_PAYLOAD_TYPE, openRolloutProgress, openWaveCommand, sealRolloutProgress, sealWaveCommand
} from './index.js'
import type { RolloutProgress, WaveCommand } from './index.js'
import type { PrivateKey } from '@libp2p/interface'

let coordinatorKey: PrivateKey
let otherKey: PrivateKey
let coordinator: string

beforeAll(async () => {
  coordinatorKey = await generateKeyPair('Ed25519')
  otherKey = await generateKeyPair('Ed25519')
  coordinator = peerIdFromPrivateKey(coordinatorKey).toString()
})

function wave (overrides: Record<string, unknown> = {}): WaveCommand {
  return { kind: 'WaveCommand', rollout: 'vad-canary', policyVersion: 1_764_620_000_000, epoch: 4, coordinator, action: 'activate', seq: 12, issuedAt: 1_764_620_500_000, ...overrides } as WaveCommand
}

function progress (overrides: Record<string, unknown> = {}): RolloutProgress {
  return {
    kind: 'RolloutProgress',
    rollout: 'vad-canary',
    policyVersion: 1_764_620_000_000,
    epoch: 4,
    seq: 30,
    coordinator,
    phase: 'Progressing',
    step: 2,
    stepStartedAt: 1_764_620_400_000,
    updatedAt: 1_764_620_500_000,
    message: '12 of 40 devices active',
    ...overrides
  } as RolloutProgress
}

async function rejection (promise: Promise<unknown>): Promise<{ code: string, message: string }> {
  try {
    await promise
  } catch (err) {
    return err as { code: string, message: string }
  }
  throw new Error('expected a rejection')
}

describe('wave command documents', () => {
  it('opens what it sealed: the command, its signer, the exact bytes', async () => {
    const bytes = await sealWaveCommand(wave(), coordinatorKey)
    expect(bytes.byteLength).toBeLessThan(MAX_WAVE_COMMAND_BYTES / 2)
    const opened = await openWaveCommand(bytes)
    expect(opened.cmd).toEqual(wave())
    expect(opened.signer).toBe(coordinator)
    expect(opened.bytes).toBe(bytes)
  })

  it('refuses to seal a command that names another coordinator than the key', async () => {
    const err = await rejection(sealWaveCommand(wave(), otherKey))
    expect(err).toBeInstanceOf(RolloutDocumentError)
    expect(err.code).toBe(RolloutErrorCode.Signer)
  })

  it.each([
    ['a rollout name that is not a DNS label', { rollout: 'Vad_Canary' }, /WaveCommand.rollout: must be a DNS label/],
    ['epoch 0', { epoch: 0 }, /WaveCommand.epoch: must be an integer >= 1/],
    ['a fractional policy version', { policyVersion: 1.5 }, /WaveCommand.policyVersion/],
    ['a version beyond safe integers', { policyVersion: 2 ** 60 }, /WaveCommand.policyVersion/],
    ['a negative seq', { seq: -1 }, /WaveCommand.seq/],
    ['an unknown action', { action: 'deploy' }, /WaveCommand.action: must be one of activate, revert/],
    ['another kind', { kind: 'RolloutProgress' }, /WaveCommand.kind/],
    ['an unknown field', { cid: 'bafy' }, /WaveCommand.cid: is not a known field/],
    ['a missing field', { issuedAt: undefined }, /WaveCommand.issuedAt: is missing/],
    ['a coordinator that is no peer id', { coordinator: 'not a peer id' }, /WaveCommand.coordinator/]
  ] as Array<[string, Record<string, unknown>, RegExp]>)('refuses to seal, and to open, a command with %s', async (_what, overrides, message) => {
    const cmd = wave(overrides)
    if ('issuedAt' in overrides) delete (cmd as Partial<WaveCommand>).issuedAt
    const sealing = await rejection(sealWaveCommand(cmd, coordinatorKey))
    expect(sealing.code).toBe(RolloutErrorCode.Document)
    expect(sealing.message).toMatch(message)
    // Signed anyway, by the right key, it is still refused on opening.
    const forged = await sealEnvelope(coordinatorKey, WAVE_COMMAND_PAYLOAD_TYPE, canonicalBytes(cmd))
    const opening = await rejection(openWaveCommand(forged))
    expect(opening.code).toBe(RolloutErrorCode.Document)
    expect(opening.message).toMatch(message)
  })

  it('refuses a command signed by a node other than the coordinator it names', async () => {
    const bytes = await sealEnvelope(otherKey, WAVE_COMMAND_PAYLOAD_TYPE, canonicalBytes(wave()))
    const err = await rejection(openWaveCommand(bytes))
    expect(err.code).toBe(RolloutErrorCode.Signer)
    expect(err.message).toContain(peerIdFromPrivateKey(otherKey).toString())
  })

  it('refuses a payload that is not canonical JSON, however well signed', async () => {
    const pretty = new TextEncoder().encode(JSON.stringify(wave(), null, 2))
    const err = await rejection(openWaveCommand(await sealEnvelope(coordinatorKey, WAVE_COMMAND_PAYLOAD_TYPE, pretty)))
    expect(err.code).toBe(RolloutErrorCode.Document)
    expect(err.message).toMatch(/not canonical JSON/)
  })

  it('refuses progress offered as a command (the payload type is part of the signature)', async () => {
    const bytes = await sealRolloutProgress(progress(), coordinatorKey)
    expect((await rejection(openWaveCommand(bytes))).code).toBe(EnvelopeErrorCode.WrongType)
  })

  it('refuses an oversized envelope before decoding it', async () => {
    expect((await rejection(openWaveCommand(new Uint8Array(MAX_WAVE_COMMAND_BYTES + 1)))).code).toBe(EnvelopeErrorCode.TooLarge)
  })
})

describe('rollout progress documents', () => {
  it('opens what it sealed, with and without a trip', async () => {
    for (const doc of [progress(), progress({ phase: 'Aborted', trip: 'errorRate 0.08 > max 0.05 over 12 nodes' })]) {
      const opened = await openRolloutProgress(await sealRolloutProgress(doc, coordinatorKey))
      expect(opened.progress).toEqual(doc)
      expect(opened.signer).toBe(coordinator)
    }
  })

  it.each([
    ['an unknown phase', { phase: 'Done' }, /RolloutProgress.phase/],
    ['a message with a newline', { message: 'line one\nline two' }, /RolloutProgress.message/],
    ['a message that is too long', { message: 'm'.repeat(MAX_MESSAGE_LENGTH + 1) }, /RolloutProgress.message: must be text of at most 500/],
    ['a trip that is not text', { trip: { metric: 'errorRate' } }, /RolloutProgress.trip/],
    ['a negative step', { step: -1 }, /RolloutProgress.step/]
  ])('refuses progress with %s', async (_what, overrides, message) => {
    const err = await rejection(sealRolloutProgress(progress(overrides), coordinatorKey))
    expect(err.code).toBe(RolloutErrorCode.Document)
    expect(err.message).toMatch(message)
  })

  it('refuses progress signed by a node other than the coordinator it names', async () => {
    const bytes = await sealEnvelope(otherKey, ROLLOUT_PROGRESS_PAYLOAD_TYPE, canonicalBytes(progress()))
    expect((await rejection(openRolloutProgress(bytes))).code).toBe(RolloutErrorCode.Signer)
  })
})
