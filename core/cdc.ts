/**
 * Content-defined chunking: FastCDC (Xia et al., "FastCDC: a Fast and Efficient Content-Defined
 * Chunking Approach for Data Deduplication", USENIX ATC 2016) with normalized chunking (level 2).
 * Chunk boundaries come from the bytes, not from offsets: an edit in the middle of a file moves
 * only the boundaries near it, so a new version of a model shares every chunk away from its
 * changes with the old one.
 *
 * The algorithm, exactly (this defines the `fastcdc/1` chunking a manifest names; changing any
 * of it changes every CID, so it is fixed forever):
 *
 * - A 32-bit gear hash over the bytes: `fp = (fp << 1) + GEAR[byte]` mod 2^32. {@link GEAR} is
 *   256 words, word i = the first 4 bytes (big-endian) of sha2-256("tutti/fastcdc/gear/1 " + i),
 *   written out below and checked against that rule by the tests.
 * - For an average of 2^b bytes: `maskS` has the top b+2 bits of the word set (harder to hit),
 *   `maskL` the top b-2 bits (easier). The top bits, because bit k of the gear hash depends on
 *   the last k+1 bytes only: the high bits see a 32-byte window.
 * - From a chunk's start, the first `minBytes` bytes are skipped (not hashed). The hash starts at
 *   0 at byte `minBytes`; after hashing the byte at offset i (from the chunk's start), the chunk
 *   ends there (length i + 1) if `(fp & maskS) === 0` while i + 1 < avgBytes, or
 *   `(fp & maskL) === 0` from then on. A chunk that has not ended at `maxBytes` ends there; the
 *   last chunk of the input is whatever is left (1 byte to `maxBytes`).
 *
 * {@link cutPoint} is that decision, pure; {@link CdcChunker} applies it to a stream fed in pieces
 * of any size (the same chunks whatever the pieces), holding at most about two `maxBytes` of it.
 */

/** The name of this chunking in a manifest (`chunking.method`). */
export const FASTCDC_METHOD = 'fastcdc/1'

/** Sizes of content-defined chunks, in bytes. */
export interface CdcParams {
  /** No chunk but the last is shorter. */
  minBytes: number
  /** The normal chunk size: a power of two, where the cut condition gets easier. */
  avgBytes: number
  /** No chunk is longer. */
  maxBytes: number
}

/** Smallest `avgBytes` this module accepts (a manifest bounds it more, see node/models). */
export const MIN_CDC_AVG_BYTES = 256
/** Largest `avgBytes`: masks of b+2 bits must fit the 32-bit hash. */
export const MAX_CDC_AVG_BYTES = 1 << 28

/** The gear table of `fastcdc/1` (see the module comment for how it was made). */
export const GEAR: Readonly<Uint32Array> = Uint32Array.of(
  0xc338868d, 0x4f8a1a59, 0x1e46b4ae, 0x474348a3, 0xc61cb19b, 0xe7c1864c, 0xc32d5032, 0xa2ff638c,
  0x3d208bc1, 0x5746b54f, 0xdef11616, 0xe0883199, 0xeeee9369, 0xbbd511f2, 0xa43d091a, 0x361172cb,
  0x3a485bf7, 0x9c5dd887, 0x541ccf78, 0x62a3f669, 0x777693a5, 0x5c19a558, 0x55a479ee, 0x119001e9,
  0xb1e16949, 0x8496d021, 0x99ae808d, 0x792d39f3, 0x0f14c3ac, 0x72d4b5f1, 0x25ff4cc1, 0xd8f53086,
  0x8efdfbce, 0x4860c8fd, 0x78ad81a6, 0xadb4bd68, 0x979fbc87, 0xa3639122, 0xd594d725, 0xef6f559d,
  0x7b050395, 0xecf0d2e9, 0xed486360, 0x837b8b33, 0x276f8042, 0xabc6cb53, 0x2a4edf33, 0x55dad7f6,
  0x593a33e1, 0xdc918918, 0xd6e8cc90, 0x00c6799a, 0x951ce1e5, 0x182a971f, 0x5b775729, 0xb04f9304,
  0x027aacf3, 0xf0acf44d, 0x9f7cbc03, 0xa7d8e0bf, 0xa754807d, 0x3aef0a64, 0x7c90cd50, 0x9b77c3d5,
  0xd51a5116, 0x4df99711, 0xdaaa4023, 0x8e42b9be, 0x81c5bc11, 0x3db2345a, 0x19e4b463, 0x2a3b26fd,
  0x14879805, 0xb06019de, 0x902387ed, 0xd5535924, 0x3e7f090b, 0x6ccedc51, 0x57ff24d9, 0x18c481f3,
  0x82786003, 0xf748d4f3, 0x96716f4a, 0xf3db4b11, 0xc040f7ae, 0x8c7744c4, 0x2644f3fb, 0xe910227e,
  0x0d20ffb0, 0xb0a4b378, 0xc376d66a, 0x460018a1, 0x821e87e0, 0x2da5b1d2, 0xb2f7acd6, 0xb7bc6020,
  0xa4d66702, 0xefefa500, 0x8342fff3, 0x1f6dcbfa, 0xae886584, 0x864f45e4, 0x4807b082, 0xa26fa8fd,
  0x3923bde3, 0x157ea16a, 0x1c8217ef, 0x949f5537, 0xc550a117, 0x3028e8c3, 0xb04fea5c, 0xfef1127b,
  0xe612c060, 0x52051cbf, 0x672d426c, 0x0e19e10e, 0x15cc2013, 0x4a01ee0d, 0x230707cd, 0x89b6f8cd,
  0x2d83e7f1, 0x029e2323, 0xfcc5322e, 0xf66e0de4, 0x45f29a73, 0x856e87af, 0x7dd66574, 0x03d3d77e,
  0xc7c3ce4d, 0x47d944d9, 0x2a3dd0c6, 0x4fada1b7, 0xe7ef5a26, 0x691ac288, 0x3f879cfe, 0x709f83f1,
  0xeef39135, 0x67aa578c, 0x99b94319, 0x9788c69e, 0x65805a15, 0x46da1893, 0x622cf2ba, 0x1d7c78ed,
  0x0c05fe18, 0x9370e5eb, 0x6c5ca406, 0x2da311d7, 0x8b09fcad, 0x4ccac260, 0x1d5051a6, 0x02897d3a,
  0xf8b9ff4e, 0xaaeffe4f, 0xdb5897b8, 0x414fe5e6, 0x24e0cf69, 0x6e7d5d5f, 0xe512f938, 0xf9add0b4,
  0xabe96917, 0x150a5b27, 0x32887d3a, 0x8d374ac7, 0xa4f780bb, 0xc29c4529, 0xecdf7c3b, 0xb6f98f64,
  0xc558b7fb, 0x1d18a2b0, 0x135c24b8, 0x9b7648ed, 0xecd8d1d1, 0x82bf3fc1, 0xb9c1797e, 0xf35a0bfd,
  0xd73cc25e, 0x10882cf7, 0xdf9912e3, 0x19b0d470, 0x8fb21885, 0x256d5cb5, 0x41d6dc12, 0x124d1897,
  0x5852491f, 0x55a83978, 0x4ed14b18, 0x94adde4e, 0x4c095abe, 0x120cd92a, 0x076dd519, 0xd01995c6,
  0x9e337abd, 0xa27a6ab9, 0x33c8f61a, 0x885ff573, 0x6d17fe5b, 0x3c14ac49, 0x8d0d541f, 0x3b1f0b85,
  0xda50fb7e, 0xe8cc4eb9, 0x23df88aa, 0x08c5db75, 0x251a3285, 0x07f6c28b, 0x0044b4e0, 0xaf2f42d9,
  0x712eeece, 0x784222e8, 0xe3718c83, 0x6574cfe0, 0xf827c22a, 0xe6d44f08, 0xa2c19c07, 0x31dbf19e,
  0xecef3c28, 0x9f4bbbb3, 0xb5aee003, 0xd8bf2e18, 0x998510fa, 0x57f2126d, 0xb7a77eca, 0xe824104a,
  0x612ca9e2, 0x5639aefa, 0x8af47ddf, 0xaae1f391, 0x36fa8cba, 0xbb442be4, 0xe35f1ce4, 0x2c6c17af,
  0x64941e87, 0xd96ff772, 0xe72b8283, 0x8606f34a, 0x256ecf55, 0xdcf42a9d, 0x4181dd79, 0x182ea96c,
  0x46ddb70a, 0xed3e5f37, 0x76bb026a, 0x89b60319, 0x8a4b870e, 0xeb0f7d42, 0x42b5266f, 0x7d1dd800,
  0x4454c188, 0xef44e86b, 0xd44dd04b, 0x56adac6f, 0x4267ffaa, 0xaf663a7e, 0xd895020d, 0x186805d8
)

/** The parameters `pack` derives from an average: min = avg / 4, max = avg * 4. */
export function cdcParamsFor (avgBytes: number): CdcParams {
  return { minBytes: avgBytes / 4, avgBytes, maxBytes: avgBytes * 4 }
}

/** Why `p` is not a valid set of parameters, or undefined when it is. */
export function checkCdcParams (p: CdcParams): string | undefined {
  const { minBytes, avgBytes, maxBytes } = p
  if (![minBytes, avgBytes, maxBytes].every(Number.isSafeInteger)) return 'chunk sizes must be integers'
  if (avgBytes < MIN_CDC_AVG_BYTES || avgBytes > MAX_CDC_AVG_BYTES || (avgBytes & (avgBytes - 1)) !== 0) {
    return `avgBytes must be a power of two in [${MIN_CDC_AVG_BYTES}, ${MAX_CDC_AVG_BYTES}]`
  }
  if (minBytes < 1 || minBytes > avgBytes) return 'minBytes must be in [1, avgBytes]'
  if (maxBytes < avgBytes) return 'maxBytes must be at least avgBytes'
  return undefined
}

/** The two masks of normalized chunking for an average of 2^b bytes. */
export function cdcMasks (avgBytes: number): { maskS: number, maskL: number } {
  const bits = Math.round(Math.log2(avgBytes))
  return { maskS: topBits(bits + 2), maskL: topBits(bits - 2) }
}

/** A 32-bit word with its top `n` bits set (as a signed 32-bit number). */
function topBits (n: number): number {
  if (n <= 0) return 0
  if (n >= 32) return -1
  return (-1 << (32 - n)) | 0
}

/**
 * Length of the chunk that starts at `start` in `buf[start, end)`. `end - start` must be at least
 * `maxBytes` unless the input ends at `end` (then a shorter rest may be returned whole). Pure.
 */
export function cutPoint (buf: Uint8Array, start: number, end: number, p: CdcParams, masks = cdcMasks(p.avgBytes)): number {
  const available = end - start
  if (available <= p.minBytes) return available
  const n = Math.min(available, p.maxBytes)
  const normal = Math.min(n, p.avgBytes)
  const { maskS, maskL } = masks
  const gear = GEAR
  let fp = 0
  let i = p.minBytes
  for (; i < normal; i++) {
    fp = ((fp << 1) + gear[buf[start + i]!]!) | 0
    if ((fp & maskS) === 0) return i + 1
  }
  for (; i < n; i++) {
    fp = ((fp << 1) + gear[buf[start + i]!]!) | 0
    if ((fp & maskL) === 0) return i + 1
  }
  return n
}

/** Chunk lengths of a whole buffer, in order (they add up to its length). */
export function chunkLengths (bytes: Uint8Array, p: CdcParams): number[] {
  const masks = cdcMasks(p.avgBytes)
  const out: number[] = []
  for (let start = 0; start < bytes.byteLength;) {
    const len = cutPoint(bytes, start, bytes.byteLength, p, masks)
    out.push(len)
    start += len
  }
  return out
}

/**
 * Content-defined chunks of a stream: `push` pieces of any size, `end` at the end; each returns the
 * chunks completed so far (copies: they stay valid). The chunks are those of {@link chunkLengths}
 * over the whole stream, whatever the pieces. Holds at most `2 * maxBytes` bytes plus one piece.
 */
export class CdcChunker {
  private readonly p: CdcParams
  private readonly masks: { maskS: number, maskL: number }
  private buf: Uint8Array
  private start = 0
  private end = 0
  private ended = false

  constructor (params: CdcParams) {
    const problem = checkCdcParams(params)
    if (problem != null) throw new RangeError(`invalid chunking parameters: ${problem}`)
    this.p = { ...params }
    this.masks = cdcMasks(params.avgBytes)
    this.buf = new Uint8Array(2 * params.maxBytes)
  }

  push (piece: Uint8Array): Uint8Array[] {
    if (this.ended) throw new Error('chunker already ended')
    const out: Uint8Array[] = []
    let at = 0
    while (at < piece.byteLength) {
      if (this.end === this.buf.byteLength) this.compact()
      const take = Math.min(piece.byteLength - at, this.buf.byteLength - this.end)
      this.buf.set(piece.subarray(at, at + take), this.end)
      this.end += take
      at += take
      this.drain(out, false)
    }
    return out
  }

  /** Ends the stream: the chunks still held, the last one possibly short. */
  finish (): Uint8Array[] {
    if (this.ended) return []
    this.ended = true
    const out: Uint8Array[] = []
    this.drain(out, true)
    return out
  }

  /** Cuts every chunk whose end is decided: with `maxBytes` held, or all at the end. */
  private drain (out: Uint8Array[], atEnd: boolean): void {
    while (this.end - this.start >= (atEnd ? 1 : this.p.maxBytes)) {
      const len = cutPoint(this.buf, this.start, this.end, this.p, this.masks)
      out.push(this.buf.slice(this.start, this.start + len))
      this.start += len
    }
  }

  private compact (): void {
    this.buf.copyWithin(0, this.start, this.end)
    this.end -= this.start
    this.start = 0
  }
}
