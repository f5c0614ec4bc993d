/**
 * The compute kernels under the models (ARCHITECTURE.md, "Performance"): TF.js ops with
 * hand-written gradients that run as WebAssembly SIMD kernels on the wasm backend and as JavaScript
 * loops elsewhere, and the kernels themselves.
 *
 * - `fused_lstm.ts`: a whole LSTM sequence, forward and backward, as one `tf.customGrad` op (the
 *   default `lstmImpl`; `lstmSequence` of `../lstm_seq.ts` is the entry point the models call);
 * - `matmul.ts`: `matMul` on the packed GEMM; `fused_ops.ts`: LeakyReLU, FiLM, time-step slice;
 * - `wasm_kernels.ts`: the one module of every kernel, compiled once per process and bound to the
 *   wasm backend's heap; its parts `wasm_gemm.ts` (packed GEMM), `wasm_cell.ts` (LSTM step),
 *   `wasm_adam.ts` (Adam/AdamW update, used by lib/train/optim.ts) and `wasm_elementwise.ts`,
 *   written with the small assembler of `wasm_asm.ts` (not re-exported here: its names are
 *   opcodes).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matMul } from "./mod.ts";
 * const y = matMul(tf.ones([2, 3]) as tf.Tensor2D, tf.ones([3, 8]) as tf.Tensor2D);
 * console.log(y.shape); // [2, 8]
 * ```
 *
 * @module
 */
export * from "./fused_lstm.ts";
export * from "./fused_ops.ts";
export * from "./matmul.ts";
export * from "./wasm_kernels.ts";
export { ADAM_CONSTANTS, type WasmAdam } from "./wasm_adam.ts";
export { type WasmCell } from "./wasm_cell.ts";
export { type WasmElementwise } from "./wasm_elementwise.ts";
export {
  CACHE_LINE_FLOATS,
  cacheLineStart,
  GEMM_MR,
  GEMM_NR,
  gemmColumnBlock,
  packedASize,
  type WasmGemm,
} from "./wasm_gemm.ts";
