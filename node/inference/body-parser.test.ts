import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { OipBodyParser } from './body-parser.js'
import { InferenceError, InferenceErrorCode } from './errors.js'
import { parseOipBody } from './oip-request.js'

const parsers: OipBodyParser[] = []

function parser (offThreadBytes: number, clock?: ManualClock): OipBodyParser {
  const p = new OipBodyParser({ clock }, { offThreadBytes })
  parsers.push(p)
  return p
}

afterEach(async () => {
  await Promise.all(parsers.splice(0).map(async p => { await p.close() }))
})

const bytes = (body: unknown): Uint8Array => Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))

/** An FP32 body of `rows` x 8 values, about 90 bytes a row. */
function bigBody (rows: number): Uint8Array {
  const row = '[0.12345678,-0.2345678,0.3456789,0.45678901,-0.5678901,0.67890123,0.78901234,-0.8901234]'
  return Buffer.from(`{"id":"big","inputs":[{"name":"x","shape":[${rows},8],"datatype":"FP32","data":[${new Array(rows).fill(row).join(',')}]}]}`)
}

/** Every kind of body the parser refuses, each with the error it must give. */
const MALFORMED: Array<[string, string | object]> = [
  ['invalid JSON', '{"inputs": [ '],
  ['not an object', '[1, 2]'],
  ['no inputs', { id: 'a' }],
  ['an empty inputs array', { inputs: [] }],
  ['an id that is too long', { id: 'x'.repeat(300), inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }],
  ['an input that is not an object', { inputs: [7] }],
  ['an unsupported datatype', { inputs: [{ name: 'x', shape: [1], datatype: 'FP8', data: [1] }] }],
  ['a negative dimension', { inputs: [{ name: 'x', shape: [-1], datatype: 'FP32', data: [1] }] }],
  ['too many dimensions', { inputs: [{ name: 'x', shape: new Array(17).fill(1), datatype: 'FP32', data: [1] }] }],
  ['a shape over the element limit', { inputs: [{ name: 'x', shape: [1 << 20, 1 << 20], datatype: 'FP32', data: [1] }] }],
  ['data that does not fill the shape', { inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3] }] }],
  ['data nested deeper than its shape', { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [[1], [2]] }] }],
  ['an FP32 value outside the float32 range', { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 3.5e38] }] }],
  ['a string among FP32 data', { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, '2'] }] }],
  ['an INT8 value out of range', { inputs: [{ name: 'x', shape: [1], datatype: 'INT8', data: [128] }] }],
  ['an INT64 value beyond 2^53', { inputs: [{ name: 'x', shape: [1], datatype: 'INT64', data: [2 ** 60] }] }],
  ['a bad BOOL', { inputs: [{ name: 'x', shape: [1], datatype: 'BOOL', data: [2] }] }],
  ['a number among BYTES', { inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: [1] }] }],
  ['the same input twice', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }, { name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }],
  ['outputs without names', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], outputs: [{}] }]
]

function errorOf (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a throw')
}

describe('OipBodyParser', () => {
  it('parses a large body in the worker into the same typed tensors as parseOipBody', async () => {
    const inputs = [
      { name: 'x', shape: [2, 3], datatype: 'FP32', data: [[1.5, -2, 3], [4, 5, 6.25]] },
      { name: 'n', shape: [2], datatype: 'INT64', data: [-(2 ** 40), 7] },
      { name: 's', shape: [2], datatype: 'BYTES', data: ['a', 'é'] },
      { name: 'b', shape: [3], datatype: 'BOOL', data: [true, false, 1] }
    ]
    const body = { id: 'r1', outputs: [{ name: 'probs' }], inputs }
    const events: string[] = []
    const p = parser(0)
    p.addEventListener('parse:start', e => { events.push(`start ${String(e.detail.offThread)}`) })
    p.addEventListener('parse:end', e => { events.push(`end ${String(e.detail.offThread)}`) })
    const got = await p.parse(bytes(body))
    expect(got).toEqual(parseOipBody(bytes(body)))
    expect(got.inputs.x?.data).toBeInstanceOf(Float32Array)
    expect(got.inputs.n?.data).toBeInstanceOf(BigInt64Array)
    expect(Object.keys(got.inputs)).toEqual(['x', 'n', 's', 'b'])
    expect(events).toEqual(['start true', 'end true'])
  })

  it('keeps the event loop turning while a large body is parsed in the worker, and not on the main thread', async () => {
    const order = async (p: OipBodyParser): Promise<string[]> => {
      const events: string[] = []
      let parsed = false
      const tick = (): void => {
        if (parsed) return
        events.push('tick') // what a heartbeat timer would do meanwhile
        setImmediate(tick)
      }
      const done = p.parse(bigBody(60_000)).then(() => { parsed = true; events.push('parsed') })
      setImmediate(tick)
      await done
      return events
    }
    // On the main thread the parse is done before the loop turns once; in the worker, the loop keeps turning.
    expect(await order(parser(Infinity))).toEqual(['parsed'])
    const off = await order(parser(0))
    expect(off.at(-1)).toBe('parsed')
    expect(off.filter(e => e === 'tick').length).toBeGreaterThan(1)
  })

  it('transfers the body to the worker instead of copying it', async () => {
    const body = bigBody(1000) // 90 KB: its own ArrayBuffer, as a large body the HTTP API reads is (not Node's shared pool)
    const got = await parser(0).parse(body)
    expect(body.byteLength).toBe(0) // detached: the worker owns those bytes now
    expect(got.inputs.x?.dims).toEqual([1000, 8])
  })

  it('parses small bodies on the calling thread, below offThreadBytes', async () => {
    const p = parser(1024)
    const sizes: Array<[number, boolean]> = []
    p.addEventListener('parse:start', e => { sizes.push([e.detail.bytes, e.detail.offThread]) })
    const small = bytes({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] })
    await p.parse(small)
    await p.parse(bigBody(20))
    expect(sizes).toEqual([[small.byteLength, false], [bigBody(20).byteLength, true]])
    expect(small.byteLength).toBeGreaterThan(0)
  })

  it.each(MALFORMED)('refuses %s with the same code and message on and off the main thread', async (_what, body) => {
    const expected = errorOf(() => parseOipBody(bytes(body)))
    expect(expected).toBeInstanceOf(InferenceError)
    for (const p of [parser(Infinity), parser(0)]) {
      const err = await p.parse(bytes(body)).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(InferenceError)
      expect((err as InferenceError).code).toBe((expected as InferenceError).code)
      expect((err as InferenceError).message).toBe(expected.message)
    }
  })

  it('fails a body still in the worker with ERR_RUNTIME_STOPPED when closed', async () => {
    const p = parser(0)
    const outcome = p.parse(bigBody(20_000)).then(() => undefined, (err: unknown) => err)
    expect(p.inFlight).toBe(1)
    await p.close()
    expect(await outcome).toMatchObject({ code: InferenceErrorCode.Stopped })
  })

  it('fails the bodies in a worker that exits with a retryable error, and starts a new one for the next body', async () => {
    const p = parser(0)
    await p.parse(bigBody(2))
    const outcome = p.parse(bigBody(60_000)).then(() => undefined, (err: unknown) => err)
    // What an out-of-memory kill of the thread looks like from here: it exits with a body inside.
    await (p as unknown as { worker: { terminate: () => Promise<number> } }).worker.terminate()
    expect(await outcome).toMatchObject({ code: InferenceErrorCode.InferenceFailed, retryable: true })
    expect(p.inFlight).toBe(0)
    expect((await p.parse(bigBody(3))).inputs.x?.dims).toEqual([3, 8])
  })

  it('ends an idle worker after idleMs and starts a new one for the next large body', async () => {
    const clock = new ManualClock()
    const p = new OipBodyParser({ clock }, { offThreadBytes: 0, idleMs: 1000 })
    parsers.push(p)
    await p.parse(bigBody(2))
    expect(p.workerRunning).toBe(true)
    clock.advance(999)
    expect(p.workerRunning).toBe(true)
    clock.advance(1)
    expect(p.workerRunning).toBe(false)
    expect((await p.parse(bigBody(3))).inputs.x?.dims).toEqual([3, 8])
    expect(p.workerRunning).toBe(true)
  })

  it('refuses a negative offThreadBytes', () => {
    expect(() => new OipBodyParser({}, { offThreadBytes: -1 })).toThrow(RangeError)
  })
})
