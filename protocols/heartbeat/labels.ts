/**
 * The rule for label and property keys and values, on its own so the CLI can check `--label`
 * flags without loading the heartbeat codec.
 */
import { MAX_KEY_LENGTH, MAX_VALUE_LENGTH } from './constants.js'

const KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/

/** Why a label or property key/value cannot be used, or undefined when it can. */
export function checkKeyValue (key: string, value: string): string | undefined {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return `key "${key.slice(0, 80)}" must be 1-${MAX_KEY_LENGTH} characters`
  if (!KEY_RE.test(key)) return `key "${key}" may hold only letters, digits, '.', '_', '/', '-' and must start and end with a letter or digit`
  if (value.length > MAX_VALUE_LENGTH) return `value of "${key}" is longer than ${MAX_VALUE_LENGTH} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return `value of "${key}" contains control characters`
  return undefined
}

