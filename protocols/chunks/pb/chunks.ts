import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ChunkRequest {
  version: number
  kind: ChunkRequest.Kind
  manifestCid: string
  chunkCids: string[]
  have: Uint8Array<ArrayBuffer>
  want: Uint8Array<ArrayBuffer>
}

export namespace ChunkRequest {
  export enum Kind {
    KIND_UNSPECIFIED = 'KIND_UNSPECIFIED',
    HAVE = 'HAVE',
    MANIFEST = 'MANIFEST',
    CHUNKS = 'CHUNKS',
    WATCH = 'WATCH'
  }

  enum __KindValues {
    KIND_UNSPECIFIED = 0,
    HAVE = 1,
    MANIFEST = 2,
    CHUNKS = 3,
    WATCH = 4
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<ChunkRequest>

  export const codec = (): Codec<ChunkRequest> => {
    if (_codec == null) {
      _codec = message<ChunkRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(16)
          ChunkRequest.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.manifestCid != null && obj.manifestCid !== '')) {
          w.uint32(26)
          w.string(obj.manifestCid)
        }

        if (obj.chunkCids != null && obj.chunkCids.length > 0) {
          for (const value of obj.chunkCids) {
            w.uint32(34)
            w.string(value)
          }
        }

        if ((obj.have != null && obj.have.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.have)
        }

        if ((obj.want != null && obj.want.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.want)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          kind: Kind.KIND_UNSPECIFIED,
          manifestCid: '',
          chunkCids: [],
          have: uint8ArrayAlloc(0),
          want: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.kind = ChunkRequest.Kind.codec().decode(reader)
              break
            }
            case 3: {
              obj.manifestCid = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.chunkCids != null && obj.chunkCids.length === opts.limits.chunkCids) {
                throw new MaxLengthError('Decode error - repeated field "chunkCids" had too many elements')
              }

              obj.chunkCids.push(reader.string())
              break
            }
            case 5: {
              obj.have = reader.bytes()
              break
            }
            case 6: {
              obj.want = reader.bytes()
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
          chunkCids: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.kind`,
                value: ChunkRequest.Kind.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.manifestCid`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.chunkCids != null && obj.chunkCids === opts.limits.chunkCids) {
                throw new MaxLengthError('Streaming decode error - repeated field "chunkCids" had too many elements')
              }

              yield {
                field: `${prefix}.chunkCids[]`,
                index: obj.chunkCids,
                value: reader.string()
              }

              obj.chunkCids++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.have`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.want`,
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

  export interface ChunkRequestVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ChunkRequestKindFieldEvent {
    field: '$.kind'
    value: ChunkRequest.Kind
  }

  export interface ChunkRequestManifestCidFieldEvent {
    field: '$.manifestCid'
    value: string
  }

  export interface ChunkRequestChunkCidsFieldEvent {
    field: '$.chunkCids[]'
    index: number
    value: string
  }

  export interface ChunkRequestHaveFieldEvent {
    field: '$.have'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChunkRequestWantFieldEvent {
    field: '$.want'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ChunkRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChunkRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkRequest>): ChunkRequest {
    return decodeMessage(buf, ChunkRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkRequest>): Generator<ChunkRequestVersionFieldEvent | ChunkRequestKindFieldEvent | ChunkRequestManifestCidFieldEvent | ChunkRequestChunkCidsFieldEvent | ChunkRequestHaveFieldEvent | ChunkRequestWantFieldEvent> {
    return streamMessage(buf, ChunkRequest.codec(), opts)
  }
}

export interface ChunkResponse {
  errorCode: string
  errorMessage: string
  chunkCount: number
  bitfield: Uint8Array<ArrayBuffer>
  complete: boolean
  envelope: Uint8Array<ArrayBuffer>
  index: number
  offset: number
  total: number
  data: Uint8Array<ArrayBuffer>
  missing: boolean
}

export namespace ChunkResponse {
  let _codec: Codec<ChunkResponse>

  export const codec = (): Codec<ChunkResponse> => {
    if (_codec == null) {
      _codec = message<ChunkResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.errorCode != null && obj.errorCode !== '')) {
          w.uint32(10)
          w.string(obj.errorCode)
        }

        if ((obj.errorMessage != null && obj.errorMessage !== '')) {
          w.uint32(18)
          w.string(obj.errorMessage)
        }

        if ((obj.chunkCount != null && obj.chunkCount !== 0)) {
          w.uint32(24)
          w.uint32(obj.chunkCount)
        }

        if ((obj.bitfield != null && obj.bitfield.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.bitfield)
        }

        if ((obj.complete != null && obj.complete !== false)) {
          w.uint32(40)
          w.bool(obj.complete)
        }

        if ((obj.envelope != null && obj.envelope.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.envelope)
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(56)
          w.uint32(obj.index)
        }

        if ((obj.offset != null && obj.offset !== 0)) {
          w.uint32(64)
          w.uint32(obj.offset)
        }

        if ((obj.total != null && obj.total !== 0)) {
          w.uint32(72)
          w.uint32(obj.total)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.data)
        }

        if ((obj.missing != null && obj.missing !== false)) {
          w.uint32(88)
          w.bool(obj.missing)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          errorCode: '',
          errorMessage: '',
          chunkCount: 0,
          bitfield: uint8ArrayAlloc(0),
          complete: false,
          envelope: uint8ArrayAlloc(0),
          index: 0,
          offset: 0,
          total: 0,
          data: uint8ArrayAlloc(0),
          missing: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.errorCode = reader.string()
              break
            }
            case 2: {
              obj.errorMessage = reader.string()
              break
            }
            case 3: {
              obj.chunkCount = reader.uint32()
              break
            }
            case 4: {
              obj.bitfield = reader.bytes()
              break
            }
            case 5: {
              obj.complete = reader.bool()
              break
            }
            case 6: {
              obj.envelope = reader.bytes()
              break
            }
            case 7: {
              obj.index = reader.uint32()
              break
            }
            case 8: {
              obj.offset = reader.uint32()
              break
            }
            case 9: {
              obj.total = reader.uint32()
              break
            }
            case 10: {
              obj.data = reader.bytes()
              break
            }
            case 11: {
              obj.missing = reader.bool()
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
                field: `${prefix}.errorCode`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.errorMessage`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.chunkCount`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.bitfield`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.complete`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.envelope`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.offset`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.total`,
                value: reader.uint32()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.missing`,
                value: reader.bool()
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

  export interface ChunkResponseErrorCodeFieldEvent {
    field: '$.errorCode'
    value: string
  }

  export interface ChunkResponseErrorMessageFieldEvent {
    field: '$.errorMessage'
    value: string
  }

  export interface ChunkResponseChunkCountFieldEvent {
    field: '$.chunkCount'
    value: number
  }

  export interface ChunkResponseBitfieldFieldEvent {
    field: '$.bitfield'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChunkResponseCompleteFieldEvent {
    field: '$.complete'
    value: boolean
  }

  export interface ChunkResponseEnvelopeFieldEvent {
    field: '$.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChunkResponseIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export interface ChunkResponseOffsetFieldEvent {
    field: '$.offset'
    value: number
  }

  export interface ChunkResponseTotalFieldEvent {
    field: '$.total'
    value: number
  }

  export interface ChunkResponseDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChunkResponseMissingFieldEvent {
    field: '$.missing'
    value: boolean
  }

  export function encode (obj: Partial<ChunkResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChunkResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkResponse>): ChunkResponse {
    return decodeMessage(buf, ChunkResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkResponse>): Generator<ChunkResponseErrorCodeFieldEvent | ChunkResponseErrorMessageFieldEvent | ChunkResponseChunkCountFieldEvent | ChunkResponseBitfieldFieldEvent | ChunkResponseCompleteFieldEvent | ChunkResponseEnvelopeFieldEvent | ChunkResponseIndexFieldEvent | ChunkResponseOffsetFieldEvent | ChunkResponseTotalFieldEvent | ChunkResponseDataFieldEvent | ChunkResponseMissingFieldEvent> {
    return streamMessage(buf, ChunkResponse.codec(), opts)
  }
}
