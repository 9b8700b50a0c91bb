// The request parser's thread: JSON.parse of an Open Inference Protocol body and its decoding into
// typed arrays cost about as long as the body is big (tens of ms per MiB on an edge CPU), and on the
// main thread that time is taken from heartbeats, gossip and every other request. Here it is not.
//
// This file is plain ESM JavaScript because a worker inherits no loader: neither bin/typescript.js
// (registered in the main thread only) nor vitest's module runner reaches it. It registers the two
// in-thread hooks the parser's TypeScript needs (a relative `./x.js` from a .ts file means `./x.ts`;
// a .ts file is compiled by Node's own type stripping), then runs oip-request.ts itself: the same
// checks, the same error messages as a body parsed on the main thread. Messages are documented in
// body-parser.ts.
import { existsSync, readFileSync } from 'node:fs'
import { registerHooks, stripTypeScriptTypes } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parentPort } from 'node:worker_threads'

const port = parentPort
if (port == null) throw new Error('parse-worker.js must run as a worker thread')

const isOurTs = url => url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/')

registerHooks({
  resolve (specifier, context, nextResolve) {
    const parent = context.parentURL
    if (parent != null && isOurTs(parent) && (specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js')) {
      const ts = new URL(specifier.slice(0, -3) + '.ts', parent)
      if (existsSync(ts)) return { url: ts.href, format: 'module', shortCircuit: true }
    }
    return nextResolve(specifier, context)
  },
  load (url, context, nextLoad) {
    if (!isOurTs(url)) return nextLoad(url, context)
    const source = readFileSync(fileURLToPath(url), 'utf8')
    return { format: 'module', source: compile(source, url), shortCircuit: true }
  }
})

/** Strip mode where the file allows it, transform mode for parameter properties and the like. */
function compile (source, url) {
  const emit = process.emitWarning
  process.emitWarning = (warning, ...rest) => {
    if (String(warning).includes('stripTypeScriptTypes')) return // experimental, and ours, not the user's
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

const { parseOipBody } = await import('./oip-request.ts')

port.on('message', (msg) => {
  const { id, body } = msg
  let request
  try {
    request = parseOipBody(body)
  } catch (err) {
    port.postMessage({ id, error: { code: typeof err?.code === 'string' ? err.code : undefined, message: err instanceof Error ? err.message : String(err) } })
    return
  }
  const inputs = []
  const transfer = []
  for (const [name, t] of Object.entries(request.inputs)) {
    inputs.push([name, { type: t.type, dims: t.dims, data: t.data }])
    // A typed array made for this request owns its whole buffer: hand it over instead of copying.
    if (ArrayBuffer.isView(t.data) && t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength) transfer.push(t.data.buffer)
  }
  port.postMessage({ id, request: { id: request.id, outputs: request.outputs, inputs } }, transfer)
})
