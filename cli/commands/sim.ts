import { CliError, UsageError } from '../errors.js'
import type { CommandModule } from '../program.js'

function intOption (text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a non-negative integer`)
  return Number(text)
}

/** `tutti sim run SCENARIO.yaml [--seed N] [--nodes N] [--out DIR]`. */
export const registerSim: CommandModule = (program, { io }) => {
  const sim = program.command('sim').description('the network simulator')
  sim.command('run <scenario>')
    .description('run a scenario; exits 1 when an invariant is violated (printing the seed and the first violating event)')
    .option('--seed <n>', 'override the scenario seed')
    .option('--nodes <n>', 'override the fleet size')
    .option('--out <dir>', 'where timeline.jsonl, summary.md and the SVG plots go', 'sim-out')
    .option('--no-plots', 'skip the SVG plots')
    .action(async (file: string, opts: { seed?: string, nodes?: string, out: string, plots: boolean }) => {
      const [{ runScenarioFile }, { ScenarioError }] = await Promise.all([import('../../sim/run.js'), import('../../sim/scenario.js')])
      let report
      try {
        report = await runScenarioFile(file, { seed: intOption(opts.seed, '--seed'), nodes: intOption(opts.nodes, '--nodes'), outDir: opts.out, plots: opts.plots })
      } catch (err) {
        if (err instanceof ScenarioError) throw new UsageError(`${file}: ${err.message}`)
        if ((err as { code?: string }).code === 'ERR_SIM_MODE_NOT_BUILT') throw new UsageError((err as Error).message)
        throw err
      }
      io.out(`${report.phase} after ${Math.round(report.wallMs)} ms (seed ${report.seed}, ${report.nodes} nodes); ${opts.out}/summary.md\n`)
      const first = report.violations[0]
      if (first !== undefined) {
        throw new CliError(`invariant ${first.invariant} violated (seed ${report.seed}): ${first.message}${first.event !== undefined ? `; first violating event ${JSON.stringify(first.event)}` : ''}`, { code: 'ERR_SIM_INVARIANT' })
      }
    })
}
