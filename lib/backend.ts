/**
 * TF.js backend selection: the wasm backend (SIMD on, threads off) for training, and the pure
 * JavaScript cpu backend for numeric cross-checks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

/** The backends tamflux runs on. */
export type BackendName = "wasm" | "cpu";

let wasmPathsSet = false;

/**
 * Select a TF.js backend and wait until it is ready. Returns the name of the active backend.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * ```
 */
export async function useBackend(name: BackendName = "wasm"): Promise<BackendName> {
  if (name === "wasm" && !wasmPathsSet) {
    const dir = new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url);
    setWasmPaths(dir.href, true);
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    wasmPathsSet = true;
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tamflux: the TF.js backend "${name}" could not be initialised`);
  }
  await tf.ready();
  return tf.getBackend() as BackendName;
}
