import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { CommandModule } from '../program.js'

/** `tutti fleet init`. */
export const registerFleet: CommandModule = (program, { io }) => {
  const fleet = program.command('fleet').description('create and manage fleets')
  fleet.command('init')
    .description('create a fleet: DIR/fleet.json and its admin key DIR/admin.key')
    .requiredOption('--dir <dir>', 'where to write fleet.json and admin.key')
    .option('--name <name>', 'the fleet name (default: the directory name)')
    .option('--admin-name <name>', 'the admin identity name', 'admin')
    .option('--force', 'overwrite an existing fleet in DIR')
    .addHelpText('after', `
DIR/fleet.json holds the fleet id, the private network key and the admin public key: the trust
root every node is enrolled with; it is secret (the network key), mode 0600 like DIR/admin.key,
the admin's private key.
`)
    .action(async (opts: { dir: string, name?: string, adminName: string, force?: boolean }, _cmd: Command) => {
      const { initFleet } = await import('../../node/fleet/fleet.js')
      const result = await initFleet({ dir: opts.dir, name: opts.name, adminName: opts.adminName, force: opts.force === true })
      io.out(`fleet ${result.fleet.fleetId} (${result.fleet.name}) created\n`)
      io.out(`  fleet file: ${resolve(result.fleetFile)}  (mode 0600; give it to every node, and to no one else)\n`)
      io.out(`  admin key:  ${resolve(result.adminKeyFile)}  (mode 0600; keep it secret)\n`)
      io.out(`  admin:      ${result.fleet.admins[0]?.peerId ?? ''}\n`)
    })
}
