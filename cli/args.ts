import { parseArgs } from 'node:util'
import { UsageError } from './errors.js'
import type { ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs with strict checking, whose errors become one-line usage errors. */
export function parse<T extends Options> (args: string[], options: T, topic: string): { values: Record<string, string | boolean | string[] | undefined>, positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: true, strict: true })
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals }
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? 'bad arguments'
    throw new UsageError(msg.replace(/^Unknown option/, 'unknown option').replace(/\. To specify a positional argument.*$/, ''), topic)
  }
}

/** `k=v` pairs from repeated flags into a record; a malformed pair is a usage error. */
export function keyValues (flag: string, pairs: string[] | undefined, check: (k: string, v: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`${flag} expects key=value, got "${pair}"`)
    const k = pair.slice(0, eq)
    const v = pair.slice(eq + 1)
    const problem = check(k, v)
    if (problem != null) throw new UsageError(`${flag} ${pair}: ${problem}`)
    out[k] = v
  }
  return out
}

export function str (v: string | boolean | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined
}

export function list (v: string | boolean | string[] | undefined): string[] {
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}

export function positiveInt (flag: string, v: string | undefined, fallback: number): number {
  if (v == null) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got "${v}"`)
  return n
}

export type OutputFormat = 'table' | 'wide' | 'json'

export function outputFormat (v: string | undefined): OutputFormat {
  if (v == null) return 'table'
  if (v === 'table' || v === 'wide' || v === 'json') return v
  throw new UsageError(`-o must be one of table, wide, json; got "${v}"`)
}
