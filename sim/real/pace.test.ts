import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { DISK_BYTES_PER_SEC } from '../des/engine.js'
import { SlowDevice } from './pace.js'

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/** The clock time at which `p` settles, advancing 1 ms at a time (at most `maxMs`). */
async function settledAt (clock: ManualClock, p: Promise<void>, maxMs = 1000): Promise<number> {
  let done = false
  void p.then(() => { done = true })
  await turn()
  for (let i = 0; i < maxMs && !done; i++) {
    clock.advance(1)
    await turn()
  }
  await p
  return clock.now()
}

describe('SlowDevice (the in-process fleet\'s `slow`)', () => {
  it('waits nothing at this machine\'s pace', async () => {
    const clock = new ManualClock(0)
    const pace = new SlowDevice(clock, () => 10)
    expect(pace.cpuSlowed).toBe(false)
    await pace.cpu(50)
    await pace.disk(1 << 20)
    expect(clock.now()).toBe(0)
  })

  it('makes CPU work f times as long, in this machine\'s time (the node clock runs `scale` times as fast)', async () => {
    const clock = new ManualClock(0)
    let scale = 10
    const pace = new SlowDevice(clock, () => scale)
    pace.set({ disk: 1, cpu: 4 })
    expect(pace.cpuSlowed).toBe(true)
    // 5 ms of work here takes 20 ms on the device: 15 ms more, 150 ms on a 10x clock.
    const t = await settledAt(clock, pace.cpu(5))
    expect(t).toBe(150)
    scale = 1
    const t2 = await settledAt(clock, pace.cpu(5))
    expect(t2 - t).toBe(15)
  })

  it('caps the disk at 100 MiB/s / f, writes and reads queued behind each other', async () => {
    const clock = new ManualClock(0)
    const pace = new SlowDevice(clock, () => 1)
    pace.set({ disk: 20, cpu: 1 })
    const chunk = 1 << 20
    const perChunkMs = chunk * 20 / DISK_BYTES_PER_SEC * 1000 // 200 ms
    expect(perChunkMs).toBe(200)
    const ends: number[] = []
    const all = Promise.all([0, 1, 2].map(async () => { await pace.disk(chunk); ends.push(clock.now()) }))
    await turn()
    for (let i = 0; i < 700 && ends.length < 3; i++) {
      clock.advance(1)
      await turn()
    }
    await all
    expect(ends).toEqual([200, 400, 600])
    // An idle cap is not a credit: a write after a pause waits its full time again.
    clock.advance(10_000)
    const from = clock.now()
    expect(await settledAt(clock, pace.disk(chunk))).toBe(from + 200)
  })

  it('gives back the disk time of an aborted write: the next one does not queue behind it', async () => {
    const clock = new ManualClock(0)
    const pace = new SlowDevice(clock, () => 1)
    pace.set({ disk: 20, cpu: 1 })
    const controller = new AbortController()
    const aborted = pace.disk(1 << 20, { signal: controller.signal })
    controller.abort(new Error('fetch stopped'))
    await expect(aborted).rejects.toThrow('fetch stopped')
    expect(await settledAt(clock, pace.disk(1 << 20))).toBe(200)
  })

  it('goes back to full pace, and refuses factors below 1', () => {
    const pace = new SlowDevice(new ManualClock(0), () => 1)
    pace.set({ disk: 3, cpu: 2 })
    pace.set({ disk: 1, cpu: 1 })
    expect(pace.cpuSlowed).toBe(false)
    expect(() => { pace.set({ disk: 0.5, cpu: 1 }) }).toThrow(RangeError)
    expect(() => { pace.set({ disk: 1, cpu: Number.NaN }) }).toThrow(RangeError)
    expect(pace.current).toEqual({ disk: 1, cpu: 1 })
  })
})
