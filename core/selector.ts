/**
 * Label selectors as Kubernetes writes them: `matchLabels` (every key equal) and
 * `matchExpressions` (In, NotIn, Exists, DoesNotExist, Gt, Lt), the kubectl `-l` text form, and a
 * validator that names every bad field. Evaluation is pure and allocation-free, so the simulator
 * can run it against 10,000 nodes per decision.
 */
import { TuttiError } from './errors.js'

/** How a {@link SelectorRequirement} compares an attribute with its values. */
export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'

/** One expression: `key` compared with `values` by `operator`. */
export interface SelectorRequirement {
  key: string
  operator: SelectorOperator
  /** In/NotIn: one or more; Gt/Lt: exactly one number; Exists/DoesNotExist: none. */
  values?: string[]
}

/** Every `matchLabels` pair and every `matchExpressions` entry must hold (AND). Empty matches all. */
export interface Selector {
  matchLabels?: Record<string, string>
  matchExpressions?: SelectorRequirement[]
}

/** One problem found by {@link validateSelector}: the field path and what is wrong with it. */
export interface SelectorIssue {
  path: string
  message: string
}

/** Most `matchLabels` entries plus `matchExpressions` in one selector. */
export const MAX_SELECTOR_TERMS = 32
/** Most values of one In/NotIn expression. */
export const MAX_SELECTOR_VALUES = 64
/** Longest key and value, in characters (as Kubernetes label values and our heartbeats). */
export const MAX_SELECTOR_KEY_LENGTH = 63
export const MAX_SELECTOR_VALUE_LENGTH = 63
/** Longest text {@link parseSelector} reads, in characters. */
export const MAX_SELECTOR_TEXT_LENGTH = 4096

const OPERATORS: ReadonlySet<string> = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'])
const KEY_RE = /^[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?$/
const VALUE_RE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/
const NUMBER_RE = /^-?\d+(?:\.\d+)?$/

/** A selector that cannot be parsed; the message names the bad term. */
export class SelectorError extends TuttiError {
  declare readonly code: 'ERR_SELECTOR'
  readonly issues: SelectorIssue[]

  constructor (message: string, issues: SelectorIssue[] = []) {
    super('ERR_SELECTOR', message)
    this.name = 'SelectorError'
    this.issues = issues
  }
}

/**
 * Whether a node's attributes satisfy the selector. `attrs` = `{ ...props, ...labels }` of the
 * node (labels win on a clash). NotIn and DoesNotExist match an absent key; Gt/Lt match only when
 * the attribute parses as a finite number.
 */
export function matchesSelector (selector: Selector, attrs: Record<string, string>): boolean {
  const labels = selector.matchLabels
  if (labels !== undefined) {
    for (const key in labels) {
      if (!Object.hasOwn(attrs, key) || attrs[key] !== labels[key]) return false
    }
  }
  const expressions = selector.matchExpressions
  if (expressions !== undefined) {
    for (let i = 0; i < expressions.length; i++) {
      if (!matchesRequirement(expressions[i]!, attrs)) return false
    }
  }
  return true
}

function matchesRequirement (req: SelectorRequirement, attrs: Record<string, string>): boolean {
  const present = Object.hasOwn(attrs, req.key)
  const value = present ? attrs[req.key] : undefined
  const values = req.values ?? []
  switch (req.operator) {
    case 'In': return value !== undefined && values.includes(value)
    case 'NotIn': return value === undefined || !values.includes(value)
    case 'Exists': return present
    case 'DoesNotExist': return !present
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1 || value.trim() === '') return false
      const actual = Number(value)
      const bound = Number(values[0])
      if (!Number.isFinite(actual) || !Number.isFinite(bound)) return false
      return req.operator === 'Gt' ? actual > bound : actual < bound
    }
    default: {
      const never: never = req.operator
      throw new SelectorError(`unknown operator ${JSON.stringify(never)}`)
    }
  }
}

/**
 * Parses kubectl `-l` syntax: `class=camera,zone!=dock,battery>50,zone in (a,b),tier notin (x),!gpu,gpu`.
 * `k=v` and `k==v` go to `matchLabels` (a repeated key becomes an In expression, so the AND holds);
 * everything else becomes a `matchExpressions` entry in order. An empty text is the empty selector.
 * Throws {@link SelectorError} naming the bad term.
 */
export function parseSelector (text: string): Selector {
  if (typeof text !== 'string') throw new SelectorError('a selector must be a string')
  if (text.length > MAX_SELECTOR_TEXT_LENGTH) throw new SelectorError(`selector is longer than ${MAX_SELECTOR_TEXT_LENGTH} characters`)
  const matchLabels: Record<string, string> = {}
  const matchExpressions: SelectorRequirement[] = []
  let hasLabels = false
  for (const term of splitTerms(text)) {
    const req = parseTerm(term)
    if (req.operator === 'In' && req.equality === true && !Object.hasOwn(matchLabels, req.key)) {
      matchLabels[req.key] = req.values![0]!
      hasLabels = true
    } else {
      const { equality: _, ...plain } = req
      matchExpressions.push(plain)
    }
  }
  const selector: Selector = {}
  if (hasLabels) selector.matchLabels = matchLabels
  if (matchExpressions.length > 0) selector.matchExpressions = matchExpressions
  const issues = validateSelector(selector)
  if (issues.length > 0) {
    throw new SelectorError(`selector ${JSON.stringify(text.slice(0, 200))}: ${issues.map(i => `${i.path}: ${i.message}`).join('; ')}`, issues)
  }
  return selector
}

function splitTerms (text: string): string[] {
  const terms: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i <= text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    if (depth < 0) throw new SelectorError(`unbalanced ")" in ${JSON.stringify(text.slice(0, 200))}`)
    if (i === text.length || (c === ',' && depth === 0)) {
      const term = text.slice(start, i).trim()
      if (term.length === 0) {
        if (i === text.length && terms.length === 0) return terms
        throw new SelectorError(`empty term in ${JSON.stringify(text.slice(0, 200))}`)
      }
      terms.push(term)
      start = i + 1
    }
  }
  if (depth !== 0) throw new SelectorError(`unbalanced "(" in ${JSON.stringify(text.slice(0, 200))}`)
  return terms
}

const SET_TERM_RE = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/
const BINARY_TERM_RE = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/

function parseTerm (term: string): SelectorRequirement & { equality?: boolean } {
  const set = SET_TERM_RE.exec(term)
  if (set !== null) {
    const values = set[3]!.split(',').map(v => v.trim())
    if (values.some(v => v.length === 0)) throw new SelectorError(`term ${JSON.stringify(term)}: empty value in the list`)
    return { key: checkedKey(set[1]!, term), operator: set[2] === 'in' ? 'In' : 'NotIn', values }
  }
  const binary = BINARY_TERM_RE.exec(term)
  if (binary !== null) {
    const key = checkedKey(binary[1]!, term)
    const value = binary[3]!
    switch (binary[2]) {
      case '=':
      case '==': return { key, operator: 'In', values: [value], equality: true }
      case '!=': return { key, operator: 'NotIn', values: [value] }
      case '>': return { key, operator: 'Gt', values: [checkedNumber(value, term)] }
      default: return { key, operator: 'Lt', values: [checkedNumber(value, term)] }
    }
  }
  if (term.startsWith('!')) return { key: checkedKey(term.slice(1).trim(), term), operator: 'DoesNotExist' }
  return { key: checkedKey(term, term), operator: 'Exists' }
}

function checkedKey (key: string, term: string): string {
  if (!KEY_RE.test(key) || key.length > MAX_SELECTOR_KEY_LENGTH) {
    throw new SelectorError(`term ${JSON.stringify(term)}: ${JSON.stringify(key)} is not a label key (letters, digits, '-', '_', '.', '/', at most ${MAX_SELECTOR_KEY_LENGTH})`)
  }
  return key
}

function checkedNumber (value: string, term: string): string {
  if (!NUMBER_RE.test(value)) throw new SelectorError(`term ${JSON.stringify(term)}: ${JSON.stringify(value)} is not a number`)
  return value
}

/**
 * The kubectl text of a selector: `matchLabels` sorted by key, then the expressions in order.
 * `parseSelector(formatSelector(s))` matches exactly what `s` matches.
 */
export function formatSelector (selector: Selector): string {
  const terms: string[] = []
  const labels = selector.matchLabels ?? {}
  for (const key of Object.keys(labels).sort()) terms.push(`${key}=${labels[key]}`)
  for (const req of selector.matchExpressions ?? []) {
    const values = req.values ?? []
    switch (req.operator) {
      case 'In': terms.push(`${req.key} in (${values.join(',')})`); break
      case 'NotIn': terms.push(values.length === 1 ? `${req.key}!=${values[0]}` : `${req.key} notin (${values.join(',')})`); break
      case 'Exists': terms.push(req.key); break
      case 'DoesNotExist': terms.push(`!${req.key}`); break
      case 'Gt': terms.push(`${req.key}>${values[0] ?? ''}`); break
      case 'Lt': terms.push(`${req.key}<${values[0] ?? ''}`); break
      default: {
        const never: never = req.operator
        throw new SelectorError(`unknown operator ${JSON.stringify(never)}`)
      }
    }
  }
  return terms.join(',')
}

/**
 * Every problem with a selector as it arrives from a user or the network, each with its field path
 * (prefixed by `path`, e.g. `spec.selector.matchExpressions[0].values`). Unknown fields are issues
 * too. An empty array means the value is a valid {@link Selector}.
 */
export function validateSelector (value: unknown, path = ''): SelectorIssue[] {
  const issues: SelectorIssue[] = []
  const at = (sub: string): string => path === '' ? sub : `${path}.${sub}`
  if (!isPlainObject(value)) {
    issues.push({ path: path === '' ? '(root)' : path, message: 'must be an object' })
    return issues
  }
  for (const key of Object.keys(value)) {
    if (key !== 'matchLabels' && key !== 'matchExpressions') issues.push({ path: at(key), message: 'unknown field' })
  }
  let terms = 0
  const labels = value.matchLabels
  if (labels !== undefined) {
    if (!isPlainObject(labels)) {
      issues.push({ path: at('matchLabels'), message: 'must be a map of key to value' })
    } else {
      for (const [key, v] of Object.entries(labels)) {
        terms++
        const p = at(`matchLabels.${key}`)
        if (!validKey(key)) issues.push({ path: p, message: `key must be letters, digits, '-', '_', '.', '/', 1..${MAX_SELECTOR_KEY_LENGTH} characters` })
        if (typeof v !== 'string') issues.push({ path: p, message: 'value must be a string' })
        else if (!validValue(v)) issues.push({ path: p, message: `value must be letters, digits, '-', '_', '.', at most ${MAX_SELECTOR_VALUE_LENGTH} characters` })
      }
    }
  }
  const expressions = value.matchExpressions
  if (expressions !== undefined) {
    if (!Array.isArray(expressions)) {
      issues.push({ path: at('matchExpressions'), message: 'must be a list' })
    } else {
      expressions.forEach((req: unknown, i) => {
        terms++
        validateRequirement(req, at(`matchExpressions[${i}]`), issues)
      })
    }
  }
  if (terms > MAX_SELECTOR_TERMS) issues.push({ path: path === '' ? '(root)' : path, message: `${terms} terms, at most ${MAX_SELECTOR_TERMS}` })
  return issues
}

function validateRequirement (req: unknown, path: string, issues: SelectorIssue[]): void {
  if (!isPlainObject(req)) {
    issues.push({ path, message: 'must be an object with key, operator and values' })
    return
  }
  for (const key of Object.keys(req)) {
    if (key !== 'key' && key !== 'operator' && key !== 'values') issues.push({ path: `${path}.${key}`, message: 'unknown field' })
  }
  if (typeof req.key !== 'string' || !validKey(req.key)) {
    issues.push({ path: `${path}.key`, message: `must be letters, digits, '-', '_', '.', '/', 1..${MAX_SELECTOR_KEY_LENGTH} characters` })
  }
  const op = req.operator
  if (typeof op !== 'string' || !OPERATORS.has(op)) {
    issues.push({ path: `${path}.operator`, message: 'must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt' })
    return
  }
  const values = req.values
  if (values !== undefined && (!Array.isArray(values) || !values.every(v => typeof v === 'string'))) {
    issues.push({ path: `${path}.values`, message: 'must be a list of strings' })
    return
  }
  const list = (values ?? []) as string[]
  switch (op) {
    case 'In':
    case 'NotIn':
      if (list.length === 0) issues.push({ path: `${path}.values`, message: `must have at least one value for ${op}` })
      else if (list.length > MAX_SELECTOR_VALUES) issues.push({ path: `${path}.values`, message: `${list.length} values, at most ${MAX_SELECTOR_VALUES}` })
      list.forEach((v, i) => {
        if (!validValue(v)) issues.push({ path: `${path}.values[${i}]`, message: `must be letters, digits, '-', '_', '.', at most ${MAX_SELECTOR_VALUE_LENGTH} characters` })
      })
      break
    case 'Exists':
    case 'DoesNotExist':
      if (list.length > 0) issues.push({ path: `${path}.values`, message: `must be empty for ${op}` })
      break
    default:
      if (list.length !== 1) issues.push({ path: `${path}.values`, message: `must have exactly one value for ${op}` })
      else if (!NUMBER_RE.test(list[0]!)) issues.push({ path: `${path}.values[0]`, message: 'must be an integer or decimal number' })
  }
}

function validKey (key: string): boolean {
  return key.length <= MAX_SELECTOR_KEY_LENGTH && KEY_RE.test(key)
}

function validValue (value: string): boolean {
  return value.length <= MAX_SELECTOR_VALUE_LENGTH && VALUE_RE.test(value)
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
