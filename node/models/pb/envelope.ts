import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ModelEnvelope {
  version: number
  manifest: Uint8Array<ArrayBuffer>
  publicKey: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace ModelEnvelope {
  let _codec: Codec<ModelEnvelope>

  export const codec = (): Codec<ModelEnvelope> => {
    if (_codec == null) {
      _codec = message<ModelEnvelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.manifest != null && obj.manifest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.manifest)
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
          version: 0,
          manifest: uint8ArrayAlloc(0),
          publicKey: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
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
              obj.manifest = reader.bytes()
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
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.manifest`,
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

  export interface ModelEnvelopeVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ModelEnvelopeManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ModelEnvelopePublicKeyFieldEvent {
    field: '$.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ModelEnvelopeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ModelEnvelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ModelEnvelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelEnvelope>): ModelEnvelope {
    return decodeMessage(buf, ModelEnvelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelEnvelope>): Generator<ModelEnvelopeVersionFieldEvent | ModelEnvelopeManifestFieldEvent | ModelEnvelopePublicKeyFieldEvent | ModelEnvelopeSignatureFieldEvent> {
    return streamMessage(buf, ModelEnvelope.codec(), opts)
  }
}
