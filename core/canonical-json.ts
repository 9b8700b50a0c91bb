/**
 * Canonical JSON: UTF-8, object keys sorted by UTF-16 code units, no whitespace, numbers as
 * JavaScript prints them; keys whose value is undefined are left out. Every signed document
 * (model manifests, policies, rollout progress) is canonical, so one content has one byte string
 * and one CID whoever wrote it.
 */

/** Canonical JSON text of a value. Throws TypeError on non-JSON values (NaN, Infinity, bigint...). */
export function canonicalJson (value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string': return JSON.stringify(value)
    case 'boolean': return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(v => canonicalJson(v)).join(',')}]`
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
    }
    default: throw new TypeError(`canonical JSON cannot hold a ${typeof value}`)
  }
}

/** The canonical bytes of a value. */
export function canonicalBytes (value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value))
}

/**
 * Parses bytes that must be canonical JSON (a signed document from the network or a file).
 * Returns undefined when they are not UTF-8 JSON or not canonical; callers raise their own typed error.
 */
export function parseCanonical (bytes: Uint8Array): { ok: true, value: unknown } | { ok: false, reason: string } {
  let text: string
  let value: unknown
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    value = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'not UTF-8 JSON' }
  }
  try {
    if (canonicalJson(value) !== text) return { ok: false, reason: 'not canonical JSON' }
  } catch {
    return { ok: false, reason: 'not canonical JSON' }
  }
  return { ok: true, value }
}
