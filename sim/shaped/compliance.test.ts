/**
 * libp2p's own transport compliance suite (@libp2p/interface-compliance-tests/transport) against
 * the shaped in-memory transport, once ideal and once shaped (latency, jitter, a bandwidth cap,
 * loss). The suite is written for mocha (`describe`/`it` as globals, `this.skip()`,
 * `this.timeout()`); a small adapter maps it onto vitest.
 */
import { Memory } from '@multiformats/multiaddr-matcher'
import * as vitest from 'vitest'
import suite from '@libp2p/interface-compliance-tests/transport'
import { ShapedNetwork } from './transport.js'
import type { ShapedNetworkInit } from './transport.js'
import type { LinkShape } from '../scenario.js'

type MochaFn = (this: { skip: () => never, timeout: (ms: number) => void }, done?: (err?: unknown) => void) => unknown

function adapt (fn: MochaFn): (ctx: { skip: () => never }) => Promise<unknown> {
  return async (ctx) => {
    const self = { skip: () => ctx.skip(), timeout: () => {} }
    if (fn.length > 0) return await new Promise<void>((resolve, reject) => { fn.call(self, err => { err == null ? resolve() : reject(err) }) })
    return await fn.call(self)
  }
}
const g = globalThis as Record<string, unknown>
g.describe = (name: string, fn: () => void) => vitest.describe(name, fn)
g.it = (name: string, fn: MochaFn) => vitest.it(name, adapt(fn), 120_000)
g.before = (fn: MochaFn) => vitest.beforeAll(adapt(fn) as () => Promise<unknown>)
g.after = (fn: MochaFn) => vitest.afterAll(adapt(fn) as () => Promise<unknown>)
g.beforeEach = (fn: MochaFn) => vitest.beforeEach(adapt(fn) as () => Promise<unknown>)
g.afterEach = (fn: MochaFn) => vitest.afterEach(adapt(fn) as () => Promise<unknown>)

function compliance (label: string, links: LinkShape, init: Omit<ShapedNetworkInit, 'links'> = {}, caps?: number): void {
  vitest.describe(label, () => {
    let n = 0
    suite({
      async setup () {
        const net = new ShapedNetwork({ ...init, links })
        if (caps !== undefined) {
          for (const host of ['dialer', 'listener']) {
            net.setEgress(host, caps)
            net.setIngress(host, caps)
          }
        }
        const tag = `compliance-${n++}`
        return {
          dialer: { transports: [net.transport('dialer')] },
          listener: { addresses: { listen: [`/memory/${tag}-a`, `/memory/${tag}-b`] }, transports: [net.transport('listener')] },
          dialMultiaddrMatcher: Memory,
          listenMultiaddrMatcher: Memory
        }
      },
      async teardown () {}
    })
  })
}

compliance('shaped transport, ideal links', { latencyMs: 0, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 })
compliance('shaped transport, 1 ms +- 0.5 ms, 200 Mbit/s, 0.1% loss', { latencyMs: 1, jitterMs: 0.5, bytesPerSec: 25_000_000, loss: 0.001 })
compliance('shaped transport, 1 ms, hosts capped at 200 Mbit/s each way with 20 ms queues', { latencyMs: 1, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 }, { queueMs: 20 }, 25_000_000)
