/**
 * Rollouts from the CLI: `apply -f`, the `rollouts` resource (`get`, `describe`, `delete`) and
 * `rollout status|pause|resume|undo|history`. Every change is a new version of the rollout's
 * policy, signed here with the admin key and handed to the attached peer, which stores it durably
 * before it answers and spreads it to the fleet.
 */
import { readFile, stat } from 'node:fs/promises'
import { Option } from 'commander'
import { canonicalJson } from '../../core/canonical-json.js'
import { formatDuration } from '../../core/duration.js'
import { formatSelector } from '../../core/selector.js'
import { MAX_MANIFEST_BYTES } from '../../node/rollouts/constants.js'
import { connectionOf, withPeer } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { describeBlock, duration, shortPeer, structured, table, withoutHeaders } from '../format.js'
import { outputFormat } from '../options.js'
import type { Ask, Connection } from '../client.js'
import type { CliIO } from '../io.js'
import type { CommandModule } from '../program.js'
import type { PolicyControl, PolicyDocument } from '../../node/policy/document.js'
import type { RolloutSpec, RolloutSpecInput } from '../../node/rollouts/spec.js'
import type { RolloutProgressSummary } from '../../node/rollouts/plan.js'
import type { RolloutStatus } from '../../node/rollouts/service.js'
import type { Command } from 'commander'

/** Exit code of `rollout status` when the rollout was aborted or rolled back. */
export const EXIT_ROLLOUT_FAILED = 1

interface HeldPolicy { doc?: PolicyDocument<RolloutSpec> }
interface ApplyResult { name: string, version: number, cid: string, durable: boolean, peers: number, observer: string }

export const registerRollouts: CommandModule = (program, { io, resource }) => {
  program.command('apply')
    .description('create or update a rollout from a YAML manifest (kind: Rollout)')
    .requiredOption('-f, --filename <file>', 'the manifest')
    .option('--dry-run', 'print the plan (matching nodes now, waves, gates, warnings) and change nothing')
    .option('-o, --output <format>', 'json|yaml')
    .action(async (opts: { filename: string, dryRun?: boolean, output?: string }, command: Command) => {
      const format = outputFormat(opts.output, ['json', 'yaml'])
      const { name, spec } = await readManifest(opts.filename)
      const conn = connectionOf(command)
      await withPeer(conn, async ask => {
        const pinned = await pinModel(ask, spec)
        if (opts.dryRun === true) {
          const { plan } = await ask<{ plan: unknown }>('rollouts.plan', { name, spec: pinned })
          io.out(format != null ? structured(plan, format as 'json' | 'yaml') : formatPlan(name, pinned, plan as PlanView))
          return
        }
        const held = await ask<HeldPolicy>('policies.get', { name })
        if (held.doc != null && !held.doc.control.deleted && canonicalJson(held.doc.spec) === canonicalJson(pinned)) {
          io.out(format != null ? structured({ name, unchanged: true, version: held.doc.version }, format as 'json' | 'yaml') : `rollout.tutti.dev/${name} unchanged (version ${held.doc.version})\n`)
          return
        }
        // Warnings as kubectl prints the API server's: on stderr, and they block nothing.
        const { plan } = await ask<{ plan: PlanView }>('rollouts.plan', { name, spec: pinned })
        const control: PolicyControl = { paused: false, resumedThrough: -1, undo: false, deleted: false }
        const result = await publish(ask, conn, name, pinned, control, held.doc?.version)
        for (const w of plan.warnings ?? []) io.err(`Warning: ${w}\n`)
        io.out(format != null
          ? structured(result, format as 'json' | 'yaml')
          : `rollout.tutti.dev/${name} ${held.doc == null || held.doc.control.deleted ? 'created' : 'configured'} (version ${result.version}; durable on ${shortPeer(result.observer)}, held by ${result.peers + 1} node(s) so far)\n`)
      })
    })

  resource({
    names: ['rollouts', 'rollout', 'ro'],
    id: 'NAME',
    get: {
      outputs: ['table', 'wide', 'json', 'yaml', 'name'],
      run: async (command, format) => {
        const list = await withPeer(connectionOf(command), async ask => await ask<{ observer: string, rollouts: RolloutStatus[] }>('rollouts.list'))
        if (format === 'json' || format === 'yaml') io.out(structured(list, format))
        else if (format === 'name') io.out(list.rollouts.map(r => `rollout/${r.name}\n`).join(''))
        else if (list.rollouts.length === 0) io.err('No rollouts.\n')
        else io.out(withoutHeaders(command, formatRollouts(list.rollouts, format === 'wide')))
      }
    },
    describe: {
      outputs: ['json', 'yaml'],
      run: async (command, format, name) => {
        const { rollout, observer } = await withPeer(connectionOf(command), async ask => await ask<{ observer: string, rollout: RolloutStatus }>('rollouts.get', { name }))
        io.out(format != null ? structured(rollout, format as 'json' | 'yaml') : formatDescribe(rollout, observer, await import('../../node/rollouts/preview.js')))
      }
    },
    delete: {
      outputs: [],
      run: async (command, _format, name) => {
        await control(connectionOf(command), name, io, c => ({ ...c, deleted: true }), 'deleted')
      }
    }
  })

  const group = program.command('rollout').description('watch and steer a rollout')
  group.command('status')
    .description('the progress of a rollout; exits 0 when it completed, 1 when it was aborted or rolled back')
    .argument('<name>')
    .option('-w, --watch', 'follow it until it ends')
    .option('-o, --output <format>', 'json|yaml')
    .action(async (name: string, opts: { watch?: boolean, output?: string }, command: Command) => {
      const format = outputFormat(opts.output, ['json', 'yaml'])
      const conn = connectionOf(command)
      const code = await withPeer(conn, async ask => {
        const live = io.isTTY === true && opts.watch === true
        let shown = ''
        let settling = 0
        for (;;) {
          const { rollout } = await ask<{ rollout: RolloutStatus }>('rollouts.get', { name })
          const phase = rollout.progress?.phase
          const ended = phase === 'Completed' || phase === 'RolledBack' || rollout.control.deleted ||
            (phase === 'Aborted' && rollout.spec.strategy.rollback === 'manual' && !rollout.control.undo)
          // Device counts come from heartbeats: give them a few polls to catch up with the end.
          const counted = phase === 'RolledBack' ? rollout.summary.active === 0 : phase !== 'Completed' || rollout.summary.active === rollout.summary.targets
          const done = opts.watch !== true || (ended && (counted || settling++ >= 5))
          if (format != null) {
            if (done || opts.watch !== true) io.out(structured(rollout, format as 'json' | 'yaml'))
          } else {
            const text = formatStatus(rollout, live)
            // Not on a terminal, print a status only when it changes (the bake countdown aside).
            const key = live ? text : text.replace(/\d+s left/, '')
            if (key !== shown || done) {
              if (!(done && key === shown && !live)) io.out(text)
              shown = key
            }
          }
          if (done) return phase === 'RolledBack' || phase === 'Aborted' ? EXIT_ROLLOUT_FAILED : 0
          await new Promise(resolve => setTimeout(resolve, 1000))
        }
      })
      if (code !== 0) throw new RolloutEndedError(name, code)
    })
  group.command('pause').description('stop starting new waves (devices keep what they run)').argument('<name>')
    .action(async (name: string, _opts: unknown, command: Command) => { await control(connectionOf(command), name, io, c => ({ ...c, paused: true }), 'paused') })
  group.command('resume').description('continue a paused rollout, past a `pause: {}` step, or past a bake held on inconclusive criteria').argument('<name>')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const conn = connectionOf(command)
      const step = await withPeer(conn, async ask => (await ask<{ rollout: RolloutStatus }>('rollouts.get', { name })).rollout.progress?.step ?? 0)
      await control(conn, name, io, c => ({ ...c, paused: false, resumedThrough: Math.max(c.resumedThrough, step) }), 'resumed')
    })
  group.command('undo').description('roll every updated device back to the version it ran before').argument('<name>')
    .action(async (name: string, _opts: unknown, command: Command) => { await control(connectionOf(command), name, io, c => ({ ...c, undo: true }), 'rolling back') })
  group.command('history').description('phase and coordinator changes of a rollout, as the attached peer saw them (the last 100)').argument('<name>')
    .addOption(new Option('-o, --output <format>', 'json|yaml'))
    .action(async (name: string, opts: { output?: string }, command: Command) => {
      const format = outputFormat(opts.output, ['json', 'yaml'])
      const result = await withPeer(connectionOf(command), async ask => await ask<{ events: Array<{ at: number, event: string, detail: Record<string, unknown> }> }>('rollouts.history', { name }))
      if (format != null) {
        io.out(structured(result, format as 'json' | 'yaml'))
        return
      }
      io.out(table(['TIME', 'EVENT', 'DETAIL'], result.events.map(e => [new Date(e.at).toISOString(), e.event, Object.entries(e.detail).filter(([, v]) => v != null && v !== '').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')])))
    })
}

/** `rollout status` of a rollout that did not complete: the exit code says so. */
export class RolloutEndedError extends CliError {
  readonly exitCode: number
  constructor (name: string, exitCode: number) {
    super(`rollout ${name} did not complete`, { code: 'ERR_ROLLOUT_NOT_COMPLETED' })
    this.exitCode = exitCode
  }
}

async function readManifest (file: string): Promise<{ name: string, spec: RolloutSpecInput }> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`)
  }
  if (size > MAX_MANIFEST_BYTES) throw new UsageError(`${file} is ${size} bytes; a rollout manifest is at most ${MAX_MANIFEST_BYTES}`)
  const text = await readFile(file, 'utf8')
  const [{ parseRolloutManifest }, { ManifestValidationError }] = await Promise.all([import('../../node/rollouts/spec.js'), import('../../node/rollouts/errors.js')])
  try {
    return parseRolloutManifest(text)
  } catch (err) {
    if (err instanceof ManifestValidationError) {
      throw new UsageError(`${file} is not a valid rollout:\n${err.issues.map(i => `  ${i.path === '' ? '' : `${i.path}: `}${i.message}`).join('\n')}`)
    }
    throw err
  }
}

/** Pins the model: NAME@VERSION resolved to its manifest CID on the attached peer, now. */
async function pinModel (ask: Ask, spec: RolloutSpecInput): Promise<RolloutSpec> {
  const m = spec.model
  const ref = m.cid ?? `${m.name!}@${m.version!}`
  const r = await ask<{ cid: string, name?: string, version?: string }>('models.resolve', { ref })
  if (m.cid == null && (r.name !== m.name || r.version !== m.version)) {
    throw new CliError(`${ref} resolved to ${r.name ?? '?'}@${r.version ?? '?'} (${r.cid}): refusing a model the manifest does not name`)
  }
  return { ...spec, model: { name: m.name ?? r.name, version: m.version ?? r.version, cid: r.cid } }
}

async function publish (ask: Ask, conn: Connection, name: string, spec: RolloutSpec, control: PolicyControl, heldVersion: number | undefined): Promise<ApplyResult> {
  const [{ loadAdminKey }, { sealPolicy }] = await Promise.all([import('../../node/fleet/fleet.js'), import('../../node/policy/document.js')])
  const { key } = await loadAdminKey(conn.keyFile)
  // Versions only go up: the wall clock keeps two admins' versions apart, held+1 keeps them increasing.
  const version = Math.max(Date.now(), (heldVersion ?? 0) + 1)
  const doc: PolicyDocument<RolloutSpec> = { kind: 'RolloutPolicy', schema: 1, name, version, issuedAt: new Date().toISOString(), spec, control }
  const envelope = await sealPolicy(doc, key)
  return await ask<ApplyResult>('policies.apply', { envelope: Buffer.from(envelope).toString('base64') })
}

async function control (conn: Connection, name: string, io: CliIO, change: (c: PolicyControl) => PolicyControl, verb: string): Promise<void> {
  await withPeer(conn, async ask => {
    const held = await ask<HeldPolicy>('policies.get', { name })
    if (held.doc == null || held.doc.control.deleted) throw new CliError(`rollout ${name} is not known to the attached peer`, { code: 'ERR_NOT_FOUND' })
    const next = change(held.doc.control)
    const result = await publish(ask, conn, name, held.doc.spec, next, held.doc.version)
    io.out(`rollout.tutti.dev/${name} ${verb} (version ${result.version}; held by ${result.peers + 1} node(s) so far)\n`)
  })
}

interface PlanView {
  matching: Array<{ peerId: string }>
  waves: Array<{ step: number, description: string, nodes: number, peers?: string[] }>
  gates: string[]
  /** Absent from peers older than the field. */
  warnings?: string[]
}

export function formatPlan (name: string, spec: RolloutSpec, plan: PlanView): string {
  const lines = [`rollout ${name} (dry run: nothing was published)`, `model: ${spec.model.name ?? ''}@${spec.model.version ?? ''} (${spec.model.cid})`, `selector: ${formatSelector(spec.selector) || '(every node)'}`]
  lines.push(`matching nodes now: ${plan.matching.length}${plan.matching.length > 0 ? ` (${plan.matching.map(m => shortPeer(m.peerId)).join(', ')})` : ''}`)
  lines.push('', table(['STEP', 'WHAT', 'NODES'], plan.waves.map(w => [String(w.step + 1), w.description, String(w.nodes)])).trimEnd())
  lines.push('', 'abort if any of:', ...(plan.gates.length > 0 ? plan.gates.map(g => `  - ${g}`) : ['  (no gates)']))
  for (const w of plan.warnings ?? []) lines.push('', `Warning: ${w}`)
  return lines.join('\n') + '\n'
}

function phaseOf (r: RolloutStatus): string {
  if (r.control.deleted) return 'Deleted'
  if (r.progress == null) return 'Pending'
  return r.progress.phase
}

function countLine (summary: RolloutProgressSummary): string {
  return Object.entries(summary.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')
}

export function formatRollouts (rollouts: RolloutStatus[], wide: boolean): string {
  if (rollouts.length === 0) return 'No rollouts.\n'
  const headers = wide ? ['NAME', 'MODEL', 'PHASE', 'STEP', 'ACTIVE', 'COORDINATOR', 'EPOCH', 'VERSION', 'SELECTOR'] : ['NAME', 'MODEL', 'PHASE', 'STEP', 'ACTIVE', 'AGE']
  const rows = rollouts.map(r => {
    const s = r.summary
    const step = r.progress == null ? '-' : `${Math.min(r.progress.step + 1, r.spec.strategy.steps.length)}/${r.spec.strategy.steps.length}`
    const base = [r.name, `${r.spec.model.name ?? r.spec.model.cid}@${r.spec.model.version ?? ''}`, phaseOf(r), step, `${s.active}/${s.targets}`]
    if (!wide) return [...base, duration(Math.max(0, Date.now() - Date.parse(r.issuedAt)))]
    return [...base, r.progress != null ? shortPeer(r.progress.coordinator) : '-', String(r.progress?.epoch ?? '-'), String(r.version), formatSelector(r.spec.selector) || '(all)']
  })
  return table(headers, rows)
}

function stepText (step: RolloutSpec['strategy']['steps'][number]): string {
  if ('setPercent' in step) return `setPercent ${step.setPercent}%`
  return step.pause.durationMs == null ? 'pause until resumed' : `pause ${formatDuration(step.pause.durationMs)}`
}

export function formatStatus (r: RolloutStatus, live: boolean): string {
  const s = r.summary
  const p = r.progress
  const width = 30
  const filled = Math.round(width * (s.targets === 0 ? 0 : s.active / s.targets))
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${s.active}/${s.targets} active`
  const step = p == null ? 'not started' : `step ${Math.min(p.step + 1, r.spec.strategy.steps.length)}/${r.spec.strategy.steps.length}${p.step < r.spec.strategy.steps.length ? ` (${stepText(r.spec.strategy.steps[p.step]!)})` : ''}`
  const lines = [
    `${r.name}: ${phaseOf(r)}${r.control.paused ? ' (paused)' : ''}, ${step}`,
    `  ${bar}${countLine(s) !== '' ? `  [${countLine(s)}]` : ''}`,
    `  coordinator ${p != null ? `${shortPeer(p.coordinator)} epoch ${p.epoch}` : '(none yet)'}${p?.message != null && p.message !== '' ? ` - ${p.message}` : ''}`
  ]
  if (p?.trip != null) lines.push(`  tripped: ${p.trip}`)
  return (live ? '\x1b[2J\x1b[H' : '') + lines.join('\n') + '\n'
}

/** `describe rollout`; `preview` is node/rollouts/preview.ts, which the caller loads when it describes one. */
export function formatDescribe (r: RolloutStatus, observer: string, preview: Pick<typeof import('../../node/rollouts/preview.js'), 'describeCriterion' | 'describeRate'>): string {
  const { describeCriterion, describeRate } = preview
  const s = r.summary
  const p = r.progress
  const spec = r.spec
  return describeBlock([
    ['Name', r.name],
    ['Seen by', observer],
    ['Policy version', `${r.version} (issued ${r.issuedAt} by ${r.signer})`],
    ['Model', `${spec.model.name ?? ''}@${spec.model.version ?? ''} ${spec.model.cid}`],
    ['Selector', formatSelector(spec.selector) || '(every node)'],
    ['Limits', `cpu ${spec.resources.limits.cpu ?? 'unlimited'}, memory ${spec.resources.limits.memory ?? 'unlimited'}`],
    ['Steps', spec.strategy.steps.map((st, i) => `${i + 1}. ${stepText(st)}${p != null && p.step === i ? '   <- now' : ''}`)],
    ['Abort if', spec.strategy.abort.map(describeCriterion)],
    ['Rate', describeRate(spec.strategy.rate)],
    ['Rollback', spec.strategy.rollback],
    ['Phase', `${phaseOf(r)}${r.control.paused ? ' (paused by an operator)' : ''}${r.control.undo ? ' (undo requested)' : ''}`],
    ['Coordinator', p != null ? `${p.coordinator} (epoch ${p.epoch}, progress ${r.progressAgeMs != null ? `${duration(r.progressAgeMs)} old` : ''})` : '(none yet)'],
    ['Next candidates', r.candidates],
    ['Message', p?.message ?? ''],
    ['Tripped', p?.trip ?? '-'],
    ['Devices', [`${s.active}/${s.targets} active${countLine(s) !== '' ? ` (${countLine(s)})` : ''}`,
      ...r.devices.map(d => `${shortPeer(d.peerId)} ${d.status} ${d.state}${d.reason !== '' ? `: ${d.reason}` : ''}${d.matches ? '' : ' (no longer matches)'}`)]]
  ])
}
