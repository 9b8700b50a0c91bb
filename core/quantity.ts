/**
 * Quantities as operators write them, in one place: CPU (`"500m"`, `"0.5"`, `"2"`), bytes
 * (`"256Mi"`, `"1G"`, `"2MiB"`) and byte rates (`"2MiB"`, `"20Mbit"`, an optional `/s`), in the
 * Kubernetes resource-quantity syntax plus the `B`/`bit` spellings people use for sizes and
 * links. Every error is a {@link QuantityError} that names what was expected for that kind of
 * quantity, and only that kind.
 */
import { TuttiError } from './errors.js'

/** A text that is not a quantity of the expected kind. */
export class QuantityError extends TuttiError {
  constructor (message: string) {
    super('ERR_QUANTITY', message)
    this.name = 'QuantityError'
  }
}

/** A parsed Kubernetes quantity: its value and which suffix it used. */
export interface Quantity {
  value: number
  /** `''`, a decimal (`m`, `k`, `M`...) or binary (`Ki`, `Mi`...) suffix, or the exponent (`e3`). */
  suffix: string
  binary: boolean
}

const DECIMAL_SUFFIXES: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18
}
const BINARY_SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60
}
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([eE])([+-]?\d+)|([a-zA-Z]{0,2}))$/
const MAX_QUANTITY_CHARS = 64

const CPU_EXPECTED = 'expected cores ("2", "0.5") or millicores ("500m")'
const BYTES_EXPECTED = 'expected bytes with an optional suffix Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), e.g. "256Mi", "1G", "2MiB"'
const RATE_EXPECTED = 'expected bytes per second like 2500000, 2.5MB, 2MiB, or bits per second like 20Mbit (an optional /s)'

function quote (text: unknown): string {
  return typeof text === 'string' ? JSON.stringify(text.slice(0, MAX_QUANTITY_CHARS)) : String(text)
}

/**
 * Parses a Kubernetes resource quantity: a decimal number with an optional suffix, decimal SI
 * (`n u m k M G T P E`, and `K` as operators often write it), binary SI (`Ki Mi Gi Ti Pi Ei`) or
 * a decimal exponent (`1e3`). `expected` ends the error message.
 */
export function parseQuantity (text: string, what = 'quantity', expected = 'expected a number with an optional suffix such as m, k, M, G or Ki, Mi, Gi'): Quantity {
  if (typeof text !== 'string') throw new QuantityError(`${what} must be a string: ${expected}`)
  const trimmed = text.trim()
  const m = trimmed.length <= MAX_QUANTITY_CHARS ? QUANTITY.exec(trimmed) : null
  if (m == null) throw new QuantityError(`${what} ${quote(text)} is not a quantity: ${expected}`)
  const sign = m[1] === '-' ? -1 : 1
  const base = Number(m[2])
  if (m[3] !== undefined) {
    const value = sign * base * 10 ** Number(m[4])
    if (!Number.isFinite(value)) throw new QuantityError(`${what} ${quote(text)} is out of range`)
    return { value, suffix: `${m[3]}${m[4] ?? ''}`, binary: false }
  }
  const suffix = m[5] ?? ''
  const binary = BINARY_SUFFIXES[suffix]
  const factor = binary ?? DECIMAL_SUFFIXES[suffix]
  if (factor === undefined) throw new QuantityError(`${what} ${quote(text)} has an unknown suffix "${suffix}": ${expected}`)
  return { value: sign * base * factor, suffix, binary: binary !== undefined }
}

/** Cores from a CPU quantity: `"500m"` -> 0.5, `"2"` -> 2, `1.5` -> 1.5. Rounded up to whole millicores. */
export function parseCpu (input: string | number, what = 'cpu'): number {
  let value: number
  if (typeof input === 'number') {
    value = input
  } else {
    const q = parseQuantity(input, what, CPU_EXPECTED)
    if (q.binary || !['', 'm'].includes(q.suffix) && !q.suffix.startsWith('e') && !q.suffix.startsWith('E')) {
      throw new QuantityError(`${what} ${quote(input)} is not a CPU quantity: ${CPU_EXPECTED}`)
    }
    value = q.value
  }
  if (!Number.isFinite(value) || value <= 0) throw new QuantityError(`${what} ${quote(input)} must be more than zero: ${CPU_EXPECTED}`)
  const millis = Math.ceil(value * 1000 - 1e-9)
  if (millis < 1) throw new QuantityError(`${what} ${quote(input)} is below 1m, the smallest share`)
  return millis / 1000
}

/**
 * Bytes from a size: a Kubernetes quantity (`"256Mi"`, `"1G"`, `"1e9"`, `268435456`) or the same
 * with a `B` (`"2MiB"`, `"300MB"`, `"512B"`). Rounded up to whole bytes.
 */
export function parseBytes (input: string | number, what = 'size'): number {
  let value: number
  if (typeof input === 'number') {
    value = input
  } else {
    const text = typeof input === 'string' ? input.trim().replace(/^(.*?\d)((?:[kKMGTPE]i?)?)B$/, '$1$2') : input
    const q = parseQuantity(text, what, BYTES_EXPECTED)
    if (q.suffix === 'm') {
      // Valid Kubernetes (millibytes) but never what anyone means.
      const n = text.slice(0, -1)
      throw new QuantityError(`${what} ${quote(input)} would be millibytes; did you mean "${n}Mi" or "${n}M"?`)
    }
    if (q.suffix === 'n' || q.suffix === 'u') throw new QuantityError(`${what} ${quote(input)} is a fraction of a byte: ${BYTES_EXPECTED}`)
    value = q.value
  }
  if (!Number.isFinite(value) || value < 1) throw new QuantityError(`${what} ${quote(input)} must be at least one byte`)
  if (value > Number.MAX_SAFE_INTEGER) throw new QuantityError(`${what} ${quote(input)} is out of range`)
  return Math.ceil(value)
}

const BIT_PREFIXES: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }

/**
 * Bytes per second from a rate: a size as {@link parseBytes} reads it (`"2500000"`, `"2.5MB"`,
 * `"2MiB"`) or bits (`"20Mbit"`, `"500kbit"`), with an optional `/s`. Rounded down to whole bytes.
 */
export function parseByteRate (input: string, what = 'rate'): number {
  if (typeof input !== 'string') throw new QuantityError(`${what} must be a string: ${RATE_EXPECTED}`)
  const text = input.trim().replace(/\/s$/, '')
  const bits = /^(\d+(?:\.\d+)?)\s*([kKMGT]?)bit$/.exec(text)
  let bytes: number
  if (bits != null) {
    bytes = Number(bits[1]) * BIT_PREFIXES[bits[2]!]! / 8
  } else {
    try {
      bytes = parseBytes(text, what)
    } catch (err) {
      if (err instanceof QuantityError) throw new QuantityError(`${what} ${quote(input)} is not a rate: ${RATE_EXPECTED}`)
      throw err
    }
  }
  return Math.floor(bytes)
}

/** Bytes as a quantity that reads back: `512`, `1.5Ki`, `256Mi`, `12Gi` (3 significant digits). */
export function formatBytes (n: number): string {
  if (!Number.isFinite(n) || n < 0) return '<unknown>'
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n}` : `${v >= 10 ? Math.round(v) : v.toFixed(1)}${units[u]}`
}
