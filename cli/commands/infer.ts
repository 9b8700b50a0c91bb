import { readFile, stat } from 'node:fs/promises'
import { list, parse, str } from '../args.js'
import { connectionFrom, CONNECTION_OPTIONS, withPeer } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import type { CliIO } from '../io.js'
import type { ModelManifest } from '../../node/models/types.js'

export const INFER_HELP = `Run an inference on the attached peer.

Usage:
  tutti infer NAME [--version V] --input FILE.json     an Open Inference Protocol request body
  tutti infer NAME [--version V] --sample               the sample input packed with the model
  --output NAME   return only this output (repeatable)

FILE.json is a KServe v2 / OIP inference request: {"inputs": [{"name", "shape", "datatype",
"data"}], "outputs": [{"name"}]} ('-' reads it from stdin). The answer is the OIP response JSON.
Without --version the request goes to the active version.
`

const MAX_INPUT_BYTES = 16 * 1024 * 1024

async function readInput (file: string): Promise<unknown> {
  let text: string
  if (file === '-') {
    const parts: Buffer[] = []
    let size = 0
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).byteLength
      if (size > MAX_INPUT_BYTES) throw new CliError(`stdin is larger than ${MAX_INPUT_BYTES} bytes`)
      parts.push(chunk as Buffer)
    }
    text = Buffer.concat(parts).toString('utf8')
  } else {
    try {
      const info = await stat(file)
      if (info.size > MAX_INPUT_BYTES) throw new CliError(`${file} is larger than ${MAX_INPUT_BYTES} bytes`)
      text = await readFile(file, 'utf8')
    } catch (err) {
      if (err instanceof CliError) throw err
      throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
    }
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new CliError(`${file === '-' ? 'stdin' : file} is not valid JSON`)
  }
}

export async function inferCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS, version: { type: 'string' }, input: { type: 'string', short: 'i' }, sample: { type: 'boolean' }, output: { type: 'string', multiple: true } }, 'infer')
  if (values.help === true) {
    io.out(INFER_HELP)
    return 0
  }
  const [model, ...extra] = positionals
  if (model == null) throw new UsageError('infer needs a model NAME', 'infer')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'infer')
  const input = str(values.input)
  if ((input == null) === (values.sample !== true)) throw new UsageError('infer needs exactly one of --input FILE.json or --sample', 'infer')
  const version = str(values.version)
  const conn = connectionFrom(values, io)
  const body = input != null ? await readInput(input) : undefined
  if (body != null && (typeof body !== 'object' || Array.isArray(body))) throw new CliError('the input must be a JSON object with an "inputs" array')
  const response = await withPeer(conn, async ask => {
    let request = body as Record<string, unknown> | undefined
    if (request == null) {
      const d = await ask<{ manifest: ModelManifest }>('models.get', { ref: version != null ? `${model}@${version}` : model })
      request = { inputs: Object.entries(d.manifest.sampleInput).map(([name, t]) => ({ name, ...t })) }
    }
    const outputs = list(values.output)
    if (outputs.length > 0) request = { ...request, outputs: outputs.map(name => ({ name })) }
    return await ask('infer', { ...request, model, version })
  })
  io.out(JSON.stringify(response, null, 2) + '\n')
  return 0
}
