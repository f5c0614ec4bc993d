/**
 * A fused sequence LSTM for TF.js: the same contract as the reference `lstmSequence` of
 * `../lstm_seq.ts` (gate order i, f, g, o as `tf.layers.lstm`; kernel `[In, 4H]`, recurrent
 * `[H, 4H]`, bias `[4H]`; mask `[B, T]` where 0 carries the state over; `reverse` runs
 * t = T-1..0 and returns the sequence in the original order), but the whole time loop, forward
 * and backward, runs inside one `tf.customGrad` op, so the gradient tape records one op per
 * sequence instead of dozens per step.
 *
 * Inside that op:
 * - the input projections of all steps are one product (`[T*B, In] x [In, 4H]`, bias included);
 * - each step runs one recurrent product accumulated onto its input projection (the recurrent
 *   kernel packed once for all steps) and one call that does all of the step's gate arithmetic;
 * - the hand-written backward pass through time runs one product and one gradient call per step;
 *   the weight and input gradients are three large products over all steps at once.
 *
 * Every buffer is time-major (row t*B + b is batch b at time t), so each step's rows are
 * contiguous. `tanh(x)` is computed as `2 sigmoid(2x) - 1` (the g columns of the weights are
 * doubled), so every transcendental is a sigmoid.
 *
 * On the wasm backend everything runs on buffers of the wasm heap, with no tensor created per
 * step, in kernels assembled at load time in WebAssembly (`wasm_kernels.ts`): a packed GEMM with
 * relaxed-SIMD fused multiply-add where the runtime has it (XNNPACK, the backend's own library, is
 * built without it) and SIMD step kernels with their own sigmoid. On any other backend (e.g. cpu),
 * or when H is not a multiple of 4, the same algorithm runs with JavaScript loops (and, on wasm,
 * XNNPACK's sigmoid and, for products whose width is not a multiple of 8, XNNPACK's matMul).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LstmWeights } from "../types.ts";
import type { WasmCell } from "./wasm_cell.ts";
import { stepOf } from "./fused_ops.ts";
import { CACHE_LINE_FLOATS, cacheLineStart, gemmColumnBlock, packedASize } from "./wasm_gemm.ts";
import {
  compiledKernels,
  isWasmBackend,
  kernelsFor,
  type WasmBackendLike,
} from "./wasm_kernels.ts";

/** Options of {@linkcode lstmSequenceFused}. */
export interface FusedLstmOptions {
  /** Run from t = T-1 down to 0; `sequence` is still returned in the original time order. */
  reverse?: boolean;
  /** `[B, T]`, nonzero = step used, 0 = step skipped: state and output carried over. */
  mask?: tf.Tensor2D;
}

/** The result of {@linkcode lstmSequenceFused}: the same as the reference `lstmSequence`. */
export interface FusedLstmResult {
  /** `[B, T, H]` hidden state after each step, in the original time order. */
  sequence: tf.Tensor3D;
  /** `[B, H]` the final hidden state (after t = T-1, or after t = 0 when `reverse`). */
  last: tf.Tensor2D;
}

/** A buffer the kernels can address: the array holding it, its first element, a kernel id. */
interface Slot {
  arr: Float32Array;
  off: number;
  id: number;
  size: number;
  dataId: tf.DataId | null;
}

/** How {@linkcode Kernels.matMul} reads A and writes C. */
interface MatMulOptions {
  /** C += A B instead of C = A B. */
  accumulate?: boolean;
  /** The slot holds A transposed, `[k, m]`. */
  aTransposed?: boolean;
}

/** A right-hand operand `[k, n]` prepared by {@linkcode Kernels.prepareB}. */
interface PreparedB {
  slot: Slot;
  k: number;
  n: number;
  /** The slot holds B in the GEMM's packed layout (else B itself, row-major). */
  packed: boolean;
}

/** The few primitives the LSTM loops need from a backend. */
interface Kernels {
  /** A zero-filled buffer (unless `zero: false`) the kernels can read and write; freed by
   * {@linkcode Kernels.release}. */
  scratch(size: number, options?: { zero?: boolean }): Slot;
  /** `count` consecutive blocks of `size` elements of a slot, each addressable by the kernels. */
  blocks(slot: Slot, count: number, size: number): Slot[];
  /** Read access to a tensor's values (no copy where the backend allows it). */
  view(t: tf.Tensor): Slot;
  /** The tensor of a `scratch` slot, once its values are final (the tensor owns the memory). */
  toTensor(slot: Slot, shape: number[]): tf.Tensor;
  /** The array holding the slot's values (refetch after every kernel call: wasm memory grows). */
  heap(slot: Slot): Float32Array;
  /** C[m, n] (+)= A[m, k] B[k, n], row-major. */
  matMul(a: Slot, b: Slot, c: Slot, dims: [number, number, number], options?: MatMulOptions): void;
  /** B `[k, n]` prepared for many products (packed once on wasm). */
  prepareB(b: Slot, dims: [number, number]): PreparedB;
  /** C[m, n] (+)= A[m, k] B[k, n] with a prepared B. */
  matMulPrepared(a: Slot, b: PreparedB, c: Slot, m: number, options?: MatMulOptions): void;
  /** out = sigmoid(x), element-wise over the whole slot. */
  sigmoid(x: Slot, out: Slot): void;
  /** The step kernels of `wasm_cell.ts` on this backend's memory (pointers are byte offsets of
   * slots), or null: then each step's element-wise work runs in JavaScript. */
  cell: WasmCell | null;
  /** Free every scratch buffer not turned into a tensor, and every block id. */
  release(): void;
}

// ---------------------------------------------------------------------------------------------
// Kernels on the wasm heap, and in plain JavaScript.

/** Transpose `[rows, cols]` at `src` into `[cols, rows]` at `dst` (same or different arrays). */
function transposeInto(
  src: Float32Array,
  so: number,
  dst: Float32Array,
  dOff: number,
  [rows, cols]: [number, number],
): void {
  for (let r = 0; r < rows; r++) {
    const ro = so + r * cols;
    for (let q = 0; q < cols; q++) dst[dOff + q * rows + r] = src[ro + q];
  }
}

/**
 * Kernels of the wasm backend, called directly on heap buffers: the packed GEMM of `wasm_gemm.ts`
 * (XNNPACK's matMul when n % 8 !== 0 or without wasm SIMD) and XNNPACK's sigmoid.
 */
function wasmKernels(backend: WasmBackendLike): Kernels {
  const wasm = backend.wasm;
  const owned: tf.DataId[] = [];
  const blockIds: number[] = [];
  const slotOf = (dataId: tf.DataId, size: number): Slot => {
    const info = backend.dataIdMap.get(dataId);
    return { arr: wasm.HEAPF32, off: info.memoryOffset >>> 2, id: info.id, size, dataId };
  };
  const gemm = kernelsFor(wasm.asm?.memory);
  let shapePtr = -1; // [1, m, k] and [1, k, n] for XNNPACK's matMul
  let aPack: Slot | null = null; // A packed, for the GEMM
  let bPack: Slot | null = null; // B packed, for one-off products
  let tmp: Slot | null = null; // the XNNPACK fallback's operands
  const grow = (slot: Slot | null, size: number): Slot =>
    slot !== null && slot.size >= size ? slot : kernels.scratch(size, { zero: false });
  /** A buffer for the GEMM's packed operands, starting on a cache line. */
  const packBuffer = (slot: Slot | null, size: number): Slot => {
    if (slot !== null && slot.size >= size) return slot;
    const raw = kernels.scratch(size + CACHE_LINE_FLOATS - 1, { zero: false });
    const off = cacheLineStart(raw.off);
    return { ...raw, off, size, id: -1 }; // no kernel id: only the GEMM reads it
  };
  const xnnMatMul = (a: Slot, b: Slot, out: Slot, [m, k, n]: [number, number, number]) => {
    if (shapePtr < 0) {
      const info = backend.makeOutput([6], "int32");
      owned.push(info.dataId);
      shapePtr = backend.dataIdMap.get(info.dataId).memoryOffset;
    }
    const h32 = wasm.HEAP32, p = shapePtr >>> 2;
    h32.set([1, m, k, 1, k, n], p);
    // (a_id, a_shape, a_rank, b_id, b_shape, b_rank, transpose_a, transpose_b, out_id): batch 1
    // without transposes is XNNPACK's fully-connected path (weights b packed, cached on b's id).
    wasm._BatchMatMul(a.id, shapePtr, 3, b.id, shapePtr + 12, 3, 0, 0, out.id);
  };
  // XNNPACK (n % 8 !== 0, or no wasm SIMD): A must be [m, k] and C is overwritten, so transpose
  // and accumulate around it.
  const xnnFallback = (
    a: Slot,
    b: Slot,
    c: Slot,
    [m, k, n]: [number, number, number],
    options: MatMulOptions,
  ) => {
    let aIn = a;
    if (options.aTransposed) {
      tmp = grow(tmp, m * k);
      const heap = wasm.HEAPF32;
      aIn = kernels.blocks(tmp, 1, m * k)[0];
      transposeInto(heap, a.off, heap, aIn.off, [k, m]);
    }
    if (!options.accumulate) {
      xnnMatMul(aIn, b, c, [m, k, n]);
      return;
    }
    const product = kernels.blocks(kernels.scratch(m * n), 1, m * n)[0];
    xnnMatMul(aIn, b, product, [m, k, n]);
    const heap = wasm.HEAPF32;
    for (let i = 0; i < m * n; i++) heap[c.off + i] += heap[product.off + i];
  };
  const kernels: Kernels = {
    scratch(size, options = {}) {
      const info = backend.makeOutput([Math.max(1, size)], "float32");
      owned.push(info.dataId);
      const slot = slotOf(info.dataId, size);
      if (options.zero ?? true) slot.arr.fill(0, slot.off, slot.off + size);
      return slot;
    },
    blocks(slot, count, size) {
      const out: Slot[] = [];
      for (let i = 0; i < count; i++) {
        // A kernel-visible id for rows of an existing buffer (ids come from the backend's own
        // counter, so they never collide with its tensors).
        const id = backend.dataIdNextNumber++;
        const off = slot.off + i * size;
        wasm.tfjs.registerTensor(id, size, off * 4);
        blockIds.push(id);
        out.push({ arr: slot.arr, off, id, size, dataId: null });
      }
      return out;
    },
    view(t) {
      return slotOf(t.dataId, t.size);
    },
    toTensor(slot, shape) {
      const at = owned.indexOf(slot.dataId as tf.DataId);
      if (at < 0) throw new Error("lstmSequenceFused: toTensor of a slot that is not owned");
      owned.splice(at, 1); // the tensor owns the memory from now on
      const info = { dataId: slot.dataId as tf.DataId, shape, dtype: "float32" as const };
      return tf.engine().makeTensorFromTensorInfo(info);
    },
    heap() {
      return wasm.HEAPF32;
    },
    matMul(a, b, c, [m, k, n], options = {}) {
      if (gemm !== null && n % 8 === 0) {
        bPack = packBuffer(bPack, k * n);
        gemm.packB(b.off * 4, bPack.off * 4, k, n);
        kernels.matMulPrepared(a, { slot: bPack, k, n, packed: true }, c, m, options);
        return;
      }
      xnnFallback(a, b, c, [m, k, n], options);
    },
    prepareB(b, [k, n]) {
      if (gemm === null || n % 8 !== 0) return { slot: b, k, n, packed: false };
      const packed = packBuffer(null, k * n);
      gemm.packB(b.off * 4, packed.off * 4, k, n);
      return { slot: packed, k, n, packed: true };
    },
    matMulPrepared(a, b, c, m, options = {}) {
      const { k, n } = b;
      if (gemm === null || !b.packed) {
        xnnFallback(a, b.slot, c, [m, k, n], options);
        return;
      }
      aPack = packBuffer(aPack, packedASize(m, k));
      gemm.packA(a.off * 4, aPack.off * 4, m, k, options.aTransposed ? 1 : 0);
      gemm.gemm(
        aPack.off * 4,
        b.slot.off * 4,
        c.off * 4,
        m,
        k,
        n,
        options.accumulate ? 1 : 0,
        gemmColumnBlock(k, n),
      );
    },
    sigmoid(x, out) {
      wasm._Sigmoid(x.id, out.id);
    },
    cell: gemm,
    release() {
      for (const id of blockIds) wasm.tfjs.disposeData(id);
      blockIds.length = 0;
      for (const dataId of owned) backend.disposeData(dataId);
      owned.length = 0;
    },
  };
  return kernels;
}

/** Kernels in plain JavaScript, for any backend (reads tensors with dataSync). */
function jsKernels(): Kernels {
  const plain = (arr: Float32Array): Slot => ({
    arr,
    off: 0,
    id: 0,
    size: arr.length,
    dataId: null,
  });
  return {
    scratch(size) {
      return plain(new Float32Array(size));
    },
    blocks(slot, count, size) {
      const out: Slot[] = [];
      for (let i = 0; i < count; i++) {
        out.push({ arr: slot.arr, off: slot.off + i * size, id: 0, size, dataId: null });
      }
      return out;
    },
    view(t) {
      const data = t.dataSync();
      return plain(data instanceof Float32Array ? data : Float32Array.from(data));
    },
    toTensor(slot, shape) {
      return tf.tensor(slot.arr, shape, "float32");
    },
    heap(slot) {
      return slot.arr;
    },
    matMul(a, b, c, [m, k, n], options = {}) {
      const A = a.arr, Bm = b.arr, O = c.arr;
      const ao = a.off, bo = b.off, oo = c.off;
      // element (i, p) of A at ao + i*si + p*sp
      const [si, sp] = options.aTransposed ? [1, m] : [k, 1];
      if (!options.accumulate) O.fill(0, oo, oo + m * n);
      for (let i = 0; i < m; i++) {
        const orow = oo + i * n;
        for (let p = 0; p < k; p++) {
          const av = A[ao + i * si + p * sp];
          if (av === 0) continue;
          const brow = bo + p * n;
          for (let j = 0; j < n; j++) O[orow + j] += av * Bm[brow + j];
        }
      }
    },
    prepareB(b, [k, n]) {
      return { slot: b, k, n, packed: false };
    },
    matMulPrepared(a, b, c, m, options = {}) {
      this.matMul(a, b.slot, c, [m, b.k, b.n], options);
    },
    sigmoid(x, out) {
      const X = x.arr, O = out.arr;
      for (let i = 0; i < x.size; i++) O[out.off + i] = 1 / (1 + Math.exp(-X[x.off + i]));
    },
    cell: null,
    release() {},
  };
}

/**
 * Which kernels {@linkcode lstmSequenceFused} uses on the active backend: "wasm-relaxed-simd-gemm"
 * (products in the GEMM of this module with fused multiply-add, sigmoids in XNNPACK),
 * "wasm-simd-gemm" (the same with a multiply and an add), "wasm-xnnpack" (no wasm SIMD) or "js"
 * (any other backend).
 *
 * @example
 * ```ts
 * import { fusedLstmKernels } from "./fused_lstm.ts";
 * console.log(fusedLstmKernels());
 * ```
 */
export function fusedLstmKernels():
  | "wasm-relaxed-simd-gemm"
  | "wasm-simd-gemm"
  | "wasm-xnnpack"
  | "js" {
  const backend = tf.engine().findBackend(tf.getBackend());
  if (!isWasmBackend(backend)) return "js";
  if (kernelsFor(backend.wasm.asm?.memory) === null) return "wasm-xnnpack";
  return compiledKernels().kind === "relaxed-simd" ? "wasm-relaxed-simd-gemm" : "wasm-simd-gemm";
}

/** The kernels of the active backend: direct wasm calls on wasm, plain JavaScript elsewhere. */
function activeKernels(): Kernels {
  const backend = tf.engine().findBackend(tf.getBackend());
  return isWasmBackend(backend) ? wasmKernels(backend) : jsKernels();
}

// ---------------------------------------------------------------------------------------------
// The LSTM.

/**
 * Check the shapes of an LSTM's input, weights and mask (and, with `float32`, their dtypes);
 * returns H. Errors start with `caller`. Shared by the fused LSTM and the reference of
 * `../lstm_seq.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkLstmShapes } from "./fused_lstm.ts";
 * const weights = {
 *   kernel: tf.zeros([3, 16]) as tf.Tensor2D,
 *   recurrent: tf.zeros([4, 16]) as tf.Tensor2D,
 *   bias: tf.zeros([16]) as tf.Tensor1D,
 * };
 * const x = tf.zeros([2, 5, 3]) as tf.Tensor3D;
 * console.log(checkLstmShapes(x, weights, { caller: "demo" })); // 4
 * ```
 */
export function checkLstmShapes(
  x: tf.Tensor3D,
  weights: LstmWeights,
  options: { caller: string; mask?: tf.Tensor2D; float32?: boolean },
): number {
  const { caller, mask } = options;
  if (x.rank !== 3) throw new Error(`${caller}: x must be [B, T, In], got [${x.shape}]`);
  const [batch, steps, nIn] = x.shape;
  const { kernel, recurrent, bias } = weights;
  const hidden = recurrent.shape[0];
  if (recurrent.rank !== 2 || recurrent.shape[1] !== 4 * hidden) {
    throw new Error(`${caller}: recurrent kernel must be [H, 4H], got [${recurrent.shape}]`);
  }
  if (kernel.rank !== 2 || kernel.shape[0] !== nIn || kernel.shape[1] !== 4 * hidden) {
    throw new Error(
      `${caller}: kernel must be [In=${nIn}, 4H=${4 * hidden}], got [${kernel.shape}]`,
    );
  }
  if (bias.rank !== 1 || bias.shape[0] !== 4 * hidden) {
    throw new Error(`${caller}: bias must be [4H=${4 * hidden}], got [${bias.shape}]`);
  }
  if (
    mask !== undefined && (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== steps)
  ) {
    throw new Error(`${caller}: mask must be [B=${batch}, T=${steps}], got [${mask.shape}]`);
  }
  if (options.float32) {
    const named: [string, tf.Tensor][] = [
      ["x", x],
      ["kernel", kernel],
      ["recurrent", recurrent],
      ["bias", bias],
    ];
    for (const [name, t] of named) {
      if (t.dtype !== "float32") {
        throw new Error(`${caller}: ${name} must be float32, got ${t.dtype}`);
      }
    }
  }
  return hidden;
}

interface Dims {
  batch: number;
  steps: number;
  nIn: number;
  hidden: number;
  reverse: boolean;
  /** `[B, T]` 1 where the step is used, 0 where the state is carried over; null = all used. */
  mask: Uint8Array | null;
}

/** What the backward pass needs from the forward pass (time-major, row t*B + b). */
interface Activations {
  /** `[T*B, In]` the inputs. */
  xs: Slot;
  /** `[T*B, H]` the state h before the step at time t (zeros for the first step processed). */
  hPrev: Slot;
  /** `[T*B, 4H]` sigmoid of the gate pre-activations, the g gate's doubled (g = 2 s - 1). */
  gates: Slot;
  /** `[T*B, H]` sigmoid(2 c_new) (tanh(c_new) = 2 s - 1); written on used steps only. */
  tanhC: Slot;
  /** `[T*B, H]` the cell state before the step at time t. */
  cPrev: Slot;
}

/** Copy `[rows, 4H]` weights with the g gate's columns doubled (so sigmoid gives tanh). */
function doubleG(
  src: Float32Array,
  so: number,
  dst: Float32Array,
  dOff: number,
  rows: number,
  H: number,
): void {
  const G = 4 * H;
  for (let r = 0; r < rows; r++) {
    const s = so + r * G, o = dOff + r * G;
    for (let j = 0; j < G; j++) dst[o + j] = src[s + j];
    for (let j = 2 * H; j < 3 * H; j++) dst[o + j] *= 2;
  }
}

/**
 * The forward pass. Writes the sequence `[B, T, H]` into `seq` and the activations into `act`.
 * `weights` are the kernel, recurrent kernel and bias slots.
 */
function forwardPass(
  k: Kernels,
  d: Dims,
  weights: { kernel: Slot; recurrent: Slot; bias: Slot },
  seq: Slot,
  act: Activations,
): void {
  const { batch: B, steps: T, nIn, hidden: H, reverse, mask } = d;
  const { xs, hPrev, gates, tanhC, cPrev } = act;
  const G = 4 * H, BH = B * H, BG = B * G;
  // The weights with the g columns doubled; the input projections (plus bias) of every step go
  // straight into `gates`, where each step then adds h R and takes the sigmoid in place.
  const kernel2 = k.scratch(nIn * G), recurrent2 = k.scratch(H * G), bias2 = k.scratch(G);
  let heap = k.heap(kernel2);
  doubleG(k.heap(weights.kernel), weights.kernel.off, heap, kernel2.off, nIn, H);
  doubleG(
    k.heap(weights.recurrent),
    weights.recurrent.off,
    k.heap(recurrent2),
    recurrent2.off,
    H,
    H,
  );
  doubleG(k.heap(weights.bias), weights.bias.off, k.heap(bias2), bias2.off, 1, H);
  // The bias in every row of `gates` (one row, then copies of ever longer runs of rows).
  heap = k.heap(gates);
  heap.set(k.heap(bias2).subarray(bias2.off, bias2.off + G), gates.off);
  for (let rows = 1; rows < T * B; rows *= 2) {
    const n = Math.min(rows, T * B - rows) * G;
    heap.copyWithin(gates.off + rows * G, gates.off, gates.off + n);
  }
  k.matMul(xs, kernel2, gates, [T * B, nIn, G], { accumulate: true });
  const hLast = k.scratch(BH); // the state after the last step
  const hBlocks = k.blocks(hPrev, T, BH);
  const gateBlocks = k.blocks(gates, T, BG);
  const recurrentB = k.prepareB(recurrent2, [H, G]); // packed once, used at every step
  const cell = H % 4 === 0 ? k.cell : null;
  const c = k.scratch(BH); // the cell state
  const maskTM = mask === null || cell === null ? null : timeMajorMask(k, mask, B, T);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const hIn = hBlocks[t], sg = gateBlocks[t];
    const next = s === T - 1 ? hLast : hBlocks[reverse ? t - 1 : t + 1];
    // The first step's state is zero: nothing to add.
    if (s > 0) k.matMulPrepared(hIn, recurrentB, sg, B, { accumulate: true });
    if (cell !== null) {
      cell.cellForward(
        sg.off * 4,
        c.off * 4,
        (cPrev.off + t * BH) * 4,
        (tanhC.off + t * BH) * 4,
        hIn.off * 4,
        next.off * 4,
        (seq.off + t * H) * 4,
        T * H * 4,
        maskTM === null ? 0 : (maskTM.off + t * B) * 4,
        B,
        H,
      );
    } else {
      stepForwardJs(k, { B, T, H, t, mask }, { sg, c, cPrev, tanhC, hIn, next, seq });
    }
  }
}

/** Masks `[B, T]` as 32-bit words time-major (`[T, B]`): 1.0 where used, all-zero bits where not. */
function timeMajorMask(k: Kernels, mask: Uint8Array, B: number, T: number): Slot {
  const slot = k.scratch(T * B);
  const heap = k.heap(slot);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) heap[slot.off + t * B + b] = mask[b * T + t] !== 0 ? 1 : 0;
  }
  return slot;
}

/** One forward step's element-wise work in JavaScript (what `cellForward` does in wasm). */
function stepForwardJs(
  k: Kernels,
  { B, T, H, t, mask }: { B: number; T: number; H: number; t: number; mask: Uint8Array | null },
  slots: { sg: Slot; c: Slot; cPrev: Slot; tanhC: Slot; hIn: Slot; next: Slot; seq: Slot },
): void {
  const { sg, c, cPrev, tanhC, hIn, next, seq } = slots;
  const G = 4 * H, BH = B * H;
  k.sigmoid(sg, sg);
  const hs = k.heap(sg), hc = k.heap(c), hcp = k.heap(cPrev), ht = k.heap(tanhC);
  const h = k.heap(next), hi = k.heap(hIn), hseq = k.heap(seq);
  hcp.set(hc.subarray(c.off, c.off + BH), cPrev.off + t * BH);
  for (let b = 0; b < B; b++) {
    const so = sg.off + b * G, co = c.off + b * H, to = tanhC.off + t * BH + b * H;
    const io = hIn.off + b * H, oo = next.off + b * H, qo = seq.off + (b * T + t) * H;
    if (mask === null || mask[b * T + t] !== 0) {
      for (let j = 0; j < H; j++) {
        const cn = hs[so + H + j] * hc[co + j] + hs[so + j] * (2 * hs[so + 2 * H + j] - 1);
        hc[co + j] = cn;
        const tc = 1 / (1 + Math.exp(-2 * cn));
        ht[to + j] = tc;
        const v = hs[so + 3 * H + j] * (2 * tc - 1);
        h[oo + j] = v;
        hseq[qo + j] = v;
      }
    } else {
      // Masked step: state and output carried over (the gates get no gradient).
      for (let j = 0; j < H; j++) {
        const v = hi[io + j];
        h[oo + j] = v;
        hseq[qo + j] = v;
      }
    }
  }
}

/** The gradients, as slots (to become tensors). */
interface Gradients {
  /** `[T*B, In]` time-major. */
  dxs: Slot;
  dKernel: Slot;
  dRecurrent: Slot;
  dBias: Slot;
}

/** The backward pass through time, then the weight and input gradients over all steps. */
function backwardPass(
  k: Kernels,
  d: Dims,
  weights: { kernel: Slot; recurrent: Slot },
  act: Activations,
  dy: Slot,
): Gradients {
  const { batch: B, steps: T, nIn, hidden: H, reverse, mask } = d;
  const { xs, hPrev, gates, tanhC, cPrev } = act;
  const G = 4 * H, BH = B * H, BG = B * G, TB = T * B;
  const recurrentT = k.scratch(G * H), kernelT = k.scratch(G * nIn);
  transposeInto(
    k.heap(weights.recurrent),
    weights.recurrent.off,
    k.heap(recurrentT),
    recurrentT.off,
    [H, G],
  );
  transposeInto(k.heap(weights.kernel), weights.kernel.off, k.heap(kernelT), kernelT.off, [nIn, G]);
  const recurrentTB = k.prepareB(recurrentT, [G, H]); // packed once, used at every step
  const dz = k.scratch(TB * G); // dL/dz of every step
  const dzBlocks = k.blocks(dz, T, BG);
  const dh = k.scratch(BH); // dL/dh of the state after the current step, from later steps
  const dc = k.scratch(BH); // dL/dc likewise
  const dBias = k.scratch(G);
  const cell = H % 4 === 0 ? k.cell : null;
  const maskTM = mask === null || cell === null ? null : timeMajorMask(k, mask, B, T);
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    if (cell !== null) {
      cell.cellBackward(
        (gates.off + t * BG) * 4,
        (tanhC.off + t * BH) * 4,
        (cPrev.off + t * BH) * 4,
        (dz.off + t * BG) * 4,
        dh.off * 4,
        dc.off * 4,
        (dy.off + t * H) * 4,
        T * H * 4,
        maskTM === null ? 0 : (maskTM.off + t * B) * 4,
        B,
        H,
      );
    } else {
      stepBackwardJs(k, { B, T, H, t, mask }, { gates, tanhC, cPrev, dz, dh, dc, dy });
    }
    // dh (the carry of masked rows, 0 elsewhere) += dz R^T; the initial state needs no gradient.
    if (s > 0) k.matMulPrepared(dzBlocks[t], recurrentTB, dh, B, { accumulate: true });
  }
  // The bias gradient: the column sums of dz.
  if (cell !== null) {
    cell.colSum(dz.off * 4, dBias.off * 4, TB, G);
  } else {
    const hz = k.heap(dz), hb = k.heap(dBias);
    for (let r = 0; r < TB; r++) {
      for (let j = 0; j < G; j++) hb[dBias.off + j] += hz[dz.off + r * G + j];
    }
  }
  const dKernel = k.scratch(nIn * G), dRecurrent = k.scratch(H * G), dxs = k.scratch(TB * nIn);
  const dzB = k.prepareB(dz, [TB, G]); // packed once for both weight gradients
  k.matMulPrepared(xs, dzB, dKernel, nIn, { aTransposed: true }); // xs^T dz
  k.matMulPrepared(hPrev, dzB, dRecurrent, H, { aTransposed: true }); // hPrev^T dz
  k.matMul(dz, kernelT, dxs, [TB, G, nIn]); // dz K^T
  return { dxs, dKernel, dRecurrent, dBias };
}

/** One backward step's element-wise work in JavaScript (what `cellBackward` does in wasm). */
function stepBackwardJs(
  k: Kernels,
  { B, T, H, t, mask }: { B: number; T: number; H: number; t: number; mask: Uint8Array | null },
  slots: { gates: Slot; tanhC: Slot; cPrev: Slot; dz: Slot; dh: Slot; dc: Slot; dy: Slot },
): void {
  const { gates, tanhC, cPrev, dz, dh, dc, dy } = slots;
  const G = 4 * H;
  const hy = k.heap(dy), hz = k.heap(dz), hg = k.heap(gates), ht = k.heap(tanhC);
  const hh = k.heap(dh), hc = k.heap(dc), hcp = k.heap(cPrev);
  for (let b = 0; b < B; b++) {
    const bo = b * H, ho = dh.off + bo, yo = dy.off + (b * T + t) * H, row = t * B + b;
    if (mask !== null && mask[b * T + t] === 0) {
      // Masked step: the state passes through unchanged; the gates get no gradient (dz = 0).
      for (let j = 0; j < H; j++) hh[ho + j] += hy[yo + j];
      continue;
    }
    const go = gates.off + row * G, to = tanhC.off + row * H, zo = dz.off + row * G;
    const co = cPrev.off + row * H, dco = dc.off + bo;
    for (let j = 0; j < H; j++) {
      const dht = hh[ho + j] + hy[yo + j];
      const tc = 2 * ht[to + j] - 1;
      const ig = hg[go + j];
      const fg = hg[go + H + j];
      const gg = 2 * hg[go + 2 * H + j] - 1;
      const og = hg[go + 3 * H + j];
      const dcn = hc[dco + j] + dht * og * (1 - tc * tc);
      hc[dco + j] = dcn * fg;
      hh[ho + j] = 0;
      hz[zo + j] = dcn * gg * ig * (1 - ig);
      hz[zo + H + j] = dcn * hcp[co + j] * fg * (1 - fg);
      hz[zo + 2 * H + j] = dcn * ig * (1 - gg * gg);
      hz[zo + 3 * H + j] = dht * tc * og * (1 - og);
    }
  }
}

/** `[B, T, F]` -> `[T*B, F]` time-major. */
function toTimeMajor(x: tf.Tensor): tf.Tensor2D {
  const [batch, steps, width] = x.shape;
  return tf.reshape(tf.transpose(x, [1, 0, 2]), [steps * batch, width]);
}

/** The inverse of {@linkcode toTimeMajor}: `[T*B, F]` -> `[B, T, F]`. */
function fromTimeMajor(x: tf.Tensor, batch: number, steps: number): tf.Tensor {
  return tf.transpose(tf.reshape(x, [steps, batch, x.shape[1] as number]), [1, 0, 2]);
}

/**
 * Run an LSTM over a whole sequence with the fused kernel: same inputs, outputs and semantics as
 * the reference `lstmSequence`, and gradients w.r.t. `x`, kernel, recurrent kernel and bias (none
 * for the mask). Returns new tensors the caller disposes (or a surrounding `tf.tidy` does).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { lstmSequenceFused } from "./fused_lstm.ts";
 * const x = tf.randomNormal([2, 5, 3]) as tf.Tensor3D;
 * const weights = {
 *   kernel: tf.randomNormal([3, 16]) as tf.Tensor2D,
 *   recurrent: tf.randomNormal([4, 16]) as tf.Tensor2D,
 *   bias: tf.zeros([16]) as tf.Tensor1D,
 * };
 * const { sequence, last } = lstmSequenceFused(x, weights, { reverse: true });
 * console.log(sequence.shape, last.shape); // [2, 5, 4] [2, 4]
 * ```
 */
export function lstmSequenceFused(
  x: tf.Tensor3D,
  weights: LstmWeights,
  options: FusedLstmOptions = {},
): FusedLstmResult {
  const hidden = checkLstmShapes(x, weights, {
    caller: "lstmSequenceFused",
    mask: options.mask,
    float32: true,
  });
  const [batch, steps, nIn] = x.shape;
  const reverse = options.reverse ?? false;
  let mask: Uint8Array | null = null;
  if (options.mask !== undefined) {
    const m = options.mask.dataSync();
    mask = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) mask[i] = m[i] !== 0 ? 1 : 0;
  }
  const d: Dims = { batch, steps, nIn, hidden, reverse, mask };
  const recording = tf.engine().isTapeOn();
  const G = 4 * hidden, TB = steps * batch;

  const fused = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, kernel, recurrent, bias] = args as tf.Tensor[];
    const save = args[4] as tf.GradSaveFunc;
    const xs = toTimeMajor(xIn); // [T*B, In]
    const k = activeKernels();
    let sequence: tf.Tensor;
    let kept: tf.Tensor[] = [];
    try {
      const act: Activations = {
        xs: k.view(xs),
        hPrev: k.scratch(TB * hidden),
        gates: k.scratch(TB * G, { zero: false }), // every row starts as the bias
        tanhC: k.scratch(TB * hidden),
        cPrev: k.scratch(TB * hidden, { zero: false }), // written at every step
      };
      const w = { kernel: k.view(kernel), recurrent: k.view(recurrent), bias: k.view(bias) };
      const seq = k.scratch(TB * hidden, { zero: false }); // written at every step
      forwardPass(k, d, w, seq, act);
      sequence = k.toTensor(seq, [batch, steps, hidden]);
      if (recording) {
        kept = [
          k.toTensor(act.hPrev, [TB, hidden]),
          k.toTensor(act.gates, [TB, G]),
          k.toTensor(act.tanhC, [TB, hidden]),
          k.toTensor(act.cPrev, [TB, hidden]),
        ];
      }
    } finally {
      k.release();
    }
    if (recording) save([xs, kernel, recurrent, ...kept]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xsS, kernelS, recurrentS, hPrevS, gatesS, tanhCS, cPrevS] = saved;
      if (cPrevS === undefined) throw new Error("lstmSequenceFused: no forward state kept");
      const kb = activeKernels();
      try {
        const act = {
          xs: kb.view(xsS),
          hPrev: kb.view(hPrevS),
          gates: kb.view(gatesS),
          tanhC: kb.view(tanhCS),
          cPrev: kb.view(cPrevS),
        };
        const w = { kernel: kb.view(kernelS), recurrent: kb.view(recurrentS) };
        const g = backwardPass(kb, d, w, act, kb.view(dy));
        const dxs = kb.toTensor(g.dxs, [TB, nIn]);
        const dx = fromTimeMajor(dxs, batch, steps);
        dxs.dispose();
        return [
          dx,
          kb.toTensor(g.dKernel, [nIn, G]),
          kb.toTensor(g.dRecurrent, [hidden, G]),
          kb.toTensor(g.dBias, [G]),
        ];
      } finally {
        kb.release();
      }
    };
    return { value: sequence, gradFunc };
  });

  return tf.tidy(() => {
    const sequence = fused(x, weights.kernel, weights.recurrent, weights.bias) as tf.Tensor3D;
    const lastStep = reverse ? 0 : steps - 1;
    return { sequence, last: stepOf(sequence, lastStep) };
  });
}
