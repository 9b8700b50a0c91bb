import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = join(import.meta.dirname, '..', '..')
const CHILD = join(REPO, 'test', 'fixtures', 'abort-loads-child.ts')

async function runChild (args: string[]): Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise(resolve => child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }))
}

describe('inference threads', () => {
  it('never end a thread inside onnxruntime: loads aborted at random moments, then a stop and an exit mid-load, leave the process alive', async () => {
    // With worker.terminate() on abort this child died of SIGABRT within a second.
    const { code, signal, stdout, stderr } = await runChild(['40', '7'])
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' })
    const summary = JSON.parse(stdout.trim()) as { aborted: number, loaded: number, threadsLeft: number, last: string }
    expect(summary.aborted).toBeGreaterThanOrEqual(10) // every fourth abort comes before the thread has started
    expect(summary.aborted + summary.loaded).toBe(40)
    expect(summary.threadsLeft).toBe(0) // every retired thread exited by itself
  }, 120_000)
})
