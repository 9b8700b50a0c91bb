/**
 * What `tutti apply --dry-run` prints: the nodes that match now, how many each step would update
 * (in the stable wave order), and the abort criteria in words. Pure, over a snapshot of the view.
 */
import { formatDuration } from '../../core/duration.js'
import { matchesSelector } from '../../core/selector.js'
import { hrwRank } from './hrw.js'
import { effectiveSteps, wantedCount } from './plan.js'
import type { AbortCriterion, RolloutRate, RolloutSpec } from './spec.js'

export interface PreviewNode {
  peerId: string
  /** Labels and live properties (labels win). */
  attributes: Record<string, string>
}

export interface RolloutPreview {
  matching: Array<{ peerId: string }>
  waves: Array<{ step: number, description: string, nodes: number, peers: string[] }>
  gates: string[]
  rate: string
  /**
   * What will hold the rollout with the nodes matching now: a bake window over fewer nodes than a
   * criterion's `minNodes` stays inconclusive, so it holds until `tutti rollout resume`.
   */
  warnings: string[]
}

/** Describes one abort criterion the way an operator reads it. */
export function describeCriterion (c: AbortCriterion): string {
  if ('failureType' in c) {
    const what = c.failureType === 'FAILED' ? 'failed' : c.failureType === 'TIMED_OUT' ? 'timed out' : 'failed or timed out'
    return `${c.thresholdPercentage}% or more of the dispatched nodes ${what} (once ${c.minNodes} have an outcome)`
  }
  const bound = 'max' in c ? `above ${c.max}` : `below ${c.min}`
  return `${c.metric} ${bound} (over nodes with >= ${c.minRequests} requests, at least ${c.minNodes})`
}

export function describeRate (rate: RolloutRate): string {
  if ('unlimited' in rate) return 'no rate limit'
  if ('maxPerMinute' in rate) return `at most ${rate.maxPerMinute} node(s) per minute`
  const e = rate.exponential
  return `${e.baseRatePerMinute}/min, x${e.incrementFactor} every ${e.numberOfSucceededNodes} successes${e.maxPerMinute != null ? `, at most ${e.maxPerMinute}/min` : ''}`
}

export function planPreview (rollout: string, spec: RolloutSpec, nodes: readonly PreviewNode[]): RolloutPreview {
  const matching = nodes.filter(n => matchesSelector(spec.selector, n.attributes)).map(n => n.peerId)
  const order = hrwRank(`${rollout}/waves`, matching)
  const waves: RolloutPreview['waves'] = []
  const warnings: string[] = []
  let updated = 0
  effectiveSteps(spec.strategy.steps).forEach((step, i) => {
    if ('setPercent' in step) {
      const want = wantedCount(step.setPercent, order.length)
      const peers = order.slice(updated, Math.max(updated, want))
      updated = Math.max(updated, want)
      waves.push({ step: i, description: `setPercent ${step.setPercent}%: ${want} of ${order.length} updated`, nodes: peers.length, peers })
      return
    }
    const durationMs = step.pause.durationMs
    waves.push({ step: i, description: durationMs == null ? 'pause until `tutti rollout resume`' : `pause ${formatDuration(durationMs)} (bake: criteria must pass)`, nodes: 0, peers: [] })
    if (durationMs == null) return
    spec.strategy.abort.forEach((c, k) => {
      if (c.minNodes <= updated) return
      warnings.push(`step ${i + 1} (pause ${formatDuration(durationMs)}) bakes ${updated} of the ${order.length} node(s) matching now, but criterion ${k + 1} needs ${c.minNodes}: it stays inconclusive and the rollout holds there until \`tutti rollout resume\``)
    })
  })
  return { matching: matching.map(peerId => ({ peerId })), waves, gates: spec.strategy.abort.map(describeCriterion), rate: describeRate(spec.strategy.rate), warnings }
}
