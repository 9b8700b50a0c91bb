/**
 * How a shadow candidate's outputs compare with the active version's for the same request. Pure.
 */
import type { Tensor, TensorMap } from './tensors.js'

export interface Comparison {
  /** Both produced the same outputs with the same shapes (otherwise nothing else is meaningful). */
  comparable: boolean
  /** Largest |active − candidate| over every numeric element of every shared output. NaN against a number counts as Infinity. */
  maxAbsDiff: number
  /**
   * Whether the arg-max along the last axis agrees for every row of the first output (the
   * classifier's decision). Outputs with a last axis of 1 agree when both sides fall on the same
   * side of 0.5 (a detector's decision).
   */
  top1Agree: boolean
}

function numeric (t: Tensor): ArrayLike<number> | undefined {
  const d = t.data
  if (Array.isArray(d)) return undefined
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, v => Number(v))
  return d as ArrayLike<number>
}

function sameDims (a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i])
}

function rowsArgMax (values: ArrayLike<number>, last: number): number[] {
  const rows = last === 0 ? 0 : Math.floor(values.length / last)
  const out: number[] = []
  for (let r = 0; r < rows; r++) {
    if (last === 1) {
      out.push((values[r] ?? 0) >= 0.5 ? 1 : 0)
      continue
    }
    let best = 0
    for (let j = 1; j < last; j++) {
      if ((values[r * last + j] ?? -Infinity) > (values[r * last + best] ?? -Infinity)) best = j
    }
    out.push(best)
  }
  return out
}

/** Compares candidate outputs to active outputs; `order` names the outputs, first = the decision. */
export function compareOutputs (active: TensorMap, candidate: TensorMap, order: readonly string[] = Object.keys(active)): Comparison {
  const names = order.filter(n => Object.hasOwn(active, n))
  let maxAbsDiff = 0
  for (const name of names) {
    const a = active[name]
    const c = Object.hasOwn(candidate, name) ? candidate[name] : undefined
    if (a == null || c == null || a.type !== c.type || !sameDims(a.dims, c.dims)) return { comparable: false, maxAbsDiff: Infinity, top1Agree: false }
    const av = numeric(a)
    const cv = numeric(c)
    if (av == null || cv == null) {
      const same = JSON.stringify(a.data) === JSON.stringify(c.data)
      if (!same) maxAbsDiff = Infinity
      continue
    }
    for (let i = 0; i < av.length; i++) {
      const x = av[i] ?? 0
      const y = cv[i] ?? 0
      if (Number.isNaN(x) && Number.isNaN(y)) continue
      const diff = Number.isNaN(x) || Number.isNaN(y) ? Infinity : Math.abs(x - y)
      if (Number.isNaN(diff)) continue // the same infinity on both sides
      if (diff > maxAbsDiff) maxAbsDiff = diff
    }
  }
  const first = names[0]
  let top1Agree = true
  if (first !== undefined) {
    const a = active[first]!
    const c = candidate[first]!
    const av = numeric(a)
    const cv = numeric(c)
    if (av != null && cv != null) {
      const last = a.dims.length === 0 ? 1 : a.dims[a.dims.length - 1]!
      const ra = rowsArgMax(av, last)
      const rc = rowsArgMax(cv, last)
      top1Agree = ra.every((v, i) => v === rc[i])
    } else {
      top1Agree = JSON.stringify(a.data) === JSON.stringify(c.data)
    }
  }
  return { comparable: true, maxAbsDiff, top1Agree }
}
