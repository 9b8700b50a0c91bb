/**
 * The node's local HTTP API, bound to 127.0.0.1 unless told otherwise. JSON in, JSON out; errors
 * as `{ "error": { "code", "message" } }` with a fitting status.
 */
import { createServer } from 'node:http'
import type { Logger } from '../logger.js'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ApiRequest {
  method: string
  path: string
  params: Record<string, string>
  query: URLSearchParams
  req: IncomingMessage
}

export type ApiHandler = (request: ApiRequest) => Promise<ApiResult> | ApiResult

export interface ApiResult {
  status?: number
  body: unknown
}

/** An error a handler throws to answer with a specific status and code. */
export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
    this.name = 'ApiError'
  }
}

interface Route {
  method: string
  pattern: RegExp
  names: string[]
  handler: ApiHandler
}

/** A tiny router: `/v1/nodes/:peerId` style paths, exact methods. */
export class ApiRouter {
  private readonly routes: Route[] = []

  add (method: string, path: string, handler: ApiHandler): this {
    const names: string[] = []
    const pattern = new RegExp('^' + path.split('/').map(part => {
      if (part.startsWith(':')) {
        names.push(part.slice(1))
        return '([^/]+)'
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    }).join('/') + '$')
    this.routes.push({ method, pattern, names, handler })
    return this
  }

  match (method: string, path: string): { handler: ApiHandler, params: Record<string, string> } | { allowed: string[] } | undefined {
    const allowed: string[] = []
    for (const route of this.routes) {
      const m = route.pattern.exec(path)
      if (m == null) continue
      if (route.method !== method) {
        allowed.push(route.method)
        continue
      }
      const params: Record<string, string> = {}
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '')
      })
      return { handler: route.handler, params }
    }
    return allowed.length > 0 ? { allowed } : undefined
  }
}

export interface ApiServerInit {
  router: ApiRouter
  logger: Logger
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 7411 */
  port?: number
}

export interface ApiServer {
  readonly url: string
  close(): Promise<void>
}

export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const log = init.logger.child('api')
  const server: Server = createServer((req, res) => {
    void handle(init.router, req, res, log)
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 7411, init.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const url = `http://${host}:${addr.port}`
  log.info('api listening', { url })
  return {
    url,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

async function handle (router: ApiRouter, req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body, null, 2) + '\n'
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }
  const match = router.match(req.method ?? 'GET', url.pathname)
  if (match == null) {
    send(404, { error: { code: 'ERR_NOT_FOUND', message: `no such endpoint: ${url.pathname}` } })
    return
  }
  if ('allowed' in match) {
    send(405, { error: { code: 'ERR_METHOD_NOT_ALLOWED', message: `${req.method ?? ''} is not allowed on ${url.pathname}` } }, { allow: match.allowed.join(', ') })
    return
  }
  try {
    const result = await match.handler({ method: req.method ?? 'GET', path: url.pathname, params: match.params, query: url.searchParams, req })
    send(result.status ?? 200, result.body)
  } catch (err) {
    if (err instanceof ApiError) {
      send(err.status, { error: { code: err.code, message: err.message } })
      return
    }
    log.error('api handler failed', { path: url.pathname, err })
    send(500, { error: { code: 'ERR_INTERNAL', message: (err as Error).message } })
  }
}
