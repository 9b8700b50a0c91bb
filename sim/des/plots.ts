/**
 * The run's plots as SVG, drawn with Vega-Lite and rendered by Vega in Node (no browser): device
 * states over time, policy spread and the new version's reach, model bytes from the origin and
 * from peers, bytes each node uploaded, and heartbeat bytes per node as the fleet grows (with and
 * without the shard aggregation of docs/HEARTBEATS.md).
 */
import * as vega from 'vega'
import { compile } from 'vega-lite'
import { DEVICE_STATE_KINDS } from '../../node/rollouts/device.js'
import { heartbeatCost } from './heartbeats.js'
import type { TopLevelSpec } from 'vega-lite'
import type { RunResult } from './report.js'

export interface Plot { file: string, title: string, svg: string }

async function render (spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

const WIDTH = 640
const HEIGHT = 260
const minutes = (t: number): number => Math.round(t / 600) / 100

/** Every plot of one run. */
export async function plotRun (r: RunResult, fleetSizes: readonly number[]): Promise<Plot[]> {
  const states: Array<{ min: number, state: string, devices: number }> = []
  for (const s of r.samples) {
    for (const k of [...DEVICE_STATE_KINDS, 'none'] as const) {
      if (s.states[k] > 0) states.push({ min: minutes(s.t), state: k === 'none' ? 'not dispatched' : k, devices: s.states[k] })
    }
  }
  const reach: Array<{ min: number, series: string, nodes: number }> = []
  const bytes: Array<{ min: number, source: string, copies: number }> = []
  for (const s of r.samples) {
    reach.push({ min: minutes(s.t), series: `hold the policy of ${r.rollout}`, nodes: s.policyHolders })
    reach.push({ min: minutes(s.t), series: `run ${r.newVersion}`, nodes: s.onNew })
    reach.push({ min: minutes(s.t), series: 'up', nodes: s.up })
    bytes.push({ min: minutes(s.t), source: 'from the origin', copies: s.originBytes / r.modelBytes })
    bytes.push({ min: minutes(s.t), source: 'from peers', copies: s.peerBytes / r.modelBytes })
  }
  const uploads = r.uploaded.map((b, i) => ({ node: i, mib: b / (1024 * 1024) })).filter(u => u.mib > 0)
  const hb: Array<{ nodes: number, scheme: string, bytesPerSec: number }> = []
  for (const n of fleetSizes) {
    const c = heartbeatCost(n)
    hb.push({ nodes: n, scheme: 'every heartbeat to every node (below the threshold)', bytesPerSec: c.flatBytesPerSec })
    hb.push({ nodes: n, scheme: 'shards + digests (built, modelled)', bytesPerSec: c.shardedBytesPerSec })
  }
  if (r.heartbeat !== undefined) hb.push({ nodes: r.nodes, scheme: 'measured in this run', bytesPerSec: r.heartbeat.bytesReceivedPerNodePerSec })
  const xMin = { field: 'min', type: 'quantitative', title: 'minutes' } as const
  const plots: Array<{ file: string, title: string, spec: TopLevelSpec }> = [
    {
      file: 'states.svg',
      title: 'device states over time',
      spec: {
        width: WIDTH, height: HEIGHT, title: `${r.rollout}: devices by state`,
        data: { values: states }, mark: { type: 'area' },
        encoding: { x: xMin, y: { field: 'devices', type: 'quantitative', stack: 'zero', title: 'devices' }, color: { field: 'state', type: 'nominal' } }
      }
    },
    {
      file: 'reach.svg',
      title: 'policy spread and the new version\'s reach',
      spec: {
        width: WIDTH, height: HEIGHT, title: 'nodes over time',
        data: { values: reach }, mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x: xMin, y: { field: 'nodes', type: 'quantitative', title: 'nodes' }, color: { field: 'series', type: 'nominal', title: null } }
      }
    },
    {
      file: 'bytes.svg',
      title: 'model bytes from the origin and from peers',
      spec: {
        width: WIDTH, height: HEIGHT, title: 'model copies sent (cumulative)',
        data: { values: bytes }, mark: { type: 'line' },
        encoding: { x: xMin, y: { field: 'copies', type: 'quantitative', title: 'copies of the model' }, color: { field: 'source', type: 'nominal', title: null } }
      }
    },
    {
      file: 'uploads.svg',
      title: 'bytes each node uploaded',
      spec: {
        width: WIDTH, height: HEIGHT, title: 'model MiB uploaded per node (nodes that uploaded any)',
        data: { values: uploads.length > 0 ? uploads : [{ node: 0, mib: 0 }] }, mark: { type: 'bar' },
        encoding: { x: { field: 'mib', type: 'quantitative', bin: { maxbins: 40 }, title: 'MiB uploaded' }, y: { aggregate: 'count', type: 'quantitative', title: 'nodes' } }
      }
    },
    {
      file: 'heartbeats.svg',
      title: 'heartbeat bytes per node as the fleet grows',
      spec: {
        width: WIDTH, height: HEIGHT, title: 'heartbeat bytes received per node per second',
        data: { values: hb }, mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'nodes', type: 'quantitative', scale: { type: 'log' }, title: 'fleet size' },
          y: { field: 'bytesPerSec', type: 'quantitative', scale: { type: 'log' }, title: 'bytes/s' },
          color: { field: 'scheme', type: 'nominal', title: null }
        }
      }
    }
  ]
  const out: Plot[] = []
  for (const p of plots) out.push({ file: p.file, title: p.title, svg: await render(p.spec) })
  return out
}
