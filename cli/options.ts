/**
 * Option values as the commands read them: repeatable flags, `k=v` pairs, positive integers and
 * the `-o` output format. Parsers throw commander's InvalidArgumentError, which commander reports
 * as a usage error naming the option.
 */
import { InvalidArgumentError } from 'commander'
import { QuantityError } from '../core/quantity.js'
import { UsageError } from './errors.js'

/** Collects a repeatable flag (`--label a=1 --label b=2`) into a list. */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
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

/** A parser for a flag that takes a positive integer. */
export function positiveInt (flag: string): (value: string) => number {
  return value => {
    const n = Number(value)
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}"`)
    return n
  }
}

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const
export type OutputFormat = typeof OUTPUT_FORMATS[number]

/**
 * The `-o` value, accepting `-o json`, `-o=json`, `-ojson` and `--output json`; undefined when
 * none was given (the command's human default). `allowed` is what the command can print.
 */
export function outputFormat (value: string | undefined, allowed: readonly OutputFormat[] = OUTPUT_FORMATS): OutputFormat | undefined {
  const v = value?.replace(/^=/, '')
  if (v == null) return undefined
  if ((allowed as readonly string[]).includes(v)) return v as OutputFormat
  throw new UsageError(`-o must be one of ${allowed.join(', ')}; got "${v}"`)
}

/** Runs a core/quantity parser on a flag's value; a bad quantity is a usage error. */
export function usageQuantity<T> (parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof QuantityError) throw new UsageError(err.message)
    throw err
  }
}
