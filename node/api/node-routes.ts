/**
 * The node-info routes of the local HTTP API: `GET /v1/node`, `GET /v1/nodes` and
 * `GET /v1/nodes/{peer}` (a full peer id or a unique suffix of one).
 */
import { ApiError } from './http.js'
import type { ApiRouter } from './http.js'

/** What the routes read of the node. */
export interface NodeRoutesSource {
  /** This node's peer id: the observer of the mesh view. */
  peerId: string
  info: () => unknown
  nodes: () => unknown[]
  /** One node by peer id or unique suffix, undefined when it is not in the mesh view. */
  find: (peerIdOrSuffix: string) => Promise<unknown>
}

export function registerNodeRoutes (router: ApiRouter, node: NodeRoutesSource): void {
  router.add('GET', '/v1/node', () => ({ body: node.info() }))
  router.add('GET', '/v1/nodes', () => ({ body: { observer: node.peerId, nodes: node.nodes() } }))
  router.add('GET', '/v1/nodes/:peerId', async ({ params }) => {
    const found = await node.find(params.peerId ?? '')
    if (found == null) throw new ApiError(404, 'ERR_NOT_FOUND', `node ${params.peerId ?? ''} is not in the mesh view`)
    return { body: found }
  })
}
