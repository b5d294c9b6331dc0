// A capability report as the scheduler tests write them: service "compute", manager "Compute",
// timestamp 0.
import type { CapabilityReport } from "../../src/Capabilities.ts"

/** A report of `host`'s Compute manager, with `sequence` and the encoded `capabilities`. */
export const report = (
  host: string,
  sequence: number,
  capabilities: unknown,
): CapabilityReport => ({
  host,
  service: "compute",
  manager: "Compute",
  capabilities,
  timestamp: 0,
  sequence,
})
