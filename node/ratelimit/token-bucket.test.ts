import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { ConfigError } from '../../core/errors.js'
import { reserveTokens, TokenBucket, tokenBucketParams } from './token-bucket.js'

/** Lets every pending promise callback run. */
async function flush (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

describe('reserveTokens', () => {
  const params = { rateBytesPerSec: 1000, burstBytes: 500 }

  it.each([
    // tokens, atMs, bytes, nowMs -> waitMs, tokens after
    { tokens: 500, atMs: 0, bytes: 200, nowMs: 0, waitMs: 0, after: 300 },
    { tokens: 500, atMs: 0, bytes: 500, nowMs: 0, waitMs: 0, after: 0 },
    { tokens: 0, atMs: 0, bytes: 100, nowMs: 0, waitMs: 100, after: -100 },
    { tokens: -100, atMs: 0, bytes: 100, nowMs: 0, waitMs: 200, after: -200 },
    { tokens: 0, atMs: 0, bytes: 100, nowMs: 100, waitMs: 0, after: 0 },
    { tokens: 400, atMs: 0, bytes: 0, nowMs: 10_000, waitMs: 0, after: 500 },
    { tokens: 500, atMs: 0, bytes: 2000, nowMs: 0, waitMs: 1500, after: -1500 }
  ])('$tokens tokens at $atMs, $bytes bytes at $nowMs: wait $waitMs ms', ({ tokens, atMs, bytes, nowMs, waitMs, after }) => {
    const r = reserveTokens({ tokens, atMs }, params, bytes, nowMs)
    expect(r.waitMs).toBe(waitMs)
    expect(r.state.tokens).toBe(after)
  })

  it('refuses a rate that cannot work', () => {
    expect(() => tokenBucketParams(0)).toThrow(ConfigError)
    expect(() => tokenBucketParams(Number.NaN)).toThrow(ConfigError)
    expect(() => tokenBucketParams(1000, -1)).toThrow(ConfigError)
  })
})

describe('TokenBucket', () => {
  it('holds a sustained rate: 100 KB/s moves 1 MB in 10 s of virtual time, not sooner', async () => {
    const clock = new ManualClock(0)
    const bucket = new TokenBucket(clock, 100_000, 10_000)
    let sent = 0
    let stop = false
    const sender = (async () => {
      while (!stop) {
        await bucket.take(8192)
        sent += 8192
      }
    })()
    const samples: number[] = []
    for (let s = 1; s <= 10; s++) {
      for (let t = 0; t < 100; t++) {
        clock.advance(10)
        await flush()
      }
      samples.push(sent)
    }
    stop = true
    clock.advance(1000)
    await sender
    // By t seconds at most burst + rate * t bytes may have gone (plus one 8 KiB reservation in flight).
    samples.forEach((bytes, i) => {
      const t = i + 1
      expect(bytes).toBeLessThanOrEqual(10_000 + 100_000 * t + 8192)
      expect(bytes).toBeGreaterThanOrEqual(100_000 * t - 8192)
    })
  })

  it('setRate: tokens earned so far count at the old rate, later ones at the new; a bad rate changes nothing', async () => {
    const clock = new ManualClock(0)
    const bucket = new TokenBucket(clock, 1000, 1000)
    await bucket.take(1000)
    clock.advance(500) // 500 tokens earned at 1000 B/s
    bucket.setRate(2000)
    let done = false
    const p = bucket.take(1500).then(() => { done = true })
    // 1000 more needed at 2000 B/s: 500 ms.
    clock.advance(499)
    await flush()
    expect(done).toBe(false)
    clock.advance(1)
    await p
    expect(() => { bucket.setRate(0) }).toThrow(ConfigError)
    expect(bucket.params).toEqual({ rateBytesPerSec: 2000, burstBytes: 1000 })
  })

  it('serves waiting callers first come, first served', async () => {
    const clock = new ManualClock(0)
    const bucket = new TokenBucket(clock, 1000, 1000)
    const order: string[] = []
    await bucket.take(1000)
    const a = bucket.take(500).then(() => { order.push('a') })
    const b = bucket.take(100).then(() => { order.push('b') })
    clock.advance(499)
    await flush()
    expect(order).toEqual([])
    clock.advance(1)
    await a
    expect(order).toEqual(['a'])
    clock.advance(100)
    await b
    expect(order).toEqual(['a', 'b'])
  })

  it('gives back the tokens of a wait that was aborted', async () => {
    const clock = new ManualClock(0)
    const bucket = new TokenBucket(clock, 1000, 1000)
    await bucket.take(1000)
    const controller = new AbortController()
    const waiting = bucket.take(5000, { signal: controller.signal })
    controller.abort(new Error('cancelled'))
    await expect(waiting).rejects.toThrow('cancelled')
    let done = false
    const next = bucket.take(100).then(() => { done = true })
    clock.advance(99)
    await flush()
    expect(done).toBe(false)
    clock.advance(1)
    await next
    expect(done).toBe(true)
  })
})
