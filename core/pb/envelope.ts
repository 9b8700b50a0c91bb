import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedEnvelope {
  payloadType: string
  payload: Uint8Array<ArrayBuffer>
  publicKey: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedEnvelope {
  let _codec: Codec<SignedEnvelope>

  export const codec = (): Codec<SignedEnvelope> => {
    if (_codec == null) {
      _codec = message<SignedEnvelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.payloadType != null && obj.payloadType !== '')) {
          w.uint32(10)
          w.string(obj.payloadType)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.payload)
        }

        if ((obj.publicKey != null && obj.publicKey.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.publicKey)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          payloadType: '',
          payload: uint8ArrayAlloc(0),
          publicKey: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.payloadType = reader.string()
              break
            }
            case 2: {
              obj.payload = reader.bytes()
              break
            }
            case 3: {
              obj.publicKey = reader.bytes()
              break
            }
            case 4: {
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
                field: `${prefix}.payloadType`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.publicKey`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
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

  export interface SignedEnvelopePayloadTypeFieldEvent {
    field: '$.payloadType'
    value: string
  }

  export interface SignedEnvelopePayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedEnvelopePublicKeyFieldEvent {
    field: '$.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedEnvelopeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedEnvelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedEnvelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedEnvelope>): SignedEnvelope {
    return decodeMessage(buf, SignedEnvelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedEnvelope>): Generator<SignedEnvelopePayloadTypeFieldEvent | SignedEnvelopePayloadFieldEvent | SignedEnvelopePublicKeyFieldEvent | SignedEnvelopeSignatureFieldEvent> {
    return streamMessage(buf, SignedEnvelope.codec(), opts)
  }
}
