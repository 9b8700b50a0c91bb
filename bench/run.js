// Runs one benchmark: `npm run bench -- NAME [args]` spawns `node --import tsx bench/NAME.ts args`
// (or bench/NAME/main.ts, for a benchmark that is a folder of modules) with this terminal, and
// exits with its exit code. Without a known NAME it lists the benchmarks.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** Benchmark name -> its entry file. */
function available () {
  const entries = new Map()
  for (const f of readdirSync(here, { withFileTypes: true })) {
    if (f.name.startsWith('_') || f.name === 'lib') continue
    if (f.isFile() && f.name.endsWith('.ts') && !f.name.endsWith('.test.ts') && !f.name.endsWith('.d.ts')) {
      entries.set(f.name.slice(0, -3), join(here, f.name))
    } else if (f.isDirectory() && existsSync(join(here, f.name, 'main.ts'))) {
      entries.set(f.name, join(here, f.name, 'main.ts'))
    }
  }
  return entries
}

const [name, ...args] = process.argv.slice(2)
const entries = available()
const names = [...entries.keys()].sort()

if (name == null || name === '--help' || name === '-h' || !entries.has(name)) {
  if (name != null && name !== '--help' && name !== '-h') console.error(`unknown benchmark "${name}"\n`)
  console.error('usage: npm run bench -- NAME [args]\n\navailable benchmarks:')
  for (const n of names) console.error(`  ${n}`)
  process.exit(name == null || name === '--help' || name === '-h' ? 0 : 2)
}

const child = spawn(process.execPath, ['--import', 'tsx', entries.get(name), ...args], {
  stdio: 'inherit'
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { child.kill(signal) })
}
child.on('error', err => {
  console.error(`cannot start benchmark ${name}: ${err.message}`)
  process.exit(1)
})
child.on('exit', (code, signal) => {
  if (signal != null) {
    console.error(`benchmark ${name} ended by ${signal}`)
    process.exit(1)
  }
  process.exit(code ?? 1)
})
