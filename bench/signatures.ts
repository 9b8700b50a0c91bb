/**
 * Ed25519 signatures as gossipsub checks them (StrictSign: a fresh public key object built from
 * each message's `from`, then `verify`) and as a node makes them, on @libp2p/crypto as shipped
 * against the stack tuning's keys parsed once (node/mesh/stack-tuning.ts, change 3). Each trial
 * runs in a child process, stock (`TUTTI_STOCK_LIBP2P=1`) and tuned alternating, so neither
 * inherits the other's JIT or caches.
 *
 *   npm run bench -- signatures [--messages 20000] [--peers 50] [--trials 3]
 *
 * Reported per set-up (median over trials): verifications and signatures per second of one
 * thread, and the ratios tuned / stock. See docs/BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { tuneLibp2pStack } from '../node/mesh/stack-tuning.js'
import { fmt, machine, median, print, ratio, table, writeResults } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    peers: { type: 'string', default: '50' },
    trials: { type: 'string', default: '3' },
    child: { type: 'boolean', default: false }
  }
})
const messages = Number(values.messages)
const peers = Number(values.peers)
const trials = Number(values.trials)
if (!Number.isInteger(messages) || messages < 100 || !Number.isInteger(peers) || peers < 1 || !Number.isInteger(trials) || trials < 1) {
  process.stderr.write('usage: npm run bench -- signatures [--messages N >= 100] [--peers P >= 1] [--trials K >= 1]\n')
  process.exit(2)
}

interface Trial { tuned: boolean, verifyPerSec: number, signPerSec: number }

/** One set-up, in this process: `peers` keys signing ~300-byte messages, then every one checked. */
async function measure (): Promise<Trial> {
  const tuned = tuneLibp2pStack(process.env)
  const keys = await Promise.all(Array.from({ length: peers }, async () => await generateKeyPair('Ed25519')))
  const bodies = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(`libp2p-pubsub:${'x'.repeat(280)}${i}`))
  const signed: Array<{ raw: Uint8Array, body: Uint8Array, sig: Uint8Array }> = []
  // Warm-up, then the timed signatures.
  for (let i = 0; i < 500; i++) await keys[i % peers]!.sign(bodies[i % bodies.length]!)
  let t0 = performance.now()
  for (let i = 0; i < messages; i++) {
    const key = keys[i % peers]!
    const body = bodies[i % bodies.length]!
    signed.push({ raw: key.publicKey.raw, body, sig: await key.sign(body) })
  }
  const signPerSec = messages / ((performance.now() - t0) / 1000)
  for (let i = 0; i < 500; i++) publicKeyFromRaw(signed[i]!.raw).verify(signed[i]!.body, signed[i]!.sig)
  t0 = performance.now()
  let ok = 0
  for (const m of signed) if (await publicKeyFromRaw(m.raw).verify(m.body, m.sig)) ok++
  const verifyPerSec = messages / ((performance.now() - t0) / 1000)
  if (ok !== messages) throw new Error(`${messages - ok} good signatures failed to verify`)
  return { tuned, verifyPerSec, signPerSec }
}

if (values.child) {
  process.stdout.write(JSON.stringify(await measure()) + '\n')
  process.exit(0)
}

print(`signatures: ${messages} messages from ${peers} keys, a fresh public key object per check (as gossipsub), ${trials} trial(s) per set-up, alternating, one child process each`)
const results: Trial[] = []
for (let t = 0; t < trials; t++) {
  for (const stock of [true, false]) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--messages', String(messages), '--peers', String(peers)], {
      env: { ...process.env, TUTTI_STOCK_LIBP2P: stock ? '1' : '' },
      encoding: 'utf8'
    })
    if (child.status !== 0) throw new Error(`trial failed: ${child.stderr}`)
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Trial
    if (r.tuned === stock) throw new Error('the child did not run the set-up it was asked for')
    results.push(r)
    print(`  trial ${t + 1} ${stock ? 'stock' : 'tuned'}: ${fmt(r.verifyPerSec, 0)} verifications/s, ${fmt(r.signPerSec, 0)} signatures/s`)
  }
}
const of = (tuned: boolean, k: 'verifyPerSec' | 'signPerSec'): number => median(results.filter(r => r.tuned === tuned).map(r => r[k]))
print()
print(table(['set-up', 'verifications / s (median)', 'signatures / s (median)'], [
  ['stock @libp2p/crypto', fmt(of(false, 'verifyPerSec'), 0), fmt(of(false, 'signPerSec'), 0)],
  ['keys parsed once', fmt(of(true, 'verifyPerSec'), 0), fmt(of(true, 'signPerSec'), 0)]
]))
print(`\ntuned / stock: verifications ${fmt(ratio(of(true, 'verifyPerSec'), of(false, 'verifyPerSec')), 2)}x, signatures ${fmt(ratio(of(true, 'signPerSec'), of(false, 'signPerSec')), 2)}x`)
const out = await writeResults('signatures', { benchmark: 'signatures', date: new Date().toISOString(), machine: machine(), options: { messages, peers, trials }, results })
print(`results: ${out}`)
