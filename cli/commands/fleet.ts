import { resolve } from 'node:path'
import { initFleet } from '../../node/fleet/fleet.js'
import { parse, str } from '../args.js'
import { UsageError } from '../errors.js'
import type { CliIO } from '../io.js'

export const FLEET_HELP = `Manage fleets.

Usage:
  tutti fleet init --dir DIR [--name NAME] [--admin-name NAME] [--force]

Creates DIR/fleet.json (fleet id, the private network key, the admin public key: the trust root
every node is enrolled with) and DIR/admin.key (the admin's private key, mode 0600).
`

export async function fleetCommand (args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args
  if (sub == null || sub === '--help' || sub === '-h') {
    io.out(FLEET_HELP)
    return sub == null ? 2 : 0
  }
  if (sub !== 'init') throw new UsageError(`unknown fleet command "${sub}"`, 'fleet')
  const { values, positionals } = parse(rest, {
    dir: { type: 'string' },
    name: { type: 'string' },
    'admin-name': { type: 'string' },
    force: { type: 'boolean' }
  }, 'fleet')
  if (values.help === true) {
    io.out(FLEET_HELP)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'fleet')
  const dir = str(values.dir)
  if (dir == null) throw new UsageError('fleet init needs --dir DIR', 'fleet')
  const result = await initFleet({ dir, name: str(values.name), adminName: str(values['admin-name']), force: values.force === true })
  io.out(`fleet ${result.fleet.fleetId} (${result.fleet.name}) created\n`)
  io.out(`  fleet file: ${resolve(result.fleetFile)}  (give it to every node)\n`)
  io.out(`  admin key:  ${resolve(result.adminKeyFile)}  (mode 0600; keep it secret)\n`)
  io.out(`  admin:      ${result.fleet.admins[0]?.peerId ?? ''}\n`)
  return 0
}
