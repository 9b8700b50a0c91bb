/** The node's persistent Ed25519 identity: created once under the data directory, reused after. */
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { TuttiError } from '../core/errors.js'
import { writeFileAtomic } from './fs.js'
import type { PrivateKey } from '@libp2p/interface'

export const IDENTITY_FILE = 'identity.key'

export class IdentityError extends TuttiError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('ERR_IDENTITY', message, options)
    this.name = 'IdentityError'
  }
}

export const BOOTS_FILE = 'boots.json'

/**
 * Counts one more start of the node kept in `dataDir` (`dataDir/boots.json`) and returns how many
 * times it had started before: its restart count, which its heartbeats announce. A missing or
 * unreadable file starts the count again at 0.
 */
export async function countBoot (dataDir: string): Promise<number> {
  const file = join(dataDir, BOOTS_FILE)
  let before = 0
  try {
    const info = await stat(file)
    if (info.size <= 1024) {
      const boots = (JSON.parse(await readFile(file, 'utf8')) as { boots?: unknown }).boots
      if (typeof boots === 'number' && Number.isSafeInteger(boots) && boots >= 0) before = boots
    }
  } catch {
    before = 0 // first start, or a file we cannot read: counting again is all that is lost
  }
  await writeFileAtomic(file, JSON.stringify({ boots: before + 1 }) + '\n')
  return before
}

/** Loads `dataDir/identity.key`, creating it (mode 0600) on first start. */
export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const file = join(dataDir, IDENTITY_FILE)
  let bytes: Uint8Array | undefined
  try {
    const info = await stat(file)
    if (info.size > 4096) throw new IdentityError(`${file} is ${info.size} bytes: not a Tutti identity`)
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof IdentityError) throw err
      throw new IdentityError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
    }
  }
  if (bytes != null) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new IdentityError(`${file} does not hold a valid private key`, { cause: err })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(file, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}
