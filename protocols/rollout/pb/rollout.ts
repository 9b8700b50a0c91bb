import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface RolloutRequest {
  prepare?: PrepareRequest
  command?: CommandRequest
  report?: ReportRequest
}

export namespace RolloutRequest {
  let _codec: Codec<RolloutRequest>

  export const codec = (): Codec<RolloutRequest> => {
    if (_codec == null) {
      _codec = message<RolloutRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.report != null) {
          obj.command = undefined
          obj.prepare = undefined
        }

        if (obj.command != null) {
          obj.report = undefined
          obj.prepare = undefined
        }

        if (obj.prepare != null) {
          obj.report = undefined
          obj.command = undefined
        }

        if (obj.prepare != null) {
          w.uint32(10)
          PrepareRequest.codec().encode(obj.prepare, w)
        }

        if (obj.command != null) {
          w.uint32(18)
          CommandRequest.codec().encode(obj.command, w)
        }

        if (obj.report != null) {
          w.uint32(26)
          ReportRequest.codec().encode(obj.report, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.prepare = PrepareRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.prepare
              })
              break
            }
            case 2: {
              obj.command = CommandRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.command
              })
              break
            }
            case 3: {
              obj.report = ReportRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.report
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.report != null) {
          delete obj.command
          delete obj.prepare
        }

        if (obj.command != null) {
          delete obj.report
          delete obj.prepare
        }

        if (obj.prepare != null) {
          delete obj.report
          delete obj.command
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * PrepareRequest.codec().stream(reader, reader.uint32(), `${prefix}.prepare`, {
                limits: opts.limits?.prepare
              })

              break
            }
            case 2: {
              yield * CommandRequest.codec().stream(reader, reader.uint32(), `${prefix}.command`, {
                limits: opts.limits?.command
              })

              break
            }
            case 3: {
              yield * ReportRequest.codec().stream(reader, reader.uint32(), `${prefix}.report`, {
                limits: opts.limits?.report
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

  export interface RolloutRequestPrepareRolloutFieldEvent {
    field: '$.prepare.rollout'
    value: string
  }

  export interface RolloutRequestPreparePolicyVersionFieldEvent {
    field: '$.prepare.policyVersion'
    value: bigint
  }

  export interface RolloutRequestPrepareEpochFieldEvent {
    field: '$.prepare.epoch'
    value: bigint
  }

  export interface RolloutRequestCommandEnvelopeFieldEvent {
    field: '$.command.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RolloutRequestReportRolloutFieldEvent {
    field: '$.report.rollout'
    value: string
  }

  export function encode (obj: Partial<RolloutRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RolloutRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutRequest>): RolloutRequest {
    return decodeMessage(buf, RolloutRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutRequest>): Generator<RolloutRequestPrepareRolloutFieldEvent | RolloutRequestPreparePolicyVersionFieldEvent | RolloutRequestPrepareEpochFieldEvent | RolloutRequestCommandEnvelopeFieldEvent | RolloutRequestReportRolloutFieldEvent> {
    return streamMessage(buf, RolloutRequest.codec(), opts)
  }
}

export interface PrepareRequest {
  rollout: string
  policyVersion: bigint
  epoch: bigint
}

export namespace PrepareRequest {
  let _codec: Codec<PrepareRequest>

  export const codec = (): Codec<PrepareRequest> => {
    if (_codec == null) {
      _codec = message<PrepareRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.rollout != null && obj.rollout !== '')) {
          w.uint32(10)
          w.string(obj.rollout)
        }

        if ((obj.policyVersion != null && obj.policyVersion !== 0n)) {
          w.uint32(16)
          w.uint64(obj.policyVersion)
        }

        if ((obj.epoch != null && obj.epoch !== 0n)) {
          w.uint32(24)
          w.uint64(obj.epoch)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          rollout: '',
          policyVersion: 0n,
          epoch: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.rollout = reader.string()
              break
            }
            case 2: {
              obj.policyVersion = reader.uint64()
              break
            }
            case 3: {
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
                field: `${prefix}.rollout`,
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

  export interface PrepareRequestRolloutFieldEvent {
    field: '$.rollout'
    value: string
  }

  export interface PrepareRequestPolicyVersionFieldEvent {
    field: '$.policyVersion'
    value: bigint
  }

  export interface PrepareRequestEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export function encode (obj: Partial<PrepareRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PrepareRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PrepareRequest>): PrepareRequest {
    return decodeMessage(buf, PrepareRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PrepareRequest>): Generator<PrepareRequestRolloutFieldEvent | PrepareRequestPolicyVersionFieldEvent | PrepareRequestEpochFieldEvent> {
    return streamMessage(buf, PrepareRequest.codec(), opts)
  }
}

export interface CommandRequest {
  envelope: Uint8Array<ArrayBuffer>
}

export namespace CommandRequest {
  let _codec: Codec<CommandRequest>

  export const codec = (): Codec<CommandRequest> => {
    if (_codec == null) {
      _codec = message<CommandRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.envelope != null && obj.envelope.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.envelope)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          envelope: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.envelope = reader.bytes()
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
                field: `${prefix}.envelope`,
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

  export interface CommandRequestEnvelopeFieldEvent {
    field: '$.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CommandRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CommandRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandRequest>): CommandRequest {
    return decodeMessage(buf, CommandRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandRequest>): Generator<CommandRequestEnvelopeFieldEvent> {
    return streamMessage(buf, CommandRequest.codec(), opts)
  }
}

export interface ReportRequest {
  rollout: string
}

export namespace ReportRequest {
  let _codec: Codec<ReportRequest>

  export const codec = (): Codec<ReportRequest> => {
    if (_codec == null) {
      _codec = message<ReportRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.rollout != null && obj.rollout !== '')) {
          w.uint32(10)
          w.string(obj.rollout)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          rollout: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.rollout = reader.string()
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
                field: `${prefix}.rollout`,
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

  export interface ReportRequestRolloutFieldEvent {
    field: '$.rollout'
    value: string
  }

  export function encode (obj: Partial<ReportRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ReportRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReportRequest>): ReportRequest {
    return decodeMessage(buf, ReportRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReportRequest>): Generator<ReportRequestRolloutFieldEvent> {
    return streamMessage(buf, ReportRequest.codec(), opts)
  }
}

export interface RolloutResponse {
  promise?: PromiseResponse
  ack?: CommandAck
  report?: DeviceReport
  error?: RolloutError
}

export namespace RolloutResponse {
  let _codec: Codec<RolloutResponse>

  export const codec = (): Codec<RolloutResponse> => {
    if (_codec == null) {
      _codec = message<RolloutResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.error != null) {
          obj.report = undefined
          obj.ack = undefined
          obj.promise = undefined
        }

        if (obj.report != null) {
          obj.error = undefined
          obj.ack = undefined
          obj.promise = undefined
        }

        if (obj.ack != null) {
          obj.error = undefined
          obj.report = undefined
          obj.promise = undefined
        }

        if (obj.promise != null) {
          obj.error = undefined
          obj.report = undefined
          obj.ack = undefined
        }

        if (obj.promise != null) {
          w.uint32(10)
          PromiseResponse.codec().encode(obj.promise, w)
        }

        if (obj.ack != null) {
          w.uint32(18)
          CommandAck.codec().encode(obj.ack, w)
        }

        if (obj.report != null) {
          w.uint32(26)
          DeviceReport.codec().encode(obj.report, w)
        }

        if (obj.error != null) {
          w.uint32(34)
          RolloutError.codec().encode(obj.error, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.promise = PromiseResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.promise
              })
              break
            }
            case 2: {
              obj.ack = CommandAck.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ack
              })
              break
            }
            case 3: {
              obj.report = DeviceReport.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.report
              })
              break
            }
            case 4: {
              obj.error = RolloutError.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.error != null) {
          delete obj.report
          delete obj.ack
          delete obj.promise
        }

        if (obj.report != null) {
          delete obj.error
          delete obj.ack
          delete obj.promise
        }

        if (obj.ack != null) {
          delete obj.error
          delete obj.report
          delete obj.promise
        }

        if (obj.promise != null) {
          delete obj.error
          delete obj.report
          delete obj.ack
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * PromiseResponse.codec().stream(reader, reader.uint32(), `${prefix}.promise`, {
                limits: opts.limits?.promise
              })

              break
            }
            case 2: {
              yield * CommandAck.codec().stream(reader, reader.uint32(), `${prefix}.ack`, {
                limits: opts.limits?.ack
              })

              break
            }
            case 3: {
              yield * DeviceReport.codec().stream(reader, reader.uint32(), `${prefix}.report`, {
                limits: opts.limits?.report
              })

              break
            }
            case 4: {
              yield * RolloutError.codec().stream(reader, reader.uint32(), `${prefix}.error`, {
                limits: opts.limits?.error
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

  export interface RolloutResponsePromiseOkFieldEvent {
    field: '$.promise.ok'
    value: boolean
  }

  export interface RolloutResponsePromisePromisedEpochFieldEvent {
    field: '$.promise.promisedEpoch'
    value: bigint
  }

  export interface RolloutResponsePromisePromisedToFieldEvent {
    field: '$.promise.promisedTo'
    value: string
  }

  export interface RolloutResponsePromiseDeviceRolloutFieldEvent {
    field: '$.promise.device.rollout'
    value: string
  }

  export interface RolloutResponsePromiseDevicePolicyVersionFieldEvent {
    field: '$.promise.device.policyVersion'
    value: bigint
  }

  export interface RolloutResponsePromiseDeviceStateFieldEvent {
    field: '$.promise.device.state'
    value: string
  }

  export interface RolloutResponsePromiseDeviceReasonFieldEvent {
    field: '$.promise.device.reason'
    value: string
  }

  export interface RolloutResponsePromiseDeviceCidFieldEvent {
    field: '$.promise.device.cid'
    value: string
  }

  export interface RolloutResponsePromiseDevicePreviousCidFieldEvent {
    field: '$.promise.device.previousCid'
    value: string
  }

  export interface RolloutResponsePromiseDeviceUpdatedMsFieldEvent {
    field: '$.promise.device.updatedMs'
    value: bigint
  }

  export interface RolloutResponsePromiseProgressFieldEvent {
    field: '$.promise.progress'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RolloutResponseAckOkFieldEvent {
    field: '$.ack.ok'
    value: boolean
  }

  export interface RolloutResponseAckCodeFieldEvent {
    field: '$.ack.code'
    value: string
  }

  export interface RolloutResponseAckMessageFieldEvent {
    field: '$.ack.message'
    value: string
  }

  export interface RolloutResponseAckDeviceRolloutFieldEvent {
    field: '$.ack.device.rollout'
    value: string
  }

  export interface RolloutResponseAckDevicePolicyVersionFieldEvent {
    field: '$.ack.device.policyVersion'
    value: bigint
  }

  export interface RolloutResponseAckDeviceStateFieldEvent {
    field: '$.ack.device.state'
    value: string
  }

  export interface RolloutResponseAckDeviceReasonFieldEvent {
    field: '$.ack.device.reason'
    value: string
  }

  export interface RolloutResponseAckDeviceCidFieldEvent {
    field: '$.ack.device.cid'
    value: string
  }

  export interface RolloutResponseAckDevicePreviousCidFieldEvent {
    field: '$.ack.device.previousCid'
    value: string
  }

  export interface RolloutResponseAckDeviceUpdatedMsFieldEvent {
    field: '$.ack.device.updatedMs'
    value: bigint
  }

  export interface RolloutResponseReportRolloutFieldEvent {
    field: '$.report.rollout'
    value: string
  }

  export interface RolloutResponseReportPolicyVersionFieldEvent {
    field: '$.report.policyVersion'
    value: bigint
  }

  export interface RolloutResponseReportStateFieldEvent {
    field: '$.report.state'
    value: string
  }

  export interface RolloutResponseReportReasonFieldEvent {
    field: '$.report.reason'
    value: string
  }

  export interface RolloutResponseReportCidFieldEvent {
    field: '$.report.cid'
    value: string
  }

  export interface RolloutResponseReportPreviousCidFieldEvent {
    field: '$.report.previousCid'
    value: string
  }

  export interface RolloutResponseReportUpdatedMsFieldEvent {
    field: '$.report.updatedMs'
    value: bigint
  }

  export interface RolloutResponseErrorCodeFieldEvent {
    field: '$.error.code'
    value: string
  }

  export interface RolloutResponseErrorMessageFieldEvent {
    field: '$.error.message'
    value: string
  }

  export function encode (obj: Partial<RolloutResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RolloutResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutResponse>): RolloutResponse {
    return decodeMessage(buf, RolloutResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutResponse>): Generator<RolloutResponsePromiseOkFieldEvent | RolloutResponsePromisePromisedEpochFieldEvent | RolloutResponsePromisePromisedToFieldEvent | RolloutResponsePromiseDeviceRolloutFieldEvent | RolloutResponsePromiseDevicePolicyVersionFieldEvent | RolloutResponsePromiseDeviceStateFieldEvent | RolloutResponsePromiseDeviceReasonFieldEvent | RolloutResponsePromiseDeviceCidFieldEvent | RolloutResponsePromiseDevicePreviousCidFieldEvent | RolloutResponsePromiseDeviceUpdatedMsFieldEvent | RolloutResponsePromiseProgressFieldEvent | RolloutResponseAckOkFieldEvent | RolloutResponseAckCodeFieldEvent | RolloutResponseAckMessageFieldEvent | RolloutResponseAckDeviceRolloutFieldEvent | RolloutResponseAckDevicePolicyVersionFieldEvent | RolloutResponseAckDeviceStateFieldEvent | RolloutResponseAckDeviceReasonFieldEvent | RolloutResponseAckDeviceCidFieldEvent | RolloutResponseAckDevicePreviousCidFieldEvent | RolloutResponseAckDeviceUpdatedMsFieldEvent | RolloutResponseReportRolloutFieldEvent | RolloutResponseReportPolicyVersionFieldEvent | RolloutResponseReportStateFieldEvent | RolloutResponseReportReasonFieldEvent | RolloutResponseReportCidFieldEvent | RolloutResponseReportPreviousCidFieldEvent | RolloutResponseReportUpdatedMsFieldEvent | RolloutResponseErrorCodeFieldEvent | RolloutResponseErrorMessageFieldEvent> {
    return streamMessage(buf, RolloutResponse.codec(), opts)
  }
}

export interface PromiseResponse {
  ok: boolean
  promisedEpoch: bigint
  promisedTo: string
  device?: DeviceReport
  progress: Uint8Array<ArrayBuffer>
}

export namespace PromiseResponse {
  let _codec: Codec<PromiseResponse>

  export const codec = (): Codec<PromiseResponse> => {
    if (_codec == null) {
      _codec = message<PromiseResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.promisedEpoch != null && obj.promisedEpoch !== 0n)) {
          w.uint32(16)
          w.uint64(obj.promisedEpoch)
        }

        if ((obj.promisedTo != null && obj.promisedTo !== '')) {
          w.uint32(26)
          w.string(obj.promisedTo)
        }

        if (obj.device != null) {
          w.uint32(34)
          DeviceReport.codec().encode(obj.device, w)
        }

        if ((obj.progress != null && obj.progress.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.progress)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          promisedEpoch: 0n,
          promisedTo: '',
          progress: uint8ArrayAlloc(0)
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
              obj.promisedEpoch = reader.uint64()
              break
            }
            case 3: {
              obj.promisedTo = reader.string()
              break
            }
            case 4: {
              obj.device = DeviceReport.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.device
              })
              break
            }
            case 5: {
              obj.progress = reader.bytes()
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
                field: `${prefix}.promisedEpoch`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.promisedTo`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield * DeviceReport.codec().stream(reader, reader.uint32(), `${prefix}.device`, {
                limits: opts.limits?.device
              })

              break
            }
            case 5: {
              yield {
                field: `${prefix}.progress`,
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

  export interface PromiseResponseOkFieldEvent {
    field: '$.ok'
    value: boolean
  }

  export interface PromiseResponsePromisedEpochFieldEvent {
    field: '$.promisedEpoch'
    value: bigint
  }

  export interface PromiseResponsePromisedToFieldEvent {
    field: '$.promisedTo'
    value: string
  }

  export interface PromiseResponseDeviceRolloutFieldEvent {
    field: '$.device.rollout'
    value: string
  }

  export interface PromiseResponseDevicePolicyVersionFieldEvent {
    field: '$.device.policyVersion'
    value: bigint
  }

  export interface PromiseResponseDeviceStateFieldEvent {
    field: '$.device.state'
    value: string
  }

  export interface PromiseResponseDeviceReasonFieldEvent {
    field: '$.device.reason'
    value: string
  }

  export interface PromiseResponseDeviceCidFieldEvent {
    field: '$.device.cid'
    value: string
  }

  export interface PromiseResponseDevicePreviousCidFieldEvent {
    field: '$.device.previousCid'
    value: string
  }

  export interface PromiseResponseDeviceUpdatedMsFieldEvent {
    field: '$.device.updatedMs'
    value: bigint
  }

  export interface PromiseResponseProgressFieldEvent {
    field: '$.progress'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PromiseResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PromiseResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PromiseResponse>): PromiseResponse {
    return decodeMessage(buf, PromiseResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PromiseResponse>): Generator<PromiseResponseOkFieldEvent | PromiseResponsePromisedEpochFieldEvent | PromiseResponsePromisedToFieldEvent | PromiseResponseDeviceRolloutFieldEvent | PromiseResponseDevicePolicyVersionFieldEvent | PromiseResponseDeviceStateFieldEvent | PromiseResponseDeviceReasonFieldEvent | PromiseResponseDeviceCidFieldEvent | PromiseResponseDevicePreviousCidFieldEvent | PromiseResponseDeviceUpdatedMsFieldEvent | PromiseResponseProgressFieldEvent> {
    return streamMessage(buf, PromiseResponse.codec(), opts)
  }
}

export interface CommandAck {
  ok: boolean
  code: string
  message: string
  device?: DeviceReport
}

export namespace CommandAck {
  let _codec: Codec<CommandAck>

  export const codec = (): Codec<CommandAck> => {
    if (_codec == null) {
      _codec = message<CommandAck>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(18)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(26)
          w.string(obj.message)
        }

        if (obj.device != null) {
          w.uint32(34)
          DeviceReport.codec().encode(obj.device, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          code: '',
          message: ''
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
              obj.code = reader.string()
              break
            }
            case 3: {
              obj.message = reader.string()
              break
            }
            case 4: {
              obj.device = DeviceReport.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.device
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
                field: `${prefix}.ok`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield * DeviceReport.codec().stream(reader, reader.uint32(), `${prefix}.device`, {
                limits: opts.limits?.device
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

  export interface CommandAckOkFieldEvent {
    field: '$.ok'
    value: boolean
  }

  export interface CommandAckCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface CommandAckMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface CommandAckDeviceRolloutFieldEvent {
    field: '$.device.rollout'
    value: string
  }

  export interface CommandAckDevicePolicyVersionFieldEvent {
    field: '$.device.policyVersion'
    value: bigint
  }

  export interface CommandAckDeviceStateFieldEvent {
    field: '$.device.state'
    value: string
  }

  export interface CommandAckDeviceReasonFieldEvent {
    field: '$.device.reason'
    value: string
  }

  export interface CommandAckDeviceCidFieldEvent {
    field: '$.device.cid'
    value: string
  }

  export interface CommandAckDevicePreviousCidFieldEvent {
    field: '$.device.previousCid'
    value: string
  }

  export interface CommandAckDeviceUpdatedMsFieldEvent {
    field: '$.device.updatedMs'
    value: bigint
  }

  export function encode (obj: Partial<CommandAck>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CommandAck.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandAck>): CommandAck {
    return decodeMessage(buf, CommandAck.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommandAck>): Generator<CommandAckOkFieldEvent | CommandAckCodeFieldEvent | CommandAckMessageFieldEvent | CommandAckDeviceRolloutFieldEvent | CommandAckDevicePolicyVersionFieldEvent | CommandAckDeviceStateFieldEvent | CommandAckDeviceReasonFieldEvent | CommandAckDeviceCidFieldEvent | CommandAckDevicePreviousCidFieldEvent | CommandAckDeviceUpdatedMsFieldEvent> {
    return streamMessage(buf, CommandAck.codec(), opts)
  }
}

export interface DeviceReport {
  rollout: string
  policyVersion: bigint
  state: string
  reason: string
  cid: string
  previousCid: string
  updatedMs: bigint
}

export namespace DeviceReport {
  let _codec: Codec<DeviceReport>

  export const codec = (): Codec<DeviceReport> => {
    if (_codec == null) {
      _codec = message<DeviceReport>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.rollout != null && obj.rollout !== '')) {
          w.uint32(10)
          w.string(obj.rollout)
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

        if ((obj.cid != null && obj.cid !== '')) {
          w.uint32(42)
          w.string(obj.cid)
        }

        if ((obj.previousCid != null && obj.previousCid !== '')) {
          w.uint32(50)
          w.string(obj.previousCid)
        }

        if ((obj.updatedMs != null && obj.updatedMs !== 0n)) {
          w.uint32(56)
          w.uint64(obj.updatedMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          rollout: '',
          policyVersion: 0n,
          state: '',
          reason: '',
          cid: '',
          previousCid: '',
          updatedMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.rollout = reader.string()
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
              obj.cid = reader.string()
              break
            }
            case 6: {
              obj.previousCid = reader.string()
              break
            }
            case 7: {
              obj.updatedMs = reader.uint64()
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
                field: `${prefix}.rollout`,
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
                field: `${prefix}.cid`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.previousCid`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.updatedMs`,
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

  export interface DeviceReportRolloutFieldEvent {
    field: '$.rollout'
    value: string
  }

  export interface DeviceReportPolicyVersionFieldEvent {
    field: '$.policyVersion'
    value: bigint
  }

  export interface DeviceReportStateFieldEvent {
    field: '$.state'
    value: string
  }

  export interface DeviceReportReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export interface DeviceReportCidFieldEvent {
    field: '$.cid'
    value: string
  }

  export interface DeviceReportPreviousCidFieldEvent {
    field: '$.previousCid'
    value: string
  }

  export interface DeviceReportUpdatedMsFieldEvent {
    field: '$.updatedMs'
    value: bigint
  }

  export function encode (obj: Partial<DeviceReport>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DeviceReport.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DeviceReport>): DeviceReport {
    return decodeMessage(buf, DeviceReport.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DeviceReport>): Generator<DeviceReportRolloutFieldEvent | DeviceReportPolicyVersionFieldEvent | DeviceReportStateFieldEvent | DeviceReportReasonFieldEvent | DeviceReportCidFieldEvent | DeviceReportPreviousCidFieldEvent | DeviceReportUpdatedMsFieldEvent> {
    return streamMessage(buf, DeviceReport.codec(), opts)
  }
}

export interface RolloutError {
  code: string
  message: string
}

export namespace RolloutError {
  let _codec: Codec<RolloutError>

  export const codec = (): Codec<RolloutError> => {
    if (_codec == null) {
      _codec = message<RolloutError>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(10)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = reader.string()
              break
            }
            case 2: {
              obj.message = reader.string()
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
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
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

  export interface RolloutErrorCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface RolloutErrorMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<RolloutError>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RolloutError.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutError>): RolloutError {
    return decodeMessage(buf, RolloutError.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RolloutError>): Generator<RolloutErrorCodeFieldEvent | RolloutErrorMessageFieldEvent> {
    return streamMessage(buf, RolloutError.codec(), opts)
  }
}
