/** Shared fixtures of the policy tests (store, gossip, sync): documents whose spec the store treats as opaque. */
import type { PolicyDocument } from '../node/policy/document.js'

/** A policy document `name`@`version`, issued at a fixed time that grows with the version. */
export function policyDoc (name: string, version: number, control: Partial<PolicyDocument['control']> = {}): PolicyDocument {
  return {
    kind: 'RolloutPolicy',
    schema: 1,
    name,
    version,
    issuedAt: new Date(1_764_620_000_000 + version).toISOString(),
    spec: { model: { cid: 'bagaaierarigtmt6iojwgrgiajm2dbk6xjg66krpjfxpjyngisoqfc25hi76q' }, selector: { matchLabels: { class: 'camera' } } },
    control: { paused: false, resumedThrough: -1, undo: false, deleted: false, ...control }
  }
}
