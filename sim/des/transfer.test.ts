import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { seededRandom } from '../../core/random.js'
import { ChunkTransfer } from './transfer.js'
import { World } from './world.js'

const MiB = 1024 * 1024

/**
 * One origin (100 Mbit) holding a 20 MiB version, `downloaders` nodes (20 Mbit, 30 ms) that all
 * start fetching it at once: the first wave of a rollout (large-fleet-10k's canary is 1% of the
 * fleet, dispatched 200 a minute). Returns when each download finished, s, and the origin's egress.
 */
function swarm (downloaders: number, seed = 7): { doneS: number[], originCopies: number } {
  const clock = new ManualClock(0)
  const world = new World(clock, seededRandom(seed), { latencyMs: 30, jitterMs: 10, bytesPerSec: 20e6 / 8, loss: 0 }, 6, seed, () => false)
  for (let i = 0; i <= downloaders; i++) world.addNode(`node-${i}`, {})
  world.setTopology(() => 0)
  const transfer = new ChunkTransfer(world, 0, 100e6 / 8)
  const file = transfer.addFile('detector@2.0.0', 20 * MiB)
  transfer.seed(file.key, 0)
  const doneS: number[] = []
  for (let i = 1; i <= downloaders; i++) transfer.fetch(world.nodes[i]!, file.key, () => { doneS.push(clock.now() / 1000) })
  clock.advance(30 * 60_000)
  return { doneS: doneS.sort((a, b) => a - b), originCopies: transfer.stats.originBytes / file.sizeBytes }
}

describe('chunk transfer', () => {
  it('200 downloaders starting together from one seed all finish well within the activation timeout', () => {
    // Holders answer busy past their upload slots and queue, as the chunk server does, and a sender
    // is not held idle while its receiver takes another holder's chunk. When the model let every
    // holder's queue grow without bound, downloaders booked chunks minutes ahead on the first few
    // holders (the last of these 200 finished after 336 s): at 100,000 nodes 56 of the 1000 canary
    // devices passed the 10-minute activationTimeout and the rollout was rolled back
    // (docs/SIMULATOR.md, Findings). Now about 21 s; 20 MiB at 20 Mbit takes 8.4 s at best.
    const { doneS, originCopies } = swarm(200)
    expect(doneS).toHaveLength(200)
    expect(doneS.at(-1)!).toBeLessThan(60)
    expect(doneS[0]!).toBeGreaterThan(8.4)
    expect(originCopies).toBeLessThan(1.6)
  })

  it.each([20, 50, 200, 1000])('the origin sends about one copy to %i downloaders starting together', (downloaders) => {
    // The origin withholds, as protocols/chunks/offers.ts does, a chunk that a node it delivered
    // the chunk to still relays (that node is downloading). The model first served any asker that
    // had waited 5 s: 1.8-2.0 copies at 20 downloaders, 2.0 at 50, 2.7-2.8 at 1000. Then its
    // wait ran on while the asker found other holders busy or had all its requests in flight:
    // 1.15-1.35 over these seeds. Now it runs only while the asker finds no other holder: 1.0-1.1.
    for (const seed of [7, 8, 9]) {
      const { doneS, originCopies } = swarm(downloaders, seed)
      expect(doneS).toHaveLength(downloaders)
      expect(originCopies).toBeLessThan(1.15)
    }
  })

  it('the origin serves again a downloader that can reach no other holder', () => {
    const clock = new ManualClock(0)
    const world = new World(clock, seededRandom(3), { latencyMs: 30, jitterMs: 10, bytesPerSec: 20e6 / 8, loss: 0 }, 6, 3, () => false)
    for (let i = 0; i <= 10; i++) world.addNode(`node-${i}`, {})
    world.setTopology(() => 0)
    const transfer = new ChunkTransfer(world, 0, 100e6 / 8)
    const file = transfer.addFile('detector@2.0.0', 20 * MiB)
    transfer.seed(file.key, 0)
    let done = 0
    for (let i = 1; i <= 10; i++) transfer.fetch(world.nodes[i]!, file.key, () => { done++ })
    clock.advance(5 * 60_000)
    expect(done).toBe(10)
    const before = transfer.stats.originBytes
    // A late joiner on the origin's side of a partition: ten holders of every chunk, none reachable.
    world.addNode('late', {})
    world.setTopology(i => i === 0 || i === 11 ? 0 : 1)
    let lateDone = false
    transfer.fetch(world.nodes[11]!, file.key, () => { lateDone = true })
    clock.advance(5 * 60_000)
    expect(lateDone).toBe(true)
    expect(transfer.stats.originBytes - before).toBe(file.sizeBytes)
  })
})
