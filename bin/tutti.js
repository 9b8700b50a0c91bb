#!/usr/bin/env node
// The `tutti` command. Tutti is written in TypeScript and runs through tsx's loader, so no build
// step stands between a checkout and a running node.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
const code = await main(process.argv.slice(2))
process.exitCode = code
// Everything is closed by now; if a library still holds a handle, do not hang the shell on it.
setTimeout(() => process.exit(code), 2000).unref()
