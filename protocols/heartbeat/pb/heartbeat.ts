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
          fleetSize: 0
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
          props: 0
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

  export function encode (obj: Partial<Heartbeat>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Heartbeat.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Heartbeat {
    return decodeMessage(buf, Heartbeat.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Generator<HeartbeatSchemaFieldEvent | HeartbeatBootMsFieldEvent | HeartbeatSeqFieldEvent | HeartbeatSentMsFieldEvent | HeartbeatIntervalMsFieldEvent | HeartbeatNodeVersionFieldEvent | HeartbeatUptimeMsFieldEvent | HeartbeatLabelsFieldEvent | HeartbeatPropsFieldEvent | HeartbeatFleetSizeFieldEvent> {
    return streamMessage(buf, Heartbeat.codec(), opts)
  }
}
