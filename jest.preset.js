// Shared jest settings: TypeScript through @swc/jest as native ESM, workspace packages resolved to
// their sources through the "@apigate/source" export condition (no build step before tests).
export default {
  testEnvironment: 'node',
  testEnvironmentOptions: {
    customExportConditions: ['@apigate/source', 'node', 'node-addons'],
  },
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  testTimeout: 60_000,
  // Once every test has run (and its own checks that it left nothing open have passed), jest
  // exits even if a process or socket a suite started is still alive: a teardown that could not
  // finish fails the test that owned it; it must not hold the run open until CI's limit.
  forceExit: true,
};
