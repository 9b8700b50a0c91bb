import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream, pbStream } from '@libp2p/utils'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { canonicalBytes, canonicalJson } from '../../core/canonical-json.js'
import { ManualClock } from '../../core/clock.js'
import { EnvelopeErrorCode, sealEnvelope } from '../../core/envelope.js'
import { silentLogger } from '../../core/logger.js'
import { SignedEnvelope } from '../../core/pb/envelope.js'
import { createMeshLibp2p } from '../../node/mesh/libp2p.js'
import {
  DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_BYTES, MAX_WAVE_COMMAND_BYTES, ROLLOUT_PROTOCOL, RolloutErrorCode,
  RolloutRemoteError, RolloutRequestError, RolloutTransportError, WAVE_COMMAND_PAYLOAD_TYPE, command, openRolloutProgress,
  prepare, report, rolloutServer, sealRolloutProgress, sealWaveCommand
} from './index.js'
import { RolloutRequest, RolloutResponse } from './pb/rollout.js'
import type {
  AcceptorCommandOptions, CommandAck, DeviceReport, PrepareRequest, RolloutAcceptor, RolloutPromise, RolloutServer, WaveCommand
} from './index.js'
import type { MeshLibp2p } from '../../node/mesh/libp2p.js'
import type { AbortOptions, PeerId, PrivateKey } from '@libp2p/interface'

const SWARM_KEY = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${'5e'.repeat(32)}`)

/** The device's side, scripted: records every call, answers what the test sets. */
class ScriptedAcceptor implements RolloutAcceptor {
  readonly calls: Array<{ method: string, from: string, arg: unknown, signal?: AbortSignal }> = []
  onPrepare?: (from: string, req: PrepareRequest) => Promise<RolloutPromise>
  onCommand?: (from: string, envelope: Uint8Array, options: AcceptorCommandOptions) => Promise<CommandAck>
  onReport?: (from: string, rollout: string, options: AbortOptions) => Promise<DeviceReport>

  async prepare (from: string, req: PrepareRequest, options: AbortOptions): Promise<RolloutPromise> {
    this.calls.push({ method: 'prepare', from, arg: req, signal: options.signal })
    return await this.onPrepare!(from, req)
  }

  async command (from: string, envelope: Uint8Array, options: AcceptorCommandOptions): Promise<CommandAck> {
    this.calls.push({ method: 'command', from, arg: options.verified.cmd, signal: options.signal })
    return await this.onCommand!(from, envelope, options)
  }

  async report (from: string, rollout: string, options: AbortOptions): Promise<DeviceReport> {
    this.calls.push({ method: 'report', from, arg: rollout, signal: options.signal })
    return await this.onReport!(from, rollout, options)
  }
}

function device (overrides: Partial<DeviceReport> = {}): DeviceReport {
  return {
    rollout: 'vad-canary',
    policyVersion: 7,
    state: 'Active',
    reason: '',
    cid: 'bagaaierarigtmt6iojwgrgiajm2dbk6xjg66krpjfxpjyngisoqfc25hi76q',
    previousCid: 'bagaaieraxzc4bcv4yekdyg2zzxzbdzyqvtukxvbdnppx4imgkkfqpppvkmiq',
    updatedMs: 1_764_620_500_000,
    ...overrides
  }
}

async function node (key: PrivateKey, tag: string): Promise<MeshLibp2p> {
  return await createMeshLibp2p({ privateKey: key, swarmKey: SWARM_KEY, transport: 'memory', listen: [`/memory/rollout-test-${tag}`], start: true })
}

async function thrown (promise: Promise<unknown>): Promise<{ code: string, message: string }> {
  try {
    await promise
  } catch (err) {
    return err as { code: string, message: string }
  }
  throw new Error('expected a rejection')
}

describe('the rollout protocol between real nodes', () => {
  let deviceNode: MeshLibp2p
  let coordinatorNode: MeshLibp2p
  let strangerNode: MeshLibp2p
  let coordinatorKey: PrivateKey
  let strangerKey: PrivateKey
  let coordinator: string
  let target: PeerId
  let acceptor: ScriptedAcceptor
  let server: RolloutServer
  /** The device's clock: never advanced, so its timeouts never interfere. */
  const deviceClock = new ManualClock()
  /** The coordinator's clock: advanced only by the timeout test. */
  const clock = new ManualClock()

  function wave (overrides: Partial<WaveCommand> = {}): WaveCommand {
    return { kind: 'WaveCommand', rollout: 'vad-canary', policyVersion: 7, epoch: 3, coordinator, action: 'activate', seq: 1, issuedAt: 1_764_620_500_000, ...overrides }
  }

  /** One hand-written request, answered with the raw response: what a faulty or hostile peer could send. */
  async function rawExchange (request: RolloutRequest | Uint8Array): Promise<RolloutResponse> {
    const stream = await coordinatorNode.dialProtocol(target, ROLLOUT_PROTOCOL)
    if (request instanceof Uint8Array) {
      await lpStream(stream).write(request)
    } else {
      await pbStream(stream).write(request, RolloutRequest)
    }
    const response = await pbStream(stream).read(RolloutResponse)
    await stream.close()
    return response
  }

  beforeAll(async () => {
    const deviceKey = await generateKeyPair('Ed25519')
    coordinatorKey = await generateKeyPair('Ed25519')
    strangerKey = await generateKeyPair('Ed25519')
    deviceNode = await node(deviceKey, `device-${Math.floor(Math.random() * 1e9)}`)
    coordinatorNode = await node(coordinatorKey, `coordinator-${Math.floor(Math.random() * 1e9)}`)
    strangerNode = await node(strangerKey, `stranger-${Math.floor(Math.random() * 1e9)}`)
    coordinator = coordinatorNode.peerId.toString()
    target = deviceNode.peerId
    acceptor = new ScriptedAcceptor()
    server = rolloutServer()({ libp2p: deviceNode, acceptor, clock: deviceClock, logger: silentLogger })
    await server.start()
    for (const n of [coordinatorNode, strangerNode]) await n.dial(deviceNode.getMultiaddrs())
  })

  afterAll(async () => {
    await server?.stop()
    await Promise.all([deviceNode, coordinatorNode, strangerNode].map(async n => { await n?.stop() }))
  })

  beforeEach(() => {
    acceptor.calls.length = 0
    acceptor.onPrepare = undefined
    acceptor.onCommand = undefined
    acceptor.onReport = undefined
  })

  it('prepare: the device promises, reports where it stands and hands over the progress it holds', async () => {
    const held = await sealRolloutProgress({
      kind: 'RolloutProgress', rollout: 'vad-canary', policyVersion: 7, epoch: 2, seq: 40, coordinator, phase: 'Paused', step: 1, stepStartedAt: 1_764_620_000_000, updatedAt: 1_764_620_400_000, message: 'paused at 10%'
    }, coordinatorKey)
    acceptor.onPrepare = async (from, req) => ({ ok: true, promisedEpoch: req.epoch, promisedTo: from, device: device(), progress: held })
    const promise = await prepare(coordinatorNode, target, { rollout: 'vad-canary', policyVersion: 7, epoch: 3 }, { clock })
    expect(acceptor.calls).toMatchObject([{ method: 'prepare', from: coordinator, arg: { rollout: 'vad-canary', policyVersion: 7, epoch: 3 } }])
    expect(promise).toEqual({ ok: true, promisedEpoch: 3, promisedTo: coordinator, device: device(), progress: held })
    expect((await openRolloutProgress(promise.progress)).progress.seq).toBe(40)
  })

  it('prepare: a refusal is an answer that names the standing promise', async () => {
    const other = strangerNode.peerId.toString()
    acceptor.onPrepare = async () => ({ ok: false, promisedEpoch: 9, promisedTo: other, device: device({ state: 'Downloading', cid: '', previousCid: '' }), progress: new Uint8Array() })
    const promise = await prepare(coordinatorNode, target, { rollout: 'vad-canary', policyVersion: 7, epoch: 3 }, { clock })
    expect(promise).toEqual({ ok: false, promisedEpoch: 9, promisedTo: other, device: device({ state: 'Downloading', cid: '', previousCid: '' }), progress: new Uint8Array() })
  })

  it('command: a sealed command reaches the acceptor verified, and its ack comes back', async () => {
    const envelope = await sealWaveCommand(wave(), coordinatorKey)
    acceptor.onCommand = async (_from, bytes, options) => {
      expect(bytes).toEqual(envelope)
      expect(options.verified.signer).toBe(coordinator)
      return { ok: true, code: '', message: 'activating', device: device({ state: 'Downloading' }) }
    }
    const ack = await command(coordinatorNode, target, envelope, { clock })
    expect(ack).toEqual({ ok: true, code: '', message: 'activating', device: device({ state: 'Downloading' }) })
    expect(acceptor.calls).toMatchObject([{ method: 'command', from: coordinator, arg: wave() }])
  })

  it('command: a stale epoch is refused by the acceptor with ERR_STALE_EPOCH and the device\'s state', async () => {
    acceptor.onCommand = async () => ({ ok: false, code: RolloutErrorCode.StaleEpoch, message: 'epoch 3 < promised 5', device: device() })
    const ack = await command(coordinatorNode, target, await sealWaveCommand(wave(), coordinatorKey), { clock })
    expect(ack).toEqual({ ok: false, code: 'ERR_STALE_EPOCH', message: 'epoch 3 < promised 5', device: device() })
  })

  it('command: refuses undecodable envelope bytes with ERR_ENVELOPE_INVALID, before the acceptor', async () => {
    const ack = await command(coordinatorNode, target, Uint8Array.of(0xff, 0xff, 0xff, 0x01), { clock })
    expect(ack).toMatchObject({ ok: false, code: EnvelopeErrorCode.Invalid })
    expect(ack.device).toBeUndefined()
    expect(acceptor.calls).toEqual([])
  })

  it('command: refuses a forged envelope (payload altered after signing) with ERR_ENVELOPE_SIGNATURE', async () => {
    const sealed = SignedEnvelope.decode(await sealWaveCommand(wave(), coordinatorKey))
    const altered = SignedEnvelope.encode({ ...sealed, payload: canonicalBytes(wave({ epoch: 99 })) as Uint8Array<ArrayBuffer> })
    const ack = await command(coordinatorNode, target, altered, { clock })
    expect(ack).toMatchObject({ ok: false, code: EnvelopeErrorCode.Signature })
    expect(acceptor.calls).toEqual([])
  })

  it('command: refuses a command signed by a node other than the coordinator it names with ERR_ROLLOUT_SIGNER', async () => {
    const envelope = await sealEnvelope(strangerKey, WAVE_COMMAND_PAYLOAD_TYPE, canonicalBytes(wave()))
    const ack = await command(coordinatorNode, target, envelope, { clock })
    expect(ack).toMatchObject({ ok: false, code: RolloutErrorCode.Signer })
    expect(ack.message).toContain(strangerNode.peerId.toString())
    expect(acceptor.calls).toEqual([])
  })

  it('command: refuses a genuine command relayed by another peer with ERR_ROLLOUT_SENDER', async () => {
    const envelope = await sealWaveCommand(wave(), coordinatorKey)
    const ack = await command(strangerNode, target, envelope, { clock })
    expect(ack).toMatchObject({ ok: false, code: RolloutErrorCode.Sender })
    expect(acceptor.calls).toEqual([])
  })

  it('command: refuses a signed payload that is not canonical with ERR_ROLLOUT_DOCUMENT', async () => {
    const spaced = new TextEncoder().encode(canonicalJson(wave()).replace(',', ', '))
    const ack = await command(coordinatorNode, target, await sealEnvelope(coordinatorKey, WAVE_COMMAND_PAYLOAD_TYPE, spaced), { clock })
    expect(ack).toMatchObject({ ok: false, code: RolloutErrorCode.Document })
    expect(acceptor.calls).toEqual([])
  })

  it('command: refuses an envelope over MAX_WAVE_COMMAND_BYTES with ERR_ENVELOPE_TOO_LARGE (and the client will not send one)', async () => {
    const big = new Uint8Array(MAX_WAVE_COMMAND_BYTES + 1)
    const res = await rawExchange({ command: { envelope: big } })
    expect(res.ack).toMatchObject({ ok: false, code: EnvelopeErrorCode.TooLarge })
    const local = await thrown(command(coordinatorNode, target, big, { clock }))
    expect(local).toBeInstanceOf(RolloutRequestError)
    expect(local.code).toBe(RolloutErrorCode.BadRequest)
    expect(acceptor.calls).toEqual([])
  })

  it('refuses a request over MAX_REQUEST_BYTES with ERR_ROLLOUT_TOO_LARGE, without decoding it', async () => {
    const res = await rawExchange({ command: { envelope: new Uint8Array(MAX_REQUEST_BYTES) } })
    expect(res.error).toMatchObject({ code: RolloutErrorCode.TooLarge })
    expect(acceptor.calls).toEqual([])
  })

  it('refuses a request that does not decode with ERR_ROLLOUT_BAD_REQUEST', async () => {
    const res = await rawExchange(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f))
    expect(res.error).toMatchObject({ code: RolloutErrorCode.BadRequest })
    expect(acceptor.calls).toEqual([])
  })

  it.each([
    ['an empty request', {}],
    ['a rollout name that is not a DNS label', { prepare: { rollout: 'Vad Canary', policyVersion: 7n, epoch: 3n } }],
    ['epoch 0', { prepare: { rollout: 'vad-canary', policyVersion: 7n, epoch: 0n } }],
    ['an epoch beyond safe integers', { prepare: { rollout: 'vad-canary', policyVersion: 7n, epoch: 2n ** 62n } }],
    ['a report about no rollout', { report: { rollout: '' } }]
  ])('refuses %s with ERR_ROLLOUT_BAD_REQUEST, before the acceptor', async (_what, request) => {
    const res = await rawExchange(request as RolloutRequest)
    expect(res.error).toMatchObject({ code: RolloutErrorCode.BadRequest })
    expect(acceptor.calls).toEqual([])
  })

  it('the client refuses to send a request the device would refuse', async () => {
    const err = await thrown(prepare(coordinatorNode, target, { rollout: 'vad-canary', policyVersion: 7, epoch: 0 }, { clock }))
    expect(err).toBeInstanceOf(RolloutRequestError)
    expect(err.code).toBe(RolloutErrorCode.BadRequest)
    expect((await thrown(report(coordinatorNode, target, '../etc', { clock }))).code).toBe(RolloutErrorCode.BadRequest)
  })

  it('report: the device says where it stands in a rollout', async () => {
    acceptor.onReport = async (_from, rollout) => device({ rollout, state: 'Failed', reason: 'smoke test: 3 of 20 outputs are NaN' })
    expect(await report(coordinatorNode, target, 'face-v2', { clock })).toEqual(device({ rollout: 'face-v2', state: 'Failed', reason: 'smoke test: 3 of 20 outputs are NaN' }))
    expect(acceptor.calls).toMatchObject([{ method: 'report', from: coordinator, arg: 'face-v2' }])
  })

  it('an acceptor error answers with its own code, anything else with ERR_ROLLOUT_INTERNAL', async () => {
    acceptor.onReport = async () => { throw new RolloutRequestError('ERR_NO_POLICY', 'no policy for "vad-canary"') }
    const coded = await thrown(report(coordinatorNode, target, 'vad-canary', { clock }))
    expect(coded).toBeInstanceOf(RolloutRemoteError)
    expect(coded).toMatchObject({ code: 'ERR_NO_POLICY', message: 'no policy for "vad-canary"' })
    acceptor.onReport = async () => { throw new Error('disk on fire') }
    expect(await thrown(report(coordinatorNode, target, 'vad-canary', { clock }))).toMatchObject({ code: RolloutErrorCode.Internal })
  })

  it('an acceptor answer outside the limits is not sent: ERR_ROLLOUT_INTERNAL', async () => {
    acceptor.onReport = async () => device({ rollout: 'another-rollout' })
    expect(await thrown(report(coordinatorNode, target, 'vad-canary', { clock }))).toMatchObject({ code: RolloutErrorCode.Internal })
    acceptor.onReport = async () => device({ reason: 'line one\nline two' })
    expect(await thrown(report(coordinatorNode, target, 'vad-canary', { clock }))).toMatchObject({ code: RolloutErrorCode.Internal })
  })

  it('the client times out on its injected clock when the device does not answer', async () => {
    let release!: () => void
    const answered = new Promise<void>(resolve => { release = resolve })
    let arrived!: () => void
    const inAcceptor = new Promise<void>(resolve => { arrived = resolve })
    acceptor.onReport = async (_from, rollout) => {
      arrived()
      await answered
      return device({ rollout })
    }
    const asking = thrown(report(coordinatorNode, target, 'vad-canary', { clock }))
    await inAcceptor
    clock.advance(DEFAULT_REQUEST_TIMEOUT_MS - 1)
    clock.advance(1)
    const err = await asking
    expect(err).toBeInstanceOf(RolloutTransportError)
    expect(err.code).toBe(RolloutErrorCode.Timeout)
    expect(clock.pending).toBe(0) // nothing left armed
    release()
  })

  // Last: it stops the shared server.
  it('stop aborts the acceptor calls in flight and stops serving', async () => {
    let arrived!: (signal: AbortSignal) => void
    const inAcceptor = new Promise<AbortSignal>(resolve => { arrived = resolve })
    acceptor.onReport = async (_from, rollout, options) => {
      arrived(options.signal!)
      await new Promise(resolve => options.signal!.addEventListener('abort', resolve, { once: true }))
      return device({ rollout })
    }
    const asking = thrown(report(coordinatorNode, target, 'vad-canary', { clock }))
    const signal = await inAcceptor
    expect(signal.aborted).toBe(false)
    await server.stop()
    expect(signal.aborted).toBe(true)
    const err = await asking
    expect(err).toBeInstanceOf(RolloutTransportError)
    expect(err.code).toBe(RolloutErrorCode.Transport)
    expect((await thrown(report(coordinatorNode, target, 'vad-canary', { clock }))).code).toBe(RolloutErrorCode.Transport)
  })
})
