/**
 * JSON files a command is given (`infer -i FILE.json`, `model pack --sample FILE.json`): read with
 * a size limit before parsing, from a file or stdin ('-').
 */
import { readFile, stat } from 'node:fs/promises'
import { CliError } from './errors.js'
import type { SampleInput } from '../node/models/sample.js'

/** The largest JSON input read, in bytes. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024

/** A JSON document from `file` ('-' for stdin), at most {@link MAX_INPUT_BYTES}. */
export async function readJsonInput (file: string): Promise<unknown> {
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

/**
 * An Open Inference Protocol request body (`{"inputs": [{"name", "shape", "datatype", "data"}]}`,
 * what `tutti infer -i` sends) as a model's sample input. Nested `data` arrays are flattened, as
 * OIP allows; whether the tensors fit the model is for `pack` to check. A body of another shape
 * is an error naming `flag` (exit 1, as for any file whose content is wrong; a bad flag value is 2).
 */
export function sampleFromOipRequest (body: unknown, flag: string): SampleInput {
  const inputs = (body as { inputs?: unknown } | null)?.inputs
  if (typeof body !== 'object' || body == null || !Array.isArray(inputs) || inputs.length === 0) {
    throw new CliError(`${flag} must be an inference request body: {"inputs": [{"name", "shape", "datatype", "data"}]}`)
  }
  const sample: SampleInput = {}
  for (const [i, input] of inputs.entries()) {
    const { name, shape, datatype, data } = (input ?? {}) as Record<string, unknown>
    if (typeof name !== 'string' || name === '' || typeof datatype !== 'string' || !Array.isArray(shape) || !Array.isArray(data)) {
      throw new CliError(`${flag}: inputs[${i}] needs "name", "shape", "datatype" and "data"`)
    }
    if (Object.hasOwn(sample, name)) throw new CliError(`${flag}: input "${name}" is given twice`)
    sample[name] = { datatype, shape: shape as number[], data: (data as unknown[]).flat(Infinity) as number[] }
  }
  return sample
}
