/**
 * Which streams a chunk server takes, pure: a stream is answered busy before its request is read
 * when the server is stopped or every stream it allows is open; once read, a request is answered
 * busy past its kind's limits (WATCH streams and chunk/HAVE/MANIFEST requests have their own,
 * per peer and in total). A busy answer tells the asker to try later or elsewhere.
 */

export interface AdmissionLimits {
  maxStreamsPerPeer: number
  maxStreamsTotal: number
  maxWatchesPerPeer: number
  maxWatches: number
}

/** Admitted, or refused busy with the message the asker gets. */
export type Admission = { admit: true } | { admit: false, message: string }

/** What a request is, for its limits: a long-lived WATCH, or one request and its answer. */
export type RequestKind = 'watch' | 'request'

/** Before the request is read: a stopped server, or one with every stream open, answers busy. */
export function admitStream (running: boolean, openStreams: number, limits: AdmissionLimits): Admission {
  if (running && openStreams < limits.maxStreamsTotal + limits.maxWatches) return { admit: true }
  return { admit: false, message: running ? `busy: ${openStreams} streams open` : 'busy: the server is stopping' }
}

/**
 * Once read: a request of `kind` from a peer that holds `mine` of that kind open, with `total`
 * open from all peers, is admitted while both are under their limits.
 */
export function admitRequest (kind: RequestKind, mine: number, total: number, limits: AdmissionLimits): Admission {
  const [perPeer, all] = kind === 'watch' ? [limits.maxWatchesPerPeer, limits.maxWatches] : [limits.maxStreamsPerPeer, limits.maxStreamsTotal]
  if (mine < perPeer && total < all) return { admit: true }
  return { admit: false, message: `busy: ${total} ${kind === 'watch' ? 'watches' : 'requests'} open, ${mine} from you` }
}
