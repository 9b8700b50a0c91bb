// Runs one benchmark: `npm run bench -- NAME [args]` spawns `node --import tsx bench/NAME.ts args`
// with this terminal, and exits with its exit code. Without a known NAME it lists the benchmarks.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

function available () {
  return readdirSync(here)
    .filter(f => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map(f => f.slice(0, -3))
    .sort()
}

const [name, ...args] = process.argv.slice(2)
const names = available()

if (name == null || name === '--help' || name === '-h' || !names.includes(name)) {
  if (name != null && name !== '--help' && name !== '-h') console.error(`unknown benchmark "${name}"\n`)
  console.error('usage: npm run bench -- NAME [args]\n\navailable benchmarks:')
  for (const n of names) console.error(`  ${n}`)
  process.exit(name == null || name === '--help' || name === '-h' ? 0 : 2)
}

const child = spawn(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`), ...args], {
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
