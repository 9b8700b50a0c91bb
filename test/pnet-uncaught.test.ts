import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { StreamResetError } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../core/logger.js'
import { PnetError } from '../node/mesh/pnet.js'
import { classifyUncaught, createUncaughtExceptionHandler } from '../node/mesh/uncaught.js'
import type { LogRecord } from '../core/logger.js'

const REPO = join(import.meta.dirname, '..')
const CHILD = join(import.meta.dirname, 'fixtures', 'pnet-uncaught-child.ts')

function systemError (code: string): Error {
  return Object.assign(new Error(`read ${code}`), { code, syscall: 'read' })
}

async function runChild (mode: string): Promise<{ code: number | null, stdout: string, records: LogRecord[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  const records = stderr.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as LogRecord)
  return { code, stdout, records }
}

describe('classifyUncaught', () => {
  it.each([
    ['a socket reset', systemError('ECONNRESET'), 'connection'],
    ['a broken pipe', systemError('EPIPE'), 'connection'],
    ['a write after end', Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }), 'connection'],
    ['a libp2p stream reset', new StreamResetError('reset'), 'connection'],
    ['a private network cipher failure', new PnetError('ERR_PNET_CIPHER', 'failed'), 'connection'],
    ['a bad swarm key', new PnetError('ERR_PNET_KEY', 'bad key'), 'fatal'],
    ['a WebAssembly memory limit (process-wide)', new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded'), 'fatal'],
    ['a type error', new TypeError('x is not a function'), 'fatal'],
    ['a full disk', systemError('ENOSPC'), 'fatal'],
    ['a thrown string', 'ECONNRESET', 'fatal'],
    ['a thrown event', new Event('close'), 'fatal']
  ])('%s is %s', (_name, err, verdict) => {
    expect(classifyUncaught(err)).toBe(verdict)
  })
})

describe('createUncaughtExceptionHandler', () => {
  it('logs a connection error and does not exit; logs anything else and exits with 1', () => {
    const records: LogRecord[] = []
    const exits: number[] = []
    const handler = createUncaughtExceptionHandler({ logger: createLogger({ sink: r => { records.push(r) } }), exit: code => { exits.push(code) } })
    handler(systemError('ECONNRESET'))
    expect(exits).toEqual([])
    handler(new TypeError('a bug'))
    expect(exits).toEqual([1])
    expect(records.map(r => [r.level, r.msg])).toEqual([
      ['warn', 'uncaught connection error; the node keeps running'],
      ['error', 'uncaught exception; exiting']
    ])
  })
})

describe('a process with the handler', () => {
  it('survives a libp2p error thrown in an event listener and a socket reset nobody listened for', async () => {
    const { code, stdout, records } = await runChild('connection')
    expect(stdout).toBe('alive\n')
    expect(code).toBe(0)
    const errs = records.map(r => r.err as { name?: string, code?: string })
    expect(records.every(r => r.msg === 'uncaught connection error; the node keeps running')).toBe(true)
    expect(errs.map(e => e.name)).toContain('StreamResetError')
    expect(errs.map(e => e.code)).toContain('ECONNRESET')
  })

  it('exits with 1 after logging any other uncaught exception', async () => {
    const { code, stdout, records } = await runChild('fatal')
    expect(stdout).toBe('')
    expect(code).toBe(1)
    expect(records.map(r => [r.msg, (r.err as { name?: string }).name])).toEqual([['uncaught exception; exiting', 'TypeError']])
  })
})
