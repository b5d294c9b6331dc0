// vitest setupFiles entry: announce the runner so test/runtime.test.ts can check it.
Reflect.set(globalThis, "__EFFECT_MANAGER_RUNNER__", "node")
