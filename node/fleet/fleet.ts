/**
 * The fleet and its trust root. `fleet.json` is public to every node of the fleet: its id, the
 * pre-shared network key that makes the mesh private (@libp2p/pnet), and the admin public keys
 * every node is enrolled with. `admin.key` is the admin's private key and stays with the admin.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { base64 } from 'multiformats/bases/base64'
import { z } from 'zod'
import { isoTime, systemClock } from '../../core/clock.js'
import { TuttiError } from '../../core/errors.js'
import { formatIssues, schemaIssues } from '../../core/schema.js'
import { pathExists, writeFileAtomic } from '../fs.js'
import type { Clock } from '../../core/clock.js'
import type { PrivateKey, PublicKey } from '@libp2p/interface'

export const FLEET_FILE = 'fleet.json'
export const ADMIN_KEY_FILE = 'admin.key'
const FLEET_KIND = 'TuttiFleet'
const ADMIN_KEY_KIND = 'TuttiAdminKey'
const MAX_FLEET_FILE_BYTES = 64 * 1024

export interface AdminIdentity {
  name: string
  /** The admin's libp2p peer id: what a node sees as the remote peer of an admin connection. */
  peerId: string
  /** Ed25519 public key, protobuf-encoded, base64. */
  publicKey: string
}

export interface FleetConfig {
  kind: typeof FLEET_KIND
  version: 1
  fleetId: string
  name: string
  /** 32-byte pre-shared network key, hex. */
  networkKey: string
  admins: AdminIdentity[]
  createdAt: string
}

export interface AdminKeyFile {
  kind: typeof ADMIN_KEY_KIND
  version: 1
  fleetId: string
  name: string
  /** Ed25519 private key, protobuf-encoded, base64. */
  privateKey: string
}

/** The fleet file or key is missing, unreadable, malformed or unsafe. */
export class FleetError extends TuttiError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('ERR_FLEET', message, options)
    this.name = 'FleetError'
  }
}

export interface InitFleetOptions {
  dir: string
  /** @default the directory's name */
  name?: string
  /** @default 'admin' */
  adminName?: string
  /** Overwrite an existing fleet in `dir`. @default false */
  force?: boolean
  /** Stamps `createdAt`. @default systemClock */
  clock?: Pick<Clock, 'now'>
}

export interface InitFleetResult {
  fleet: FleetConfig
  fleetFile: string
  adminKeyFile: string
  adminKey: PrivateKey
}

/**
 * Creates a new fleet: `dir/fleet.json` and `dir/admin.key`, both mode 0600 (fleet.json holds the
 * private network key). Refuses to overwrite.
 */
export async function initFleet (options: InitFleetOptions): Promise<InitFleetResult> {
  const dir = resolve(options.dir)
  const fleetFile = join(dir, FLEET_FILE)
  const adminKeyFile = join(dir, ADMIN_KEY_FILE)
  if (options.force !== true) {
    for (const file of [fleetFile, adminKeyFile]) {
      if (await pathExists(file)) throw new FleetError(`${file} already exists; refusing to overwrite a fleet (use --force)`)
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const adminName = options.adminName ?? 'admin'
  const { fleet, adminKey } = await createFleet({ name: options.name ?? dir.split('/').filter(Boolean).pop(), adminName, clock: options.clock })
  await writeKeyFile(adminKeyFile, adminKey, fleet.fleetId, adminName)
  await writeFileAtomic(fleetFile, JSON.stringify(fleet, null, 2) + '\n', { mode: 0o600 })
  return { fleet, fleetFile, adminKeyFile, adminKey }
}

/** Options of {@link createFleet}. */
export interface CreateFleetOptions {
  /** @default the fleet id */
  name?: string
  /** @default 'admin' */
  adminName?: string
  /** Stamps `createdAt`. @default systemClock */
  clock?: Pick<Clock, 'now'>
}

/**
 * A new fleet document and its admin key, in memory: a fresh fleet id, network key and admin
 * identity. What `initFleet` writes, and what tests and benchmarks use without files.
 */
export async function createFleet (options: CreateFleetOptions = {}): Promise<{ fleet: FleetConfig, adminKey: PrivateKey }> {
  const adminKey = await generateKeyPair('Ed25519')
  const fleetId = `fleet-${randomBytes(8).toString('hex')}`
  const fleet: FleetConfig = {
    kind: FLEET_KIND,
    version: 1,
    fleetId,
    name: options.name ?? fleetId,
    networkKey: randomBytes(32).toString('hex'),
    admins: [adminIdentity(options.adminName ?? 'admin', adminKey.publicKey)],
    createdAt: isoTime((options.clock ?? systemClock).now())
  }
  return { fleet, adminKey }
}

export function adminIdentity (name: string, publicKey: PublicKey): AdminIdentity {
  return {
    name,
    peerId: peerIdFromPublicKey(publicKey).toString(),
    publicKey: base64.baseEncode(publicKeyToProtobuf(publicKey))
  }
}

/** Reads and validates a fleet file. */
export async function loadFleet (file: string): Promise<FleetConfig> {
  const raw = await readLimited(file, 'fleet file')
  let doc: unknown
  try {
    doc = JSON.parse(raw)
  } catch (err) {
    throw new FleetError(`${file} is not valid JSON`, { cause: err })
  }
  return parseFleet(doc, file)
}

const FleetAdminSchema = z.object({
  name: z.string().optional(),
  peerId: z.string({ error: 'missing (every admin needs peerId and publicKey)' }),
  publicKey: z.string({ error: 'missing (every admin needs peerId and publicKey)' })
}, { error: 'needs peerId and publicKey' }).transform((admin, ctx) => {
  let derived: string
  try {
    derived = peerIdFromPublicKey(publicKeyFromProtobuf(base64.baseDecode(admin.publicKey))).toString()
  } catch {
    ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'is not a valid public key' })
    return z.NEVER
  }
  if (derived !== admin.peerId) ctx.addIssue({ code: 'custom', path: ['peerId'], message: 'does not match its public key' })
  return { ...admin, peerId: derived }
})

/** fleet.json as written by `tutti fleet init` or by hand; unknown fields are dropped. */
const FleetSchema = z.object({
  kind: z.literal(FLEET_KIND, { error: `must be "${FLEET_KIND}"` }),
  version: z.literal(1, { error: iss => `unsupported version ${String(iss.input)} (this node reads version 1)` }),
  fleetId: z.string({ error: 'is missing' }).regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, ".", "_" or "-"' }),
  name: z.string().optional(),
  networkKey: z.string({ error: 'must be 64 hex characters' }).regex(/^[0-9a-f]{64}$/, { error: 'must be 64 hex characters' }),
  admins: z.array(FleetAdminSchema, { error: 'must list at least one admin' }).min(1, { error: 'must list at least one admin' }),
  createdAt: z.string().optional()
}, { error: 'not an object' })

/**
 * Validates a parsed fleet document; every admin's peer id must match its public key. Throws a
 * {@link FleetError} naming each bad field (`fleet.json: admins[0].peerId: does not match its public key`).
 */
export function parseFleet (doc: unknown, source = 'fleet'): FleetConfig {
  const parsed = FleetSchema.safeParse(doc)
  if (!parsed.success) throw new FleetError(`${source}: ${formatIssues(schemaIssues(parsed.error))}`)
  const d = parsed.data
  return {
    kind: FLEET_KIND,
    version: 1,
    fleetId: d.fleetId,
    name: d.name ?? d.fleetId,
    networkKey: d.networkKey,
    admins: d.admins.map((a, i) => ({ name: a.name ?? `admin-${i}`, peerId: a.peerId, publicKey: a.publicKey })),
    createdAt: d.createdAt ?? ''
  }
}

/** The fleet key in the swarm-key format @libp2p/pnet expects. */
export function swarmKey (fleet: FleetConfig): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${fleet.networkKey}`)
}

export function isAdmin (fleet: FleetConfig, peerId: string): boolean {
  return fleet.admins.some(a => a.peerId === peerId)
}

/**
 * Why a file holding a secret is unsafe (others may read it), with the command that fixes it, or
 * undefined when only its owner can read it. What `tutti node start` warns about for fleet.json.
 */
export async function exposedSecret (file: string, what: string): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined
  const mode = (await stat(file)).mode
  if ((mode & 0o077) === 0) return undefined
  return `${what} ${file} is accessible by others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`
}

/**
 * Loads an admin's private key. Like ssh, refuses a key file that others can read. What the file
 * is gets checked first, so the fleet file given in its place is named as such, not chmod-ed.
 */
export async function loadAdminKey (file: string): Promise<{ key: PrivateKey, file: AdminKeyFile }> {
  const raw = await readLimited(file, 'key file')
  let doc: Partial<AdminKeyFile>
  try {
    doc = JSON.parse(raw)
  } catch (err) {
    throw new FleetError(`${file} is not a Tutti key file (not JSON)`, { cause: err })
  }
  if ((doc as { kind?: unknown }).kind === FLEET_KIND) {
    throw new FleetError(`${file} is a fleet file, not an admin key: the admin key is the ${ADMIN_KEY_FILE} that 'tutti fleet init' wrote (${join(dirname(file), ADMIN_KEY_FILE)}, if it sits beside it)`)
  }
  if (doc.kind !== ADMIN_KEY_KIND || doc.version !== 1 || typeof doc.privateKey !== 'string') {
    throw new FleetError(`${file} is not a Tutti key file`)
  }
  const exposed = await exposedSecret(file, 'key file')
  if (exposed != null) throw new FleetError(exposed)
  try {
    const key = privateKeyFromProtobuf(base64.baseDecode(doc.privateKey))
    return { key, file: doc as AdminKeyFile }
  } catch (err) {
    throw new FleetError(`${file} holds no valid private key`, { cause: err })
  }
}

/** Writes a key file for an identity that is not (necessarily) an admin: for tests and tooling. */
export async function writeKeyFile (file: string, key: PrivateKey, fleetId: string, name: string): Promise<void> {
  const doc: AdminKeyFile = { kind: ADMIN_KEY_KIND, version: 1, fleetId, name, privateKey: base64.baseEncode(privateKeyToProtobuf(key)) }
  await writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 })
}

async function readLimited (file: string, what: string): Promise<string> {
  let info
  try {
    info = await stat(file)
  } catch (err) {
    throw new FleetError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err })
  }
  if (!info.isFile()) throw new FleetError(`${what} ${file} is not a file`)
  if (info.size > MAX_FLEET_FILE_BYTES) throw new FleetError(`${what} ${file} is ${info.size} bytes, larger than ${MAX_FLEET_FILE_BYTES}`)
  return await readFile(file, 'utf8')
}


