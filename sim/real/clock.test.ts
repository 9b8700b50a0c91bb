/**
 * The in-process fleet's clocks, on vitest's fake timers (Date, the wall clock handed to them, and
 * setTimeout faked together), so wall time is whatever the test says it is.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FreezableClock, ScaledClock } from './clock.js'

const wall = (): number => Date.now()

beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }) })
afterEach(() => { vi.useRealTimers() })

describe('ScaledClock', () => {
  it('runs `scale` virtual ms per wall ms from its origin', () => {
    const clock = new ScaledClock(10, 1000, wall)
    expect(clock.now()).toBe(1000)
    vi.advanceTimersByTime(50)
    expect(clock.now()).toBe(1500)
  })

  it('fires a timer at its virtual due time', () => {
    const clock = new ScaledClock(10, 0, wall)
    const fired: number[] = []
    clock.setTimeout(() => fired.push(clock.now()), 1000)
    vi.advanceTimersByTime(99)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual([1000])
  })

  it('after setScale, virtual time goes on from where it stood at the new pace', () => {
    const clock = new ScaledClock(1, 0, wall)
    vi.advanceTimersByTime(2000)
    expect(clock.now()).toBe(2000)
    clock.setScale(10)
    expect(clock.scale).toBe(10)
    expect(clock.now()).toBe(2000)
    vi.advanceTimersByTime(100)
    expect(clock.now()).toBe(3000)
  })

  it('keeps every pending timer on its virtual due time across a change of scale, faster or slower', () => {
    const clock = new ScaledClock(1, 0, wall)
    const fired: Array<[string, number]> = []
    clock.setTimeout(() => fired.push(['a', clock.now()]), 5000)
    clock.setTimeout(() => fired.push(['b', clock.now()]), 60_000)
    vi.advanceTimersByTime(1000)
    clock.setScale(10) // 4 s virtual left for a: 400 ms wall
    vi.advanceTimersByTime(399)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual([['a', 5000]])
    clock.setScale(2) // b: 55 s virtual left, 27.5 s wall
    vi.advanceTimersByTime(27_499)
    expect(fired).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(fired).toEqual([['a', 5000], ['b', 60_000]])
  })

  it('a cancelled timer never fires, also after a change of scale', () => {
    const clock = new ScaledClock(1, 0, wall)
    const fn = vi.fn()
    const handle = clock.setTimeout(fn, 1000)
    handle.cancel()
    clock.setScale(5)
    vi.advanceTimersByTime(10_000)
    expect(fn).not.toHaveBeenCalled()
  })

  it('refuses a scale that is not positive', () => {
    expect(() => new ScaledClock(0, 0, wall)).toThrow(RangeError)
    expect(() => new ScaledClock(1, 0, wall).setScale(-1)).toThrow(RangeError)
  })
})

describe('FreezableClock', () => {
  it('stands still while frozen and fires the timers that came due on thaw', () => {
    const base = new ScaledClock(1, 0, wall)
    const clock = new FreezableClock(base)
    const fn = vi.fn()
    clock.setTimeout(fn, 100)
    clock.freeze()
    vi.advanceTimersByTime(500)
    expect(clock.now()).toBe(0)
    expect(fn).not.toHaveBeenCalled()
    clock.thaw()
    expect(fn).toHaveBeenCalledOnce()
    expect(clock.now()).toBe(500)
  })
})
