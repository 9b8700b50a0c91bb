/**
 * @packageDocumentation
 * `/tutti/rollout/1.0.0`: how a rollout's coordinator talks to each target device, one request
 * and one answer per stream, every frame bounded before decoding:
 *
 * - PREPARE { rollout, policyVersion, epoch } -> PROMISE { ok, promisedEpoch, promisedTo, device,
 *   progress }: phase one of an epoch. The answer carries the newest signed progress the device
 *   holds, so a new coordinator resumes where the last one got to.
 * - COMMAND { envelope } -> ACK { ok, code, message, device }: a wave command (activate or revert),
 *   a core/envelope of payload type {@link WAVE_COMMAND_PAYLOAD_TYPE} signed by the coordinator's
 *   node key. The server opens and verifies it before the device's acceptor sees it.
 * - REPORT { rollout } -> DEVICE REPORT: where the device stands.
 *
 * Progress itself is gossiped on {@link ROLLOUT_PROGRESS_TOPIC} as signed envelopes
 * ({@link sealRolloutProgress}, {@link openRolloutProgress}). The epoch rules (who may command
 * whom) are the device's acceptor's, in node/rollouts; this package carries and checks messages.
 */
import { RolloutServer } from './rollout.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions, Libp2p } from '@libp2p/interface'

export * from './constants.js'
export * from './errors.js'
export { RolloutServer, prepare, command, report } from './rollout.js'
export {
  sealWaveCommand, openWaveCommand, sealRolloutProgress, openRolloutProgress, validateWaveCommand,
  validateRolloutProgress, checkRolloutName, checkPeerId
} from './documents.js'

/** What a wave command tells a device to do with the rollout's model version. */
export type WaveAction = 'activate' | 'revert'

/**
 * A coordinator's order to one device (canonical JSON, signed by the coordinator's node key).
 * The device takes the model CID and limits from the admin-signed policy, never from here.
 */
export interface WaveCommand {
  kind: 'WaveCommand'
  rollout: string
  /** The policy version the coordinator works from (>= 1). */
  policyVersion: number
  /** The coordinator's epoch (>= 1). */
  epoch: number
  /** The coordinator's peer id; must be the envelope's signer. */
  coordinator: string
  action: WaveAction
  /** Per-epoch sequence number of the coordinator's commands (>= 0). */
  seq: number
  /** Coordinator's clock when it issued the command, ms since the epoch. */
  issuedAt: number
}

export type RolloutPhase = 'Progressing' | 'Paused' | 'Completed' | 'Aborted' | 'RolledBack'

/** Where a rollout stands, as its coordinator publishes it. Newest is highest (epoch, seq). */
export interface RolloutProgress {
  kind: 'RolloutProgress'
  rollout: string
  policyVersion: number
  epoch: number
  seq: number
  /** The coordinator's peer id; must be the envelope's signer. */
  coordinator: string
  phase: RolloutPhase
  /** Index of the current strategy step. */
  step: number
  /** When the current step started, ms since the epoch (coordinator's clock). */
  stepStartedAt: number
  /** When this progress was written, ms since the epoch (coordinator's clock). */
  updatedAt: number
  /** For operators, at most MAX_MESSAGE_LENGTH characters. */
  message: string
  /** The abort criterion that tripped, as text (`errorRate 0.08 > max 0.05 over 12 nodes`). */
  trip?: string
  /** Manifest CID the rollout brings: progress of an earlier generation of the same name (another model) is not continued. */
  cid?: string
}

/** A verified wave command and the envelope it came in. */
export interface OpenedWaveCommand {
  cmd: WaveCommand
  /** The signer's peer id (equal to cmd.coordinator). */
  signer: string
  /** The envelope exactly as received, for storing or forwarding. */
  bytes: Uint8Array
}

/** Verified rollout progress and the envelope it came in. */
export interface OpenedRolloutProgress {
  progress: RolloutProgress
  /** The signer's peer id (equal to progress.coordinator). */
  signer: string
  bytes: Uint8Array
}

export interface PrepareRequest {
  rollout: string
  policyVersion: number
  epoch: number
}

/** Where one device stands in one rollout. */
export interface DeviceReport {
  rollout: string
  /** The policy version the state refers to; 0 when the device holds no policy for the rollout. */
  policyVersion: number
  /** Device state kind (`Pending`, `Downloading`, ..., `Active`, `Failed`, `RolledBack`). */
  state: string
  /** Why, for Failed and TimedOut ('' for none). At most MAX_REASON_LENGTH characters. */
  reason: string
  /** Manifest CID of the version the rollout brings ('' if not known yet). */
  cid: string
  /** Manifest CID of the version it replaced ('' if none). */
  previousCid: string
  /** Device's clock when the state last changed, ms since the epoch. */
  updatedMs: number
}

/** A device's answer to PREPARE. */
export interface RolloutPromise {
  /** Whether the device promised the asked epoch to the asker. */
  ok: boolean
  /** The device's promise after the request: the asked epoch when ok, the standing one otherwise. */
  promisedEpoch: number
  /** Who the promise is held for (absent: nobody yet). */
  promisedTo?: string
  device: DeviceReport
  /** The newest signed progress envelope the device holds for the rollout; empty for none. */
  progress: Uint8Array
}

/** A device's answer to COMMAND. */
export interface CommandAck {
  ok: boolean
  /** Why not, when ok is false (ERR_STALE_EPOCH, ERR_ENVELOPE_SIGNATURE, ...); '' when ok. */
  code: string
  message: string
  /** The device's state after the command; absent when the command could not be attributed. */
  device?: DeviceReport
}

export interface AcceptorCommandOptions extends AbortOptions {
  /** The command, already opened and verified by the server (signer = coordinator = sender). */
  verified: OpenedWaveCommand
}

/**
 * What a device must provide to serve the rollout protocol (node/rollouts implements it). Each
 * method answers for the authenticated remote peer `from`; a method may throw
 * {@link RolloutRequestError} to answer with its code, anything else answers ERR_ROLLOUT_INTERNAL.
 * Answers are checked against the protocol's limits before they are sent.
 */
export interface RolloutAcceptor {
  /** Phase one: promise `req.epoch` to `from`, or refuse with the standing promise. */
  prepare(from: string, req: PrepareRequest, options: AbortOptions): Promise<RolloutPromise>
  /**
   * A wave command from its coordinator. `envelope` has been verified (see
   * {@link AcceptorCommandOptions.verified}); the epoch and policy checks are the acceptor's.
   */
  command(from: string, envelope: Uint8Array, options: AcceptorCommandOptions): Promise<CommandAck>
  /** Where this device stands in `rollout`. */
  report(from: string, rollout: string, options: AbortOptions): Promise<DeviceReport>
}

export interface RolloutServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  acceptor: RolloutAcceptor
  clock: Clock
  logger: Logger
}

export interface RolloutServerInit {
  /** Largest request read, in bytes, checked before decoding. @default MAX_REQUEST_BYTES */
  maxRequestBytes?: number
  /** How long to wait for the request on a new stream, in ms. @default REQUEST_READ_TIMEOUT_MS */
  readTimeoutMs?: number
  /** How long the acceptor has to answer, in ms. @default HANDLER_TIMEOUT_MS */
  handlerTimeoutMs?: number
  /** Concurrent inbound streams per connection. @default MAX_INBOUND_STREAMS */
  maxInboundStreams?: number
}

/** The narrow dialer the client needs (a libp2p node, or the simulator's stand-in). */
export type RolloutDialer = Pick<Libp2p, 'dialProtocol'>

export interface RolloutCallOptions extends AbortOptions {
  /** The clock timeouts run on. */
  clock: Clock
  /** Whole exchange, dial included, in ms. @default DEFAULT_REQUEST_TIMEOUT_MS */
  timeoutMs?: number
  /** Largest answer read, in bytes, checked before decoding. @default MAX_RESPONSE_BYTES */
  maxResponseBytes?: number
}

/** The device side as a js-libp2p style service: `rolloutServer(init)(components)`. */
export function rolloutServer (init: RolloutServerInit = {}): (components: RolloutServerComponents) => RolloutServer {
  return (components) => new RolloutServer(components, init)
}
