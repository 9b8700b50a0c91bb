import { decodeMessage, encodeMessage, MaxLengthError, MaxSizeError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Heartbeat {
  schema: number
  bootMs: bigint
  seq: bigint
  sentMs: bigint
  intervalMs: number
  nodeVersion: string
  uptimeMs: bigint
  labels: Map<string, string>
  props: Map<string, string>
  fleetSize: number
  restarts: number
  models: ModelState[]
  rollouts: RolloutState[]
}

export namespace Heartbeat {
  export interface Heartbeat$labelsEntry {
    key: string
    value: string
  }

  export namespace Heartbeat$labelsEntry {
    let _codec: Codec<Heartbeat$labelsEntry>

    export const codec = (): Codec<Heartbeat$labelsEntry> => {
      if (_codec == null) {
        _codec = message<Heartbeat$labelsEntry>((obj, w, opts = {}) => {
          if (opts.lengthDelimited !== false) {
            w.fork()
          }

          if ((obj.key != null && obj.key !== '')) {
            w.uint32(10)
            w.string(obj.key)
          }

          if ((obj.value != null && obj.value !== '')) {
            w.uint32(18)
            w.string(obj.value)
          }

          if (opts.lengthDelimited !== false) {
            w.ldelim()
          }
        }, (reader, length, opts = {}) => {
          const obj: any = {
            key: '',
            value: ''
          }

          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                obj.key = reader.string()
                break
              }
              case 2: {
                obj.value = reader.string()
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }

          return obj
        }, function * (reader, length, prefix, opts = {}) {
          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                yield {
                  field: `${prefix}.key`,
                  value: reader.string()
                }
                break
              }
              case 2: {
                yield {
                  field: `${prefix}.value`,
                  value: reader.string()
                }
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }
        })
      }

      return _codec
    }

    export interface Heartbeat$labelsEntryKeyFieldEvent {
      field: '$.key'
      value: string
    }

    export interface Heartbeat$labelsEntryValueFieldEvent {
      field: '$.value'
      value: string
    }

    export function encode (obj: Partial<Heartbeat$labelsEntry>): Uint8Array<ArrayBuffer> {
      return encodeMessage(obj, Heartbeat$labelsEntry.codec())
    }

    export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat$labelsEntry>): Heartbeat$labelsEntry {
      return decodeMessage(buf, Heartbeat$labelsEntry.codec(), opts)
    }

    export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat$labelsEntry>): Generator<Heartbeat$labelsEntryKeyFieldEvent | Heartbeat$labelsEntryValueFieldEvent> {
      return streamMessage(buf, Heartbeat$labelsEntry.codec(), opts)
    }
  }

  export interface Heartbeat$propsEntry {
    key: string
    value: string
  }

  export namespace Heartbeat$propsEntry {
    let _codec: Codec<Heartbeat$propsEntry>

    export const codec = (): Codec<Heartbeat$propsEntry> => {
      if (_codec == null) {
        _codec = message<Heartbeat$propsEntry>((obj, w, opts = {}) => {
          if (opts.lengthDelimited !== false) {
            w.fork()
          }

          if ((obj.key != null && obj.key !== '')) {
            w.uint32(10)
            w.string(obj.key)
          }

          if ((obj.value != null && obj.value !== '')) {
            w.uint32(18)
            w.string(obj.value)
          }

          if (opts.lengthDelimited !== false) {
            w.ldelim()
          }
        }, (reader, length, opts = {}) => {
          const obj: any = {
            key: '',
            value: ''
          }

          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                obj.key = reader.string()
                break
              }
              case 2: {
                obj.value = reader.string()
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }

          return obj
        }, function * (reader, length, prefix, opts = {}) {
          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                yield {
                  field: `${prefix}.key`,
                  value: reader.string()
                }
                break
              }
              case 2: {
                yield {
                  field: `${prefix}.value`,
                  value: reader.string()
                }
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }
        })
      }

      return _codec
    }

    export interface Heartbeat$propsEntryKeyFieldEvent {
      field: '$.key'
      value: string
    }

    export interface Heartbeat$propsEntryValueFieldEvent {
      field: '$.value'
      value: string
    }

    export function encode (obj: Partial<Heartbeat$propsEntry>): Uint8Array<ArrayBuffer> {
      return encodeMessage(obj, Heartbeat$propsEntry.codec())
    }

    export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat$propsEntry>): Heartbeat$propsEntry {
      return decodeMessage(buf, Heartbeat$propsEntry.codec(), opts)
    }

    export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat$propsEntry>): Generator<Heartbeat$propsEntryKeyFieldEvent | Heartbeat$propsEntryValueFieldEvent> {
      return streamMessage(buf, Heartbeat$propsEntry.codec(), opts)
    }
  }

  let _codec: Codec<Heartbeat>

  export const codec = (): Codec<Heartbeat> => {
    if (_codec == null) {
      _codec = message<Heartbeat>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.schema != null && obj.schema !== 0)) {
          w.uint32(8)
          w.uint32(obj.schema)
        }

        if ((obj.bootMs != null && obj.bootMs !== 0n)) {
          w.uint32(16)
          w.uint64(obj.bootMs)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(24)
          w.uint64(obj.seq)
        }

        if ((obj.sentMs != null && obj.sentMs !== 0n)) {
          w.uint32(32)
          w.uint64(obj.sentMs)
        }

        if ((obj.intervalMs != null && obj.intervalMs !== 0)) {
          w.uint32(40)
          w.uint32(obj.intervalMs)
        }

        if ((obj.nodeVersion != null && obj.nodeVersion !== '')) {
          w.uint32(50)
          w.string(obj.nodeVersion)
        }

        if ((obj.uptimeMs != null && obj.uptimeMs !== 0n)) {
          w.uint32(56)
          w.uint64(obj.uptimeMs)
        }

        if (obj.labels != null && obj.labels.size > 0) {
          for (const [key, value] of obj.labels.entries()) {
            w.uint32(66)
            Heartbeat.Heartbeat$labelsEntry.codec().encode({ key, value }, w)
          }
        }

        if (obj.props != null && obj.props.size > 0) {
          for (const [key, value] of obj.props.entries()) {
            w.uint32(74)
            Heartbeat.Heartbeat$propsEntry.codec().encode({ key, value }, w)
          }
        }

        if ((obj.fleetSize != null && obj.fleetSize !== 0)) {
          w.uint32(80)
          w.uint32(obj.fleetSize)
        }

        if ((obj.restarts != null && obj.restarts !== 0)) {
          w.uint32(88)
          w.uint32(obj.restarts)
        }

        if (obj.models != null && obj.models.length > 0) {
          for (const value of obj.models) {
            w.uint32(162)
            ModelState.codec().encode(value, w)
          }
        }

        if (obj.rollouts != null && obj.rollouts.length > 0) {
          for (const value of obj.rollouts) {
            w.uint32(322)
            RolloutState.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          schema: 0,
          bootMs: 0n,
          seq: 0n,
          sentMs: 0n,
          intervalMs: 0,
          nodeVersion: '',
          uptimeMs: 0n,
          labels: new Map<string, string>(),
          props: new Map<string, string>(),
          fleetSize: 0,
          restarts: 0,
          models: [],
          rollouts: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.schema = reader.uint32()
              break
            }
            case 2: {
              obj.bootMs = reader.uint64()
              break
            }
            case 3: {
              obj.seq = reader.uint64()
              break
            }
            case 4: {
              obj.sentMs = reader.uint64()
              break
            }
            case 5: {
              obj.intervalMs = reader.uint32()
              break
            }
            case 6: {
              obj.nodeVersion = reader.string()
              break
            }
            case 7: {
              obj.uptimeMs = reader.uint64()
              break
            }
            case 8: {
              if (opts.limits?.labels != null && obj.labels.size === opts.limits.labels) {
                throw new MaxSizeError('Decode error - map field "labels" had too many elements')
              }

              const entry = Heartbeat.Heartbeat$labelsEntry.codec().decode(reader, reader.uint32(), {
                limits: {
                  value: opts.limits?.labels$value
                }
              })
              obj.labels.set(entry.key, entry.value)
              break
            }
            case 9: {
              if (opts.limits?.props != null && obj.props.size === opts.limits.props) {
                throw new MaxSizeError('Decode error - map field "props" had too many elements')
              }

              const entry = Heartbeat.Heartbeat$propsEntry.codec().decode(reader, reader.uint32(), {
                limits: {
                  value: opts.limits?.props$value
                }
              })
              obj.props.set(entry.key, entry.value)
              break
            }
            case 10: {
              obj.fleetSize = reader.uint32()
              break
            }
            case 11: {
              obj.restarts = reader.uint32()
              break
            }
            case 20: {
              if (opts.limits?.models != null && obj.models.length === opts.limits.models) {
                throw new MaxLengthError('Decode error - repeated field "models" had too many elements')
              }

              obj.models.push(ModelState.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.models$
              }))
              break
            }
            case 40: {
              if (opts.limits?.rollouts != null && obj.rollouts.length === opts.limits.rollouts) {
                throw new MaxLengthError('Decode error - repeated field "rollouts" had too many elements')
              }

              obj.rollouts.push(RolloutState.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.rollouts$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          labels: 0,
          props: 0,
          models: 0,
          rollouts: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.schema`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.bootMs`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sentMs`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.intervalMs`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.nodeVersion`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.uptimeMs`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              if (opts.limits?.labels != null && obj.labels === opts.limits.labels) {
                throw new MaxLengthError('Decode error - map field "labels" had too many elements')
              }

              yield * Heartbeat.Heartbeat$labelsEntry.codec().stream(reader, reader.uint32(), `${prefix}.labels{}`, {
                limits: {
                  value: opts.limits?.labels$value
                }
              })

              obj.labels++

              break
            }
            case 9: {
              if (opts.limits?.props != null && obj.props === opts.limits.props) {
                throw new MaxLengthError('Decode error - map field "props" had too many elements')
              }

              yield * Heartbeat.Heartbeat$propsEntry.codec().stream(reader, reader.uint32(), `${prefix}.props{}`, {
                limits: {
                  value: opts.limits?.props$value
                }
              })

              obj.props++

              break
            }
            case 10: {
              yield {
                field: `${prefix}.fleetSize`,
                value: reader.uint32()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.restarts`,
                value: reader.uint32()
              }
              break
            }
            case 20: {
              if (opts.limits?.models != null && obj.models === opts.limits.models) {
                throw new MaxLengthError('Streaming decode error - repeated field "models" had too many elements')
              }

              for (const evt of ModelState.codec().stream(reader, reader.uint32(), `${prefix}.models[]`, {
                limits: opts.limits?.models$
              })) {
                yield {
                  ...evt,
                  index: obj.models
                }
              }

              obj.models++

              break
            }
            case 40: {
              if (opts.limits?.rollouts != null && obj.rollouts === opts.limits.rollouts) {
                throw new MaxLengthError('Streaming decode error - repeated field "rollouts" had too many elements')
              }

              for (const evt of RolloutState.codec().stream(reader, reader.uint32(), `${prefix}.rollouts[]`, {
                limits: opts.limits?.rollouts$
              })) {
                yield {
                  ...evt,
                  index: obj.rollouts
                }
              }

              obj.rollouts++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HeartbeatSchemaFieldEvent {
    field: '$.schema'
    value: number
  }

  export interface HeartbeatBootMsFieldEvent {
    field: '$.bootMs'
    value: bigint
  }

  export interface HeartbeatSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface HeartbeatSentMsFieldEvent {
    field: '$.sentMs'
    value: bigint
  }

  export interface HeartbeatIntervalMsFieldEvent {
    field: '$.intervalMs'
    value: number
  }

  export interface HeartbeatNodeVersionFieldEvent {
    field: '$.nodeVersion'
    value: string
  }

  export interface HeartbeatUptimeMsFieldEvent {
    field: '$.uptimeMs'
    value: bigint
  }

  export interface HeartbeatLabelsFieldEvent {
    field: '$.labels{}'
    key: string
    value: string
  }

  export interface HeartbeatPropsFieldEvent {
    field: '$.props{}'
    key: string
    value: string
  }

  export interface HeartbeatFleetSizeFieldEvent {
    field: '$.fleetSize'
    value: number
  }

  export interface HeartbeatRestartsFieldEvent {
    field: '$.restarts'
    value: number
  }

  export interface HeartbeatModelsNameFieldEvent {
    field: '$.models[].name'
    value: string
    index: number
  }

  export interface HeartbeatModelsVersionFieldEvent {
    field: '$.models[].version'
    value: string
    index: number
  }

  export interface HeartbeatModelsCidFieldEvent {
    field: '$.models[].cid'
    value: string
    index: number
  }

  export interface HeartbeatModelsStateFieldEvent {
    field: '$.models[].state'
    value: string
    index: number
  }

  export interface HeartbeatModelsStatsRequestsFieldEvent {
    field: '$.models[].stats.requests'
    value: bigint
    index: number
  }

  export interface HeartbeatModelsStatsErrorsFieldEvent {
    field: '$.models[].stats.errors'
    value: bigint
    index: number
  }

  export interface HeartbeatModelsStatsP50MsFieldEvent {
    field: '$.models[].stats.p50Ms'
    value: number
    index: number
  }

  export interface HeartbeatModelsStatsP95MsFieldEvent {
    field: '$.models[].stats.p95Ms'
    value: number
    index: number
  }

  export interface HeartbeatModelsStatsP99MsFieldEvent {
    field: '$.models[].stats.p99Ms'
    value: number
    index: number
  }

  export interface HeartbeatModelsStatsNonFiniteFieldEvent {
    field: '$.models[].stats.nonFinite'
    value: bigint
    index: number
  }

  export interface HeartbeatModelsStatsMemoryMibFieldEvent {
    field: '$.models[].stats.memoryMib'
    value: number
    index: number
  }

  export interface HeartbeatModelsStatsAgreementFieldEvent {
    field: '$.models[].stats.agreement'
    value: number
    index: number
  }

  export interface HeartbeatModelsStatsShadowComparedFieldEvent {
    field: '$.models[].stats.shadowCompared'
    value: bigint
    index: number
  }

  export interface HeartbeatModelsStatsShadowFractionFieldEvent {
    field: '$.models[].stats.shadowFraction'
    value: number
    index: number
  }

  export interface HeartbeatRolloutsNameFieldEvent {
    field: '$.rollouts[].name'
    value: string
    index: number
  }

  export interface HeartbeatRolloutsPolicyVersionFieldEvent {
    field: '$.rollouts[].policyVersion'
    value: bigint
    index: number
  }

  export interface HeartbeatRolloutsStateFieldEvent {
    field: '$.rollouts[].state'
    value: string
    index: number
  }

  export interface HeartbeatRolloutsReasonFieldEvent {
    field: '$.rollouts[].reason'
    value: string
    index: number
  }

  export interface HeartbeatRolloutsEpochFieldEvent {
    field: '$.rollouts[].epoch'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<Heartbeat>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Heartbeat.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Heartbeat {
    return decodeMessage(buf, Heartbeat.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Generator<HeartbeatSchemaFieldEvent | HeartbeatBootMsFieldEvent | HeartbeatSeqFieldEvent | HeartbeatSentMsFieldEvent | HeartbeatIntervalMsFieldEvent | HeartbeatNodeVersionFieldEvent | HeartbeatUptimeMsFieldEvent | HeartbeatLabelsFieldEvent | HeartbeatPropsFieldEvent | HeartbeatFleetSizeFieldEvent | HeartbeatRestartsFieldEvent | HeartbeatModelsNameFieldEvent | HeartbeatModelsVersionFieldEvent | HeartbeatModelsCidFieldEvent | HeartbeatModelsStateFieldEvent | HeartbeatModelsStatsRequestsFieldEvent | HeartbeatModelsStatsErrorsFieldEvent | HeartbeatModelsStatsP50MsFieldEvent | HeartbeatModelsStatsP95MsFieldEvent | HeartbeatModelsStatsP99MsFieldEvent | HeartbeatModelsStatsNonFiniteFieldEvent | HeartbeatModelsStatsMemoryMibFieldEvent | HeartbeatModelsStatsAgreementFieldEvent | HeartbeatModelsStatsShadowComparedFieldEvent | HeartbeatModelsStatsShadowFractionFieldEvent | HeartbeatRolloutsNameFieldEvent | HeartbeatRolloutsPolicyVersionFieldEvent | HeartbeatRolloutsStateFieldEvent | HeartbeatRolloutsReasonFieldEvent | HeartbeatRolloutsEpochFieldEvent> {
    return streamMessage(buf, Heartbeat.codec(), opts)
  }
}

export interface RolloutState {
  name: string
  policyVersion: bigint
  state: string
  reason: string
  epoch: bigint
}

export namespace RolloutState {
  let _codec: Codec<RolloutState>

  export const codec = (): Codec<RolloutState> => {
    if (_codec == null) {
      _codec = message<RolloutState>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.policyVersion != null && obj.policyVersion !== 0n)) {
          w.uint32(16)
          w.uint64(obj.policyVersion)
        }

        if ((obj.state != null && obj.state !== '')) {
          w.uint32(26)
          w.string(obj.state)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(34)
          w.string(obj.reason)
        }

        if ((obj.epoch != null && obj.epoch !== 0n)) {
          w.uint32(40)
          w.uint64(obj.epoch)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          policyVersion: 0n,
          state: '',
          reason: '',
          epoch: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.policyVersion = reader.uint64()
              break
            }
            case 3: {
              obj.state = reader.string()
              break
            }
            case 4: {
              obj.reason = reader.string()
              break
            }
            case 5: {
              obj.epoch = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.policyVersion`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.state`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RolloutStateNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface RolloutStatePolicyVersionFieldEvent {
    field: '$.policyVersion'
    value: bigint
  }

  export interface RolloutStateStateFieldEvent {
    field: '$.state'
    value: string
  }

  export interface RolloutStateReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export interface RolloutStateEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export function encode (obj: Partial<RolloutState>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RolloutState.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutState>): RolloutState {
    return decodeMessage(buf, RolloutState.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutState>): Generator<RolloutStateNameFieldEvent | RolloutStatePolicyVersionFieldEvent | RolloutStateStateFieldEvent | RolloutStateReasonFieldEvent | RolloutStateEpochFieldEvent> {
    return streamMessage(buf, RolloutState.codec(), opts)
  }
}

export interface ModelState {
  name: string
  version: string
  cid: string
  state: string
  stats?: InferenceStats
}

export namespace ModelState {
  let _codec: Codec<ModelState>

  export const codec = (): Codec<ModelState> => {
    if (_codec == null) {
      _codec = message<ModelState>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.version != null && obj.version !== '')) {
          w.uint32(18)
          w.string(obj.version)
        }

        if ((obj.cid != null && obj.cid !== '')) {
          w.uint32(26)
          w.string(obj.cid)
        }

        if ((obj.state != null && obj.state !== '')) {
          w.uint32(34)
          w.string(obj.state)
        }

        if (obj.stats != null) {
          w.uint32(82)
          InferenceStats.codec().encode(obj.stats, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          version: '',
          cid: '',
          state: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.version = reader.string()
              break
            }
            case 3: {
              obj.cid = reader.string()
              break
            }
            case 4: {
              obj.state = reader.string()
              break
            }
            case 10: {
              obj.stats = InferenceStats.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.stats
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.version`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.cid`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.state`,
                value: reader.string()
              }
              break
            }
            case 10: {
              yield * InferenceStats.codec().stream(reader, reader.uint32(), `${prefix}.stats`, {
                limits: opts.limits?.stats
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ModelStateNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface ModelStateVersionFieldEvent {
    field: '$.version'
    value: string
  }

  export interface ModelStateCidFieldEvent {
    field: '$.cid'
    value: string
  }

  export interface ModelStateStateFieldEvent {
    field: '$.state'
    value: string
  }

  export interface ModelStateStatsRequestsFieldEvent {
    field: '$.stats.requests'
    value: bigint
  }

  export interface ModelStateStatsErrorsFieldEvent {
    field: '$.stats.errors'
    value: bigint
  }

  export interface ModelStateStatsP50MsFieldEvent {
    field: '$.stats.p50Ms'
    value: number
  }

  export interface ModelStateStatsP95MsFieldEvent {
    field: '$.stats.p95Ms'
    value: number
  }

  export interface ModelStateStatsP99MsFieldEvent {
    field: '$.stats.p99Ms'
    value: number
  }

  export interface ModelStateStatsNonFiniteFieldEvent {
    field: '$.stats.nonFinite'
    value: bigint
  }

  export interface ModelStateStatsMemoryMibFieldEvent {
    field: '$.stats.memoryMib'
    value: number
  }

  export interface ModelStateStatsAgreementFieldEvent {
    field: '$.stats.agreement'
    value: number
  }

  export interface ModelStateStatsShadowComparedFieldEvent {
    field: '$.stats.shadowCompared'
    value: bigint
  }

  export interface ModelStateStatsShadowFractionFieldEvent {
    field: '$.stats.shadowFraction'
    value: number
  }

  export function encode (obj: Partial<ModelState>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ModelState.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelState>): ModelState {
    return decodeMessage(buf, ModelState.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelState>): Generator<ModelStateNameFieldEvent | ModelStateVersionFieldEvent | ModelStateCidFieldEvent | ModelStateStateFieldEvent | ModelStateStatsRequestsFieldEvent | ModelStateStatsErrorsFieldEvent | ModelStateStatsP50MsFieldEvent | ModelStateStatsP95MsFieldEvent | ModelStateStatsP99MsFieldEvent | ModelStateStatsNonFiniteFieldEvent | ModelStateStatsMemoryMibFieldEvent | ModelStateStatsAgreementFieldEvent | ModelStateStatsShadowComparedFieldEvent | ModelStateStatsShadowFractionFieldEvent> {
    return streamMessage(buf, ModelState.codec(), opts)
  }
}

export interface InferenceStats {
  requests: bigint
  errors: bigint
  p50Ms: number
  p95Ms: number
  p99Ms: number
  nonFinite: bigint
  memoryMib: number
  agreement?: number
  shadowCompared?: bigint
  shadowFraction?: number
}

export namespace InferenceStats {
  let _codec: Codec<InferenceStats>

  export const codec = (): Codec<InferenceStats> => {
    if (_codec == null) {
      _codec = message<InferenceStats>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.requests != null && obj.requests !== 0n)) {
          w.uint32(8)
          w.uint64(obj.requests)
        }

        if ((obj.errors != null && obj.errors !== 0n)) {
          w.uint32(16)
          w.uint64(obj.errors)
        }

        if ((obj.p50Ms != null && obj.p50Ms !== 0)) {
          w.uint32(29)
          w.float(obj.p50Ms)
        }

        if ((obj.p95Ms != null && obj.p95Ms !== 0)) {
          w.uint32(37)
          w.float(obj.p95Ms)
        }

        if ((obj.p99Ms != null && obj.p99Ms !== 0)) {
          w.uint32(45)
          w.float(obj.p99Ms)
        }

        if ((obj.nonFinite != null && obj.nonFinite !== 0n)) {
          w.uint32(48)
          w.uint64(obj.nonFinite)
        }

        if ((obj.memoryMib != null && obj.memoryMib !== 0)) {
          w.uint32(56)
          w.uint32(obj.memoryMib)
        }

        if (obj.agreement != null) {
          w.uint32(69)
          w.float(obj.agreement)
        }

        if (obj.shadowCompared != null) {
          w.uint32(72)
          w.uint64(obj.shadowCompared)
        }

        if (obj.shadowFraction != null) {
          w.uint32(85)
          w.float(obj.shadowFraction)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          requests: 0n,
          errors: 0n,
          p50Ms: 0,
          p95Ms: 0,
          p99Ms: 0,
          nonFinite: 0n,
          memoryMib: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.requests = reader.uint64()
              break
            }
            case 2: {
              obj.errors = reader.uint64()
              break
            }
            case 3: {
              obj.p50Ms = reader.float()
              break
            }
            case 4: {
              obj.p95Ms = reader.float()
              break
            }
            case 5: {
              obj.p99Ms = reader.float()
              break
            }
            case 6: {
              obj.nonFinite = reader.uint64()
              break
            }
            case 7: {
              obj.memoryMib = reader.uint32()
              break
            }
            case 8: {
              obj.agreement = reader.float()
              break
            }
            case 9: {
              obj.shadowCompared = reader.uint64()
              break
            }
            case 10: {
              obj.shadowFraction = reader.float()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.requests`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.errors`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.p50Ms`,
                value: reader.float()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.p95Ms`,
                value: reader.float()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.p99Ms`,
                value: reader.float()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.nonFinite`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.memoryMib`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.agreement`,
                value: reader.float()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.shadowCompared`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.shadowFraction`,
                value: reader.float()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface InferenceStatsRequestsFieldEvent {
    field: '$.requests'
    value: bigint
  }

  export interface InferenceStatsErrorsFieldEvent {
    field: '$.errors'
    value: bigint
  }

  export interface InferenceStatsP50MsFieldEvent {
    field: '$.p50Ms'
    value: number
  }

  export interface InferenceStatsP95MsFieldEvent {
    field: '$.p95Ms'
    value: number
  }

  export interface InferenceStatsP99MsFieldEvent {
    field: '$.p99Ms'
    value: number
  }

  export interface InferenceStatsNonFiniteFieldEvent {
    field: '$.nonFinite'
    value: bigint
  }

  export interface InferenceStatsMemoryMibFieldEvent {
    field: '$.memoryMib'
    value: number
  }

  export interface InferenceStatsAgreementFieldEvent {
    field: '$.agreement'
    value: number
  }

  export interface InferenceStatsShadowComparedFieldEvent {
    field: '$.shadowCompared'
    value: bigint
  }

  export interface InferenceStatsShadowFractionFieldEvent {
    field: '$.shadowFraction'
    value: number
  }

  export function encode (obj: Partial<InferenceStats>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferenceStats.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferenceStats>): InferenceStats {
    return decodeMessage(buf, InferenceStats.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferenceStats>): Generator<InferenceStatsRequestsFieldEvent | InferenceStatsErrorsFieldEvent | InferenceStatsP50MsFieldEvent | InferenceStatsP95MsFieldEvent | InferenceStatsP99MsFieldEvent | InferenceStatsNonFiniteFieldEvent | InferenceStatsMemoryMibFieldEvent | InferenceStatsAgreementFieldEvent | InferenceStatsShadowComparedFieldEvent | InferenceStatsShadowFractionFieldEvent> {
    return streamMessage(buf, InferenceStats.codec(), opts)
  }
}
