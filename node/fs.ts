/**
 * File writes no reader sees half done: temp file, rename. `writeFileAtomic` also fsyncs the file
 * and its directory (durable once it returns); `writeFileUnsynced` leaves both to the kernel, for
 * files whose content names itself and is verified again after a restart (chunk files).
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'

/** The name a temp file of `file` gets, beside it: `.NAME.RANDOM.tmp` (the store deletes these on open). */
export function tempPathFor (file: string): string {
  return join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
}

export async function writeFileAtomic (file: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const tmp = tempPathFor(file)
  const handle = await open(tmp, 'wx', options.mode ?? 0o644)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(tmp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await fsyncDir(dirname(file))
}

/**
 * Temp file and rename, no fsync: a reader sees the old file or the whole new one while the machine
 * runs, but after a power loss the file may be missing, empty or short. Only for bytes that are
 * checked against their own name after a restart (the model store's chunk files).
 */
export async function writeFileUnsynced (file: string, data: Uint8Array): Promise<void> {
  const tmp = tempPathFor(file)
  try {
    await writeFile(tmp, data, { flag: 'wx', mode: 0o644 })
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Whether anything exists at `path` (any error reading it counts as no). */
export async function pathExists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
