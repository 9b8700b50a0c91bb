/**
 * The kubectl-style verbs: `get KIND`, `describe KIND ID`, `delete KIND ID`. Each dispatches by
 * resource type to the kinds that command files registered; a verb no kind supports is not added.
 * `get` also takes `--no-headers`, and `-l SELECTOR` and `-w` for the kinds that support them.
 */
import { Argument, Option } from 'commander'
import { UsageError } from './errors.js'
import { outputFormat } from './options.js'
import type { Command } from 'commander'
import type { GetFeature, ResourceKind } from './program.js'

const VERBS = [
  { verb: 'get', summary: 'list resources as the attached peer sees them', takesId: false },
  { verb: 'describe', summary: 'show one resource in detail', takesId: true },
  { verb: 'delete', summary: 'delete a resource', takesId: true }
] as const

/** What `get` was asked for besides the format. */
export interface GetOptions {
  /** False with --no-headers: tables without their header line. */
  headers: boolean
  /** -l: the label selector text, checked by the kind. */
  selector?: string
  /** -w: keep printing changes. */
  watch: boolean
}

export function getOptions (command: Command): GetOptions {
  const o = command.opts<{ headers?: boolean, selector?: string, watch?: boolean }>()
  return { headers: o.headers !== false, selector: o.selector, watch: o.watch === true }
}

/** Edit distance with transpositions (optimal string alignment), for "did you mean". */
export function editDistance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/** The closest of `names` to a mistyped `word` (one edit, two for names of 7 letters or more), or undefined. */
export function closest (word: string, names: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of names) {
    const distance = editDistance(word.toLowerCase(), name)
    if (distance < bestDistance && distance <= (name.length >= 7 ? 2 : 1)) {
      best = name
      bestDistance = distance
    }
  }
  return best
}

const FEATURE_FLAGS: Record<GetFeature, string> = { selector: '-l', watch: '-w' }

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
        const features = (k.get != null && verb === 'get' ? k.get.features ?? [] : []).map(f => ` ${FEATURE_FLAGS[f]}`).join('')
        return `${usage.padEnd(44)} ${impl.outputs.length > 0 ? `-o ${impl.outputs.join('|')}` : ''}${features}${k.names.length > 1 ? `   (also: ${k.names.slice(1).join(', ')})` : ''}`
      }).join('\n') + '\n')
    if (verb === 'get') {
      cmd.option('--no-headers', 'tables without their header line')
        .option('-l, --selector <selector>', "only what matches, kubectl syntax: 'zone=lobby,battery>50,class in (camera,gateway)'")
        .option('-w, --watch', 'after the list, print each change until Ctrl-C')
    }
    if (takesId) cmd.argument('[id]', 'which one')
    cmd.action(async (type: string, ...rest: unknown[]) => {
      const command = rest[rest.length - 1] as Command
      const id = takesId ? rest[0] as string | undefined : undefined
      const kind = supporting.find(k => k.names.includes(type.toLowerCase()))
      if (kind == null) {
        const guess = closest(type, supporting.flatMap(k => k.names))
        throw new UsageError(`unknown resource type "${type}"${guess != null ? ` (did you mean "${guess}"?)` : ''} (known: ${known})`)
      }
      const impl = kind[verb]!
      const format = outputFormat(command.opts<{ output?: string }>().output, impl.outputs)
      if (!takesId) {
        const get = impl as NonNullable<ResourceKind['get']>
        const options = getOptions(command)
        for (const feature of ['selector', 'watch'] as const) {
          if (options[feature] != null && options[feature] !== false && !(get.features ?? []).includes(feature)) {
            throw new UsageError(`${FEATURE_FLAGS[feature]} does not apply to ${kind.names[0]}`)
          }
        }
        await get.run(command, format)
        return
      }
      if (id == null) throw new UsageError(`${verb} ${type} needs ${kind.id ?? 'a NAME'}`)
      await (impl as NonNullable<ResourceKind['describe']>).run(command, format, id)
    })
  }
}
