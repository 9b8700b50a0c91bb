import { collect } from '../options.js'
import { connectionOf, withPeer } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { readJsonInput } from '../input.js'
import type { Command } from 'commander'
import type { CommandModule } from '../program.js'
import type { ModelManifest } from '../../node/models/types.js'

/** `tutti infer NAME`. */
export const registerInfer: CommandModule = (program, { io }) => {
  program.command('infer')
    .description('run an inference on the attached peer')
    .argument('<name>', 'the model')
    .option('--version <version>', 'a version of it (default: the active one)')
    .option('-i, --input <file.json>', "an Open Inference Protocol request body ('-' for stdin)")
    .option('--sample', 'the sample input packed with the model')
    .option('--output <name>', 'return only this output (repeatable)', collect)
    .addHelpText('after', `
FILE.json is a KServe v2 / OIP inference request: {"inputs": [{"name", "shape", "datatype",
"data"}], "outputs": [{"name"}]}. The answer is the OIP response JSON.
`)
    .action(async (model: string, opts: { version?: string, input?: string, sample?: boolean, output?: string[] }, command: Command) => {
      const { input, version } = opts
      if ((input == null) === (opts.sample !== true)) throw new UsageError('infer needs exactly one of --input FILE.json or --sample')
      const conn = connectionOf(command)
      const body = input != null ? await readJsonInput(input) : undefined
      if (body != null && (typeof body !== 'object' || Array.isArray(body))) throw new CliError('the input must be a JSON object with an "inputs" array')
      const response = await withPeer(conn, async ask => {
        let request = body as Record<string, unknown> | undefined
        if (request == null) {
          const d = await ask<{ manifest: ModelManifest }>('models.get', { ref: version != null ? `${model}@${version}` : model })
          request = { inputs: Object.entries(d.manifest.sampleInput).map(([name, t]) => ({ name, ...t })) }
        }
        const outputs = opts.output ?? []
        if (outputs.length > 0) request = { ...request, outputs: outputs.map(name => ({ name })) }
        return await ask('infer', { ...request, model, version })
      })
      io.out(JSON.stringify(response, null, 2) + '\n')
    })
}
