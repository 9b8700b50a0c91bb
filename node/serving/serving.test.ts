import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../core/logger.js'
import { InferenceRuntime } from '../inference/runtime.js'
import { Serving } from './serving.js'
import type { LogRecord } from '../../core/logger.js'

describe('the serving state file', () => {
  const dirs: string[] = []
  afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })

  const restore = async (content: string): Promise<LogRecord[]> => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-serving-'))
    dirs.push(dir)
    const stateFile = join(dir, 'serving.json')
    await writeFile(stateFile, content)
    const records: LogRecord[] = []
    const logger = createLogger({ sink: r => { records.push(r) }, level: 'debug' })
    const runtime = new InferenceRuntime({ logger })
    try {
      await new Serving({ runtime, logger }, { stateFile }).restore()
    } finally {
      await runtime.stop()
    }
    return records.filter(r => r.level === 'error')
  }

  it.each([
    ['a field of the wrong type', { version: 1, active: { clf: { version: '1.0.0', cid: 42, limits: {} } } }, 'active.clf.cid: must be a string'],
    ['a limit that is not a quantity', { version: 1, active: { clf: { version: '1.0.0', cid: 'b', limits: { cpu: true } } } }, 'active.clf.limits.cpu: must be a quantity'],
    ['another version', { version: 2, active: {} }, 'version: must be 1'],
    ['no object', [1], 'not an object']
  ])('ignores a file with %s, naming the field', async (_what, doc, message) => {
    const errors = await restore(JSON.stringify(doc))
    expect(errors.map(r => r.msg)).toEqual(['ignoring unreadable serving state'])
    expect((errors[0]!.err as Error).message).toBe(`not a serving state file: ${message}`)
  })

  it('reads a valid file and tries to bring back each active model', async () => {
    const errors = await restore(JSON.stringify({ version: 1, active: { clf: { version: '1.0.0', cid: 'bagaaiera', limits: { cpu: '500m', memory: 268435456 } } } }))
    // This node has no model store, so the one activation is attempted and fails, logged.
    expect(errors.map(r => [r.msg, r.model])).toEqual([['could not restore an active model; it is not served (the next start tries again)', 'clf@1.0.0']])
  })
})
