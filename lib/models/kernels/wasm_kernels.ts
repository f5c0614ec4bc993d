/**
 * The WebAssembly kernels of the fused LSTM (`fused_lstm.ts`), of Adam (`lib/train/optim.ts`) and
 * of the fused element-wise ops (`fused_ops.ts`): the packed GEMM of `wasm_gemm.ts`, the step
 * kernels of `wasm_cell.ts`, the update of `wasm_adam.ts` and the loops of `wasm_elementwise.ts`,
 * assembled into one module, compiled once per process and instantiated once per
 * wasm memory (the wasm backend's heap).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { moduleBytes } from "./wasm_asm.ts";
import { adamFunctions, type WasmAdam } from "./wasm_adam.ts";
import { cellFunctions, type WasmCell } from "./wasm_cell.ts";
import { elementwiseFunctions, type WasmElementwise } from "./wasm_elementwise.ts";
import { gemmFunctions, type WasmGemm } from "./wasm_gemm.ts";

/** Every kernel of the module. */
export type WasmKernels = WasmGemm & WasmCell & WasmAdam & WasmElementwise;

/** The flavour this runtime compiles: relaxed-SIMD multiply-add, plain SIMD, or none. */
export type KernelKind = "relaxed-simd" | "simd" | "none";

/**
 * The module's bytes; `fused` uses `f32x4.relaxed_madd` for every multiply-add.
 *
 * @example
 * ```ts
 * import { kernelModuleBytes } from "./wasm_kernels.ts";
 * console.log(WebAssembly.validate(kernelModuleBytes(false))); // true where wasm has SIMD
 * ```
 */
export function kernelModuleBytes(fused: boolean): Uint8Array<ArrayBuffer> {
  return moduleBytes([
    ...gemmFunctions(fused),
    ...cellFunctions(fused),
    ...adamFunctions(fused),
    ...elementwiseFunctions(fused),
  ]);
}

let compiled: { kind: KernelKind; module: WebAssembly.Module | null } | undefined;
const byMemory = new WeakMap<WebAssembly.Memory, WasmKernels | null>();

/**
 * The compiled module and its flavour (compiled once per process).
 *
 * @example
 * ```ts
 * import { compiledKernels } from "./wasm_kernels.ts";
 * console.log(compiledKernels().kind); // "relaxed-simd" on Deno 2
 * ```
 */
export function compiledKernels(): { kind: KernelKind; module: WebAssembly.Module | null } {
  if (compiled === undefined) {
    compiled = { kind: "none", module: null };
    for (const [kind, fused] of [["relaxed-simd", true], ["simd", false]] as const) {
      const bytes = kernelModuleBytes(fused);
      if (WebAssembly.validate(bytes)) {
        compiled = { kind, module: new WebAssembly.Module(bytes) };
        break;
      }
    }
  }
  return compiled;
}

/**
 * The kernels bound to a wasm memory (one instance per memory); null without wasm SIMD or with
 * a shared memory.
 *
 * @example
 * ```ts
 * import { kernelsFor } from "./wasm_kernels.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const k = kernelsFor(memory);
 * const f = new Float32Array(memory.buffer);
 * f.set([1, 2], 0); // A [1, 2] at byte 0
 * f.set([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 16); // B [2, 8] at byte 64
 * k?.packA(0, 256, 1, 2, 0);
 * k?.packB(64, 512, 2, 8);
 * k?.gemm(256, 512, 1024, 1, 2, 8, 0, 8);
 * console.log(f.slice(256, 258)); // [1, 2]
 * ```
 */
export function kernelsFor(memory: WebAssembly.Memory | undefined): WasmKernels | null {
  if (
    memory === undefined ||
    (typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer)
  ) {
    return null;
  }
  const known = byMemory.get(memory);
  if (known !== undefined) return known;
  const { module } = compiledKernels();
  const fns = module === null
    ? null
    : new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernels;
  byMemory.set(memory, fns);
  return fns;
}

// ---------------------------------------------------------------------------------------------
// The wasm backend's heap.

/** What the kernels use of the wasm backend's Emscripten module. */
export interface WasmModule {
  asm?: { memory?: WebAssembly.Memory };
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  _BatchMatMul(...args: number[]): void;
  _Sigmoid(xId: number, outId: number): void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

/** What the kernels use of TF.js's wasm backend (internals, checked by `isWasmBackend`). */
export interface WasmBackendLike {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32" | "int32"): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

/** Whether a TF.js backend is the wasm backend with the internals the kernels use. */
export function isWasmBackend(backend: unknown): backend is WasmBackendLike {
  const b = backend as Partial<WasmBackendLike> | null;
  return b !== null && typeof b === "object" && b.wasm !== undefined &&
    typeof b.wasm._BatchMatMul === "function" && typeof b.wasm._Sigmoid === "function" &&
    typeof b.wasm.tfjs?.registerTensor === "function" &&
    typeof b.wasm.tfjs?.disposeData === "function" &&
    typeof b.dataIdNextNumber === "number" && typeof b.makeOutput === "function" &&
    b.dataIdMap !== undefined;
}

/** The active wasm backend's heap, with the kernels bound to it. */
export interface WasmHeap {
  kernels: WasmKernels;
  /** The heap as floats (fetch again after any allocation: the memory can grow). */
  floats(): Float32Array;
  /** The byte offset of a float32 tensor's values. */
  offsetOf(t: tf.Tensor): number;
  /** A new float32 tensor of `shape`, values not initialised, and the byte offset of its values. */
  alloc(shape: number[]): { tensor: tf.Tensor; offset: number };
}

/**
 * The active backend's heap when it is the wasm backend and the kernels compile; else null.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { activeWasmHeap } from "./wasm_kernels.ts";
 * const heap = activeWasmHeap(); // null on the cpu backend
 * if (heap !== null) {
 *   const { tensor, offset } = heap.alloc([4]);
 *   heap.floats().set([1, 2, 3, 4], offset / 4);
 *   console.log(tensor.dataSync()); // [1, 2, 3, 4]
 *   tensor.dispose();
 * }
 * ```
 */
export function activeWasmHeap(): WasmHeap | null {
  const backend = tf.engine().findBackend(tf.getBackend());
  if (!isWasmBackend(backend)) return null;
  const kernels = kernelsFor(backend.wasm.asm?.memory);
  if (kernels === null) return null;
  return {
    kernels,
    floats: () => backend.wasm.HEAPF32,
    offsetOf: (t) => backend.dataIdMap.get(t.dataId).memoryOffset,
    alloc(shape) {
      const info = backend.makeOutput(shape, "float32");
      const offset = backend.dataIdMap.get(info.dataId).memoryOffset;
      return { tensor: tf.engine().makeTensorFromTensorInfo(info), offset };
    },
  };
}
