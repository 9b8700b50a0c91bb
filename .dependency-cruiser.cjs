/**
 * The layering of Tutti, checked in CI (`npm run lint:deps`). See docs/ARCHITECTURE.md.
 *
 *   core/       imports nothing of the project
 *   protocols/  core/ only
 *   node/       core/ and protocols/
 *   sim/        core/, protocols/ and node/
 *   cli/        anything but test/ and bench/
 *   test/, bench/ and unit tests beside the code (*.test.ts): anything; nothing else imports them
 *
 * Type-only imports count (tsPreCompilationDeps): a protocol that imports a node type depends on
 * the node just as much.
 */
/** A unit test beside its code: test code, held to no layer (it may build real nodes to test a protocol). */
const TEST_FILE = '\\.test\\.ts$'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-project',
      comment: 'core/ is the lowest layer: clock, errors, envelope, CIDs. It imports libraries only.',
      severity: 'error',
      from: { path: '^core/', pathNot: TEST_FILE },
      to: { path: '^(bench|bin|cli|node|protocols|sim|test)/' }
    },
    {
      name: 'protocols-import-only-core',
      comment: 'A wire protocol declares the interfaces it needs (a store, a rate limiter); the node implements them.',
      severity: 'error',
      from: { path: '^protocols/', pathNot: TEST_FILE },
      to: { path: '^(bench|bin|cli|node|sim|test)/' }
    },
    {
      name: 'node-imports-core-and-protocols',
      comment: 'The node program every device runs knows nothing of the CLI, the simulator or the tests.',
      severity: 'error',
      from: { path: '^node/', pathNot: TEST_FILE },
      to: { path: '^(bench|bin|cli|sim|test)/' }
    },
    {
      name: 'sim-imports-core-protocols-node',
      comment: 'The simulator runs the node\'s cores and shells; it is not a CLI and not a test.',
      severity: 'error',
      from: { path: '^sim/', pathNot: TEST_FILE },
      to: { path: '^(bench|bin|cli|test)/' }
    },
    {
      name: 'cli-imports-no-test-or-bench',
      severity: 'error',
      from: { path: '^cli/', pathNot: TEST_FILE },
      to: { path: '^(bench|test)/' }
    },
    {
      name: 'only-tests-import-tests',
      comment: 'test/, bench/ and unit tests are leaves: nothing that ships imports them.',
      severity: 'error',
      from: { pathNot: `^(bench|test)/|${TEST_FILE}` },
      to: { path: `^(bench|test)/|${TEST_FILE}` }
    },
    {
      name: 'no-circular-core-protocols',
      comment: 'The lower layers form no cycle of runtime imports (module load order must not matter).',
      severity: 'error',
      from: { path: '^(core|protocols)/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } }
    },
    {
      name: 'no-circular-type-only-core-protocols',
      comment:
        'A cycle closed by a type-only import (an implementation importing the interfaces its ' +
        'index.ts declares, the js-libp2p layout) costs nothing at runtime; reported, prefer a types.ts.',
      severity: 'warn',
      from: { path: '^(core|protocols)/' },
      to: { circular: true, via: { dependencyTypes: ['type-only'] } }
    },
    {
      name: 'no-circular',
      comment: 'Cycles elsewhere are reported; untangle them when you touch the files.',
      severity: 'warn',
      from: { pathNot: '^(core|protocols)/' },
      to: { circular: true }
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file is a broken build.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.json']
    }
  }
}
