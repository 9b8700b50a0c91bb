/**
 * Finding holders of a model through content routing (kad-dht provider records) and announcing
 * that this node holds one. The key is the manifest CID: whoever provides it holds the manifest
 * and serves the chunks it has.
 */
import { CID } from 'multiformats/cid'
import type { ProviderFinder } from './download.js'
import type { AbortOptions, Libp2p } from '@libp2p/interface'

/** Announces (kad-dht `provide`) that this node holds `manifestCid`. Resolves once the records are out. */
export async function announce (libp2p: Pick<Libp2p, 'contentRouting'>, manifestCid: string, options: AbortOptions = {}): Promise<void> {
  await libp2p.contentRouting.provide(CID.parse(manifestCid), options)
}

/** Stops re-announcing `manifestCid` (after the model was removed from the store). */
export async function withdraw (libp2p: Pick<Libp2p, 'contentRouting'>, manifestCid: string, options: AbortOptions = {}): Promise<void> {
  await libp2p.contentRouting.cancelReprovide(CID.parse(manifestCid), options)
}

/** A {@link ProviderFinder} over libp2p's content routing (kad-dht provider records). */
export function libp2pProviders (libp2p: Pick<Libp2p, 'contentRouting'>): ProviderFinder {
  return async function * (manifestCid, options) {
    for await (const provider of libp2p.contentRouting.findProviders(CID.parse(manifestCid), options)) {
      yield provider.id
    }
  }
}
