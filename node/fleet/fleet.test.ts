import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ADMIN_KEY_FILE, FLEET_FILE, FleetError, adminIdentity, exposedSecret, initFleet, isAdmin, loadAdminKey, loadFleet,
  parseFleet, swarmKey, writeKeyFile
} from './fleet.js'
import type { FleetConfig } from './fleet.js'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tutti-fleet-'))
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function rejection (promise: Promise<unknown>): Promise<FleetError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(FleetError)
    expect((err as FleetError).code).toBe('ERR_FLEET')
    return err as FleetError
  }
  throw new Error('expected a FleetError')
}

async function modeOf (file: string): Promise<number> {
  return (await stat(file)).mode & 0o777
}

async function writeFleet (doc: unknown, name = 'fleet.json'): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return file
}

async function validFleet (): Promise<FleetConfig> {
  const { fleet } = await initFleet({ dir: join(dir, 'source') })
  return fleet
}

describe('initFleet', () => {
  it('writes fleet.json and an admin.key only its owner can read', async () => {
    const fleetDir = join(dir, 'acme')
    const result = await initFleet({ dir: fleetDir })
    expect(result.fleetFile).toBe(join(fleetDir, FLEET_FILE))
    expect(result.adminKeyFile).toBe(join(fleetDir, ADMIN_KEY_FILE))
    expect(await modeOf(result.adminKeyFile)).toBe(0o600)
    expect(await modeOf(result.fleetFile)).toBe(0o600) // it holds the private network key
    expect(result.fleet.name).toBe('acme')
    expect(result.fleet.fleetId).toMatch(/^fleet-[0-9a-f]{16}$/)
    expect(result.fleet.networkKey).toMatch(/^[0-9a-f]{64}$/)
    expect(result.fleet.admins).toEqual([adminIdentity('admin', result.adminKey.publicKey)])
    // The files say what the result says, and nothing secret is in fleet.json.
    expect(await loadFleet(result.fleetFile)).toEqual(result.fleet)
    expect(await readFile(result.fleetFile, 'utf8')).not.toContain('privateKey')
    const { key, file } = await loadAdminKey(result.adminKeyFile)
    expect(key.equals(result.adminKey)).toBe(true)
    expect(file.fleetId).toBe(result.fleet.fleetId)
    expect(isAdmin(result.fleet, peerIdFromPrivateKey(key).toString())).toBe(true)
  })

  it('creates different fleets each time', async () => {
    const a = await initFleet({ dir: join(dir, 'a') })
    const b = await initFleet({ dir: join(dir, 'b') })
    expect(a.fleet.fleetId).not.toBe(b.fleet.fleetId)
    expect(a.fleet.networkKey).not.toBe(b.fleet.networkKey)
    expect(a.fleet.admins[0]!.peerId).not.toBe(b.fleet.admins[0]!.peerId)
  })

  it('refuses to overwrite an existing fleet, and leaves it as it was', async () => {
    const first = await initFleet({ dir })
    const before = await readFile(first.adminKeyFile, 'utf8')
    const err = await rejection(initFleet({ dir }))
    expect(err.message).toMatch(/already exists; refusing to overwrite/)
    expect(await readFile(first.adminKeyFile, 'utf8')).toBe(before)
    expect((await loadFleet(first.fleetFile)).fleetId).toBe(first.fleet.fleetId)
  })

  it('refuses when only the key file is left over', async () => {
    const first = await initFleet({ dir })
    await rm(first.fleetFile)
    await rejection(initFleet({ dir }))
  })

  it('overwrites with force, and the old admin key is no longer an admin', async () => {
    const first = await initFleet({ dir })
    const second = await initFleet({ dir, force: true })
    expect(second.fleet.fleetId).not.toBe(first.fleet.fleetId)
    expect(await modeOf(second.adminKeyFile)).toBe(0o600)
    const loaded = await loadFleet(second.fleetFile)
    expect(isAdmin(loaded, first.fleet.admins[0]!.peerId)).toBe(false)
    expect(isAdmin(loaded, second.fleet.admins[0]!.peerId)).toBe(true)
  })
})

describe('loadFleet', () => {
  it('rejects a missing file', async () => {
    expect((await rejection(loadFleet(join(dir, 'nope.json')))).message).toMatch(/no such file/)
  })

  it('rejects a directory', async () => {
    await mkdir(join(dir, 'fleet.json'))
    expect((await rejection(loadFleet(join(dir, 'fleet.json')))).message).toMatch(/is not a file/)
  })

  it('rejects bad JSON', async () => {
    const err = await rejection(loadFleet(await writeFleet('{"kind": "TuttiFleet",')))
    expect(err.message).toMatch(/not valid JSON/)
    expect(err.cause).toBeInstanceOf(SyntaxError)
  })

  it.each<[string, (f: Record<string, unknown>) => unknown, RegExp]>([
    ['not an object', () => 42, /not an object/],
    ['null', () => null, /not an object/],
    ['a wrong kind', f => ({ ...f, kind: 'KubeConfig' }), /kind: must be "TuttiFleet"/],
    ['a newer version', f => ({ ...f, version: 2 }), /unsupported version 2/],
    ['a malformed fleet id', f => ({ ...f, fleetId: 'a b' }), /fleetId/],
    ['a short network key', f => ({ ...f, networkKey: 'ab'.repeat(31) }), /networkKey: must be 64 hex/],
    ['a network key with upper case', f => ({ ...f, networkKey: 'AB'.repeat(32) }), /networkKey/],
    ['a network key that is not hex', f => ({ ...f, networkKey: 'zz'.repeat(32) }), /networkKey/],
    ['a missing network key', f => ({ ...f, networkKey: undefined }), /networkKey/],
    ['no admins', f => ({ ...f, admins: [] }), /at least one admin/],
    ['admins not a list', f => ({ ...f, admins: 'root' }), /at least one admin/],
    ['an admin that is null', f => ({ ...f, admins: [null] }), /admins\[0\]: needs peerId and publicKey/],
    ['an admin without a public key', f => ({ ...f, admins: [{ name: 'x', peerId: (f.admins as any[])[0].peerId }] }), /needs peerId and publicKey/],
    ['an admin public key that is not a key', f => ({ ...f, admins: [{ ...(f.admins as any[])[0], publicKey: 'bm90IGEga2V5' }] }), /not a valid public key/]
  ])('rejects a fleet with %s', async (_what, mutate, message) => {
    const fleet = await validFleet()
    const err = await rejection(loadFleet(await writeFleet(mutate({ ...fleet }))))
    expect(err.message).toMatch(message)
  })

  it("rejects an admin whose peer id does not match its public key", async () => {
    const fleet = await validFleet()
    const other = await generateKeyPair('Ed25519')
    const forged = { ...fleet.admins[0]!, peerId: peerIdFromPrivateKey(other).toString() }
    const err = await rejection(loadFleet(await writeFleet({ ...fleet, admins: [forged] })))
    expect(err.message).toMatch(/admins\[0\]\.peerId: does not match its public key/)
  })

  it('names every bad field, by its path, in one message', async () => {
    const fleet = await validFleet()
    const err = await rejection(loadFleet(await writeFleet({ ...fleet, kind: 'x', admins: [{ ...fleet.admins[0]!, publicKey: 7 }] })))
    expect(err.message).toMatch(/: kind: must be "TuttiFleet"; admins\[0\]\.publicKey: missing \(every admin needs peerId and publicKey\)$/)
  })

  it('rejects a file larger than 64 KiB without parsing it', async () => {
    const fleet = await validFleet()
    const err = await rejection(loadFleet(await writeFleet({ ...fleet, padding: 'x'.repeat(64 * 1024) })))
    expect(err.message).toMatch(/larger than 65536/)
  })

  it('reads a valid fleet written by hand, filling in optional fields', async () => {
    const fleet = await validFleet()
    const { name: _n, createdAt: _c, ...minimal } = fleet
    const loaded = await loadFleet(await writeFleet({ ...minimal, admins: [{ peerId: fleet.admins[0]!.peerId, publicKey: fleet.admins[0]!.publicKey }] }))
    expect(loaded.name).toBe(fleet.fleetId)
    expect(loaded.admins[0]!.name).toBe('admin-0')
    expect(loaded.createdAt).toBe('')
  })

  it('parseFleet drops unknown fields', async () => {
    const fleet = await validFleet()
    expect(parseFleet({ ...fleet, extra: true })).toEqual(fleet)
  })
})

describe('loadAdminKey', () => {
  it('refuses a key file others can read (mode 0644)', async () => {
    const { adminKeyFile } = await initFleet({ dir })
    await chmod(adminKeyFile, 0o644)
    const err = await rejection(loadAdminKey(adminKeyFile))
    expect(err.message).toMatch(/accessible by others \(mode 644\); run: chmod 600/)
    await chmod(adminKeyFile, 0o640)
    await rejection(loadAdminKey(adminKeyFile))
    await chmod(adminKeyFile, 0o400)
    await expect(loadAdminKey(adminKeyFile)).resolves.toBeDefined()
  })

  it('names the fleet file given in place of the key, whatever its mode, instead of advising chmod', async () => {
    const { fleetFile } = await initFleet({ dir })
    for (const mode of [0o600, 0o644]) {
      await chmod(fleetFile, mode)
      const err = await rejection(loadAdminKey(fleetFile))
      expect(err.message).toBe(`${fleetFile} is a fleet file, not an admin key: the admin key is the admin.key that 'tutti fleet init' wrote (${join(dir, 'admin.key')}, if it sits beside it)`)
    }
  })

  it('tells what reads a secret file and how to fix it', async () => {
    const { fleetFile } = await initFleet({ dir })
    expect(await exposedSecret(fleetFile, 'fleet file')).toBeUndefined()
    await chmod(fleetFile, 0o644)
    expect(await exposedSecret(fleetFile, 'fleet file')).toBe(`fleet file ${fleetFile} is accessible by others (mode 644); run: chmod 600 ${fleetFile}`)
  })

  it('refuses a file that is not a key file', async () => {
    const text = join(dir, 'notes.txt')
    await writeFile(text, 'hello', { mode: 0o600 })
    expect((await rejection(loadAdminKey(text))).message).toMatch(/not a Tutti key file \(not JSON\)/)
  })

  it('refuses a key file whose key does not decode', async () => {
    const file = join(dir, 'bad.key')
    await writeFile(file, JSON.stringify({ kind: 'TuttiAdminKey', version: 1, fleetId: 'f', name: 'n', privateKey: 'AAAA' }), { mode: 0o600 })
    expect((await rejection(loadAdminKey(file))).message).toMatch(/holds no valid private key/)
  })

  it('refuses a missing key file', async () => {
    expect((await rejection(loadAdminKey(join(dir, 'missing.key')))).message).toMatch(/no such file/)
  })

  it('reads back a key written by writeKeyFile', async () => {
    const key = await generateKeyPair('Ed25519')
    const file = join(dir, 'other.key')
    await writeKeyFile(file, key, 'fleet-x', 'ops')
    expect(await modeOf(file)).toBe(0o600)
    const loaded = await loadAdminKey(file)
    expect(loaded.key.equals(key)).toBe(true)
    expect(loaded.file.name).toBe('ops')
  })
})

describe('swarmKey', () => {
  it('is the pnet v1 swarm key format with the fleet network key in base16', async () => {
    const fleet = await validFleet()
    const text = new TextDecoder().decode(swarmKey(fleet))
    expect(text).toBe(`/key/swarm/psk/1.0.0/\n/base16/\n${fleet.networkKey}`)
    expect(text.split('\n')[2]).toMatch(/^[0-9a-f]{64}$/)
  })
})
