/** The netns benchmark's `--steps`, as a rollout manifest's steps. */
import { parseRolloutManifest } from '../../node/rollouts/spec.js'
import type { RolloutPlan } from './run.js'

/**
 * `--steps 10,pause:5s,100` as the manifest's `strategy.steps`, checked by the manifest parser
 * (so its errors name the step); the timed pauses summed. An untimed pause waits for a resume no
 * one sends here, so it is refused.
 */
export function rolloutPlan (steps: string, prefetch: boolean): RolloutPlan {
  const items = steps.split(',').map(x => x.trim()).filter(x => x !== '')
  if (items.length === 0) throw new Error('--steps: no step')
  const flow = `[ ${items.map(x => x.startsWith('pause:') ? `{pause: ${x.slice('pause:'.length)}}` : `{setPercent: ${x}}`).join(', ')} ]`
  const parsed = parseRolloutManifest(`apiVersion: tutti.dev/v1
kind: Rollout
metadata: { name: steps }
spec:
  model: { name: m, version: 1.0.0 }
  selector: {}
  strategy:
    steps: ${flow}
`)
  let pausesMs = 0
  let waves = 0
  for (const step of parsed.spec.strategy.steps) {
    if (!('pause' in step)) { waves++; continue }
    if (step.pause.durationMs === undefined) throw new Error('--steps: a pause needs a duration (pause:5s); an untimed one waits for a resume')
    pausesMs += step.pause.durationMs
  }
  return { steps: flow, prefetch, pausesMs, waves }
}

/**
 * The transfer lower bound of apply -> 100% Active for a plan, with T_min the time one device's
 * downlink takes to carry the model: a wave is commanded only once the one before it is Active and
 * the pause after it has run, so without prefetch each wave's download comes after the last:
 * pauses + waves x T_min. With prefetch every later wave downloads once the first is done, during
 * the pauses: T_min + max(pauses, T_min). (One wave: pauses + T_min either way.) Activation is not
 * counted: it is not transfer.
 */
export function rolloutBoundMs (plan: Pick<RolloutPlan, 'prefetch' | 'pausesMs' | 'waves'>, tMinMs: number): number {
  if (plan.waves <= 1) return plan.pausesMs + tMinMs
  return plan.prefetch ? tMinMs + Math.max(plan.pausesMs, tMinMs) : plan.pausesMs + plan.waves * tMinMs
}
