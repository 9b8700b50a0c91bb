import { describe, expect, it } from 'vitest'
import { parseTransferTuning } from '../node/models/transfer-tuning.js'
import { chunksPerUnit } from '../protocols/chunks/constants.js'

describe('transfer tuning (tutti node start --transfer, bench --set)', () => {
  it('sends each key to the part that has it, both for a shared key, one for a scoped key', () => {
    expect(parseTransferTuning(['maxInFlight=8', 'uploadSlots=3,superSeed=false', 'maxChunksPerRequest=4', 'server.maxStreamsPerPeer=12'])).toEqual({
      fetcher: { maxInFlight: 8, maxChunksPerRequest: 4 },
      chunkServer: { uploadSlots: 3, superSeed: false, maxChunksPerRequest: 4, maxStreamsPerPeer: 12 }
    })
    expect(parseTransferTuning(['fetcher.maxChunksPerRequest=2'])).toEqual({ fetcher: { maxChunksPerRequest: 2 }, chunkServer: {} })
    expect(parseTransferTuning(['unitBytes=0'])).toEqual({ fetcher: { unitBytes: 0 }, chunkServer: { unitBytes: 0 } })
    expect(parseTransferTuning([])).toEqual({ fetcher: {}, chunkServer: {} })
  })

  it('refuses unknown keys, non-numbers and values out of range, naming them', () => {
    expect(() => parseTransferTuning(['maxInflight=8'])).toThrow(/"maxInflight" is unknown/)
    expect(() => parseTransferTuning(['fetcher.uploadSlots=2'])).toThrow(/"fetcher.uploadSlots" is unknown/)
    expect(() => parseTransferTuning(['maxInFlight'])).toThrow(/not KEY=VALUE/)
    expect(() => parseTransferTuning(['maxInFlight=lots'])).toThrow(/maxInFlight must be a number/)
    expect(() => parseTransferTuning(['maxInFlight='])).toThrow(/maxInFlight must be a number/)
    expect(() => parseTransferTuning(['superSeed=1'])).toThrow(/true or false/)
    expect(() => parseTransferTuning(['maxInFlight=0'])).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/maxInFlight must be an integer >= 1/) }))
    expect(() => parseTransferTuning(['uploadSlots=1.5'])).toThrow(/uploadSlots must be a positive integer/)
    expect(() => parseTransferTuning(['maxChunksPerRequest=17'])).toThrow(/at most 16/)
  })
})

describe('chunksPerUnit: the chunks of a model the fetcher and a seed count as one unit', () => {
  it('is the mean chunk size into the unit, 1 to 16, and 1 when off or unknown', () => {
    const MIB = 1024 * 1024
    expect(chunksPerUnit(20 * MIB, 20, MIB)).toBe(1)
    expect(chunksPerUnit(20 * MIB, 320, MIB)).toBe(16)
    expect(chunksPerUnit(20 * MIB, 80, MIB)).toBe(4)
    expect(chunksPerUnit(20 * MIB, 100, MIB)).toBe(5)
    expect(chunksPerUnit(20 * MIB, 5, MIB)).toBe(1)
    expect(chunksPerUnit(4096, 4, MIB)).toBe(16)
    expect(chunksPerUnit(20 * MIB, 320, 0)).toBe(1)
    expect(chunksPerUnit(undefined, 320, MIB)).toBe(1)
    expect(chunksPerUnit(0, 0, MIB)).toBe(1)
  })
})
