/** The environment variable that hands the test server's URL to test files and child processes. */
export declare const TEST_DATABASE_URL: "EFFECT_MANAGER_TEST_DATABASE_URL"
/** A port the OS has just given out on 127.0.0.1. */
export declare const freePort: () => Promise<number>
/** A throw-away PostgreSQL server (see postgres.mjs). */
export interface PostgresServer {
  readonly url: string
  readonly port: number
  readonly password: string
  readonly stop: () => Promise<void>
  readonly pause: () => Promise<void>
  readonly restart: () => Promise<void>
}
/** Starts a server in a new temporary folder on a free port; fails loudly if it cannot. */
export declare const startPostgres: (
  options?: { readonly signalHooks?: boolean },
) => Promise<PostgresServer>
/** The environment for a test run's child process, with the test server's URL. */
export declare const testDatabaseEnv: () => Promise<{
  readonly env: Record<string, string | undefined>
  readonly stop: () => Promise<void>
}>
