// vitest global set-up: one throw-away PostgreSQL server for the whole run (test files make their
// own databases in it), handed to the test workers and their child processes by URL. A URL
// already in the environment is used as is. A server that cannot start fails the run.
import { startPostgres, TEST_DATABASE_URL } from "../../scripts/postgres.mjs"

declare const process: { env: Record<string, string | undefined> }

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env[TEST_DATABASE_URL] !== undefined) return async () => {}
  const server = await startPostgres()
  process.env[TEST_DATABASE_URL] = server.url
  return () => server.stop()
}
