/**
 * The kubectl-style verbs: `get KIND`, `describe KIND ID`, `delete KIND ID`. Each dispatches by
 * resource type to the kinds that command files registered; a verb no kind supports is not added.
 */
import { Argument, Option } from 'commander'
import { UsageError } from './errors.js'
import { outputFormat } from './options.js'
import type { Command } from 'commander'
import type { ResourceKind } from './program.js'

const VERBS = [
  { verb: 'get', summary: 'list resources as the attached peer sees them', takesId: false },
  { verb: 'describe', summary: 'show one resource in detail', takesId: true },
  { verb: 'delete', summary: 'delete a resource', takesId: true }
] as const

export function registerResourceVerbs (program: Command, kinds: readonly ResourceKind[]): void {
  for (const { verb, summary, takesId } of VERBS) {
    const supporting = kinds.filter(k => k[verb] != null)
    if (supporting.length === 0) continue
    const known = supporting.map(k => k.names[0]).join(', ')
    const cmd = program.command(verb)
      .description(summary)
      // Choices for help and completion; an unknown type gets its own message below.
      .addArgument(Object.assign(new Argument('<type>', 'resource type'), { argChoices: supporting.map(k => k.names[0]) }))
      .addOption(Object.assign(new Option('-o, --output <format>', 'output format'), { argChoices: [...new Set(supporting.flatMap(k => k[verb]!.outputs))] }))
      .addHelpText('after', '\nResource types:\n' + supporting.map(k => {
        const impl = k[verb]!
        const usage = `  tutti ${verb} ${k.names[0]}${takesId ? ` ${k.id ?? 'NAME'}` : ''}`
        return `${usage.padEnd(44)} -o ${impl.outputs.join('|')}${k.names.length > 1 ? `   (also: ${k.names.slice(1).join(', ')})` : ''}`
      }).join('\n') + '\n')
    if (takesId) cmd.argument('[id]', 'which one')
    cmd.action(async (type: string, ...rest: unknown[]) => {
      const command = rest[rest.length - 1] as Command
      const id = takesId ? rest[0] as string | undefined : undefined
      const kind = supporting.find(k => k.names.includes(type))
      if (kind == null) throw new UsageError(`unknown resource type "${type}" (known: ${known})`)
      const impl = kind[verb]!
      const format = outputFormat(command.opts<{ output?: string }>().output, impl.outputs)
      if (!takesId) {
        await (impl as NonNullable<ResourceKind['get']>).run(command, format)
        return
      }
      if (id == null) throw new UsageError(`${verb} ${type} needs ${kind.id ?? 'a NAME'}`)
      await (impl as NonNullable<ResourceKind['describe']>).run(command, format, id)
    })
  }
}
