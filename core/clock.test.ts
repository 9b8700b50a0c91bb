import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { delay, timeoutSignal } from './abort.js'
import { isoTime, ManualClock, MinHeap } from './clock.js'
import { seededRandom } from './random.js'

const T0 = 1_000_000

/** Arms one timer per `[label, delayMs]` and returns the labels in the order they fire. */
function arm (clock: ManualClock, timers: Array<[string, number]>): string[] {
  const fired: string[] = []
  for (const [label, ms] of timers) clock.setTimeout(() => { fired.push(`${label}@${clock.now() - T0}`) }, ms)
  return fired
}

describe('ManualClock.advance', () => {
  it.each<[string, Array<[string, number]>, number, string[]]>([
    ['fires in order of due time', [['c', 30], ['a', 10], ['b', 20]], 30, ['a@10', 'b@20', 'c@30']],
    ['fires same-time timers first in, first out', [['x', 5], ['y', 5], ['z', 5], ['w', 1]], 5, ['w@1', 'x@5', 'y@5', 'z@5']],
    ['leaves timers past the window', [['a', 10], ['b', 11]], 10, ['a@10']],
    ['fires a zero or negative delay at the current time', [['a', 0], ['b', -5]], 0, ['a@0', 'b@0']],
    ['treats a NaN delay as zero', [['a', Number.NaN]], 0, ['a@0']],
    ['fires nothing in an empty window', [['a', 1]], 0, []]
  ])('%s', (_name, timers, ms, expected) => {
    const clock = new ManualClock(T0)
    const fired = arm(clock, timers)
    clock.advance(ms)
    expect(fired).toEqual(expected)
    expect(clock.now()).toBe(T0 + ms)
    expect(clock.pending).toBe(timers.length - expected.length)
  })

  it('fires timers armed by timers when they fall inside the window, at their own time', () => {
    const clock = new ManualClock(T0)
    const fired: string[] = []
    clock.setTimeout(() => {
      fired.push(`outer@${clock.now() - T0}`)
      clock.setTimeout(() => { fired.push(`inner@${clock.now() - T0}`) }, 5)
      clock.setTimeout(() => { fired.push(`late@${clock.now() - T0}`) }, 25)
    }, 10)
    clock.advance(20)
    expect(fired).toEqual(['outer@10', 'inner@15'])
    expect(clock.pending).toBe(1)
    expect(clock.nextAt()).toBe(T0 + 35)
    clock.advance(15)
    expect(fired).toEqual(['outer@10', 'inner@15', 'late@35'])
  })

  it('orders a timer armed by a timer for the same instant after those already waiting', () => {
    const clock = new ManualClock(T0)
    const fired: string[] = []
    clock.setTimeout(() => {
      fired.push('a')
      clock.setTimeout(() => { fired.push('c') }, 0)
    }, 10)
    clock.setTimeout(() => { fired.push('b') }, 10)
    clock.advance(10)
    expect(fired).toEqual(['a', 'b', 'c'])
  })

  it('skips a cancelled timer, and counts a cancel once however often it is called', () => {
    const clock = new ManualClock(T0)
    const fired: string[] = []
    const a = clock.setTimeout(() => { fired.push('a') }, 10)
    const b = clock.setTimeout(() => { fired.push('b') }, 20)
    expect(clock.pending).toBe(2)
    a.cancel()
    a.cancel()
    expect(clock.pending).toBe(1)
    expect(clock.nextAt()).toBe(T0 + 20)
    clock.advance(30)
    expect(fired).toEqual(['b'])
    b.cancel() // after it fired: harmless
    expect(clock.pending).toBe(0)
    expect(clock.nextAt()).toBeUndefined()
  })

  it('skips a timer cancelled by an earlier timer due at the same instant', () => {
    const clock = new ManualClock(T0)
    const fired: string[] = []
    clock.setTimeout(() => { fired.push('a'); later.cancel() }, 10)
    const later = clock.setTimeout(() => { fired.push('b') }, 10)
    clock.advance(10)
    expect(fired).toEqual(['a'])
    expect(clock.pending).toBe(0)
  })

  it('resolves sleep at its due time and rejects it with the reason when the signal aborts', async () => {
    const clock = new ManualClock(T0)
    const done = clock.sleep(100)
    clock.advance(100)
    await expect(done).resolves.toBeUndefined()

    const controller = new AbortController()
    const aborted = clock.sleep(100, { signal: controller.signal })
    controller.abort(new Error('stop'))
    await expect(aborted).rejects.toThrow('stop')
    expect(clock.pending).toBe(0)
  })
})

describe('ManualClock async scheduling', () => {
  /** A loop that sleeps `ms`, records the time, and repeats `n` times. */
  async function sleeper (clock: ManualClock, ms: number, n: number, log: number[]): Promise<void> {
    for (let i = 0; i < n; i++) {
      await clock.sleep(ms)
      log.push(clock.now() - T0)
      await Promise.resolve()
    }
  }

  it('runs the promise chain a timer started before the next timer fires (advance does not)', async () => {
    const sync = new ManualClock(T0)
    const syncLog: number[] = []
    void sleeper(sync, 10, 3, syncLog)
    sync.advance(30)
    await new Promise<void>(resolve => { setImmediate(resolve) })
    // The loop resumed only after advance returned: it saw the window's end and armed its next sleep from there.
    expect(syncLog).toEqual([30])
    expect(sync.nextAt()).toBe(T0 + 40)

    const clock = new ManualClock(T0)
    const log: number[] = []
    const done = sleeper(clock, 10, 3, log)
    expect(await clock.advanceAsync(30)).toBe(3)
    await done
    expect(log).toEqual([10, 20, 30])
    expect(clock.now()).toBe(T0 + 30)
  })

  it('interleaves concurrent loops in time order', async () => {
    const clock = new ManualClock(T0)
    const order: string[] = []
    const loop = async (name: string, ms: number): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(ms)
        order.push(`${name}@${clock.now() - T0}`)
      }
    }
    const both = Promise.all([loop('fast', 10), loop('slow', 25)])
    await clock.runUntil(T0 + 75)
    await both
    expect(order).toEqual(['fast@10', 'fast@20', 'slow@25', 'fast@30', 'slow@50', 'slow@75'])
  })

  it.each([
    [1, 1],
    [2, 2]
  ])('with flushTurns %i, follows a chain through a setImmediate for %i timers', async (flushTurns, expected) => {
    const clock = new ManualClock(T0, { flushTurns })
    const log: number[] = []
    const chain = async (): Promise<void> => {
      await clock.sleep(10)
      log.push(clock.now() - T0)
      await new Promise<void>(resolve => { setImmediate(resolve) })
      await clock.sleep(10)
      log.push(clock.now() - T0)
    }
    const done = chain()
    expect(await clock.runUntil(T0 + 30)).toBe(expected)
    expect(log).toEqual([10, 20].slice(0, expected))
    await clock.advanceAsync(100)
    await done
    expect(log).toHaveLength(2)
  })

  it('runNext jumps to the next timer, and reports false with the time unchanged when none waits', async () => {
    const clock = new ManualClock(T0)
    const fired = arm(clock, [['b', 500], ['a', 200]])
    expect(await clock.runNext()).toBe(true)
    expect(clock.now()).toBe(T0 + 200)
    expect(await clock.runNext()).toBe(true)
    expect(clock.now()).toBe(T0 + 500)
    expect(await clock.runNext()).toBe(false)
    expect(clock.now()).toBe(T0 + 500)
    expect(fired).toEqual(['a@200', 'b@500'])
  })

  it('runUntil never moves the time backwards', async () => {
    const clock = new ManualClock(T0)
    expect(await clock.runUntil(T0 - 1000)).toBe(0)
    expect(clock.now()).toBe(T0)
  })
})

describe('ManualClock at scale', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('fires 100k timers in order with one heap push and at most one pop each', () => {
    const n = 100_000
    const push = vi.spyOn(MinHeap.prototype, 'push')
    const pop = vi.spyOn(MinHeap.prototype, 'pop')
    const random = seededRandom(42)
    const clock = new ManualClock(T0)
    let last = -1
    let count = 0
    let outOfOrder = 0
    for (let i = 0; i < n; i++) {
      clock.setTimeout(() => {
        if (clock.now() < last) outOfOrder++
        last = clock.now()
        count++
      }, Math.floor(random() * 1_000_000))
    }
    clock.advance(1_000_000)
    expect(count).toBe(n)
    expect(outOfOrder).toBe(0)
    expect(push).toHaveBeenCalledTimes(n)
    expect(pop.mock.calls.length).toBeLessThanOrEqual(n)
  })

  it('cancels 100k timers without walking the heap for each, and fires only the rest', () => {
    const n = 100_000
    const retain = vi.spyOn(MinHeap.prototype, 'retain')
    const pop = vi.spyOn(MinHeap.prototype, 'pop')
    const clock = new ManualClock(T0)
    let count = 0
    const handles = Array.from({ length: n }, (_, i) => clock.setTimeout(() => { count++ }, i))
    handles.forEach((h, i) => { if (i % 1000 !== 0) h.cancel() })
    expect(clock.pending).toBe(100)
    clock.advance(n)
    expect(count).toBe(100)
    // Compaction halves the heap at most once per halving: O(log n) rebuilds of O(n) each.
    expect(retain.mock.calls.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)))
    expect(pop.mock.calls.length).toBeLessThanOrEqual(n)
  })
})

describe('MinHeap', () => {
  it('pops 100k items sorted in O(n log n) comparisons', () => {
    const n = 100_000
    let comparisons = 0
    const heap = new MinHeap<number>((a, b) => { comparisons++; return a < b })
    const random = seededRandom(7)
    for (let i = 0; i < n; i++) heap.push(random())
    const out: number[] = []
    for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x)
    expect(out).toHaveLength(n)
    expect(out).toEqual([...out].sort((a, b) => a - b))
    expect(comparisons).toBeLessThanOrEqual(3 * n * Math.ceil(Math.log2(n)))
  })

  it('retain keeps a valid heap of the survivors', () => {
    const heap = new MinHeap<number>((a, b) => a < b)
    for (const x of [9, 3, 7, 1, 8, 2, 6, 4, 5]) heap.push(x)
    heap.retain(x => x % 2 === 1)
    const out: number[] = []
    for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x)
    expect(out).toEqual([1, 3, 5, 7, 9])
  })
})

describe('timeoutSignal', () => {
  it('aborts with a TimeoutError at its due time, not before', () => {
    const clock = new ManualClock(T0)
    const signal = timeoutSignal(clock, 1000)
    clock.advance(999)
    expect(signal.aborted).toBe(false)
    clock.advance(1)
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBeInstanceOf(DOMException)
    expect(signal.reason).toMatchObject({ name: 'TimeoutError', message: 'The operation was aborted due to timeout' })
    expect(clock.pending).toBe(0)
  })

  it('carries the reason it is given', () => {
    const clock = new ManualClock(T0)
    const signal = timeoutSignal(clock, 10, { reason: 'the peer did not answer in 10 ms' })
    clock.advance(10)
    expect(signal.reason).toMatchObject({ name: 'TimeoutError', message: 'the peer did not answer in 10 ms' })
  })

  it('aborts with the parent reason and cancels its timer when the parent aborts first', () => {
    const clock = new ManualClock(T0)
    const parent = new AbortController()
    const signal = timeoutSignal(clock, 1000, { signal: parent.signal })
    expect(clock.pending).toBe(1)
    const reason = new Error('stopped')
    parent.abort(reason)
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBe(reason)
    expect(clock.pending).toBe(0)
  })

  it('is aborted at once, with no timer, when the parent already is', () => {
    const clock = new ManualClock(T0)
    const parent = new AbortController()
    parent.abort(new Error('gone'))
    const signal = timeoutSignal(clock, 1000, { signal: parent.signal })
    expect(signal.aborted).toBe(true)
    expect((signal.reason as Error).message).toBe('gone')
    expect(clock.pending).toBe(0)
    signal.clear()
  })

  it('clear() cancels the timer; the signal then follows only its parent', () => {
    const clock = new ManualClock(T0)
    const parent = new AbortController()
    const signal = timeoutSignal(clock, 1000, { signal: parent.signal })
    signal.clear()
    signal.clear()
    expect(clock.pending).toBe(0)
    clock.advance(2000)
    expect(signal.aborted).toBe(false)
    parent.abort(new Error('stopped'))
    expect((signal.reason as Error).message).toBe('stopped')
  })

  it('lets a long-lived parent guard many timeouts, and cancels all their timers when it aborts', () => {
    const clock = new ManualClock(T0)
    const parent = new AbortController()
    const signals = Array.from({ length: 1000 }, () => timeoutSignal(clock, 10_000, { signal: parent.signal }))
    expect(clock.pending).toBe(1000)
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
    parent.abort(new Error('stopped'))
    expect(signals.every(s => s.aborted)).toBe(true)
    expect(clock.pending).toBe(0)
  })
})

describe('isoTime', () => {
  it.each([
    [0, '1970-01-01T00:00:00.000Z'],
    [1_700_000_000_123, '2023-11-14T22:13:20.123Z']
  ])('formats %i as %s', (ms, iso) => {
    expect(isoTime(ms)).toBe(iso)
  })
})

describe('delay', () => {
  it('resolves at its due time on the clock, not before', async () => {
    const clock = new ManualClock(T0)
    let done = false
    const p = delay(clock, 500).then(() => { done = true })
    await clock.advanceAsync(499)
    expect(done).toBe(false)
    await clock.advanceAsync(1)
    await p
    expect(done).toBe(true)
    expect(clock.pending).toBe(0)
  })

  it('rejects with the signal reason and cancels its timer when aborted, also before it starts', async () => {
    const clock = new ManualClock(T0)
    const controller = new AbortController()
    const p = delay(clock, 500, controller.signal)
    controller.abort(new Error('stopping'))
    await expect(p).rejects.toThrow('stopping')
    expect(clock.pending).toBe(0)
    await expect(delay(clock, 10, controller.signal)).rejects.toThrow('stopping')
  })
})
