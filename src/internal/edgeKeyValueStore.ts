// The tick's store over an @effect/platform `KeyValueStore`, for a user who keeps one. Its own
// file: a `KeyValueStore` brings effect/Schema (its `forSchema`, its `PlatformError`), which a
// Worker over `layerKv` must not bundle.
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Store, StoreError } from "./edgeTick.ts"

/** @internal */
export const fromKeyValueStore = (store: KeyValueStore.KeyValueStore): Store => ({
  get: (key) =>
    Effect.mapError(store.get(key), (cause) => new StoreError({ method: "get", key, cause })),
  set: (key, value) =>
    Effect.mapError(
      store.set(key, value),
      (cause) => new StoreError({ method: "set", key, cause }),
    ),
})

/** @internal */
export const layerKeyValueStore: Layer.Layer<Store, never, KeyValueStore.KeyValueStore> = Layer
  .effect(Store, Effect.map(KeyValueStore.KeyValueStore, fromKeyValueStore))
