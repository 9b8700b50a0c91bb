import { execFile } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { InferenceErrorCode } from './errors.js'
import { SPARE_TTL_MS } from './constants.js'
import { InferenceRuntime } from './runtime.js'
import { ModelInstance } from './instance.js'
import { InferenceThreads } from './session-worker.js'
import { planCpu } from './limits.js'
import { VersionMetrics } from './metrics.js'
import { openDirect, SILERO_VAD_PATH } from './testing/direct.js'
import { linearClassifier, matMulChain, seededRandom, sqrtModel, writeTestModel } from './testing/models.js'
import type { InferenceModel } from './runtime.js'
import type { Tensor, TensorMap } from './tensors.js'
import type { DevicePace } from '../../core/pace.js'

const MiB = 2 ** 20
let dir: string
let v1: InferenceModel
let v2: InferenceModel
let v3: InferenceModel
let twin: InferenceModel
let slow: InferenceModel
let sqrt: InferenceModel
let runtime: InferenceRuntime | undefined

function randomInput (random: () => number, batch = 2, features = 8): TensorMap {
  return { x: { type: 'float32', dims: [batch, features], data: Float32Array.from({ length: batch * features }, () => random() * 2 - 1) } }
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

async function waitFor (what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function start (init: ConstructorParameters<typeof InferenceRuntime>[1] = {}, components: ConstructorParameters<typeof InferenceRuntime>[0] = {}): InferenceRuntime {
  runtime = new InferenceRuntime(components, { deviceCores: 2, ...init })
  runtime.start()
  return runtime
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tutti-inference-'))
  v1 = await writeTestModel(dir, 'clf', '1.0.0', linearClassifier({ seed: 1 }))
  v2 = await writeTestModel(dir, 'clf', '2.0.0', linearClassifier({ seed: 2 }))
  v3 = await writeTestModel(dir, 'clf', '3.0.0', linearClassifier({ seed: 3 }))
  twin = await writeTestModel(dir, 'clf', '1.0.1', linearClassifier({ seed: 1 }))
  slow = await writeTestModel(dir, 'slow', '1.0.0', matMulChain({ size: 256, depth: 48 }))
  sqrt = await writeTestModel(dir, 'sqrt', '1.0.0', sqrtModel())
})

afterEach(async () => {
  await runtime?.stop()
  runtime = undefined
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('results', () => {
  it('equal a plain onnxruntime run of the same synthetic models and inputs', async () => {
    const rt = start()
    await rt.activate(v1, { cpu: '1' })
    await rt.activate(slow, { cpu: '1' })
    const random = seededRandom(3)
    for (const [model, input] of [[v1, randomInput(random, 3)], [slow, randomInput(random, 2, 256)]] as const) {
      const direct = await openDirect(model.path, 1)
      const expected = await direct.run(input)
      await direct.release()
      const got = await rt.infer(model.name, undefined, input)
      expect(got.modelVersion).toBe(model.version)
      expect(Object.keys(got.outputs)).toEqual(Object.keys(expected))
      for (const name of Object.keys(expected)) {
        expect(got.outputs[name]!.dims).toEqual(expected[name]!.dims)
        expect(got.outputs[name]!.data).toEqual(expected[name]!.data)
      }
    }
  })

  it('equal a plain onnxruntime run of the Silero VAD model, state carried across frames', async () => {
    const rt = start()
    const vad: InferenceModel = { name: 'vad', version: '4.0.0', path: SILERO_VAD_PATH, inputs: [], outputs: [], memoryEstimateBytes: 32 * MiB }
    await rt.activate(vad, { cpu: '1', memory: '128Mi' })
    const direct = await openDirect(SILERO_VAD_PATH, 1)
    const random = seededRandom(9)
    let h: Tensor = { type: 'float32', dims: [2, 1, 64], data: new Float32Array(128) }
    let c: Tensor = { type: 'float32', dims: [2, 1, 64], data: new Float32Array(128) }
    const sr: Tensor = { type: 'int64', dims: [], data: BigInt64Array.from([16000n]) }
    for (let frame = 0; frame < 4; frame++) {
      const audio: Tensor = { type: 'float32', dims: [1, 512], data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / (3 + frame)) * 0.5 + (random() - 0.5) * 0.1) }
      const inputs = { input: audio, sr, h, c }
      const expected = await direct.run(inputs)
      const got = await rt.infer('vad', undefined, inputs)
      for (const name of ['output', 'hn', 'cn']) expect(got.outputs[name]!.data).toEqual(expected[name]!.data)
      h = got.outputs.hn!
      c = got.outputs.cn!
    }
    await direct.release()
    const meta = rt.describe('vad')
    expect(meta.inputs.map(i => [i.name, i.type])).toEqual([['input', 'float32'], ['sr', 'int64'], ['h', 'float32'], ['c', 'float32']])
  })

  it('returns only the requested outputs and refuses unknown ones', async () => {
    const rt = start()
    await rt.activate(v1)
    const input = randomInput(seededRandom(1))
    const got = await rt.infer('clf', undefined, input, { outputs: ['probs'] })
    expect(Object.keys(got.outputs)).toEqual(['probs'])
    expect(await codeOf(rt.infer('clf', undefined, input, { outputs: ['nope'] }))).toBe(InferenceErrorCode.InvalidInput)
  })

  it('refuses inputs that do not fit and unknown models, and counts them', async () => {
    const rt = start()
    await rt.activate(v1)
    const wrongShape: TensorMap = { x: { type: 'float32', dims: [1, 7], data: new Float32Array(7) } }
    expect(await codeOf(rt.infer('clf', undefined, wrongShape))).toBe(InferenceErrorCode.InvalidInput)
    expect(await codeOf(rt.infer('clf', undefined, {}))).toBe(InferenceErrorCode.InvalidInput)
    expect(await codeOf(rt.infer('nope', undefined, wrongShape))).toBe(InferenceErrorCode.ModelNotFound)
    expect(await codeOf(rt.infer('clf', '9.9.9', randomInput(seededRandom(1))))).toBe(InferenceErrorCode.ModelNotFound)
    const m = rt.metrics().find(s => s.version === '1.0.0')!
    expect(m).toMatchObject({ requests: 2, rejected: 2, errors: 0 })
  })

  it('counts outputs holding NaN or infinity', async () => {
    const rt = start()
    await rt.activate(sqrt)
    await rt.infer('sqrt', undefined, { x: { type: 'float32', dims: [1, 4], data: Float32Array.from([1, 4, 9, 16]) } })
    await rt.infer('sqrt', undefined, { x: { type: 'float32', dims: [1, 4], data: Float32Array.from([1, -4, 9, 16]) } })
    const m = rt.metrics()[0]!
    expect(m).toMatchObject({ requests: 2, nonFinite: 1, errors: 0 })
    expect(m.latencyMs.count).toBe(2)
    expect(rt.summary()['sqrt@1.0.0']).toMatchObject({ n: 2, nf: 1, e: 0 })
  })
})

describe('limits', () => {
  it('refuses a model whose estimate exceeds its memory limit before loading, and keeps the active version serving', async () => {
    const rt = start()
    await rt.activate(v1)
    const big = { ...v2, memoryEstimateBytes: 300 * MiB }
    await expect(rt.activate(big, { memory: '256Mi' })).rejects.toMatchObject({ code: InferenceErrorCode.MemoryLimit })
    expect(rt.status().models[0]!.versions.map(v => v.version)).toEqual(['1.0.0'])
    expect((await rt.infer('clf', undefined, randomInput(seededRandom(1)))).modelVersion).toBe('1.0.0')
  })

  it('refuses a model the device has no free memory for', async () => {
    const rt = start({ memoryReserveBytes: 256 * MiB }, { freeMemoryBytes: () => 300 * MiB })
    await expect(rt.activate({ ...v1, memoryEstimateBytes: 100 * MiB })).rejects.toMatchObject({ code: InferenceErrorCode.InsufficientMemory, retryable: true })
    expect(rt.status().models.flatMap(m => m.versions)).toEqual([])
  })

  it('refuses a malformed limit without loading anything', async () => {
    const rt = start()
    await expect(rt.activate(v1, { cpu: 'half' })).rejects.toMatchObject({ code: InferenceErrorCode.InvalidLimit })
    await expect(rt.activate(v1, { memory: '256m' })).rejects.toMatchObject({ code: InferenceErrorCode.InvalidLimit })
    expect(rt.status().models.flatMap(m => m.versions)).toEqual([])
  })

  it('gives a half-core model one thread and pauses it between runs', async () => {
    const rt = start()
    const status = await rt.activate(v1, { cpu: '500m', memory: '64Mi' })
    expect(status.cpu).toEqual({ intraOpThreads: 1, interOpThreads: 1, cores: 0.5, throttled: true })
    const random = seededRandom(4)
    await Promise.all(Array.from({ length: 20 }, async () => await rt.infer('clf', undefined, randomInput(random))))
    const m = rt.metrics()[0]!
    expect(m.cpu.throttledMs).toBeGreaterThan(0)
    expect(m.cpu).toMatchObject({ limitCores: 0.5, intraOpThreads: 1, throttled: true })
  })

  it('gives a two-core model two threads and no pause', async () => {
    const rt = start()
    const status = await rt.activate(v1, { cpu: '2' })
    expect(status.cpu).toEqual({ intraOpThreads: 2, interOpThreads: 1, cores: 2, throttled: false })
    await rt.infer('clf', undefined, randomInput(seededRandom(1)))
    expect(rt.metrics()[0]!.cpu.throttledMs).toBe(0)
  })

  it('refuses a model file that does not match its manifest, or is not a model', async () => {
    const rt = start()
    const wrong = { ...v1, inputs: [{ name: 'audio', type: 'float32', shape: [1] }] }
    await expect(rt.activate(wrong)).rejects.toMatchObject({ code: InferenceErrorCode.ModelLoad })
    const junk = join(dir, 'junk.onnx')
    await writeFile(junk, 'not a model')
    await expect(rt.activate({ ...v1, path: junk })).rejects.toMatchObject({ code: InferenceErrorCode.ModelLoad })
    expect(rt.status().models.flatMap(m => m.versions)).toEqual([])
  })
})

describe('on a slow device (core/pace.ts)', () => {
  /**
   * A pace that records what it is asked and, while `hold` is set, keeps each CPU wait open until
   * the test releases it. Each CPU wait moves the runtime's latency clock on by 1000 ms.
   */
  function heldPace (): { pace: DevicePace, calls: Array<[string, number]>, held: Array<() => void>, hold: (on: boolean) => void, mono: () => number } {
    const calls: Array<[string, number]> = []
    const held: Array<() => void> = []
    let holding = false
    let mono = 0
    const pace: DevicePace = {
      cpuSlowed: true,
      cpu: async (ms) => {
        calls.push(['cpu', ms])
        if (holding) await new Promise<void>(resolve => held.push(resolve))
        mono += 1000
      },
      disk: async (bytes) => { calls.push(['disk', bytes]) }
    }
    return { pace, calls, held, hold: on => { holding = on }, mono: () => mono }
  }

  it('reads the model file at its disk\'s pace, loads at its CPU\'s, and answers a run only once its CPU would have finished it', async () => {
    const p = heldPace()
    const rt = start({}, { pace: p.pace, monotonicMs: p.mono })
    await rt.activate(v1, { cpu: '2' })
    // Before the load, the whole file at the disk's pace; after it, what the load took, at the CPU's.
    expect(p.calls).toEqual([['disk', (await stat(v1.path)).size], ['cpu', 0]])
    p.hold(true)
    let answered = false
    const run = rt.infer('clf', undefined, randomInput(seededRandom(5))).then(r => { answered = true; return r })
    await waitFor('the run to reach the pace', () => p.held.length === 1)
    const [kind, wallMs] = p.calls[2]!
    expect(kind).toBe('cpu')
    expect(wallMs).toBeGreaterThan(0) // the worker's measured run
    await new Promise(resolve => setImmediate(resolve))
    expect(answered).toBe(false)
    p.held[0]!()
    await run
    // The caller saw the device's time: the 1000 ms the pace stands for.
    expect(rt.metrics()[0]!.latencyMs).toMatchObject({ count: 1, max: 1000 })
  })

  it('runs one inference at a time while the CPU is slowed, even for a model that would queue a second in its worker', async () => {
    const p = heldPace()
    const plan = planCpu(2, 2) // unthrottled: two runs in flight at full pace
    const metrics = new VersionMetrics({ name: 'clf', version: '1.0.0', estimateBytes: 0, intraOpThreads: plan.intraOpThreads, throttled: plan.throttled })
    const instance = new ModelInstance({ clock: systemClock, logger: silentLogger, pace: p.pace, workers: new InferenceThreads(systemClock) }, { name: 'clf', version: '1.0.0', path: v1.path, limits: {}, plan, maxQueue: 8, loadTimeoutMs: 60_000, metrics })
    try {
      await instance.load()
      p.hold(true)
      const random = seededRandom(6)
      const runs = [instance.run(randomInput(random), { timeoutMs: 60_000 }), instance.run(randomInput(random), { timeoutMs: 60_000 })]
      await waitFor('the first run to reach the pace', () => p.held.length === 1)
      // The second is still queued here, not waiting in the worker.
      expect(instance.queued).toBe(1)
      p.hold(false)
      p.held[0]!()
      await Promise.all(runs)
      expect(p.calls.filter(([k]) => k === 'cpu')).toHaveLength(2)
      expect(instance.queued).toBe(0)
    } finally {
      await instance.close()
    }
  })
})

describe('spare workers', () => {
  it('loads the next version in a worker started beforehand, its pool threads still metered', async () => {
    const rt = start()
    rt.prewarm()
    rt.prewarm() // one spare at most
    expect(rt.status().spareWorker).toBe(true)
    // Throttled: the worker meters its session's threads, told apart while it loads.
    const status = await rt.activate(v1, { cpu: '500m' })
    expect(rt.status().spareWorker).toBe(false)
    expect(status.cpu.throttled).toBe(true)
    const random = seededRandom(5)
    const out = await rt.infer('clf', undefined, randomInput(random))
    expect(Object.keys(out.outputs).length).toBeGreaterThan(0)
    await Promise.all(Array.from({ length: 10 }, async () => await rt.infer('clf', undefined, randomInput(random))))
    expect(rt.metrics()[0]!.cpu.throttledMs).toBeGreaterThan(0)
  })

  it('ends a spare nobody takes after SPARE_TTL_MS, and one still waiting at stop', async () => {
    const clock = new ManualClock()
    const rt = start({}, { clock })
    rt.prewarm()
    expect(rt.status().spareWorker).toBe(true)
    await clock.advanceAsync(SPARE_TTL_MS)
    expect(rt.status().spareWorker).toBe(false)
    rt.prewarm()
    await rt.stop()
    expect(rt.status().spareWorker).toBe(false)
  })
})

describe('hot swap', () => {
  it('moves traffic between versions under concurrent load without failing a request', async () => {
    const rt = start()
    const inputs = Array.from({ length: 8 }, (_, i) => randomInput(seededRandom(100 + i)))
    const expected = new Map<string, Float32Array[]>()
    for (const m of [v1, v2, v3]) {
      const direct = await openDirect(m.path, 1)
      expected.set(m.version, await Promise.all(inputs.map(async i => (await direct.run(i)).logits!.data as Float32Array)))
      await direct.release()
    }
    await rt.activate(v1, { cpu: '1' })
    let stop = false
    let ok = 0
    const failures: unknown[] = []
    const mismatches: string[] = []
    const served = new Map<string, number>()
    const client = async (c: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const k = (c + n) % inputs.length
        try {
          const r = await rt.infer('clf', undefined, inputs[k]!)
          served.set(r.modelVersion, (served.get(r.modelVersion) ?? 0) + 1)
          if (!((r.outputs.logits!.data as Float32Array).every((v, i) => v === expected.get(r.modelVersion)![k]![i]))) mismatches.push(`${r.modelVersion}#${k}`)
          ok++
        } catch (err) {
          failures.push(err)
        }
      }
    }
    const clients = Array.from({ length: 24 }, async (_, c) => { await client(c) })
    await waitFor('load on 1.0.0', () => ok > 200)
    await rt.activate(v2, { cpu: '1' })
    const after2 = ok
    await waitFor('load on 2.0.0', () => ok > after2 + 200)
    await rt.activate(v1, { cpu: '1' }) // roll back
    const after3 = ok
    await waitFor('load back on 1.0.0', () => ok > after3 + 200)
    await rt.activate(v3, { cpu: '1' })
    const after4 = ok
    await waitFor('load on 3.0.0', () => ok > after4 + 200)
    stop = true
    await Promise.all(clients)
    expect(failures).toEqual([])
    expect(mismatches).toEqual([])
    expect([...served.keys()].sort()).toEqual(['1.0.0', '2.0.0', '3.0.0'])
    const status = rt.status().models[0]!
    expect(status.active).toBe('3.0.0')
    expect(status.versions.map(v => v.version)).toEqual(['3.0.0']) // old versions unloaded
    expect(rt.metrics().filter(m => m.role === 'retired').map(m => m.version).sort()).toEqual(['1.0.0', '2.0.0'])
  })

  it('moves traffic only after the new version runs its sample input', async () => {
    const rt = start()
    await rt.activate(v1)
    const row = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    const badSample = { x: { datatype: 'FP32', shape: [1, 7], data: row.slice(1) } }
    await expect(rt.activate({ ...v2, sampleInput: badSample })).rejects.toMatchObject({ code: InferenceErrorCode.ModelLoad, message: expect.stringMatching(/sample input/) })
    expect(rt.status().models[0]!.versions.map(v => v.version)).toEqual(['1.0.0'])
    const sqrtSample = { x: { datatype: 'FP32', shape: [1, 4], data: [1, -1, 4, 9] } } // sqrt(-1): NaN
    await expect(rt.activate({ ...sqrt, sampleInput: sqrtSample })).rejects.toMatchObject({ code: InferenceErrorCode.ModelLoad, message: expect.stringMatching(/NaN/) })
    await rt.activate({ ...v2, sampleInput: { x: { datatype: 'FP32', shape: [1, 8], data: row } } })
    expect(rt.status().models.find(m => m.name === 'clf')!.active).toBe('2.0.0')
  })

  it('leaves the current version serving when the new one fails to load', async () => {
    const rt = start()
    await rt.activate(v1)
    const junk = join(dir, 'junk2.onnx')
    await writeFile(junk, 'garbage')
    await expect(rt.activate({ ...v2, path: junk })).rejects.toMatchObject({ code: InferenceErrorCode.ModelLoad })
    expect(rt.status().models[0]!.active).toBe('1.0.0')
    expect((await rt.infer('clf', undefined, randomInput(seededRandom(1)))).modelVersion).toBe('1.0.0')
  })

  it('promotes a pre-loaded version and serves explicit versions', async () => {
    const rt = start()
    await rt.activate(v1)
    await rt.load(v2)
    const input = randomInput(seededRandom(5))
    expect((await rt.infer('clf', '2.0.0', input)).modelVersion).toBe('2.0.0')
    expect((await rt.infer('clf', undefined, input)).modelVersion).toBe('1.0.0')
    const before = rt.status().models[0]!.versions.find(v => v.version === '2.0.0')!.loadedAt
    await rt.activate(v2)
    const after = rt.status().models[0]!
    expect(after.active).toBe('2.0.0')
    expect(after.versions.map(v => [v.version, v.loadedAt])).toEqual([['2.0.0', before]]) // reused, not reloaded
    await rt.deactivate('clf')
    expect(await codeOf(rt.infer('clf', undefined, input))).toBe(InferenceErrorCode.ModelNotFound)
  })

  it('drains a version whose caller gave up on a running request once that run ends', async () => {
    const clock = new ManualClock()
    const rt = start({}, { clock })
    await rt.activate(slow, { cpu: '1' })
    const pending = codeOf(rt.infer('slow', undefined, randomInput(seededRandom(3), 1024, 256), { timeoutMs: 1000 }))
    clock.advance(1000) // the request times out while the worker is still running it
    expect(await pending).toBe(InferenceErrorCode.Timeout)
    let done = false
    void rt.deactivate('slow').then(() => { done = true })
    await waitFor('the drain to finish without its timeout', () => done) // the manual clock never fires the drain timeout
    expect(rt.status().models).toEqual([])
  })

  it('fails requests still waiting when the runtime stops', async () => {
    const rt = start()
    await rt.activate(slow, { cpu: '1' })
    const input = randomInput(seededRandom(2), 16, 256)
    const pending = Array.from({ length: 4 }, async () => await codeOf(rt.infer('slow', undefined, input)))
    await rt.stop()
    const codes = await Promise.all(pending)
    expect(codes.every(c => c === InferenceErrorCode.Stopped)).toBe(true)
    expect(await codeOf(rt.infer('slow', undefined, input))).toBe(InferenceErrorCode.Stopped)
  })
})

describe('process lifetime', () => {
  it('keeps a script alive through throttled requests, and lets it exit once idle', async () => {
    const script = join(dir, 'script.mts')
    const runtimeUrl = new URL('./runtime.ts', import.meta.url).href
    await writeFile(script, `
      import { InferenceRuntime } from ${JSON.stringify(runtimeUrl)}
      const rt = new InferenceRuntime({}, { deviceCores: 2 })
      rt.start()
      await rt.activate(${JSON.stringify(slow)}, { cpu: '100m' })
      const x = { type: 'float32', dims: [64, 256], data: new Float32Array(64 * 256) }
      let n = 0
      for (let i = 0; i < 4; i++) { await rt.infer('slow', undefined, { x }); n++ }
      process.stdout.write('done ' + n + ' ' + JSON.stringify(rt.metrics()[0].cpu.throttledMs > 0))
      // no stop(): an idle runtime must not hold the process open
    `)
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), timeout: 30_000 }, (err, stdout, stderr) => {
        if (err != null) reject(new Error(`${err.message}\n${stderr}`))
        else resolve(stdout)
      })
    })
    expect(out).toBe('done 4 true')
  })
})

describe('event loop', () => {
  it('keeps ticking while a slow model runs, unlike a plain session.run() on the main thread', async () => {
    const rt = start()
    await rt.activate(slow, { cpu: '1' })
    const input = randomInput(seededRandom(6), 1024, 256) // tens of ms of one core
    const countTicks = async (work: () => Promise<unknown>): Promise<number> => {
      let ticks = 0
      const timer = setInterval(() => { ticks++ }, 1)
      await new Promise(resolve => setTimeout(resolve, 5))
      ticks = 0
      await work()
      const seen = ticks
      clearInterval(timer)
      return seen
    }
    const viaRuntime = await countTicks(async () => await rt.infer('slow', undefined, input))
    const direct = await openDirect(slow.path, 1)
    const onMainThread = await countTicks(async () => await direct.run(input))
    await direct.release()
    expect(onMainThread).toBeLessThanOrEqual(2) // blocked: the interval could not fire during the run
    expect(viaRuntime).toBeGreaterThan(onMainThread + 5)
  })
})

describe('shadow mode', () => {
  async function shadowRun (candidate: InferenceModel, requests: number): Promise<{ rt: InferenceRuntime, versions: Set<string>, expectedSamples: number }> {
    const draws = seededRandom(77)
    let expectedSamples = 0
    const replay = seededRandom(77)
    const rt = start({ maxShadowPending: 1000 }, { random: draws })
    await rt.activate(v1, { cpu: '1' })
    await rt.shadow(candidate, { cpu: '1' }, { fraction: 0.5 })
    const random = seededRandom(8)
    const versions = new Set<string>()
    for (let i = 0; i < requests; i++) {
      if (replay() < 0.5) expectedSamples++
      versions.add((await rt.infer('clf', undefined, randomInput(random, 4))).modelVersion)
    }
    return { rt, versions, expectedSamples }
  }

  it('runs an identical candidate on the sampled requests and finds full agreement', async () => {
    const { rt, versions, expectedSamples } = await shadowRun(twin, 40)
    expect(versions).toEqual(new Set(['1.0.0'])) // the shadow's results are never returned
    await waitFor('shadow comparisons', () => (rt.metrics().find(m => m.version === '1.0.1')?.shadow?.compared ?? 0) === expectedSamples)
    const s = rt.metrics().find(m => m.version === '1.0.1')!
    expect(s.role).toBe('shadow')
    expect(s.shadow).toMatchObject({ sampled: expectedSamples, compared: expectedSamples, agreed: expectedSamples, agreementRate: 1, maxAbsDiff: 0, failed: 0, skipped: 0 })
    expect(expectedSamples).toBeGreaterThan(5)
    expect(expectedSamples).toBeLessThan(35)
    expect(rt.summary()['clf@1.0.1']).toMatchObject({ ag: 1 })
  })

  it('reports the disagreement of a different candidate', async () => {
    const { rt, versions, expectedSamples } = await shadowRun(v2, 40)
    expect(versions).toEqual(new Set(['1.0.0']))
    await waitFor('shadow comparisons', () => (rt.metrics().find(m => m.version === '2.0.0')?.shadow?.compared ?? 0) === expectedSamples)
    const s = rt.metrics().find(m => m.version === '2.0.0')!.shadow!
    expect(s.maxAbsDiff).toBeGreaterThan(0.01)
    expect(s.agreementRate).toBeLessThan(1)
    expect(s.agreed).toBeLessThan(s.compared)
  })

  it('promotes the shadow to active and stops shadowing', async () => {
    const { rt } = await shadowRun(v2, 4)
    await rt.activate(v2, { cpu: '1' })
    const status = rt.status().models[0]!
    expect(status.active).toBe('2.0.0')
    expect(status.shadow).toBeUndefined()
    expect(status.versions.map(v => v.version)).toEqual(['2.0.0'])
  })
})
