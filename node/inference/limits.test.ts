import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { InferenceErrorCode } from './errors.js'
import { checkMemory, DutyCycle, parseCpu, parseMemory, planCpu, resolveLimits, throttleDelayMs } from './limits.js'
import { thrownCode } from './testing/errors.js'

describe('Kubernetes quantities', () => {
  it.each([
    ['500m', 0.5], ['250m', 0.25], ['1', 1], ['2', 2], ['0.5', 0.5], ['1.5', 1.5], ['.5', 0.5], ['1500m', 1.5],
    ['1e0', 1], ['5e-1', 0.5], ['+2', 2], [' 750m ', 0.75], ['0.0001', 0.001], [0.5, 0.5], [3, 3]
  ])('reads cpu %j as %d cores', (input, cores) => {
    expect(parseCpu(input)).toBeCloseTo(cores, 9)
  })

  it.each([
    ['256Mi', 256 * 2 ** 20], ['1Gi', 2 ** 30], ['512Ki', 512 * 1024], ['1.5Gi', 1.5 * 2 ** 30],
    ['300M', 300e6], ['1G', 1e9], ['64K', 64e3], ['64k', 64e3], ['2Ti', 2 * 2 ** 40], ['1e9', 1e9],
    ['1048576', 1048576], [268435456, 268435456], ['0.5Ki', 512]
  ])('reads memory %j as %d bytes', (input, bytes) => {
    expect(parseMemory(input)).toBe(bytes)
  })

  it.each(['', ' ', 'abc', '1.2.3', 'Mi', '10 Mi', '5x', '1Zi', '--1', '1e', 'NaN', 'Infinity', 'x'.repeat(100)])('refuses the malformed quantity %j', (input) => {
    expect(thrownCode(() => parseCpu(input))).toBe(InferenceErrorCode.InvalidLimit)
    expect(thrownCode(() => parseMemory(input))).toBe(InferenceErrorCode.InvalidLimit)
  })

  it.each(['0', '-1', '0m', '-500m', '1Gi', '512Mi'])('refuses the cpu limit %j', (input) => {
    expect(thrownCode(() => parseCpu(input))).toBe(InferenceErrorCode.InvalidLimit)
  })

  it.each([-1, 0, Number.NaN, Number.POSITIVE_INFINITY])('refuses the numeric cpu limit %d', (input) => {
    expect(thrownCode(() => parseCpu(input))).toBe(InferenceErrorCode.InvalidLimit)
  })

  it('refuses "256m" as a memory limit and suggests what was meant', () => {
    expect(() => parseMemory('256m')).toThrow(/did you mean "256Mi"/)
  })

  it.each(['0', '-1Gi', '0.5', '1n', '100u'])('refuses the memory limit %j', (input) => {
    expect(thrownCode(() => parseMemory(input))).toBe(InferenceErrorCode.InvalidLimit)
  })

  it('resolves both limits, or names the bad one without resolving anything', () => {
    expect(resolveLimits({ cpu: '500m', memory: '256Mi' })).toEqual({ cpuCores: 0.5, memoryBytes: 256 * 2 ** 20 })
    expect(resolveLimits({})).toEqual({})
    expect(() => resolveLimits({ cpu: '500m', memory: 'lots' })).toThrow(/memory limit/)
    expect(thrownCode(() => resolveLimits({ cpu: true as unknown as string }))).toBe(InferenceErrorCode.InvalidLimit)
  })
})

describe('cpu plan', () => {
  it.each([
    // cores, device cores -> intra-op threads, throttled, share
    [0.5, 4, 1, true, 0.5],
    [0.1, 4, 1, true, 0.1],
    [1, 4, 1, false, 1],
    [1.5, 4, 2, true, 1.5],
    [2, 4, 2, false, 2],
    [3, 2, 2, false, 2], // more than the device has: capped, unthrottled
    [undefined, 4, 4, false, 4]
  ])('maps %s cores on a %d-core device to %d threads (throttled: %s)', (cores, device, threads, throttled, share) => {
    const plan = planCpu(cores, device)
    expect(plan.intraOpThreads).toBe(threads)
    expect(plan.interOpThreads).toBe(1)
    expect(plan.throttled).toBe(throttled)
    expect(plan.cores).toBe(share)
  })

  it('pauses a half-core model as long as its single-threaded run took', () => {
    const plan = planCpu(0.5, 4)
    expect(throttleDelayMs({ wallMs: 40, cpuMs: 40 }, plan)).toBeCloseTo(40)
    // measured thread CPU is what counts: a run that waited for a core uses less of the share
    expect(throttleDelayMs({ wallMs: 40, cpuMs: 20 }, plan)).toBeCloseTo(0)
    expect(throttleDelayMs({ wallMs: 10 }, plan)).toBeCloseTo(10)
  })

  it('charges a multi-threaded run its measured cpu, or wall time × threads when unmeasured', () => {
    const plan = planCpu(1.5, 4)
    expect(throttleDelayMs({ wallMs: 30, cpuMs: 54 }, plan)).toBeCloseTo(54 / 1.5 - 30)
    expect(throttleDelayMs({ wallMs: 30 }, plan)).toBeCloseTo(30 * 2 / 1.5 - 30)
    expect(throttleDelayMs({ wallMs: 30, cpuMs: 30 }, plan)).toBe(0)
  })

  it('never pauses an unthrottled model', () => {
    expect(throttleDelayMs({ wallMs: 100, cpuMs: 100 }, planCpu(1, 4))).toBe(0)
    expect(throttleDelayMs({ wallMs: 100 }, planCpu(undefined, 4))).toBe(0)
  })

  it('holds back-to-back runs to the cpu share on a manual clock', () => {
    const clock = new ManualClock()
    const duty = new DutyCycle(planCpu(0.25, 2))
    const start = clock.now()
    let cpu = 0
    const runs = [12, 30, 7, 50, 21, 9, 40, 3]
    for (const ms of runs) {
      const wait = duty.delayMs(clock.now())
      clock.advance(wait) // the scheduler sleeps until the run may start
      expect(duty.delayMs(clock.now())).toBe(0)
      clock.advance(ms) // the run itself, one thread fully busy
      cpu += ms
      const earned = duty.afterRun(clock.now(), { wallMs: ms, cpuMs: ms })
      expect(earned).toBeCloseTo(ms * (1 / 0.25 - 1))
      clock.advance(earned / 2)
      expect(duty.delayMs(clock.now())).toBeCloseTo(earned / 2)
    }
    clock.advance(duty.delayMs(clock.now()))
    expect(cpu / (clock.now() - start)).toBeCloseTo(0.25, 6)
  })

  it('lets a run start at once after the model sat idle', () => {
    const clock = new ManualClock()
    const duty = new DutyCycle(planCpu(0.5, 2))
    duty.afterRun(clock.now(), { wallMs: 100, cpuMs: 100 })
    clock.advance(1000)
    expect(duty.delayMs(clock.now())).toBe(0)
  })
})

describe('memory admission', () => {
  const MiB = 2 ** 20
  const plenty = { freeBytes: 8192 * MiB, reserveBytes: 256 * MiB, pendingBytes: 0 }

  it('admits a model within its limit and the free memory', () => {
    expect(() => { checkMemory(100 * MiB, 256 * MiB, plenty, 'm@1') }).not.toThrow()
    expect(() => { checkMemory(100 * MiB, undefined, plenty, 'm@1') }).not.toThrow()
  })

  it('refuses a model whose estimate exceeds its memory limit', () => {
    expect(thrownCode(() => { checkMemory(300 * MiB, 256 * MiB, plenty, 'm@1') })).toBe(InferenceErrorCode.MemoryLimit)
    expect(() => { checkMemory(300 * MiB, 256 * MiB, plenty, 'm@1') }).toThrow(/m@1 needs an estimated 300Mi, more than its memory limit of 256Mi/)
  })

  it('refuses a model the device cannot hold after its reserve and loads under way', () => {
    expect(thrownCode(() => { checkMemory(900 * MiB, undefined, { freeBytes: 1024 * MiB, reserveBytes: 256 * MiB, pendingBytes: 0 }, 'm@1') })).toBe(InferenceErrorCode.InsufficientMemory)
    expect(thrownCode(() => { checkMemory(500 * MiB, undefined, { freeBytes: 1024 * MiB, reserveBytes: 256 * MiB, pendingBytes: 300 * MiB }, 'm@1') })).toBe(InferenceErrorCode.InsufficientMemory)
    expect(() => { checkMemory(500 * MiB, undefined, { freeBytes: 1024 * MiB, reserveBytes: 256 * MiB, pendingBytes: 0 }, 'm@1') }).not.toThrow()
  })
})
