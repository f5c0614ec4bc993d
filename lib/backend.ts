/**
 * TF.js backend selection: the wasm backend (SIMD on, threads off) for training, and the pure
 * JavaScript cpu backend for numeric cross-checks. On wasm, `Identity` shares memory instead of
 * copying it (see {@linkcode useBackend}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

/** The backends tamflux runs on. */
export type BackendName = "wasm" | "cpu";

let wasmPathsSet = false;
let identityShared = false;

/**
 * On wasm, make `Identity` (what TF.js runs to keep a tensor for the backward pass, and behind
 * `clone`) share the input's memory with a reference count, as the cpu backend does, instead of
 * copying it: TF.js tensors are immutable and every wasm kernel writes a new buffer, so sharing is
 * safe, and a training step then copies no saved activation.
 */
function shareIdentityOnWasm(): void {
  if (identityShared) return;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    kernelName: "Identity",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const x = (inputs as { x: tf.TensorInfo }).x;
      (backend as unknown as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
  identityShared = true;
}

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
    shareIdentityOnWasm();
    wasmPathsSet = true;
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tamflux: the TF.js backend "${name}" could not be initialised`);
  }
  await tf.ready();
  return tf.getBackend() as BackendName;
}
