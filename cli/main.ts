/**
 * `tutti`: the admin CLI and the node launcher. Every error ends as one line on stderr and a
 * non-zero exit code (2 for usage errors), never a stack trace (set TUTTI_DEBUG=1 for one).
 */
import { errorMessage, isTuttiError } from '../core/errors.js'
import { NODE_VERSION } from '../node/version.js'
import { demoCommand } from './commands/demo.js'
import { fleetCommand } from './commands/fleet.js'
import { modelCommand } from './commands/model.js'
import { inferCommand } from './commands/infer.js'
import { nodeCommand } from './commands/node.js'
import { describeCommand, getCommand } from './commands/nodes.js'
import { UsageError } from './errors.js'
import { processIO } from './io.js'
import type { CliIO } from './io.js'

export const HELP = `tutti: a peer-to-peer orchestrator for AI models on edge fleets.

Usage:
  tutti fleet init --dir DIR                   create a fleet and its admin key
  tutti node start --data DIR --fleet FILE     run a node (every device runs the same one)
  tutti get nodes [-o table|wide|json]         list the mesh as a peer sees it
  tutti describe node PEER_ID                  details of one node
  tutti model pack FILE.onnx --name N --version V --key K   a signed, chunked model package
  tutti model push DIR | pull NAME@VERSION | ls   distribute models through the mesh
  tutti describe model NAME@VERSION            details of one model
  tutti model activate NAME@VERSION [--cpu 500m --memory 256Mi]   serve it on the attached peer
  tutti infer NAME --input FILE.json | --sample   run an inference on the attached peer
  tutti demo [--once] [--nodes N]              a local mesh of N nodes on this machine
  tutti version

Commands that talk to the mesh attach to any peer:
  --peer MULTIADDR   (or TUTTI_PEER)   a peer of the fleet
  --key FILE         (or TUTTI_KEY)    the admin key; fleet.json is read from beside it
  --fleet FILE       (or TUTTI_FLEET)  the fleet file, if it is elsewhere

Run 'tutti COMMAND --help' for a command's flags.
`

const GLOBAL_FLAGS = new Set(['--peer', '--key', '--fleet', '--timeout'])

/**
 * Moves connection flags given before the command (`tutti --peer X --key K get nodes`) to after
 * it, where each command parses them.
 */
export function hoistGlobalFlags (argv: string[]): string[] {
  const globals: string[] = []
  let i = 0
  while (i < argv.length) {
    const arg = argv[i]!
    const name = arg.split('=')[0]!
    if (!GLOBAL_FLAGS.has(name)) break
    if (arg.includes('=')) {
      globals.push(arg)
      i += 1
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`)
      globals.push(arg, argv[i + 1]!)
      i += 2
    }
  }
  const rest = argv.slice(i)
  if (globals.length === 0 || rest.length === 0) return rest.length === 0 && globals.length > 0 ? [] : argv
  // Sub-commands come first for commands with a verb (get nodes, describe node): flags go last.
  return [...rest, ...globals]
}

export async function main (argv: string[], io: CliIO = processIO): Promise<number> {
  let command: string | undefined
  try {
    const args = hoistGlobalFlags(argv)
    command = args[0]
    return await dispatch(command, args.slice(1), io)
  } catch (err) {
    return report(err, io, command)
  }
}

async function dispatch (command: string | undefined, rest: string[], io: CliIO): Promise<number> {
  {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(HELP)
        return command == null ? 2 : 0
      case 'version':
      case '--version':
        io.out(`tutti ${NODE_VERSION} (node ${process.version})\n`)
        return 0
      case 'fleet':
        return await fleetCommand(rest, io)
      case 'node':
        return await nodeCommand(rest, io)
      case 'get':
        return await getCommand(rest, io)
      case 'describe':
        return await describeCommand(rest, io)
      case 'infer':
        return await inferCommand(rest, io)
      case 'model':
      case 'models':
        return await modelCommand(rest, io)
      case 'demo':
        return await demoCommand(rest, io)
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  }
}

function report (err: unknown, io: CliIO, command: string | undefined): number {
  if (io.env.TUTTI_DEBUG === '1' && err instanceof Error) io.err(`${err.stack ?? ''}\n`)
  if (err instanceof UsageError) {
    const topic = err.helpTopic ?? command
    io.err(`error: ${err.message}\nRun 'tutti ${topic != null && topic !== '' ? topic + ' ' : ''}--help' for usage.\n`)
    return 2
  }
  if (isTuttiError(err)) {
    io.err(`error: ${err.message}\n`)
    return 1
  }
  io.err(`error: ${errorMessage(err).split('\n')[0] ?? 'unexpected failure'}\n`)
  return 1
}
