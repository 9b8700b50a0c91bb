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
