import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { DeferredAnnouncer } from './announcer.js'
import type { AbortOptions } from '@libp2p/interface'

function setup (delayMs: number, opts: { held?: Set<string>, fail?: Set<string>, random?: number } = {}): { clock: ManualClock, calls: string[], announcer: DeferredAnnouncer, signals: AbortSignal[] } {
  const clock = new ManualClock()
  const calls: string[] = []
  const signals: AbortSignal[] = []
  const announcer = new DeferredAnnouncer({
    announce: async (cid: string, options: AbortOptions) => {
      calls.push(cid)
      signals.push(options.signal!)
      if (opts.fail?.has(cid) === true) throw new Error('no DHT peers')
    },
    holds: async cid => opts.held == null || opts.held.has(cid),
    clock,
    random: () => opts.random ?? 0.5,
    logger: silentLogger
  }, { delayMs })
  return { clock, calls, announcer, signals }
}

const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve)) }

describe('DeferredAnnouncer: one DHT announce per CID, out of the transfer burst', () => {
  it('announces 0.5 to 1.5 x the delay later (random), once however often it is asked', async () => {
    for (const [random, due] of [[0, 5_000], [0.5, 10_000], [0.999, 14_990]] as const) {
      const { clock, calls, announcer } = setup(10_000, { random })
      announcer.soon('a')
      announcer.soon('a')
      expect(announcer.state('a')).toBe('scheduled')
      await clock.advanceAsync(due - 1)
      expect(calls).toEqual([])
      await clock.advanceAsync(1)
      await settle()
      expect(calls).toEqual(['a'])
      expect(announcer.state('a')).toBe('announced')
      announcer.soon('a')
      await clock.advanceAsync(60_000)
      expect(calls).toEqual(['a'])
    }
  })

  it('announces at once with a delay of 0', async () => {
    const { calls, announcer } = setup(0)
    announcer.soon('a')
    await settle()
    expect(calls).toEqual(['a'])
  })

  it('skips a CID the store no longer holds when its time comes, and may schedule it again later', async () => {
    const held = new Set<string>()
    const { clock, calls, announcer } = setup(1000, { held })
    announcer.soon('gone')
    await clock.advanceAsync(2000)
    await settle()
    expect(calls).toEqual([])
    expect(announcer.state('gone')).toBeUndefined()
    held.add('gone')
    announcer.soon('gone')
    await clock.advanceAsync(2000)
    await settle()
    expect(calls).toEqual(['gone'])
  })

  it('lets a failed announce be asked for again', async () => {
    const fail = new Set(['a'])
    const { clock, calls, announcer } = setup(1000, { fail })
    announcer.soon('a')
    await clock.advanceAsync(2000)
    await settle()
    expect(announcer.state('a')).toBeUndefined()
    fail.clear()
    announcer.soon('a')
    await clock.advanceAsync(2000)
    await settle()
    expect(calls).toEqual(['a', 'a'])
    expect(announcer.state('a')).toBe('announced')
  })

  it('stop cancels what is scheduled, aborts what runs, and refuses new work', async () => {
    const { clock, calls, announcer, signals } = setup(1000)
    announcer.soon('later')
    const now = setup(0)
    now.announcer.soon('running')
    await settle()
    now.announcer.stop()
    expect(now.signals[0]!.aborted).toBe(true)
    announcer.stop()
    announcer.soon('after')
    await clock.advanceAsync(10_000)
    await settle()
    expect(calls).toEqual([])
    expect(signals).toEqual([])
  })
})
