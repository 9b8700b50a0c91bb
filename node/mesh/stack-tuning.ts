/**
 * Two changes to how the libp2p stack's own code runs, made once per process before any node or
 * dialer is built. Neither changes a byte's meaning on the wire: stock peers (js, go, rust) see
 * valid yamux and noise framing, only fewer frames and the same bytes.
 *
 * 1. **yamux window updates at half a window** (`@libp2p/yamux` 8.x). js-yamux answers every data
 *    frame it receives with a window update, so every gossip message, chunk request or answer
 *    costs a second frame the other way: its own noise encryption, socket write and TCP segment.
 *    Counted on 10 idle nodes (TCP, 1 s heartbeats): 123 socket writes a node a second, half of
 *    them window updates. go-yamux and rust-yamux send an update only once the window the sender
 *    has left falls below half (go-yamux `segmentedBuffer.GrowTo`); this does the same. The sender
 *    always keeps at least half a window (128 KiB at first) to send into, and the window's
 *    auto-tuning runs, as in go-yamux, when an update is sent.
 * 2. **No RangeError per received chunk** (`@libp2p/utils` `LengthPrefixedDecoder`, noise's frame
 *    decoder). The decoder loops until the length prefix cannot be read, and learns that from the
 *    length decoder throwing a new `RangeError`: after every chunk that ended on a frame boundary,
 *    that is after nearly every one, an error with a captured stack (~5 us). Here the length decoder
 *    is asked nothing when no byte is buffered, and the decoder stops there as it would have.
 *
 * Each change checks the methods it wraps when it is applied and throws {@link StackTuningError}
 * if a dependency upgrade moved them, so that upgrade fails at start-up, in tests. A stream or
 * decoder whose fields were renamed runs as shipped (nothing throws inside a socket event); the
 * tests on real nodes count frames and calls and fail then. `TUTTI_STOCK_LIBP2P=1` leaves the stack as shipped (benchmarks compare
 * both; see docs/BENCHMARKS.md).
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { TuttiError } from '../../core/errors.js'

export class StackTuningError extends TuttiError {
  constructor (message: string) {
    super('ERR_STACK_TUNING', `${message}: review node/mesh/stack-tuning.ts against the installed version`)
    this.name = 'StackTuningError'
  }
}

/** The fields of a yamux stream the window rule reads (private in its typings). */
interface YamuxStreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

/** The fields of a length-prefixed decoder the empty-buffer rule reads. */
interface LengthPrefixedDecoderFields {
  lengthDecoder: (data: { byteLength: number }) => number
  [DECODER_GUARDED]?: boolean
}

const YAMUX_TUNED = Symbol.for('tutti.yamux.windowUpdateAtHalf')
const DECODER_TUNED = Symbol.for('tutti.lengthPrefixedDecoder.noThrowWhenEmpty')
/** Set on each decoder instance once its length decoder is wrapped. */
const DECODER_GUARDED = Symbol('tutti.lengthPrefixedDecoder.guarded')
/** Thrown (never constructed again) when no byte of a length prefix is buffered. */
const NOTHING_BUFFERED = new RangeError('no length prefix buffered')

/**
 * Whether a window update may be left out: the stream is open (no SYN or ACK to carry, not paused)
 * and the peer can still send at least half a window. Pure; exported for its tests.
 */
export function windowUpdateMayWait (state: StreamState, recvWindow: number, recvWindowCapacity: number): boolean {
  if (state === StreamState.Init || state === StreamState.SYNReceived || state === StreamState.Paused) return false
  return recvWindow - recvWindowCapacity < recvWindow / 2
}

/** Sends yamux window updates only once half the window is used (change 1 above). */
export function tuneYamuxWindowUpdates (): void {
  const proto = YamuxStream.prototype as unknown as YamuxStreamWindow & Record<symbol, boolean>
  if (proto[YAMUX_TUNED] === true) return
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function' || original.length !== 0) throw new StackTuningError('YamuxStream.sendWindowUpdate is not the method this tunes')
  if (typeof StreamState.Paused !== 'number' || typeof StreamState.SYNReceived !== 'number' || typeof StreamState.Init !== 'number') {
    throw new StackTuningError('yamux StreamState no longer has Init, SYNReceived and Paused')
  }
  proto.sendWindowUpdate = function (this: YamuxStreamWindow) {
    // A stream without these fields (a yamux that renamed them) gets the stock behaviour: never a
    // throw inside a socket event. The tests on real nodes count the updates and catch it.
    if (typeof this.recvWindow === 'number' && typeof this.recvWindowCapacity === 'number' &&
      windowUpdateMayWait(this.state, this.recvWindow, this.recvWindowCapacity)) return
    original.call(this)
  }
  proto[YAMUX_TUNED] = true
}

/** Stops the length-prefixed decoder's loop on an empty buffer without a new RangeError (change 2). */
export function tuneLengthPrefixedDecoder (): void {
  const proto = LengthPrefixedDecoder.prototype as unknown as { decode: (this: LengthPrefixedDecoderFields, buf: unknown) => Generator<unknown> } & Record<symbol, boolean>
  if (proto[DECODER_TUNED] === true) return
  const original = proto.decode
  if (typeof original !== 'function') throw new StackTuningError('LengthPrefixedDecoder.decode is missing')
  proto.decode = function (this: LengthPrefixedDecoderFields, buf: unknown) {
    if (this[DECODER_GUARDED] !== true) {
      this[DECODER_GUARDED] = true
      const decodeLength = this.lengthDecoder
      // Without a length decoder of its own (a renamed field) the decoder stays as shipped.
      if (typeof decodeLength === 'function') {
        this.lengthDecoder = (data) => {
          if (data.byteLength === 0) throw NOTHING_BUFFERED
          return decodeLength(data)
        }
      }
    }
    return original.call(this, buf)
  }
  proto[DECODER_TUNED] = true
}

/**
 * Applies both changes, once per process (later calls do nothing), unless the environment has
 * `TUTTI_STOCK_LIBP2P=1`. Returns whether the stack is tuned.
 */
export function tuneLibp2pStack (env: Record<string, string | undefined> = process.env): boolean {
  if (env.TUTTI_STOCK_LIBP2P === '1') return false
  tuneYamuxWindowUpdates()
  tuneLengthPrefixedDecoder()
  return true
}
