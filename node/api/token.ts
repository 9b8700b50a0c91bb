/**
 * The bearer token of a node's HTTP API when it listens beyond loopback. The token lives in a file
 * only its owner can read (mode 0600), created with 32 random bytes on first use; a file others
 * can read is refused rather than trusted.
 */
import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { isIP } from 'node:net'
import { ConfigError } from '../../core/errors.js'
import { pathExists, writeFileAtomic } from '../fs.js'

/** Shortest token accepted from a file, in characters. */
export const MIN_TOKEN_LENGTH = 16

/** Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
  return mapped != null && mapped[1]!.startsWith('127.')
}

/** Reads the token in `file`, or creates the file (0600) with a new token when it is missing. */
export async function loadOrCreateApiToken (file: string): Promise<string> {
  if (!await pathExists(file)) {
    const token = randomBytes(32).toString('hex')
    await writeFileAtomic(file, token + '\n', { mode: 0o600 })
    return token
  }
  const info = await stat(file)
  if (!info.isFile()) throw new ConfigError(`the API token file ${file} is not a file`)
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(`the API token file ${file} can be read by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`)
  }
  const token = (await readFile(file, 'utf8')).trim()
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(`the API token in ${file} must be one word of at least ${MIN_TOKEN_LENGTH} characters`)
  }
  return token
}
