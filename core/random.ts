/**
 * Seeded randomness for the simulator, tests and benchmarks: components take a `random: () =>
 * number` so a run can be replayed from its seed.
 */
import { randomBytes } from 'node:crypto'

/** mulberry32: a small seeded PRNG, uniform in [0, 1). Not for keys or anything secret. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function shuffled (n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/**
 * A 32-bit seed from the operating system's CSPRNG, for a {@link seededRandom} where no seed is
 * given (production): never `Math.random`, and the seed can be logged to replay a run.
 */
export function randomSeed (): number {
  return randomBytes(4).readUInt32LE(0)
}
