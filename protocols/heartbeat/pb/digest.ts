import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedDigest {
  payload: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedDigest {
  let _codec: Codec<SignedDigest>

  export const codec = (): Codec<SignedDigest> => {
    if (_codec == null) {
      _codec = message<SignedDigest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.payload)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          payload: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.payload = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
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

  export interface SignedDigestPayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedDigestSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedDigest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedDigest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedDigest>): SignedDigest {
    return decodeMessage(buf, SignedDigest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedDigest>): Generator<SignedDigestPayloadFieldEvent | SignedDigestSignatureFieldEvent> {
    return streamMessage(buf, SignedDigest.codec(), opts)
  }
}

export interface HeartbeatDigest {
  schema: number
  shardBits: number
  shardIndex: number
  aggregator: string
  bootMs: bigint
  seq: bigint
  intervalMs: number
  fleetSize: number
  entries: DigestEntry[]
  tags: Uint8Array<ArrayBuffer>
  tagAgeS: number[]
  updates: RolloutUpdate[]
}

export namespace HeartbeatDigest {
  let _codec: Codec<HeartbeatDigest>

  export const codec = (): Codec<HeartbeatDigest> => {
    if (_codec == null) {
      _codec = message<HeartbeatDigest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.schema != null && obj.schema !== 0)) {
          w.uint32(8)
          w.uint32(obj.schema)
        }

        if ((obj.shardBits != null && obj.shardBits !== 0)) {
          w.uint32(16)
          w.uint32(obj.shardBits)
        }

        if ((obj.shardIndex != null && obj.shardIndex !== 0)) {
          w.uint32(24)
          w.uint32(obj.shardIndex)
        }

        if ((obj.aggregator != null && obj.aggregator !== '')) {
          w.uint32(34)
          w.string(obj.aggregator)
        }

        if ((obj.bootMs != null && obj.bootMs !== 0n)) {
          w.uint32(40)
          w.uint64(obj.bootMs)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(48)
          w.uint64(obj.seq)
        }

        if ((obj.intervalMs != null && obj.intervalMs !== 0)) {
          w.uint32(56)
          w.uint32(obj.intervalMs)
        }

        if ((obj.fleetSize != null && obj.fleetSize !== 0)) {
          w.uint32(64)
          w.uint32(obj.fleetSize)
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(82)
            DigestEntry.codec().encode(value, w)
          }
        }

        if ((obj.tags != null && obj.tags.byteLength > 0)) {
          w.uint32(90)
          w.bytes(obj.tags)
        }

        if (obj.tagAgeS != null && obj.tagAgeS.length > 0) {
          for (const value of obj.tagAgeS) {
            w.uint32(96)
            w.uint32(value)
          }
        }

        if (obj.updates != null && obj.updates.length > 0) {
          for (const value of obj.updates) {
            w.uint32(106)
            RolloutUpdate.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          schema: 0,
          shardBits: 0,
          shardIndex: 0,
          aggregator: '',
          bootMs: 0n,
          seq: 0n,
          intervalMs: 0,
          fleetSize: 0,
          entries: [],
          tags: uint8ArrayAlloc(0),
          tagAgeS: [],
          updates: []
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
              obj.shardBits = reader.uint32()
              break
            }
            case 3: {
              obj.shardIndex = reader.uint32()
              break
            }
            case 4: {
              obj.aggregator = reader.string()
              break
            }
            case 5: {
              obj.bootMs = reader.uint64()
              break
            }
            case 6: {
              obj.seq = reader.uint64()
              break
            }
            case 7: {
              obj.intervalMs = reader.uint32()
              break
            }
            case 8: {
              obj.fleetSize = reader.uint32()
              break
            }
            case 10: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(DigestEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
              break
            }
            case 11: {
              obj.tags = reader.bytes()
              break
            }
            case 12: {
              if (opts.limits?.tagAgeS != null && obj.tagAgeS.length === opts.limits.tagAgeS) {
                throw new MaxLengthError('Decode error - repeated field "tagAgeS" had too many elements')
              }

              obj.tagAgeS.push(reader.uint32())
              break
            }
            case 13: {
              if (opts.limits?.updates != null && obj.updates.length === opts.limits.updates) {
                throw new MaxLengthError('Decode error - repeated field "updates" had too many elements')
              }

              obj.updates.push(RolloutUpdate.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.updates$
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
          entries: 0,
          tagAgeS: 0,
          updates: 0
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
                field: `${prefix}.shardBits`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.shardIndex`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.aggregator`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.bootMs`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.intervalMs`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.fleetSize`,
                value: reader.uint32()
              }
              break
            }
            case 10: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of DigestEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

              break
            }
            case 11: {
              yield {
                field: `${prefix}.tags`,
                value: reader.bytes()
              }
              break
            }
            case 12: {
              if (opts.limits?.tagAgeS != null && obj.tagAgeS === opts.limits.tagAgeS) {
                throw new MaxLengthError('Streaming decode error - repeated field "tagAgeS" had too many elements')
              }

              yield {
                field: `${prefix}.tagAgeS[]`,
                index: obj.tagAgeS,
                value: reader.uint32()
              }

              obj.tagAgeS++

              break
            }
            case 13: {
              if (opts.limits?.updates != null && obj.updates === opts.limits.updates) {
                throw new MaxLengthError('Streaming decode error - repeated field "updates" had too many elements')
              }

              for (const evt of RolloutUpdate.codec().stream(reader, reader.uint32(), `${prefix}.updates[]`, {
                limits: opts.limits?.updates$
              })) {
                yield {
                  ...evt,
                  index: obj.updates
                }
              }

              obj.updates++

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

  export interface HeartbeatDigestSchemaFieldEvent {
    field: '$.schema'
    value: number
  }

  export interface HeartbeatDigestShardBitsFieldEvent {
    field: '$.shardBits'
    value: number
  }

  export interface HeartbeatDigestShardIndexFieldEvent {
    field: '$.shardIndex'
    value: number
  }

  export interface HeartbeatDigestAggregatorFieldEvent {
    field: '$.aggregator'
    value: string
  }

  export interface HeartbeatDigestBootMsFieldEvent {
    field: '$.bootMs'
    value: bigint
  }

  export interface HeartbeatDigestSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface HeartbeatDigestIntervalMsFieldEvent {
    field: '$.intervalMs'
    value: number
  }

  export interface HeartbeatDigestFleetSizeFieldEvent {
    field: '$.fleetSize'
    value: number
  }

  export interface HeartbeatDigestEntriesPeerFieldEvent {
    field: '$.entries[].peer'
    value: string
    index: number
  }

  export interface HeartbeatDigestEntriesAgeMsFieldEvent {
    field: '$.entries[].ageMs'
    value: number
    index: number
  }

  export interface HeartbeatDigestEntriesHeartbeatFieldEvent {
    field: '$.entries[].heartbeat'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface HeartbeatDigestTagsFieldEvent {
    field: '$.tags'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HeartbeatDigestTagAgeSFieldEvent {
    field: '$.tagAgeS[]'
    index: number
    value: number
  }

  export interface HeartbeatDigestUpdatesTagFieldEvent {
    field: '$.updates[].tag'
    value: number
    index: number
  }

  export interface HeartbeatDigestUpdatesAgeSFieldEvent {
    field: '$.updates[].ageS'
    value: number
    index: number
  }

  export interface HeartbeatDigestUpdatesRolloutsNameFieldEvent {
    field: '$.updates[].rollouts[].name'
    value: string
    index: number
  }

  export interface HeartbeatDigestUpdatesRolloutsPolicyVersionFieldEvent {
    field: '$.updates[].rollouts[].policyVersion'
    value: bigint
    index: number
  }

  export interface HeartbeatDigestUpdatesRolloutsStateFieldEvent {
    field: '$.updates[].rollouts[].state'
    value: string
    index: number
  }

  export interface HeartbeatDigestUpdatesRolloutsReasonFieldEvent {
    field: '$.updates[].rollouts[].reason'
    value: string
    index: number
  }

  export interface HeartbeatDigestUpdatesRolloutsEpochFieldEvent {
    field: '$.updates[].rollouts[].epoch'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<HeartbeatDigest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HeartbeatDigest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HeartbeatDigest>): HeartbeatDigest {
    return decodeMessage(buf, HeartbeatDigest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HeartbeatDigest>): Generator<HeartbeatDigestSchemaFieldEvent | HeartbeatDigestShardBitsFieldEvent | HeartbeatDigestShardIndexFieldEvent | HeartbeatDigestAggregatorFieldEvent | HeartbeatDigestBootMsFieldEvent | HeartbeatDigestSeqFieldEvent | HeartbeatDigestIntervalMsFieldEvent | HeartbeatDigestFleetSizeFieldEvent | HeartbeatDigestEntriesPeerFieldEvent | HeartbeatDigestEntriesAgeMsFieldEvent | HeartbeatDigestEntriesHeartbeatFieldEvent | HeartbeatDigestTagsFieldEvent | HeartbeatDigestTagAgeSFieldEvent | HeartbeatDigestUpdatesTagFieldEvent | HeartbeatDigestUpdatesAgeSFieldEvent | HeartbeatDigestUpdatesRolloutsNameFieldEvent | HeartbeatDigestUpdatesRolloutsPolicyVersionFieldEvent | HeartbeatDigestUpdatesRolloutsStateFieldEvent | HeartbeatDigestUpdatesRolloutsReasonFieldEvent | HeartbeatDigestUpdatesRolloutsEpochFieldEvent> {
    return streamMessage(buf, HeartbeatDigest.codec(), opts)
  }
}

export interface RolloutUpdate {
  tag: number
  ageS: number
  rollouts: DigestRollout[]
}

export namespace RolloutUpdate {
  let _codec: Codec<RolloutUpdate>

  export const codec = (): Codec<RolloutUpdate> => {
    if (_codec == null) {
      _codec = message<RolloutUpdate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.tag != null && obj.tag !== 0)) {
          w.uint32(13)
          w.fixed32(obj.tag)
        }

        if ((obj.ageS != null && obj.ageS !== 0)) {
          w.uint32(16)
          w.uint32(obj.ageS)
        }

        if (obj.rollouts != null && obj.rollouts.length > 0) {
          for (const value of obj.rollouts) {
            w.uint32(26)
            DigestRollout.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          tag: 0,
          ageS: 0,
          rollouts: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.tag = reader.fixed32()
              break
            }
            case 2: {
              obj.ageS = reader.uint32()
              break
            }
            case 3: {
              if (opts.limits?.rollouts != null && obj.rollouts.length === opts.limits.rollouts) {
                throw new MaxLengthError('Decode error - repeated field "rollouts" had too many elements')
              }

              obj.rollouts.push(DigestRollout.codec().decode(reader, reader.uint32(), {
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
          rollouts: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.tag`,
                value: reader.fixed32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.ageS`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              if (opts.limits?.rollouts != null && obj.rollouts === opts.limits.rollouts) {
                throw new MaxLengthError('Streaming decode error - repeated field "rollouts" had too many elements')
              }

              for (const evt of DigestRollout.codec().stream(reader, reader.uint32(), `${prefix}.rollouts[]`, {
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

  export interface RolloutUpdateTagFieldEvent {
    field: '$.tag'
    value: number
  }

  export interface RolloutUpdateAgeSFieldEvent {
    field: '$.ageS'
    value: number
  }

  export interface RolloutUpdateRolloutsNameFieldEvent {
    field: '$.rollouts[].name'
    value: string
    index: number
  }

  export interface RolloutUpdateRolloutsPolicyVersionFieldEvent {
    field: '$.rollouts[].policyVersion'
    value: bigint
    index: number
  }

  export interface RolloutUpdateRolloutsStateFieldEvent {
    field: '$.rollouts[].state'
    value: string
    index: number
  }

  export interface RolloutUpdateRolloutsReasonFieldEvent {
    field: '$.rollouts[].reason'
    value: string
    index: number
  }

  export interface RolloutUpdateRolloutsEpochFieldEvent {
    field: '$.rollouts[].epoch'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<RolloutUpdate>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RolloutUpdate.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutUpdate>): RolloutUpdate {
    return decodeMessage(buf, RolloutUpdate.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutUpdate>): Generator<RolloutUpdateTagFieldEvent | RolloutUpdateAgeSFieldEvent | RolloutUpdateRolloutsNameFieldEvent | RolloutUpdateRolloutsPolicyVersionFieldEvent | RolloutUpdateRolloutsStateFieldEvent | RolloutUpdateRolloutsReasonFieldEvent | RolloutUpdateRolloutsEpochFieldEvent> {
    return streamMessage(buf, RolloutUpdate.codec(), opts)
  }
}

export interface DigestRollout {
  name: string
  policyVersion: bigint
  state: string
  reason: string
  epoch: bigint
}

export namespace DigestRollout {
  let _codec: Codec<DigestRollout>

  export const codec = (): Codec<DigestRollout> => {
    if (_codec == null) {
      _codec = message<DigestRollout>((obj, w, opts = {}) => {
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

  export interface DigestRolloutNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface DigestRolloutPolicyVersionFieldEvent {
    field: '$.policyVersion'
    value: bigint
  }

  export interface DigestRolloutStateFieldEvent {
    field: '$.state'
    value: string
  }

  export interface DigestRolloutReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export interface DigestRolloutEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export function encode (obj: Partial<DigestRollout>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DigestRollout.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DigestRollout>): DigestRollout {
    return decodeMessage(buf, DigestRollout.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DigestRollout>): Generator<DigestRolloutNameFieldEvent | DigestRolloutPolicyVersionFieldEvent | DigestRolloutStateFieldEvent | DigestRolloutReasonFieldEvent | DigestRolloutEpochFieldEvent> {
    return streamMessage(buf, DigestRollout.codec(), opts)
  }
}

export interface DigestEntry {
  peer: string
  ageMs: number
  heartbeat: Uint8Array<ArrayBuffer>
}

export namespace DigestEntry {
  let _codec: Codec<DigestEntry>

  export const codec = (): Codec<DigestEntry> => {
    if (_codec == null) {
      _codec = message<DigestEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peer != null && obj.peer !== '')) {
          w.uint32(10)
          w.string(obj.peer)
        }

        if ((obj.ageMs != null && obj.ageMs !== 0)) {
          w.uint32(16)
          w.uint32(obj.ageMs)
        }

        if ((obj.heartbeat != null && obj.heartbeat.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.heartbeat)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peer: '',
          ageMs: 0,
          heartbeat: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = reader.string()
              break
            }
            case 2: {
              obj.ageMs = reader.uint32()
              break
            }
            case 3: {
              obj.heartbeat = reader.bytes()
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
                field: `${prefix}.peer`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.ageMs`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.heartbeat`,
                value: reader.bytes()
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

  export interface DigestEntryPeerFieldEvent {
    field: '$.peer'
    value: string
  }

  export interface DigestEntryAgeMsFieldEvent {
    field: '$.ageMs'
    value: number
  }

  export interface DigestEntryHeartbeatFieldEvent {
    field: '$.heartbeat'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DigestEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DigestEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DigestEntry>): DigestEntry {
    return decodeMessage(buf, DigestEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DigestEntry>): Generator<DigestEntryPeerFieldEvent | DigestEntryAgeMsFieldEvent | DigestEntryHeartbeatFieldEvent> {
    return streamMessage(buf, DigestEntry.codec(), opts)
  }
}
