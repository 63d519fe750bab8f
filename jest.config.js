/**
 * One jest run across every workspace. Tests import workspace packages from source
 * (no build needed) and talk to servers started by test-support/global-setup.ts.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/tools', '<rootDir>/deploy', '<rootDir>/scripts'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  moduleNameMapper: {
    '^@outbound/core$': '<rootDir>/packages/core/src/index.ts',
    '^@outbound/core/(protocol|command|delivery|queue|registry|service)$': '<rootDir>/packages/core/src/$1/index.ts',
    '^@outbound/core/postgres$': '<rootDir>/packages/core/src/postgres.ts',
    '^@outbound/cli$': '<rootDir>/packages/cli/src/index.ts',
    '^@outbound/client$': '<rootDir>/packages/client/src/index.ts',
    '^@outbound/bench$': '<rootDir>/tools/bench/src/index.ts',
    '^@outbound/ingress$': '<rootDir>/services/ingress/src/index.ts',
    '^@outbound/dispatcher$': '<rootDir>/services/dispatcher/src/index.ts',
    '^@outbound/test-support$': '<rootDir>/test-support/index.ts',
  },
  setupFiles: ['<rootDir>/test-support/jest-setup.ts'],
  globalSetup: '<rootDir>/test-support/global-setup.ts',
  globalTeardown: '<rootDir>/test-support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
