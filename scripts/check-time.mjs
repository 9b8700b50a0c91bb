#!/usr/bin/env node
// Time and randomness come from the injected clock (core/clock.ts) and a seeded PRNG
// (core/random.ts), never from globals: tests and the simulator drive both. This check lists
// every direct use of the wall clock, wall-clock timers or Math.random in core/, node/ and
// protocols/ (tests excepted) as file:line:column and exits 1 when there is any.
// Usage: node scripts/check-time.mjs [ROOT]    (npm run lint:time)
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = process.argv[2] ?? join(import.meta.dirname, '..')
const DIRS = ['core', 'node', 'protocols']
/** Files that may use the globals, and why. */
const ALLOWED = new Map([
  ['core/clock.ts', 'wraps the wall clock and timers for everyone else'],
  ['core/random.ts', 'wraps randomness for everyone else'],
  ['node/inference/worker.js', 'a worker thread (no clock can be passed to it) timing real onnxruntime runs']
])
const SOURCE = /\.(?:[cm]?[jt]s)$/
const TEST = /\.test\.[cm]?[jt]s$/

const RULES = [
  { re: /\bAbortSignal\s*\.\s*timeout\b/g, why: 'AbortSignal.timeout: use timeoutSignal(clock, ms) from core/abort.ts' },
  { re: /\bDate\s*\.\s*now\b/g, why: 'Date.now: use clock.now()' },
  { re: /\bnew\s+Date\b/g, why: 'new Date: use clock.now(), or isoTime(ms) from core/clock.ts to format a timestamp' },
  { re: /\bperformance\s*\.\s*now\b/g, why: 'performance.now: take a monotonicMs component (default monotonicMs from core/clock.ts)' },
  { re: /\bMath\s*\.\s*random\b/g, why: 'Math.random: take a random component (default seededRandom(randomSeed()) from core/random.ts)' },
  { re: /(?<![\w$.]|\.\s+)(?:setTimeout|setInterval)\s*\(/g, why: 'a timer armed directly: use clock.setTimeout or clock.sleep' },
  { re: /\bglobalThis\s*\.\s*(?:setTimeout|setInterval)\b/g, why: 'a timer armed directly: use clock.setTimeout or clock.sleep' },
  { re: /['"](?:node:)?timers(?:\/promises)?['"]/g, why: 'node:timers: use the injected clock' }
]

function * sources (dir) {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch (err) {
    if (err.code === 'ENOENT') return
    throw err
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') yield * sources(path)
    } else if (SOURCE.test(e.name) && !TEST.test(e.name)) {
      yield path
    }
  }
}

/**
 * The code with comments blanked out, and string contents too except module specifiers, keeping
 * every newline so lines and columns still match. A lexer just good enough for our sources: it
 * does not tell regular expression literals apart, so a quote inside one would blank the rest of
 * that line only (a string ends at the end of a line).
 */
function codeOnly (text) {
  let out = ''
  let i = 0
  const n = text.length
  const templates = [] // brace depth at each open `${`
  let depth = 0
  while (i < n) {
    const c = text[i]
    const next = text[i + 1]
    if (c === '/' && next === '/') {
      while (i < n && text[i] !== '\n') { out += ' '; i++ }
    } else if (c === '/' && next === '*') {
      while (i < n && !(text[i] === '*' && text[i + 1] === '/')) { out += text[i] === '\n' ? '\n' : ' '; i++ }
      if (i < n) { out += '  '; i += 2 }
    } else if (c === '\'' || c === '"') {
      let j = i + 1
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1
      const body = text.slice(i + 1, Math.min(j, n))
      // Module specifiers of node:timers stay, so the import rule can see them.
      out += c + (/^(?:node:)?timers(?:\/promises)?$/.test(body) ? body : ' '.repeat(body.length))
      if (j < n && text[j] === c) { out += c; i = j + 1 } else { i = j } // unterminated: stop at the newline
    } else if (c === '`' || (c === '}' && templates.length > 0 && templates[templates.length - 1] === depth)) {
      if (c === '}') { templates.pop() }
      out += c
      i++
      while (i < n && text[i] !== '`' && !(text[i] === '$' && text[i + 1] === '{')) {
        if (text[i] === '\\') { out += ' '; i++ }
        out += text[i] === '\n' ? '\n' : ' '
        i++
      }
      if (i < n && text[i] === '`') { out += '`'; i++ } else if (i < n) { out += '${'; i += 2; templates.push(depth) }
    } else {
      if (c === '{') depth++
      else if (c === '}') depth--
      out += c
      i++
    }
  }
  return out
}

const findings = []
for (const dir of DIRS) {
  for (const path of sources(join(root, dir))) {
    const file = relative(root, path).split('\\').join('/')
    if (ALLOWED.has(file)) continue
    const text = readFileSync(path, 'utf8')
    const lines = codeOnly(text).split('\n')
    const original = text.split('\n')
    lines.forEach((line, k) => {
      for (const rule of RULES) {
        for (const m of line.matchAll(rule.re)) {
          findings.push(`${file}:${k + 1}:${m.index + 1}: ${rule.why}\n    ${original[k].trim()}`)
        }
      }
    })
  }
}

if (findings.length > 0) {
  process.stderr.write(findings.join('\n') + `\n\n${findings.length} direct use(s) of time or randomness; see core/clock.ts, core/abort.ts, core/random.ts\n`)
  process.exit(1)
}
process.stdout.write(`time and randomness: all injected in ${DIRS.join('/, ')}/\n`)
