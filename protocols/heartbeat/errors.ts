import { TuttiError } from '../../core/errors.js'
import { HEARTBEAT_SCHEMA } from './constants.js'

/** A heartbeat from the network that cannot be accepted: too large, undecodable or out of range. */
export class InvalidHeartbeatError extends TuttiError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('ERR_INVALID_HEARTBEAT', message, options)
    this.name = 'InvalidHeartbeatError'
  }
}

/** A heartbeat written by a newer schema than this node understands. */
export class UnsupportedHeartbeatSchemaError extends TuttiError {
  constructor (readonly schema: number) {
    super('ERR_UNSUPPORTED_HEARTBEAT_SCHEMA', `heartbeat schema ${schema} is newer than the supported ${HEARTBEAT_SCHEMA}`)
    this.name = 'UnsupportedHeartbeatSchemaError'
  }
}
