/**
 * The invariants a run is checked against, over its recorded history (the timeline's events, in
 * time order), like a Jepsen checker: nothing here looks at the engine's state, only at what was
 * recorded. Each check returns the first violating event, so a failed run can print it with its seed.
 */
import type { InvariantName } from '../scenario.js'

/** What the engine records, one JSON line each. Times are virtual ms from the start of the run. */
export type SimEvent =
  | { t: number, type: 'rolloutApplied', rollout: string, policyVersion: number, model: string, oldVersions: string[], newVersion: string }
  | { t: number, type: 'policyHeld', node: number, rollout: string, policyVersion: number }
  | { t: number, type: 'running', node: number, model: string, version: string }
  | { t: number, type: 'promised', node: number, rollout: string, epoch: number, coordinator: string }
  | { t: number, type: 'commandAccepted', node: number, rollout: string, epoch: number, coordinator: string, action: 'activate' | 'revert' }
  | { t: number, type: 'down', node: number, how: 'crash' | 'pause' }
  | { t: number, type: 'up', node: number, how: 'restart' | 'resume' | 'join' }
  | { t: number, type: 'commandRefused', node: number, rollout: string, epoch: number, coordinator: string, code: string }
  | { t: number, type: 'deviceState', node: number, rollout: string, state: string, reason?: string }
  | { t: number, type: 'coordinator', node: number, rollout: string, epoch: number, action: 'takeOver' | 'established' | 'stepDown', reason?: string }
  | { t: number, type: 'phase', rollout: string, phase: string, epoch: number, coordinator: string, step: number, trip?: string }
  | { t: number, type: 'partitioned', groups: number[] }
  | { t: number, type: 'healed' }
  | { t: number, type: 'fault', action: string, nodes: number }
  | { t: number, type: 'digestCheck', node: number, file: string, ok: boolean }
  /** `message`: the coordinator's last word in the newest progress (why it holds, if it does). */
  | { t: number, type: 'end', rollout: string, phase: string, reachableTargets: number, targets: number, message?: string }

export interface Violation {
  invariant: InvariantName
  message: string
  event?: SimEvent
}

/** The first node seen running a version outside {old, new} of a rollout of its model. */
function checkVersions (events: readonly SimEvent[]): Violation | undefined {
  const allowed = new Map<string, Set<string>>()
  for (const e of events) {
    if (e.type === 'rolloutApplied') {
      const set = allowed.get(e.model) ?? new Set<string>()
      for (const v of [...e.oldVersions, e.newVersion]) set.add(v)
      allowed.set(e.model, set)
    } else if (e.type === 'running') {
      const set = allowed.get(e.model)
      if (set !== undefined && !set.has(e.version)) {
        return { invariant: 'versions', message: `node ${e.node} runs ${e.model}@${e.version}, outside {${[...set].join(', ')}}`, event: e }
      }
    }
  }
  return undefined
}

/** At most one coordinator per (rollout, epoch) has commands accepted; none below a node's promise. */
function checkEpochs (events: readonly SimEvent[]): Violation | undefined {
  const owner = new Map<string, string>()
  const promised = new Map<string, number>()
  for (const e of events) {
    if (e.type !== 'promised' && e.type !== 'commandAccepted') continue
    const key = `${e.node}\n${e.rollout}`
    const held = promised.get(key) ?? 0
    if (e.type === 'commandAccepted') {
      if (e.epoch < held) return { invariant: 'singleCoordinator', message: `node ${e.node} applied a command of stale epoch ${e.epoch} (promised ${held})`, event: e }
      const k = `${e.rollout}\n${e.epoch}`
      const first = owner.get(k)
      if (first !== undefined && first !== e.coordinator) {
        return { invariant: 'singleCoordinator', message: `rollout ${e.rollout} epoch ${e.epoch}: commands of ${first} and ${e.coordinator} were both accepted`, event: e }
      }
      owner.set(k, e.coordinator)
    }
    if (e.epoch > held) promised.set(key, e.epoch)
  }
  return undefined
}

/**
 * Every applied policy is held by every live node within `withinMs` of the later of its apply and
 * the last heal (a node that came up later gets `withinMs` from its return). Only deadlines that
 * fall before the end of the run are judged.
 */
function checkConvergence (events: readonly SimEvent[], withinMs: number, endMs: number): Violation | undefined {
  let lastHeal = 0
  const lives = new Map<number, Array<Extract<SimEvent, { type: 'down' | 'up' }>>>()
  const nodes = new Set<number>()
  for (const e of events) {
    if (e.type === 'healed') lastHeal = e.t
    if ('node' in e) nodes.add(e.node)
    if (e.type === 'down' || e.type === 'up') {
      const list = lives.get(e.node) ?? []
      list.push(e)
      lives.set(e.node, list)
    }
  }
  const applied = events.filter((e): e is Extract<SimEvent, { type: 'rolloutApplied' }> => e.type === 'rolloutApplied')
  for (const a of applied) {
    const base = Math.max(a.t, lastHeal)
    const heldAt = new Map<number, number>()
    for (const e of events) {
      if (e.type === 'policyHeld' && e.rollout === a.rollout && e.policyVersion >= a.policyVersion && !heldAt.has(e.node)) heldAt.set(e.node, e.t)
    }
    // Liveness as of each node's deadline; a node that came back gets withinMs from its return.
    for (const node of [...nodes].sort((x, y) => x - y)) {
      const life = lives.get(node) ?? []
      // A node that joined later is judged from its join.
      const joined = life[0]?.type === 'up' && life[0].how === 'join' ? life[0].t : 0
      let deadline = Math.max(base, joined) + withinMs
      let live = true
      for (const e of life) {
        if (e.t > deadline) break
        if (e.type === 'down') live = false
        else { live = true; deadline = Math.max(deadline, e.t + withinMs) }
      }
      if (!live || deadline > endMs) continue
      const t = heldAt.get(node)
      if (t === undefined || t > deadline) {
        return { invariant: 'policyConvergence', message: `node ${node} did not hold ${a.rollout} v${a.policyVersion} by t=${deadline} ms (${withinMs} ms after ${base === a.t ? 'the apply' : 'the last heal'})`, event: a }
      }
    }
  }
  return undefined
}

/** The rollout ends Completed or RolledBack, unless no majority of its targets was reachable. */
function checkEnds (events: readonly SimEvent[]): Violation | undefined {
  for (const e of events) {
    if (e.type !== 'end') continue
    if (e.phase === 'Completed' || e.phase === 'RolledBack') continue
    if (e.targets > 0 && e.reachableTargets >= Math.floor(e.targets / 2) + 1) {
      return { invariant: 'rolloutEnds', message: `rollout ${e.rollout} ended ${e.phase} with ${e.reachableTargets} of ${e.targets} targets reachable${e.message !== undefined && e.message !== '' ? ` (the coordinator: ${e.message})` : ''}`, event: e }
    }
  }
  return undefined
}

/** Every model file found complete in a store after a restart verifies against its digest. */
function checkDigests (events: readonly SimEvent[]): Violation | undefined {
  for (const e of events) {
    if (e.type === 'digestCheck' && !e.ok) return { invariant: 'digests', message: `node ${e.node}: ${e.file} fails its digest after a restart`, event: e }
  }
  return undefined
}

/** Runs the named checks; the first violation of each, in the order asked. */
export function checkInvariants (events: readonly SimEvent[], names: readonly InvariantName[], options: { convergenceWithinMs: number, endMs: number }): Violation[] {
  const out: Violation[] = []
  for (const name of names) {
    let v: Violation | undefined
    switch (name) {
      case 'versions': v = checkVersions(events); break
      case 'singleCoordinator': v = checkEpochs(events); break
      case 'policyConvergence': v = checkConvergence(events, options.convergenceWithinMs, options.endMs); break
      case 'rolloutEnds': v = checkEnds(events); break
      case 'digests': v = checkDigests(events); break
      default: {
        const never: never = name
        throw new TypeError(`unknown invariant ${String(never)}`)
      }
    }
    if (v !== undefined) out.push(v)
  }
  return out
}
