/**
 * Bitfields over a manifest's chunk list: bit i (byte i >> 3, bit i & 7, least significant first)
 * stands for chunk i. Always exactly ceil(count / 8) bytes; padding bits are zero.
 */
import { ChunkProtocolError } from './errors.js'

export function bitfieldBytes (count: number): number {
  return Math.ceil(count / 8)
}

/** A bitfield of `count` bits with bit i set when `has(i)`. */
export function encodeBitfield (count: number, has: (index: number) => boolean): Uint8Array {
  const out = new Uint8Array(bitfieldBytes(count))
  for (let i = 0; i < count; i++) {
    if (has(i)) out[i >> 3]! |= 1 << (i & 7)
  }
  return out
}

export function bitfieldHas (bits: Uint8Array, index: number): boolean {
  return ((bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0
}

/** Reads a bitfield from the network: wrong length or set padding bits is a protocol error. */
export function decodeBitfield (bits: Uint8Array, count: number, what = 'bitfield'): boolean[] {
  if (bits.byteLength !== bitfieldBytes(count)) {
    throw new ChunkProtocolError(`${what} is ${bits.byteLength} bytes; ${count} chunks need ${bitfieldBytes(count)}`)
  }
  const out = new Array<boolean>(count)
  for (let i = 0; i < count; i++) out[i] = bitfieldHas(bits, i)
  const tail = count & 7
  if (tail !== 0 && (bits[bits.byteLength - 1]! >> tail) !== 0) {
    throw new ChunkProtocolError(`${what} sets bits past chunk ${count - 1}`)
  }
  return out
}

export function countSet (bits: readonly boolean[]): number {
  let n = 0
  for (const b of bits) if (b) n++
  return n
}
