/**
 * The node's local HTTP API, bound to 127.0.0.1 unless told otherwise. JSON in, JSON out; errors
 * as `{ "error": { "code", "message" } }` with a fitting status. A handler that must answer in
 * another protocol's error shape (the Open Inference Protocol's `{ "error": "..." }`) returns it as
 * an ordinary result with its status. Request bodies are read on demand, size-limited, and only
 * `maxConcurrentBodies` at a time (503 past that): each body is buffered whole, so the cap is what
 * bounds memory. Parsing is the handler's: the OIP routes parse large bodies in a worker thread
 * (inference/body-parser.ts), so heartbeats do not wait behind them.
 * With a `token`, every request must carry `Authorization: Bearer <token>` (401 otherwise).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { Logger } from '../../core/logger.js'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ApiRequest {
  method: string
  path: string
  params: Record<string, string>
  query: URLSearchParams
  req: IncomingMessage
  /**
   * The request body, read at most once and refused past `maxBytes` (the server's `maxBodyBytes`
   * by default) with ApiError 413 before more is buffered.
   */
  body(maxBytes?: number): Promise<Uint8Array>
}

export type ApiHandler = (request: ApiRequest) => Promise<ApiResult> | ApiResult

export interface ApiResult {
  status?: number
  body: unknown
  /** Indent the JSON. Turn off for large payloads (tensors). @default true */
  pretty?: boolean
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
  /** Largest request body a handler may read, bytes. @default 16 MiB */
  maxBodyBytes?: number
  /** Requests whose bodies are read and handled at once; more get 503. @default MAX_CONCURRENT_BODIES */
  maxConcurrentBodies?: number
  /** A bearer token every request must present. @default none (loopback only: see tutti-node) */
  token?: string
}

/** Default number of request bodies read and handled at once. @default 2 */
export const MAX_CONCURRENT_BODIES = 2

/** Default largest request body, bytes. @default 16 MiB */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

export interface ApiServer {
  readonly url: string
  close(): Promise<void>
}

export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const log = init.logger.child('api')
  const maxBodies = init.maxConcurrentBodies ?? MAX_CONCURRENT_BODIES
  if (!(Number.isSafeInteger(maxBodies) && maxBodies >= 1)) throw new RangeError('maxConcurrentBodies must be an integer >= 1')
  if (init.token !== undefined && init.token.length < 16) throw new RangeError('an API token must be at least 16 characters')
  const limits: Limits = { maxBodyBytes: init.maxBodyBytes ?? MAX_BODY_BYTES, maxBodies, bodies: 0, tokenDigest: init.token === undefined ? undefined : digest(init.token) }
  const server: Server = createServer((req, res) => {
    void handle(init.router, req, res, log, limits)
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

/** Reads a body up to `maxBytes`; past it, stops reading and asks for the connection to close. */
async function readBody (req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = (): ApiError => {
    res.setHeader('connection', 'close') // the rest of the body is never read
    return new ApiError(413, 'ERR_BODY_TOO_LARGE', `request body is larger than ${maxBytes} bytes`)
  }
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge()
  return await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      total += chunk.length
      if (total > maxBytes) {
        cleanup()
        req.pause()
        reject(tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(Buffer.concat(chunks))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

interface Limits {
  maxBodyBytes: number
  maxBodies: number
  /** Bodies being read or handled now. */
  bodies: number
  tokenDigest?: Buffer
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Whether the request carries the bearer token (compared in constant time, over digests). */
function authorized (req: IncomingMessage, tokenDigest: Buffer | undefined): boolean {
  if (tokenDigest == null) return true
  const header = req.headers.authorization
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false
  return timingSafeEqual(digest(header.slice('Bearer '.length).trim()), tokenDigest)
}

/** Whether a body was announced and not read: answering must then close the connection. */
function bodyLeftUnread (req: IncomingMessage): boolean {
  if (req.readableEnded) return false
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] != null || (length != null && length !== '0')
}

async function handle (router: ApiRouter, req: IncomingMessage, res: ServerResponse, log: Logger, limits: Limits): Promise<void> {
  const maxBodyBytes = limits.maxBodyBytes
  const send = (status: number, body: unknown, headers: Record<string, string> = {}, pretty = true): void => {
    const text = (pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body)) + '\n'
    // Node would otherwise read (and discard) the whole unread body to keep the connection alive.
    const close: Record<string, string> = bodyLeftUnread(req) ? { connection: 'close' } : {}
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...close, ...headers })
    res.end(text)
  }
  if (!authorized(req, limits.tokenDigest)) {
    send(401, { error: { code: 'ERR_UNAUTHORIZED', message: 'this API needs a bearer token: send "Authorization: Bearer <token>" (the token is in the node\'s --api-token-file)' } }, { 'www-authenticate': 'Bearer' })
    return
  }
  // A request target `new URL` cannot parse (`//`) or a parameter with broken percent-encoding
  // (`%E0%A4%A`) throws here; left uncaught, the rejection would take the whole node down.
  let url: URL
  let match: ReturnType<ApiRouter['match']>
  try {
    url = new URL(req.url ?? '/', 'http://localhost')
    match = router.match(req.method ?? 'GET', url.pathname)
  } catch (err) {
    log.debug('malformed request target', { target: req.url?.slice(0, 200), err })
    send(400, { error: { code: 'ERR_BAD_REQUEST', message: 'malformed request path' } })
    return
  }
  if (match == null) {
    send(404, { error: { code: 'ERR_NOT_FOUND', message: `no such endpoint: ${url.pathname}` } })
    return
  }
  if ('allowed' in match) {
    send(405, { error: { code: 'ERR_METHOD_NOT_ALLOWED', message: `${req.method ?? ''} is not allowed on ${url.pathname}` } }, { allow: match.allowed.join(', ') })
    return
  }
  let holdsBody = false
  try {
    let body: Promise<Uint8Array> | undefined
    const result = await match.handler({
      method: req.method ?? 'GET',
      path: url.pathname,
      params: match.params,
      query: url.searchParams,
      req,
      body: async (maxBytes = maxBodyBytes) => {
        if (!holdsBody) {
          if (limits.bodies >= limits.maxBodies) throw new ApiError(503, 'ERR_BUSY', `${limits.maxBodies} requests with a body are being handled; try again`)
          limits.bodies++
          holdsBody = true
        }
        return await (body ??= readBody(req, res, maxBytes))
      }
    })
    send(result.status ?? 200, result.body, {}, result.pretty ?? true)
  } catch (err) {
    if (err instanceof ApiError) {
      send(err.status, { error: { code: err.code, message: err.message } })
      return
    }
    log.error('api handler failed', { path: url.pathname, err })
    send(500, { error: { code: 'ERR_INTERNAL', message: (err as Error).message } })
  } finally {
    if (holdsBody) limits.bodies--
  }
}
