import { defineConfig } from 'vitest/config'

/**
 * A known race inside @libp2p/yamux 8: a stream opened on a connection that is closing sends its
 * window update from a microtask, after the connection's encrypted stream closed, and the
 * StreamStateError escapes as an uncaught exception (seen while meshes of 10 nodes stop). A node
 * survives it (node/mesh/uncaught.ts classifies it as confined to one connection); the test
 * runner must not count it against the suite either. Only that exact error from that exact place
 * is let through; anything else still fails the run.
 */
function isYamuxCloseRace (error: { name?: string, stack?: string, stacks?: Array<{ method?: string }> }): boolean {
  if (error.name !== 'StreamStateError') return false
  const frames = [error.stack ?? '', ...(error.stacks ?? []).map(f => f.method ?? '')].join('\n')
  return frames.includes('sendWindowUpdate') && frames.includes('YamuxMuxer.sendFrame')
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'core/**/*.test.ts', 'node/**/*.test.ts', 'protocols/**/*.test.ts', 'cli/**/*.test.ts', 'sim/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    onUnhandledError: error => isYamuxCloseRace(error as Parameters<typeof isYamuxCloseRace>[0]) ? false : undefined
  }
})
