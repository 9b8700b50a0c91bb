/** Semantic versions (semver.org 2.0.0) of models: validation and precedence, nothing more. */

// The regular expression semver.org recommends.
const SEMVER_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

export const MAX_VERSION_LENGTH = 64

export function isSemver (version: unknown): version is string {
  return typeof version === 'string' && version.length <= MAX_VERSION_LENGTH && SEMVER_RE.test(version)
}

/** Semver precedence: negative when a < b, 0 when equal (build metadata is ignored), positive when a > b. */
export function compareSemver (a: string, b: string): number {
  const pa = SEMVER_RE.exec(a)
  const pb = SEMVER_RE.exec(b)
  if (pa == null || pb == null) throw new TypeError(`not semver: ${pa == null ? a : b}`)
  for (let i = 1; i <= 3; i++) {
    const d = compareNumeric(pa[i]!, pb[i]!)
    if (d !== 0) return d
  }
  const preA = pa[4]
  const preB = pb[4]
  if (preA == null || preB == null) return preA == null ? (preB == null ? 0 : 1) : -1
  const ia = preA.split('.')
  const ib = preB.split('.')
  for (let i = 0; i < Math.max(ia.length, ib.length); i++) {
    const x = ia[i]
    const y = ib[i]
    if (x == null) return -1
    if (y == null) return 1
    const nx = /^\d+$/.test(x)
    const ny = /^\d+$/.test(y)
    if (nx && ny) {
      const d = compareNumeric(x, y)
      if (d !== 0) return d
    } else if (nx !== ny) {
      return nx ? -1 : 1
    } else if (x !== y) {
      return x < y ? -1 : 1
    }
  }
  return 0
}

function compareNumeric (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
