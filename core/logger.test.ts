import { describe, expect, it } from 'vitest'
import { ManualClock } from './clock.js'
import { createLogger } from './logger.js'
import type { LogRecord } from './logger.js'

describe('createLogger', () => {
  it('stamps each record with the injected clock time, as ISO 8601', () => {
    const clock = new ManualClock(1_700_000_000_000)
    const records: LogRecord[] = []
    const log = createLogger({ clock, sink: r => { records.push(r) } }).child('mesh', { peer: 'abc' })
    log.info('joined')
    clock.advance(1500)
    log.warn('deaf', { peers: 2 })
    expect(records).toEqual([
      { ts: '2023-11-14T22:13:20.000Z', level: 'info', component: 'tutti.mesh', msg: 'joined', peer: 'abc' },
      { ts: '2023-11-14T22:13:21.500Z', level: 'warn', component: 'tutti.mesh', msg: 'deaf', peer: 'abc', peers: 2 }
    ])
  })
})
