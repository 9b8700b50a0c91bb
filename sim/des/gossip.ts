/**
 * Policy gossip for the discrete-event simulator: epidemic spread over a random regular graph,
 * each hop a message with the link's latency (plus jitter) that a partition or loss drops. Every
 * node folds what it receives with the node's own merge (`mergePolicy`) and forwards only what it
 * accepted, as gossipsub forwards a message it validated. When links come back (heal, restart)
 * the two ends exchange what they hold, as the policy sync protocol does on (re)connect.
 * Virtual time only: the ManualClock schedules every delivery (O(log T) each).
 */
import { mergePolicy } from '../../node/policy/merge.js'
import type { ManualClock } from '../../core/clock.js'
import type { PolicyHead } from '../../protocols/policy/index.js'
import type { LinkShape } from '../scenario.js'

/** A policy as gossip carries it: its name and head (version, payload CID). */
export interface GossipPolicy extends PolicyHead {
  name: string
}

export interface GossipNodeState {
  up: boolean
  /** Partition group; messages between different groups are dropped. */
  group: number
  held: Map<string, GossipPolicy>
}

/** A random d-regular-ish graph: the union of d/2 random Hamiltonian cycles (no self loops). */
export function randomRegularGraph (n: number, degree: number, random: () => number): number[][] {
  const adj: Array<Set<number>> = Array.from({ length: n }, () => new Set<number>())
  if (n < 2) return adj.map(s => [...s])
  for (let c = 0; c < Math.max(1, Math.floor(degree / 2)); c++) {
    const order = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    for (let i = 0; i < n; i++) {
      const a = order[i]!
      const b = order[(i + 1) % n]!
      if (a !== b) { adj[a]!.add(b); adj[b]!.add(a) }
    }
  }
  return adj.map(s => [...s].sort((x, y) => x - y))
}

/** What happened to one node's policies, for the timeline. */
export interface PolicyAccepted {
  atMs: number
  node: number
  policy: GossipPolicy
}

export class PolicyGossip {
  readonly nodes: GossipNodeState[]
  private readonly adj: number[][]
  /** Messages sent, and bytes, for the summary. */
  messages = 0
  dropped = 0

  constructor (
    private readonly clock: ManualClock,
    private readonly random: () => number,
    private readonly link: LinkShape,
    n: number,
    private readonly degree: number,
    private readonly onAccept: (event: PolicyAccepted) => void,
    /** The shape of one link, when links differ (default: `link` everywhere). */
    private readonly linkOf: (from: number, to: number) => LinkShape = () => link
  ) {
    this.adj = randomRegularGraph(n, degree, random)
    this.nodes = Array.from({ length: n }, () => ({ up: true, group: 0, held: new Map() }))
  }

  /** A node joins: it connects to `degree` random nodes and syncs with them. Returns its index. */
  join (group = 0): number {
    const i = this.nodes.length
    this.nodes.push({ up: true, group, held: new Map() })
    const links = new Set<number>()
    for (let t = 0; t < this.degree * 4 && links.size < Math.min(this.degree, i); t++) links.add(Math.floor(this.random() * i))
    this.adj.push([...links].sort((a, b) => a - b))
    for (const p of links) this.adj[p]!.push(i)
    this.syncAround([i])
    return i
  }

  /**
   * Anti-entropy round: every live node syncs with one random neighbour (the policy sync protocol
   * does so every 30 s); only heads that differ cost messages.
   */
  antiEntropy (): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const a = this.nodes[i]!
      const adj = this.adj[i]!
      if (!a.up || adj.length === 0) continue
      const j = adj[Math.floor(this.random() * adj.length)]!
      const b = this.nodes[j]!
      if (!b.up || a.group !== b.group) continue
      for (const p of a.held.values()) if (b.held.get(p.name)?.version !== p.version) this.send(i, j, p)
      for (const p of b.held.values()) if (a.held.get(p.name)?.version !== p.version) this.send(j, i, p)
    }
  }

  neighbours (node: number): readonly number[] {
    return this.adj[node]!
  }

  /** An admin applies `policy` at `node` (the peer the CLI is attached to). */
  apply (node: number, policy: GossipPolicy): void {
    this.receive(node, policy)
  }

  /** Folds `policy` into `node`'s store with the node's merge; forwards it when accepted. */
  private receive (node: number, policy: GossipPolicy): void {
    const state = this.nodes[node]!
    if (!state.up) return
    const decision = mergePolicy(state.held.get(policy.name), policy)
    if (decision.kind !== 'accept') return
    state.held.set(policy.name, policy)
    this.onAccept({ atMs: this.clock.now(), node, policy })
    for (const peer of this.adj[node]!) this.send(node, peer, policy)
  }

  private send (from: number, to: number, policy: GossipPolicy): void {
    this.messages++
    const link = this.linkOf(from, to)
    if (this.random() < link.loss) {
      this.dropped++
      return
    }
    const delay = link.latencyMs + (link.jitterMs > 0 ? this.random() * link.jitterMs : 0)
    this.clock.setTimeout(() => {
      const a = this.nodes[from]!
      const b = this.nodes[to]!
      // Checked at delivery: a partition or crash while in flight drops the message.
      if (!b.up || a.group !== b.group) {
        this.dropped++
        return
      }
      this.receive(to, policy)
    }, delay)
  }

  /** Both ends of every link that works now send each other what they hold (sync on connect). */
  private syncAround (nodes: Iterable<number>): void {
    for (const node of nodes) {
      const a = this.nodes[node]!
      if (!a.up) continue
      for (const peer of this.adj[node]!) {
        const b = this.nodes[peer]!
        if (!b.up || a.group !== b.group) continue
        for (const p of a.held.values()) this.send(node, peer, p)
        for (const p of b.held.values()) this.send(peer, node, p)
      }
    }
  }

  /** Puts each node in its group (index into `groups`); links across groups stop working. */
  partition (groupOf: (node: number) => number): void {
    this.nodes.forEach((s, i) => { s.group = groupOf(i) })
  }

  /** Every link works again; the ends of links that were cut exchange what they hold. */
  heal (): void {
    const cut = new Set<number>()
    this.nodes.forEach((s, i) => {
      if (this.adj[i]!.some(p => this.nodes[p]!.group !== s.group)) cut.add(i)
    })
    for (const s of this.nodes) s.group = 0
    this.syncAround(cut)
  }

  /** Moves one node to a group (a node that joins during a partition). */
  setGroup (node: number, group: number): void {
    this.nodes[node]!.group = group
  }

  /** A crash: the node stops receiving; its store (on disk) survives. */
  crash (node: number): void {
    this.nodes[node]!.up = false
  }

  /** A restart: the node is back with what it held and syncs with its neighbours. */
  restart (node: number): void {
    this.nodes[node]!.up = true
    this.syncAround([node])
  }
}
