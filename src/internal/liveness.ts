// nova's liveness rule (oslo-semantics section H), shared by the service registry and the
// scheduler so that both call a host up at exactly the same instants.

/** @internal nova's `CONF.service_down_time` default: 60 s. */
export const DEFAULT_SERVICE_DOWN_TIME_MILLIS = 60_000

/**
 * @internal Whether something last heard from at `lastHeard` is still up at `now`: at most
 * `downTimeMillis` away, inclusive, either way (nova takes the absolute difference, so a clock
 * that runs behind does not mark a host down).
 */
export const heardWithin = (lastHeard: number, now: number, downTimeMillis: number): boolean =>
  Math.abs(now - lastHeard) <= downTimeMillis
