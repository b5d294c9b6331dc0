import { defineConfig } from "vitest/config"
import type { Reporter } from "vitest/node"

// No Node types in this project (see tsconfig.json): declare the two globals used here.
declare const process: { exitCode?: number | string | undefined }
declare const console: { error(message: string): void }

// vitest exits 0 when every test was skipped or filtered away; like the Deno and workerd
// runners, treat a run in which no test passed as a failure.
const requirePassingTest: Reporter = {
  onTestRunEnd(testModules) {
    const passed = testModules.some((m) => !m.children.allTests("passed").next().done)
    if (!passed) {
      console.error("vitest: no test passed")
      process.exitCode = 1
    }
  },
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", ".tmp/*.test.ts"],
    setupFiles: ["test/support/vitest-setup.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    // An empty run is a broken run, not a green one.
    passWithNoTests: false,
    reporters: ["default", requirePassingTest],
  },
})
