/**
 * What every command file registers onto: the commander program, the CLI's IO, and the resource
 * kinds that `get`, `describe` and `delete` dispatch to. A command group is one file under
 * cli/commands/ exporting a {@link CommandModule}; main.ts lists the modules.
 */
import type { Command } from 'commander'
import type { CliIO } from './io.js'
import type { OutputFormat } from './options.js'

/** One verb on a resource kind: `get nodes`, `describe node ID`, `delete rollout NAME`. */
export interface ResourceVerb<A extends unknown[]> {
  /** The `-o` formats this verb prints, besides its human default. */
  outputs: readonly OutputFormat[]
  run: (command: Command, format: OutputFormat | undefined, ...args: A) => Promise<void>
}

/** `get` flags a kind may support: `-l SELECTOR`, `-w`. Given to a kind without it, a usage error. */
export type GetFeature = 'selector' | 'watch'

/** A kind of thing the mesh holds, addressed as `tutti VERB KIND [NAME]`. */
export interface ResourceKind {
  /** Names it answers to; the first is shown in help (`nodes`), the rest are aliases (`node`, `no`). */
  names: readonly [string, ...string[]]
  /** What the argument of describe/delete is, for help and errors: `PEER_ID`, `NAME@VERSION|CID`. */
  id?: string
  get?: ResourceVerb<[]> & { features?: readonly GetFeature[] }
  describe?: ResourceVerb<[id: string]>
  delete?: ResourceVerb<[id: string]>
}

/** The options every command sees, before or after the command (`tutti --peer X get nodes`). */
export interface GlobalOptions {
  peer?: string
  key?: string
  fleet?: string
  timeout?: string
}

export interface CliContext {
  io: CliIO
  /** Makes a kind reachable through the resource verbs. */
  resource: (kind: ResourceKind) => void
}

/** A command group: adds its commands (and resource kinds) to the program. */
export type CommandModule = (program: Command, ctx: CliContext) => void
