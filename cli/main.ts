/**
 * `tutti`: the admin CLI and the node launcher, on commander. Every command group is a file under
 * cli/commands/ that registers onto the program ({@link COMMANDS}); `get`, `describe` and
 * `delete` dispatch by resource type to the kinds those files register. Every error ends as one
 * line on stderr and a non-zero exit code (2 for usage errors), never a stack trace (set
 * TUTTI_DEBUG=1 for one).
 */
import { Command, CommanderError, Option } from 'commander'
import { errorMessage, isTuttiError } from '../core/errors.js'
import { NODE_VERSION } from '../node/version.js'
import { registerCompletion } from './completion.js'
import { registerDemo } from './commands/demo.js'
import { registerFleet } from './commands/fleet.js'
import { registerInfer } from './commands/infer.js'
import { registerModels } from './commands/model.js'
import { registerNode } from './commands/node.js'
import { registerNodes } from './commands/nodes.js'
import { registerRollouts } from './commands/rollout.js'
import { registerSim } from './commands/sim.js'
import { InterruptedError, UsageError } from './errors.js'
import { processIO } from './io.js'
import { registerResourceVerbs } from './resources.js'
import type { CliIO } from './io.js'
import type { CommandModule, ResourceKind } from './program.js'

/** The command groups, in the order `tutti --help` lists them. */
export const COMMANDS: readonly CommandModule[] = [registerFleet, registerNode, registerNodes, registerModels, registerRollouts, registerInfer, registerDemo, registerSim]

/** Builds the whole command tree from `modules`. Commands write to `io`; parse errors throw CommanderError. */
export function createProgram (io: CliIO, modules: readonly CommandModule[] = COMMANDS): Command {
  const program: Command = new Command('tutti')
    .description('A peer-to-peer orchestrator for AI models on edge fleets.')
    .usage('[--peer MULTIADDR --key FILE] COMMAND [options]')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    .addOption(new Option('--peer <multiaddr>', 'a peer of the fleet to attach to').env('TUTTI_PEER'))
    .addOption(new Option('--key <file>', 'the admin key; fleet.json is read from beside it').env('TUTTI_KEY'))
    .addOption(new Option('--fleet <file>', 'the fleet file, if it is not beside the key').env('TUTTI_FLEET'))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the peer (default 15)'))
    .addHelpText('after', (): string => `\nEvery command:\n${everyCommand(program)}\nRun 'tutti COMMAND --help' for a command's options, 'tutti completion bash|zsh' for shell completion.\n`)
  const kinds: ResourceKind[] = []
  const ctx = { io, resource: (kind: ResourceKind) => { kinds.push(kind) } }
  for (const register of modules) register(program, ctx)
  registerResourceVerbs(program, kinds)
  program.command('version').description('print the versions of tutti and Node.js').action(() => {
    io.out(`tutti ${NODE_VERSION} (node ${process.version})\n`)
  })
  registerCompletion(program, ctx)
  return program
}

export async function main (argv: string[], io: CliIO = processIO, modules: readonly CommandModule[] = COMMANDS): Promise<number> {
  const program = createProgram(io, modules)
  // Each command reports its own parse errors; remember which, to point at its --help.
  let failed: Command = program
  let running: Command | undefined
  const eachCommand = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({
      writeOut: text => { io.out(text) },
      writeErr: text => { io.err(text) },
      outputError: () => { failed = cmd }
    })
    cmd.commands.forEach(eachCommand)
  }
  eachCommand(program)
  program.hook('preAction', (_root, action) => { running = action })
  // `--version` as a flag only at the front: `model pack --version 1.0.0` is pack's.
  const args = argv[0] === '--version' || argv[0] === '-V' ? ['version', ...argv.slice(1)] : argv
  try {
    await program.parseAsync(args, { from: 'user' })
    return 0
  } catch (err) {
    return report(err, io, running ?? failed)
  }
}

/** Every command that runs (not the groups), with its arguments and summary: the index `tutti --help` ends with. */
export function leafCommands (program: Command): Array<{ path: string, usage: string, summary: string }> {
  const out: Array<{ path: string, usage: string, summary: string }> = []
  const visit = (cmd: Command, path: string[]): void => {
    for (const c of cmd.commands) {
      if (c.name() === 'help') continue
      const here = [...path, c.name()]
      if (c.commands.length > 0) visit(c, here)
      else out.push({ path: here.join(' '), usage: [...here, ...c.registeredArguments.map(a => a.required ? `<${a.name()}>` : `[${a.name()}]`)].join(' '), summary: c.description() })
    }
  }
  visit(program, [])
  return out
}

function everyCommand (program: Command): string {
  const leaves = leafCommands(program)
  const width = Math.max(...leaves.map(l => l.usage.length)) + 2
  return leaves.map(l => `  ${l.usage.padEnd(width)}${l.summary}\n`).join('')
}

/** `model pack` for the pack command: what to put between `tutti` and `--help`. */
function commandPath (cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c?.parent != null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

function report (err: unknown, io: CliIO, cmd: Command): number {
  if (io.env.TUTTI_DEBUG === '1' && err instanceof Error) io.err(`${err.stack ?? ''}\n`)
  if (err instanceof CommanderError) {
    // Help asked for (exit 0) or shown because a command group was given no sub-command (exit 2).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return err.exitCode === 0 ? 0 : 2
    const message = err.message.replace(/^error: /, '').replace(/unknown command '([^']*)'/, 'unknown command "$1"').replace(/\n/g, ' ')
    return usage(io, message, cmd)
  }
  if (err instanceof UsageError) return usage(io, err.message, cmd)
  if (err instanceof InterruptedError) {
    io.err(`${err.message}\n`)
    return err.exitCode
  }
  if (isTuttiError(err)) {
    io.err(`error: ${err.message}\n`)
    return 1
  }
  io.err(`error: ${errorMessage(err).split('\n')[0] ?? 'unexpected failure'}\n`)
  return 1
}

function usage (io: CliIO, message: string, cmd: Command): number {
  const path = commandPath(cmd)
  io.err(`error: ${message} (see 'tutti ${path !== '' ? `${path} ` : ''}--help')\n`)
  return 2
}
