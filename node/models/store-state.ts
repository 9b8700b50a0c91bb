/**
 * The model store's small mutable state (`state.json`): which version of each model is active,
 * which were active before, and in what order manifests arrived. Plus the retention decision,
 * a pure function of that state.
 */
import { isManifestCid } from '../../core/cid.js'
import { compare as compareSemver } from 'semver'

export const STATE_KIND = 'TuttiModelStore'

export interface ModelPointers {
  /** Manifest CID of the active version. */
  active?: string
  /** `seq` when the active version was set. */
  activatedSeq?: number
  /** Manifest CIDs that were active before, most recent first; never holds `active`. */
  history: string[]
}

export interface StoreState {
  kind: typeof STATE_KIND
  version: 1
  /** Logical clock: bumped on every manifest added and every activation. */
  seq: number
  manifests: Record<string, { addedSeq: number }>
  models: Record<string, ModelPointers>
}

export function emptyState (): StoreState {
  return { kind: STATE_KIND, version: 1, seq: 0, manifests: {}, models: {} }
}

/** Parses state.json; undefined when it is not a state this code wrote. */
export function parseState (text: string): StoreState | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return undefined
  }
  const d = doc as Partial<StoreState>
  if (d?.kind !== STATE_KIND || d.version !== 1 || !Number.isSafeInteger(d.seq)) return undefined
  if (typeof d.manifests !== 'object' || d.manifests == null || typeof d.models !== 'object' || d.models == null) return undefined
  const state = emptyState()
  state.seq = d.seq!
  for (const [cid, m] of Object.entries(d.manifests)) {
    if (isManifestCid(cid) && Number.isSafeInteger(m?.addedSeq)) state.manifests[cid] = { addedSeq: m.addedSeq }
  }
  for (const [name, p] of Object.entries(d.models)) {
    if (typeof p !== 'object' || p == null) continue
    const pointers: ModelPointers = { history: Array.isArray(p.history) ? p.history.filter(isManifestCid) : [] }
    if (isManifestCid(p.active)) {
      pointers.active = p.active
      pointers.activatedSeq = Number.isSafeInteger(p.activatedSeq) ? p.activatedSeq : 0
    }
    state.models[name] = pointers
  }
  return state
}

/** One manifest as retention sees it. */
export interface RetentionEntry {
  cid: string
  name: string
  version: string
  addedSeq: number
}

/**
 * Which manifests to remove. Per model name it keeps:
 * - the active version and the `retainVersions - 1` most recently active before it
 *   (`retainVersions` 2 = active + previous, so a rollback needs no download);
 * - versions never activated that are newer (semver) than the active one or arrived after its
 *   activation: staged for a rollout, possibly still downloading; every never-activated version
 *   when none is active;
 * - anything in `protect`.
 * It removes older previously-active versions, and never-activated versions that are older than
 * the active one and arrived before it was activated (superseded).
 */
export function planRetention (state: StoreState, entries: RetentionEntry[], retainVersions: number, protect: ReadonlySet<string> = new Set()): Set<string> {
  const remove = new Set<string>()
  const versionOf = new Map(entries.map(e => [e.cid, e.version]))
  const keepHistory = Math.max(0, retainVersions - 1)
  for (const e of entries) {
    if (protect.has(e.cid)) continue
    const p = state.models[e.name]
    if (p == null || p.active == null) {
      // Nothing active: only versions that were active once (and are past retention) may go.
      const idx = p?.history.indexOf(e.cid) ?? -1
      if (idx >= keepHistory) remove.add(e.cid)
      continue
    }
    if (p.active === e.cid) continue
    const idx = p.history.indexOf(e.cid)
    if (idx >= 0) {
      if (idx >= keepHistory) remove.add(e.cid)
      continue
    }
    const activeVersion = versionOf.get(p.active)
    const newer = activeVersion != null && compareSemver(e.version, activeVersion) > 0
    if (!newer && e.addedSeq <= (p.activatedSeq ?? 0)) remove.add(e.cid)
  }
  return remove
}
