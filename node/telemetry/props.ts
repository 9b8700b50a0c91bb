/**
 * Live device properties for the heartbeat: cpu count, architecture, memory, battery. Each can be
 * overridden (flags, tests, the simulator), and an override wins over what the platform reports.
 */
import { readdir, readFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'

export type Properties = Record<string, string>

/** Reads the properties the platform reports. Battery is present only where the OS exposes one. */
export async function readDeviceProperties (options: { powerSupplyDir?: string } = {}): Promise<Properties> {
  const props: Properties = {
    cpus: String(os.availableParallelism()),
    arch: os.arch(),
    os: os.platform(),
    'mem.total': String(os.totalmem()),
    'mem.free': String(os.freemem())
  }
  const battery = await readBatteryPercent(options.powerSupplyDir ?? '/sys/class/power_supply')
  if (battery != null) props.battery = String(battery)
  return props
}

/** Linux exposes batteries as `/sys/class/power_supply/BAT*`, with `capacity` in percent. */
export async function readBatteryPercent (dir: string): Promise<number | undefined> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return undefined // no power-supply class on this platform: not an error, just no battery
  }
  for (const name of names.sort()) {
    try {
      const type = (await readFile(join(dir, name, 'type'), 'utf8')).trim()
      if (type !== 'Battery') continue
      const pct = Number.parseInt((await readFile(join(dir, name, 'capacity'), 'utf8')).trim(), 10)
      if (Number.isInteger(pct) && pct >= 0 && pct <= 100) return pct
    } catch {
      continue // a supply without readable type/capacity is not a battery we can report
    }
  }
  return undefined
}
