#!/usr/bin/env node
// The `tutti` command. Tutti is written in TypeScript and runs on Node's own type stripping
// (bin/typescript.js registers the hooks), so no build step stands between a checkout and a
// running node. This file is plain JavaScript that any Node.js parses: it checks the version
// before it imports anything a too old Node cannot run.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** registerHooks (22.15) and stripTypeScriptTypes (22.13) are what bin/typescript.js needs. */
const MINIMUM = [22, 15]

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
  const bin = fileURLToPath(new URL('../node_modules/.bin/', import.meta.url))
  const args = process.argv.slice(2).join(' ')
  process.stderr.write(`error: tutti needs Node.js ${MINIMUM.join('.')} or newer (24 recommended); this is Node.js v${process.versions.node} (${process.execPath})\n` +
    (existsSync(`${bin}node`)
      ? `  the Node.js 24 that 'npm install' put in node_modules runs it: 'npx tutti ${args}', or put ${bin} first on PATH\n`
      : "  install Node.js 24 (https://nodejs.org), or run 'npm install' in the tutti checkout: it brings Node.js 24 into node_modules\n"))
  process.exit(2)
}

if (process.env.TUTTI_DEBUG === '1') process.setSourceMapsEnabled(true)
await import('./typescript.js')
const { main } = await import('../cli/main.ts')
const code = await main(process.argv.slice(2))
process.exitCode = code
// Everything is closed by now; if a library still holds a handle, do not hang the shell on it.
setTimeout(() => process.exit(code), 2000).unref()
