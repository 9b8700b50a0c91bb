import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { bashCompletion, completionTree, zshCompletion } from './completion.js'
import { COMMANDS, createProgram, leafCommands, main } from './main.js'
import { structured, withTimes } from './format.js'
import type { Command } from 'commander'
import type { CliIO } from './io.js'
import type { CommandModule } from './program.js'

async function runWith (modules: readonly CommandModule[], argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const io: CliIO = { out: t => { out += t }, err: t => { err += t }, env: {}, isTTY: false }
  const code = await main(argv, io, modules)
  return { code, out, err }
}

async function run (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  return await runWith(COMMANDS, argv)
}

function everyCommand (cmd: Command, path: string[] = []): string[][] {
  return cmd.commands.filter(c => c.name() !== 'help').flatMap(c => [[...path, c.name()], ...everyCommand(c, [...path, c.name()])])
}

const silent: CliIO = { out: () => {}, err: () => {}, env: {}, isTTY: false }

afterEach(() => { vi.unstubAllEnvs() })

describe('tutti help', () => {
  it('answers --help on every command and sub-command with that command\'s usage only', async () => {
    const paths = everyCommand(createProgram(silent))
    expect(paths).toContainEqual(['model', 'pack'])
    expect(paths).toContainEqual(['get'])
    for (const path of paths) {
      const res = await run(...path, '--help')
      expect({ path, code: res.code, err: res.err }).toEqual({ path, code: 0, err: '' })
      expect(res.out.split('\n')[0]).toMatch(new RegExp(`^Usage: tutti ${path.join('(\\|\\w+)? ')}(\\|\\w+)?( |$)`))
    }
    const pack = await run('model', 'pack', '--help')
    expect(pack.out).toMatch(/--chunk-size <bytes>/)
    expect(pack.out).not.toMatch(/deactivate|shadow/)
  })

  it('ends the top-level help with every command that runs, and the README table lists each of them', async () => {
    const help = (await run('--help')).out
    const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8')
    const rows = readme.split('\n').filter(line => line.startsWith('| `tutti '))
    const leaves = leafCommands(createProgram(silent))
    expect(leaves.map(l => l.path)).toEqual(expect.arrayContaining(['model deactivate', 'model shadow', 'rollout history', 'completion']))
    for (const leaf of leaves) {
      expect(help).toMatch(new RegExp(`^  ${leaf.usage.replace(/[[\]|]/g, '\\$&')} +${leaf.summary.slice(0, 20).replace(/[()[\]|.*+?]/g, '\\$&')}`, 'm'))
      expect({ leaf: leaf.path, inReadme: rows.some(row => new RegExp(`\`tutti ${leaf.path}[ \`]`).test(row)) }).toEqual({ leaf: leaf.path, inReadme: true })
    }
  })

  it('lists the resource types that get and describe dispatch to', async () => {
    expect((await run('get', '--help')).out).toMatch(/^ {2}tutti get nodes .*-o table\|wide\|json\|yaml/m)
    expect((await run('describe', '--help')).out).toMatch(/^ {2}tutti describe models NAME@VERSION\|CID .*-o json\|yaml/m)
  })

  it('prints help with exit 2 when a command group is given no sub-command', async () => {
    const res = await run('model')
    expect(res.code).toBe(2)
    expect(res.err).toMatch(/^Usage: tutti model\|models /)
  })
})

describe('tutti usage errors', () => {
  it.each<[string[], RegExp]>([
    [['get', 'nodes', '--bogus'], /^error: unknown option '--bogus' \(see 'tutti get --help'\)\n$/],
    [['frobnicate'], /^error: unknown command "frobnicate"/],
    [['model', 'frobnicate'], /^error: unknown command "frobnicate" \(see 'tutti model --help'\)\n$/],
    [['model', 'pull'], /missing required argument 'ref' \(see 'tutti model pull --help'\)\n$/],
    [['model', 'pull', 'a', 'b'], /too many arguments/],
    [['model', 'pack', 'x.onnx', '--version', '1.0.0'], /required option '--name <name>' not specified/],
    [['get', 'pods'], /^error: unknown resource type "pods" \(known: nodes, models, rollouts\)/],
    [['get', 'nodes', '-o', 'xml'], /-o must be one of table, wide, json, yaml, name; got "xml"/],
    [['describe', 'node', 'x', '-o', 'wide'], /-o must be one of json, yaml; got "wide"/],
    [['describe', 'node'], /describe node needs PEER_ID/],
    [['get', 'nodes'], /no peer to attach to: pass --peer MULTIADDR or set TUTTI_PEER/],
    [['node', 'start', '--data', 'd', '--fleet', 'f', '--heartbeat-ms', 'soon'], /--heartbeat-ms must be a positive integer, got "soon"/],
    [['node', 'start', '--data', 'd', '--fleet', 'f', '--log-level', 'loud'], /Allowed choices are debug, info, warn, error/],
    [['node', 'start', '--data', 'd', '--fleet', 'f', '--upload-limit', 'fast'], /--upload-limit "fast" is not a rate/],
    [['node', 'start', '--data', 'd', '--fleet', 'f', '--memory-reserve', '256m'], /did you mean "256Mi"/],
    [['node', 'start', '--data', 'd'], /node start needs --fleet FILE/],
    [['completion', 'fish'], /no completion for "fish"/],
    [['get', 'nodes', '--peer', '/ip4/127.0.0.1/tcp/7410/p2p/bogus', '--key', 'k'], /^error: --peer "\/ip4\/127\.0\.0\.1\/tcp\/7410\/p2p\/bogus": "bogus" is not a peer id/],
    [['model', 'pack', 'x.onnx', '--name', 'vad', '--version', '1', '--key', 'k'], /^error: --version "1" is not semver \(e\.g\. 1\.2\.0\)/],
    [['model', 'pack', 'x.onnx', '--name', 'v a d', '--version', '1.0.0', '--key', 'k'], /^error: --name "v a d" must be 1-64 letters/],
    [['model', 'activate', 'vad@1.0.0', '--cpu', 'half', '--peer', '/ip4/127.0.0.1/tcp/1', '--key', 'k'], /^error: --cpu "half" is not a quantity: expected cores \("2", "0\.5"\) or millicores \("500m"\) \(see/],
    [['model', 'activate', 'vad@1.0.0', '--memory', '256m', '--peer', '/ip4/127.0.0.1/tcp/1', '--key', 'k'], /did you mean "256Mi"/],
    [['model', 'shadow', 'vad@2.0.0', '--cpu', '2Gi', '--peer', '/ip4/127.0.0.1/tcp/1', '--key', 'k'], /--cpu "2Gi" is not a CPU quantity/],
    [['gett', 'nodes'], /^error: unknown command "gett" \(Did you mean get\?\)/],
    [['get', 'nodez'], /^error: unknown resource type "nodez" \(did you mean "nodes"\?\) \(known: nodes, models, rollouts\)/],
    [['describe', 'rolout', 'x'], /unknown resource type "rolout" \(did you mean "rollout"\?\)/],
    [['get', 'models', '-l', 'zone=a'], /^error: -l does not apply to models \(see 'tutti get --help'\)/],
    [['get', 'rollouts', '-w'], /^error: -w does not apply to rollouts/],
    [['get', 'nodes', '-l', 'zone in (a'], /^error: -l "zone in \(a": /],
    [['get', 'nodes', '-o', 'name', '--peer', '/ip4/127.0.0.1/tcp/7410/p2p/x', '--key', 'k'], /"x" is not a peer id/]
  ])('%j is one line on stderr with exit 2', async (argv, message) => {
    const res = await run(...argv)
    expect(res.code).toBe(2)
    expect(res.out).toBe('')
    expect(res.err).toMatch(message)
    expect(res.err.split('\n')).toEqual([expect.any(String), ''])
  })
})

describe('tutti options', () => {
  it('takes the connection options before or after the command, and from TUTTI_PEER', async () => {
    const before = await run('--peer', 'not-a-multiaddr', '--key', 'k', 'get', 'nodes')
    const after = await run('get', 'nodes', '--peer=not-a-multiaddr', '--key', 'k')
    vi.stubEnv('TUTTI_PEER', 'not-a-multiaddr')
    vi.stubEnv('TUTTI_KEY', 'k')
    const env = await run('model', 'ls')
    for (const res of [before, after, env]) {
      expect(res.code).toBe(2)
      expect(res.err).toMatch(/^error: --peer "not-a-multiaddr" is not a multiaddr/)
    }
  })

  it('accepts -o=json and -o yaml', async () => {
    for (const o of [['-o=json'], ['-o', 'yaml'], ['--output=json'], ['-ojson']]) {
      const res = await run('get', 'nodes', ...o)
      expect(res.err).toMatch(/no peer to attach to/) // the format was accepted; the connection is what is missing
    }
  })

  it('runs a command end to end: fleet init writes the fleet and its key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-cli-'))
    try {
      const res = await run('fleet', 'init', '--dir', join(dir, 'f'), '--name', 'lab')
      expect(res.code).toBe(0)
      expect(res.out).toMatch(/^fleet fleet-[0-9a-f]{16} \(lab\) created$/m)
      expect(JSON.parse(await readFile(join(dir, 'f', 'fleet.json'), 'utf8')).name).toBe('lab')
      const again = await run('fleet', 'init', '--dir', join(dir, 'f'))
      expect(again.code).toBe(1)
      expect(again.err).toMatch(/already exists/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('-o json and -o yaml', () => {
  it('print the admin API\'s epoch-ms timestamps as RFC 3339 fields, durations as numbers', () => {
    const node = { peerId: 'p', bootMs: Date.UTC(2026, 0, 2, 3, 4, 5, 6), lastSeenMs: 0, firstSeenMs: Date.UTC(2026, 0, 1), ageMs: 1500, uptimeMs: 9000 }
    expect(withTimes({ nodes: [node], events: [{ at: Date.UTC(2026, 5, 1), event: 'x' }] })).toEqual({
      nodes: [{ peerId: 'p', bootTime: '2026-01-02T03:04:05.006Z', lastSeenTime: '1970-01-01T00:00:00.000Z', firstSeenTime: '2026-01-01T00:00:00.000Z', ageMs: 1500, uptimeMs: 9000 }],
      events: [{ time: '2026-06-01T00:00:00.000Z', event: 'x' }]
    })
    expect(structured({ bootMs: Date.UTC(2026, 0, 1) }, 'yaml')).toBe('bootTime: 2026-01-01T00:00:00.000Z\n')
  })
})

describe('tutti completion', () => {
  const complete = (line: string): string[] => {
    const script = bashCompletion(completionTree(createProgram(silent)))
    const out = execFileSync('bash', ['-c', `${script}
read -ra COMP_WORDS <<< "$LINE"; [[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _tutti; printf '%s\\n' "\${COMPREPLY[@]}"`], { env: { LINE: line }, encoding: 'utf8' })
    return out.split('\n').filter(w => w !== '')
  }

  it('completes commands, sub-commands, options and choices in bash, from the command tree', () => {
    expect(complete('tutti mo')).toEqual(['model', 'models'])
    expect(complete('tutti --peer /ip4/1.2.3.4 model p')).toEqual(['pack', 'push', 'pull'])
    expect(complete('tutti models pack --ch')).toEqual(['--chunking', '--chunk-size'])
    expect(complete('tutti get ')).toEqual(expect.arrayContaining(['nodes', 'models', '--output', '--peer']))
    expect(complete('tutti get nodes -o ')).toEqual(['table', 'wide', 'json', 'yaml', 'name'])
    expect(complete('tutti node start --log-level ')).toEqual(['debug', 'info', 'warn', 'error'])
    expect(complete('tutti infer vad --output ')).toEqual([])
    expect(complete('tutti completion ')).toEqual(expect.arrayContaining(['bash', 'zsh']))
  })

  it('prints the scripts through the command', async () => {
    const bash = await run('completion', 'bash')
    expect(bash.out).toMatch(/^complete -F _tutti tutti$/m)
    const zsh = await run('completion', 'zsh')
    expect(zsh.out).toMatch(/^#compdef tutti/)
    expect(zsh.out).toContain('("/model/pack") cmdpath="/model/pack"')
    expect(zsh.out).toBe(zshCompletion(completionTree(createProgram(silent))))
  })
})

describe('a command group plugged in as one module', () => {
  // What a rollout group will look like: its own commands, and a kind for get/describe/delete.
  const widgets: CommandModule = (program, { io, resource }) => {
    program.command('widget').description('poke widgets').command('poke').argument('<name>').action((name: string) => { io.out(`poked ${name}\n`) })
    resource({
      names: ['widgets', 'widget', 'wd'],
      id: 'NAME',
      get: { outputs: ['table', 'yaml'], run: async (_command, format) => { io.out(format === 'yaml' ? structured([{ name: 'w1' }], 'yaml') : 'NAME\nw1\n') } },
      delete: { outputs: [], run: async (_command, _format, name) => { io.out(`deleted ${name}\n`) } }
    })
  }
  const modules = [...COMMANDS, widgets]

  it('gets its commands, its resource verbs and their help', async () => {
    expect(await runWith(modules, ['widget', 'poke', 'w1'])).toEqual({ code: 0, out: 'poked w1\n', err: '' })
    expect(await runWith(modules, ['get', 'wd', '-o=yaml'])).toEqual({ code: 0, out: '- name: w1\n', err: '' })
    expect(await runWith(modules, ['delete', 'widget', 'w1'])).toEqual({ code: 0, out: 'deleted w1\n', err: '' })
    expect((await runWith(modules, ['delete', 'pods', 'x'])).err).toMatch(/unknown resource type "pods" \(known: nodes, rollouts, widgets\)/)
    expect((await runWith(modules, ['delete', '--help'])).out).toMatch(/^ {2}tutti delete widgets NAME /m)
    // Without the module, delete knows only the kinds that can be deleted.
    expect((await run('delete', 'widget', 'w1')).err).toMatch(/unknown resource type "widget" \(known: nodes, rollouts\)/)
  })

  it('completes in bash with the rest of the tree', async () => {
    const script = (await runWith(modules, ['completion', 'bash'])).out
    expect(script).toContain('"/widget/poke") cmdpath="/widget/poke"')
    expect(script).toContain('"/delete") words="--help --peer --key --fleet --timeout --output nodes rollouts widgets"')
  })
})
