import { CliError, UsageError } from '../errors.js'
import type { CliIO } from '../io.js'
import type { CommandModule } from '../program.js'
import type { RealRunProgress } from '../../sim/real/runner.js'

function intOption (text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a non-negative integer`)
  return Number(text)
}

function scaleOption (text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const x = Number(text)
  if (!Number.isFinite(x) || x <= 0 || x > 1000) throw new UsageError('--time-scale must be a number in (0, 1000]')
  return x
}

const MODES = ['des', 'inprocess', 'multihost'] as const

/** A line of progress for a long real-node run: redrawn on a terminal, every 10 s elsewhere. */
function progressLine (io: CliIO): { update: (p: RealRunProgress) => void, done: () => void } {
  let lastPlain = 0
  let drawn = false
  const text = (p: RealRunProgress): string => p.t < 0
    ? `set-up: ${p.what}`
    : `t=${Math.round(p.t / 1000)}s of ${Math.round(p.durationMs / 1000)}s, ${p.up}/${p.nodes} nodes up, rollout ${p.phase}`
  return {
    update (p) {
      if (io.isTTY) {
        io.out(`\r\x1b[2K${text(p).slice(0, (process.stdout.columns ?? 120) - 1)}`)
        drawn = true
      } else if (Date.now() - lastPlain >= 10_000) {
        lastPlain = Date.now()
        io.out(text(p) + '\n')
      }
    },
    done () { if (drawn) io.out('\n') }
  }
}

/** `tutti sim run SCENARIO.yaml [--mode M] [--seed N] [--nodes N] [--out DIR]`. */
export const registerSim: CommandModule = (program, { io }) => {
  const sim = program.command('sim').description('the network simulator')
  sim.command('run <scenario>')
    .description('run a scenario; exits 1 when an invariant is violated (printing the seed and the first violating event)')
    .option('--mode <mode>', `override the scenario's mode: ${MODES.join(', ')}`)
    .option('--time-scale <x>', 'real-node modes: virtual seconds per wall second (default 10)')
    .option('--end-when-settled', 'real-node modes: end once the timeline has run and the rollout has ended (the duration becomes a deadline)')
    .option('--seed <n>', 'override the scenario seed')
    .option('--nodes <n>', 'override the fleet size')
    .option('--out <dir>', 'where timeline.jsonl, summary.md and the SVG plots go', 'sim-out')
    .option('--no-plots', 'skip the SVG plots')
    .action(async (file: string, opts: { mode?: string, timeScale?: string, endWhenSettled?: boolean, seed?: string, nodes?: string, out: string, plots: boolean }) => {
      if (opts.mode !== undefined && !(MODES as readonly string[]).includes(opts.mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}`)
      const [{ runScenarioFile }, { ScenarioError }, { createUncaughtExceptionHandler }, { createLogger }] = await Promise.all([
        import('../../sim/run.js'), import('../../sim/scenario.js'), import('../../node/mesh/uncaught.js'), import('../../core/logger.js')
      ])
      const line = progressLine(io)
      // Real nodes in this process: a connection's error thrown from a socket event must not end
      // the run (as in `tutti node start`); anything else still does.
      const onUncaught = createUncaughtExceptionHandler({ logger: createLogger({ level: 'warn', component: 'sim' }), exit: code => process.exit(code) })
      process.on('uncaughtException', onUncaught)
      const timeScale = scaleOption(opts.timeScale)
      let report
      try {
        report = await runScenarioFile(file, {
          seed: intOption(opts.seed, '--seed'),
          nodes: intOption(opts.nodes, '--nodes'),
          outDir: opts.out,
          plots: opts.plots,
          ...(opts.mode !== undefined ? { mode: opts.mode as typeof MODES[number] } : {}),
          real: { onProgress: line.update, ...(timeScale !== undefined ? { timeScale } : {}), ...(opts.endWhenSettled === true ? { endWhenSettled: true } : {}) }
        })
      } catch (err) {
        if (err instanceof ScenarioError) throw new UsageError(`${file}: ${err.message}`)
        const code = (err as { code?: string }).code
        if (code === 'ERR_SIM_UNSUPPORTED' || code === 'ERR_SIM_NEEDS_ROOT') throw new UsageError((err as Error).message)
        throw err
      } finally {
        line.done()
        process.off('uncaughtException', onUncaught)
      }
      io.out(`${report.phase} after ${Math.round(report.wallMs)} ms (${report.mode}, seed ${report.seed}, ${report.nodes} nodes); ${opts.out}/summary.md\n`)
      const first = report.violations[0]
      if (first !== undefined) {
        throw new CliError(`invariant ${first.invariant} violated (seed ${report.seed}): ${first.message}${first.event !== undefined ? `; first violating event ${JSON.stringify(first.event)}` : ''}`, { code: 'ERR_SIM_INVARIANT' })
      }
    })
}
