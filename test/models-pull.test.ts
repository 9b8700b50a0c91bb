/**
 * Pulls of one model on one node share one download: an activation that starts while a prefetch
 * or a CLI pull of the same version runs joins it, and the download stops only when every caller
 * has given up (real nodes, memory transport, real stores).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../core/logger.js'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import { linearClassifier } from '../node/inference/testing/models.js'
import { TempDirs } from './models-helpers.js'
import { packModel } from './rollout-helpers.js'
import type { LogRecord } from '../core/logger.js'
import type { LocalMesh } from '../sim/local-mesh.js'

describe('pulls of one model on one node', () => {
  const dirs = new TempDirs()
  let mesh: LocalMesh
  const records: LogRecord[] = []
  let cid = ''

  beforeAll(async () => {
    const { fleet, adminKey } = await createTestFleet('models-pull')
    const dir = await dirs.make('tutti-models-pull-')
    mesh = await startLocalMesh({
      size: 2,
      fleet,
      logger: createLogger({ level: 'debug', sink: r => { records.push(r) } }),
      node: i => ({ dataDir: join(dir, `n${i}`) })
    })
    await waitFor('a full mesh view', () => fullyConverged(mesh.nodes), 60_000)
    // 64 chunks of 1 KiB: long enough a download for a second caller to find it running.
    const pkg = await packModel(dir, adminKey, '1.0.0', linearClassifier({ seed: 3, features: 2048, classes: 8 }).bytes)
    cid = (await mesh.nodes[0]!.models!.store.importPackage(pkg)).cid
    await mesh.nodes[0]!.models!.announceAll()
  }, 120_000)

  afterAll(async () => {
    await mesh?.stop()
    await dirs.cleanup()
  })

  it('run one download for concurrent callers, which goes on when one of them gives up', async () => {
    const node = mesh.nodes[1]!
    const quitter = new AbortController()
    const first = node.models!.pull(cid, { signal: quitter.signal })
    const second = node.models!.pull(cid)
    const third = node.models!.pull(cid, { onProgress: () => {} })
    quitter.abort(new Error('the operator pressed Ctrl-C'))
    await expect(first).rejects.toMatchObject({ code: 'ERR_FETCH_ABORTED' })
    const [a, b] = await Promise.all([second, third])
    expect(a.path).toBe(b.path)
    expect(node.models!.store.isComplete(cid)).toBe(true)
    const downloads = records.filter(r => r.msg === 'download complete' && r.peer === node.peerId.slice(-8))
    expect(downloads).toHaveLength(1)
  })
})
