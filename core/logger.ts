/**
 * Structured logs: one JSON object per line, `{ ts, level, component, msg, ...fields }`.
 * Components get a {@link Logger} through their components object; nothing logs through
 * `console` outside `cli/`.
 */
import { isoTime, systemClock } from './clock.js'
import type { Clock } from './clock.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type LogFields = Record<string, unknown>

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  /** A logger whose lines carry `component` (nested with a dot) and `fields`. */
  child(component: string, fields?: LogFields): Logger
}

export interface LogRecord extends LogFields {
  ts: string
  level: LogLevel
  component: string
  msg: string
}

export interface LoggerInit {
  /** @default 'info' */
  level?: LogLevel
  /** Where each record goes. @default a JSON line on stderr */
  sink?: (record: LogRecord) => void
  /** @default systemClock */
  clock?: Pick<Clock, 'now'>
  /** @default 'tutti' */
  component?: string
  fields?: LogFields
}

export function createLogger (init: LoggerInit = {}): Logger {
  const min = LEVELS[init.level ?? 'info']
  const sink = init.sink ?? ((record: LogRecord) => { process.stderr.write(JSON.stringify(record, replacer) + '\n') })
  const clock = init.clock ?? systemClock
  const make = (component: string, base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (LEVELS[level] < min) return
      sink({ ts: isoTime(clock.now()), level, component, msg, ...base, ...fields })
    }
    return {
      debug: (msg, fields) => { emit('debug', msg, fields) },
      info: (msg, fields) => { emit('info', msg, fields) },
      warn: (msg, fields) => { emit('warn', msg, fields) },
      error: (msg, fields) => { emit('error', msg, fields) },
      child: (name, fields) => make(`${component}.${name}`, { ...base, ...fields })
    }
  }
  return make(init.component ?? 'tutti', init.fields ?? {})
}

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = createLogger({ sink: () => {}, level: 'error' })

function replacer (_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code }
  }
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  return value
}
