/**
 * Settings of one node that outlive its process, in DATA/config.json: given once on the command
 * line (`tutti node start --keep-versions 3`), kept for every later start that does not give them
 * again. What the file holds is checked; an unreadable file is a configuration error, never
 * silently replaced.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../core/errors.js'
import { MAX_KEEP_VERSIONS } from './models/constants.js'
import { formatIssues, schemaIssues } from '../core/schema.js'
import { writeFileAtomic } from './fs.js'

export const NODE_CONFIG_FILE = 'config.json'

/** Largest config file read, in bytes. */
const MAX_CONFIG_BYTES = 64 * 1024

const NodeConfigSchema = z.object({
  version: z.literal(1, { error: 'must be 1' }),
  /** Versions of each model the store keeps: the active one and those active before it. */
  keepVersions: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(MAX_KEEP_VERSIONS, `must be at most ${MAX_KEEP_VERSIONS}`).optional()
}, { error: 'not an object' })

export type NodeConfig = z.infer<typeof NodeConfigSchema>

/** The persisted settings with those given now applied (pure): a given value wins and is kept. */
export function mergeNodeConfig (persisted: NodeConfig, given: Partial<Omit<NodeConfig, 'version'>>): NodeConfig {
  const out: NodeConfig = { ...persisted, version: 1 }
  if (given.keepVersions != null) out.keepVersions = given.keepVersions
  return out
}

/** DATA/config.json, or an empty config when there is none. Throws ConfigError when it is unreadable. */
export async function readNodeConfig (dataDir: string): Promise<NodeConfig> {
  const file = join(dataDir, NODE_CONFIG_FILE)
  let raw: Buffer
  try {
    raw = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1 }
    throw err
  }
  if (raw.byteLength > MAX_CONFIG_BYTES) throw new ConfigError(`${file} is larger than ${MAX_CONFIG_BYTES} bytes`)
  let doc: unknown
  try {
    doc = JSON.parse(raw.toString('utf8'))
  } catch {
    throw new ConfigError(`${file} is not JSON: fix or remove it`)
  }
  const parsed = NodeConfigSchema.safeParse(doc)
  if (!parsed.success) throw new ConfigError(`${file} is not a node config: ${formatIssues(schemaIssues(parsed.error))}`)
  return parsed.data
}

/**
 * Applies `given` to the persisted config, writes it back when that changed something, and
 * returns the config the node runs with.
 */
export async function updateNodeConfig (dataDir: string, given: Partial<Omit<NodeConfig, 'version'>>): Promise<NodeConfig> {
  const persisted = await readNodeConfig(dataDir)
  const next = mergeNodeConfig(persisted, given)
  if (JSON.stringify(next) !== JSON.stringify(persisted)) {
    await writeFileAtomic(join(dataDir, NODE_CONFIG_FILE), JSON.stringify(next, null, 2) + '\n')
  }
  return next
}
