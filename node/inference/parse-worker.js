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
import { readFileSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parentPort } from 'node:worker_threads'
import { compileTs, isOurTs, resolveTs } from '../../core/ts-strip.js'

const port = parentPort
if (port == null) throw new Error('parse-worker.js must run as a worker thread')

registerHooks({
  resolve: resolveTs,
  load (url, context, nextLoad) {
    if (!isOurTs(url)) return nextLoad(url, context)
    return { format: 'module', source: compileTs(readFileSync(fileURLToPath(url), 'utf8'), url), shortCircuit: true }
  }
})

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
