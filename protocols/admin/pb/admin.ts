import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface AdminRequest {
  version: number
  method: string
  params: Uint8Array<ArrayBuffer>
}

export namespace AdminRequest {
  let _codec: Codec<AdminRequest>

  export const codec = (): Codec<AdminRequest> => {
    if (_codec == null) {
      _codec = message<AdminRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.method != null && obj.method !== '')) {
          w.uint32(18)
          w.string(obj.method)
        }

        if ((obj.params != null && obj.params.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.params)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          method: '',
          params: uint8ArrayAlloc(0)
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
              obj.method = reader.string()
              break
            }
            case 3: {
              obj.params = reader.bytes()
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
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.method`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.params`,
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

  export interface AdminRequestVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface AdminRequestMethodFieldEvent {
    field: '$.method'
    value: string
  }

  export interface AdminRequestParamsFieldEvent {
    field: '$.params'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<AdminRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AdminRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdminRequest>): AdminRequest {
    return decodeMessage(buf, AdminRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdminRequest>): Generator<AdminRequestVersionFieldEvent | AdminRequestMethodFieldEvent | AdminRequestParamsFieldEvent> {
    return streamMessage(buf, AdminRequest.codec(), opts)
  }
}

export interface AdminResponse {
  ok: boolean
  errorCode: string
  errorMessage: string
  result: Uint8Array<ArrayBuffer>
}

export namespace AdminResponse {
  let _codec: Codec<AdminResponse>

  export const codec = (): Codec<AdminResponse> => {
    if (_codec == null) {
      _codec = message<AdminResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.errorCode != null && obj.errorCode !== '')) {
          w.uint32(18)
          w.string(obj.errorCode)
        }

        if ((obj.errorMessage != null && obj.errorMessage !== '')) {
          w.uint32(26)
          w.string(obj.errorMessage)
        }

        if ((obj.result != null && obj.result.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.result)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          errorCode: '',
          errorMessage: '',
          result: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ok = reader.bool()
              break
            }
            case 2: {
              obj.errorCode = reader.string()
              break
            }
            case 3: {
              obj.errorMessage = reader.string()
              break
            }
            case 4: {
              obj.result = reader.bytes()
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
                field: `${prefix}.ok`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.errorCode`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.errorMessage`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.result`,
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

  export interface AdminResponseOkFieldEvent {
    field: '$.ok'
    value: boolean
  }

  export interface AdminResponseErrorCodeFieldEvent {
    field: '$.errorCode'
    value: string
  }

  export interface AdminResponseErrorMessageFieldEvent {
    field: '$.errorMessage'
    value: string
  }

  export interface AdminResponseResultFieldEvent {
    field: '$.result'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<AdminResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AdminResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdminResponse>): AdminResponse {
    return decodeMessage(buf, AdminResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdminResponse>): Generator<AdminResponseOkFieldEvent | AdminResponseErrorCodeFieldEvent | AdminResponseErrorMessageFieldEvent | AdminResponseResultFieldEvent> {
    return streamMessage(buf, AdminResponse.codec(), opts)
  }
}
