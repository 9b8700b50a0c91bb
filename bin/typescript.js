// Runs Tutti's TypeScript on Node's own type stripping, without a build and without a loader
// thread. Two in-thread hooks (module.registerHooks):
//
// - resolve: the sources import each other as `./x.js` (what tsc wants under NodeNext); from a .ts
//   file outside node_modules, such a specifier is tried as `./x.ts` first.
// - load: a .ts file is compiled by module.stripTypeScriptTypes, in 'strip' mode when the file
//   allows it (line and column stay where they were) and in 'transform' mode when it uses syntax
//   that needs code (enums and namespaces in the protons output, parameter properties). The
//   result is cached under node_modules/.cache/tutti-ts, keyed by a hash of the file's URL, its
//   source and the Node version, so a command that ran once starts without loading the compiler
//   again. The hash is FNV-1a in JavaScript: node:crypto alone costs more to load than a whole
//   `tutti version` may take (docs/CLI.md, "Start-up").
//
// Imported by bin/tutti.js after its Node version check; nothing here runs on import but the
// registration.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileTs, isOurTs, resolveTs } from '../core/ts-strip.js'

/** Bumped when what this file emits changes, so old cache entries are not reused. */
const CACHE_FORMAT = 1
/** TUTTI_TS_CACHE=DIR moves the cache (benchmarks time a cold start with an empty one); =off disables it. */
const CACHE_DIR = process.env.TUTTI_TS_CACHE || fileURLToPath(new URL('../node_modules/.cache/tutti-ts/', import.meta.url))

/** Two 32-bit FNV-1a hashes (different offset bases) of `text`, as 16 hex digits. */
function fnv64 (text) {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15)
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0')
}

let cacheUsable = process.env.TUTTI_TS_CACHE !== 'off'

function cached (key) {
  if (!cacheUsable) return undefined
  try {
    return readFileSync(join(CACHE_DIR, key), 'utf8')
  } catch {
    return undefined
  }
}

function store (key, code) {
  if (!cacheUsable) return
  try {
    mkdirSync(CACHE_DIR, { recursive: true })
    // Atomic: concurrent runs (tests spawn many) never read half a file.
    const tmp = join(CACHE_DIR, `${key}.${process.pid}.tmp`)
    writeFileSync(tmp, code)
    renameSync(tmp, join(CACHE_DIR, key))
  } catch {
    cacheUsable = false // a read-only checkout still runs, compiling each time
  }
}

function load (url, context, nextLoad) {
  if (!isOurTs(url)) return nextLoad(url, context)
  const source = readFileSync(fileURLToPath(url), 'utf8')
  const key = `${fnv64(`${CACHE_FORMAT}\0${process.version}\0${url}\0${source}`)}-${source.length}.js`
  let code = cached(key)
  if (code === undefined) {
    code = compileTs(source, url)
    store(key, code)
  }
  return { format: 'module', source: code, shortCircuit: true }
}

registerHooks({ resolve: resolveTs, load })
