/**
 * effect-manager: OpenStack nova's manager pattern as Effect values.
 *
 * @module
 */

/** Periodic tasks as immutable values timed by a `Schedule`. */
export * as PeriodicTask from "./src/PeriodicTask.ts"

/** The engine that runs periodic tasks: one driver fiber, two modes, one outcome per occurrence. */
export * as PeriodicRunner from "./src/PeriodicRunner.ts"

/** Managers as layers with typed lifecycle effects. */
export * as Manager from "./src/Manager.ts"

/** Services that run managers in nova's start, stop and reset order. */
export * as Service from "./src/Service.ts"

/** Service records, heartbeats and liveness. */
export * as ServiceRegistry from "./src/ServiceRegistry.ts"

/** One manager, many drivers: pick a driver layer by configuration. */
export * as Driver from "./src/Driver.ts"

/** Notifications with nova's publisher id, on a stream, to pluggable sinks. */
export * as Notifier from "./src/Notifier.ts"

/** Capability reports: what a manager tells a scheduler, and when. */
export * as Capabilities from "./src/Capabilities.ts"

/** The bus that carries capability reports from services to schedulers. */
export * as CapabilityBus from "./src/CapabilityBus.ts"

/** nova's filter scheduler over capability reports. */
export * as Scheduler from "./src/Scheduler.ts"

/** Spans and metrics: what the library tells an operator besides its log lines. */
export * as Telemetry from "./src/Telemetry.ts"
