// Running Tutti's TypeScript on Node's own type stripping: the two pieces every thread that loads
// our .ts files needs, shared by bin/typescript.js (the main thread, with its compile cache) and
// node/inference/parse-worker.js (a worker inherits no loader). Plain JavaScript: it runs before
// any .ts can be loaded.
import { existsSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'

/** A .ts file of ours (not a dependency's): the hooks compile it and resolve its imports. */
export const isOurTs = url => url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/')

/**
 * The resolve hook: our sources import each other as `./x.js` (what tsc wants under NodeNext);
 * from a .ts file of ours, such a specifier is tried as `./x.ts` first.
 */
export function resolveTs (specifier, context, nextResolve) {
  const parent = context.parentURL
  if (parent != null && isOurTs(parent) && (specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js')) {
    const ts = new URL(specifier.slice(0, -3) + '.ts', parent)
    // Relative to a file that was itself resolved (and realpath'd) already: nothing to add.
    if (existsSync(ts)) return { url: ts.href, format: 'module', shortCircuit: true }
  }
  return nextResolve(specifier, context)
}

/**
 * Compiles one .ts source: 'strip' mode where the file allows it (lines and columns stay where they
 * were), 'transform' mode for syntax that needs code (enums and namespaces in the protons output,
 * parameter properties). stripTypeScriptTypes warns that it is experimental, once; the warning is
 * ours, not the user's.
 */
export function compileTs (source, url) {
  const emit = process.emitWarning
  process.emitWarning = (warning, ...rest) => {
    if (String(warning).includes('stripTypeScriptTypes')) return
    emit.call(process, warning, ...rest)
  }
  try {
    try {
      return stripTypeScriptTypes(source, { mode: 'strip', sourceUrl: url })
    } catch (err) {
      if (err?.code !== 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') throw err
      return stripTypeScriptTypes(source, { mode: 'transform', sourceMap: true, sourceUrl: url })
    }
  } finally {
    process.emitWarning = emit
  }
}
