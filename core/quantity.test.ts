import { describe, expect, it } from 'vitest'
import { formatBytes, parseByteRate, parseBytes, parseCpu, parseQuantity, QuantityError } from './quantity.js'

function failure (fn: () => unknown): QuantityError {
  try {
    fn()
  } catch (err) {
    if (err instanceof QuantityError) return err
    throw err
  }
  throw new Error('did not throw')
}

describe('quantities', () => {
  it.each([
    ['500m', 0.5, 'm', false], ['2', 2, '', false], ['1Ki', 1024, 'Ki', true], ['1e3', 1000, 'e3', false], ['-1.5k', -1500, 'k', false]
  ])('reads the Kubernetes quantity %j', (text, value, suffix, binary) => {
    expect(parseQuantity(text)).toEqual({ value, suffix, binary })
  })

  it.each(['', ' ', 'abc', '1.2.3', 'Mi', '10 Mi', '5x', '1Zi', '--1', '1e', 'NaN', 'Infinity', 'x'.repeat(100)])('refuses the malformed %j everywhere', (text) => {
    expect(failure(() => parseQuantity(text)).code).toBe('ERR_QUANTITY')
    expect(failure(() => parseCpu(text)).code).toBe('ERR_QUANTITY')
    expect(failure(() => parseBytes(text)).code).toBe('ERR_QUANTITY')
    expect(failure(() => parseByteRate(text)).code).toBe('ERR_QUANTITY')
  })
})

describe('cpu', () => {
  it.each([['500m', 0.5], ['0.5', 0.5], ['2', 2], ['1500m', 1.5], ['5e-1', 0.5], [0.25, 0.25], ['0.0001', 0.001]])('reads %j as %d cores', (text, cores) => {
    expect(parseCpu(text)).toBeCloseTo(cores, 9)
  })

  it.each(['1Gi', '512Mi', '2G', '1k', 'lots'])('refuses %j naming cores and millicores, never a memory suffix', (text) => {
    const err = failure(() => parseCpu(text, '--cpu'))
    expect(err.message).toMatch(/^--cpu ".*" .*expected cores \("2", "0\.5"\) or millicores \("500m"\)$/)
    expect(err.message.slice(err.message.indexOf(':'))).not.toMatch(/Mi|Gi|Ki|1024|bytes/)
  })

  it.each(['0', '-1', '0m', '-500m'])('refuses %j as no share at all', (text) => {
    expect(failure(() => parseCpu(text)).message).toMatch(/more than zero/)
  })
})

describe('bytes', () => {
  it.each([
    ['256Mi', 256 * 2 ** 20], ['1G', 1e9], ['2MiB', 2 * 2 ** 20], ['300MB', 300e6], ['512B', 512], ['64k', 64e3],
    ['1.5Gi', 1.5 * 2 ** 30], ['1e9', 1e9], ['1048576', 1048576], [268435456, 268435456], ['0.5Ki', 512]
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes)
  })

  it('refuses millibytes and suggests what was meant', () => {
    expect(failure(() => parseBytes('256m', 'memory')).message).toBe('memory "256m" would be millibytes; did you mean "256Mi" or "256M"?')
  })

  it.each(['0', '-1Gi', '0.5', '1n', 'lots'])('refuses %j', (text) => {
    expect(failure(() => parseBytes(text)).code).toBe('ERR_QUANTITY')
  })

  it('names the byte suffixes it expects, not CPU units', () => {
    const err = failure(() => parseBytes('12 apples', '--memory-reserve'))
    expect(err.message).toMatch(/^--memory-reserve "12 apples" is not a quantity: expected bytes .*Ki, Mi, Gi/)
    expect(err.message).not.toMatch(/millicores|cores/)
    expect(failure(() => parseBytes('12 apples')).message).not.toMatch(/cores/)
  })
})

describe('byte rates', () => {
  it.each([
    ['2500000', 2_500_000], ['2.5MB', 2_500_000], ['2MiB', 2 * 2 ** 20], ['20Mbit', 2_500_000], ['20Mbit/s', 2_500_000],
    ['500kbit', 62_500], ['1Gbit', 125_000_000], ['8bit', 1]
  ])('reads %j as %d bytes per second', (text, bytes) => {
    expect(parseByteRate(text)).toBe(bytes)
  })

  it('names both byte and bit spellings in its error', () => {
    expect(failure(() => parseByteRate('fast', '--upload-limit')).message).toBe('--upload-limit "fast" is not a rate: expected bytes per second like 2500000, 2.5MB, 2MiB, or bits per second like 20Mbit (an optional /s)')
  })
})

describe('formatBytes', () => {
  it.each([[512, '512'], [1536, '1.5Ki'], [256 * 2 ** 20, '256Mi'], [12.4 * 2 ** 30, '12Gi'], [-1, '<unknown>']])('writes %d as %s', (n, text) => {
    expect(formatBytes(n)).toBe(text)
  })

  it('writes what parseBytes reads back', () => {
    for (const n of [1, 1024, 10 * 2 ** 20, 2 ** 30]) expect(parseBytes(formatBytes(n))).toBe(n)
  })
})
