/**
 * A fused sequence LSTM for TF.js: the same contract as the reference `lstmSequence` of
 * `lstm_seq.ts` (gate order i, f, g, o as `tf.layers.lstm`; kernel `[In, 4H]`, recurrent `[H, 4H]`,
 * bias `[4H]`; mask `[B, T]` where 0 carries the state over; `reverse` runs t = T-1..0 and returns
 * the sequence in the original order), but the whole time loop, forward and backward, runs inside
 * one `tf.customGrad` op, so the gradient tape records one op per sequence instead of dozens per
 * step.
 *
 * Inside that op:
 * - the input projections of all steps are one product (`[T*B, In] x [In, 4H]`, bias included);
 * - each step runs one recurrent product accumulated onto its input projection, one sigmoid over
 *   all gates and one over the cell state, and the gate arithmetic in plain JavaScript loops;
 * - the hand-written backward pass through time runs one product per step (`dz x R^T`); the
 *   weight and input gradients are three large products over all steps at once.
 *
 * Every buffer is time-major (row t*B + b is batch b at time t), so each step's rows are
 * contiguous. `tanh(x)` is computed as `2 sigmoid(2x) - 1` (the g columns of the weights are
 * doubled), so every transcendental runs in one vectorised sigmoid call.
 *
 * On the wasm backend everything runs on buffers of the wasm heap, with no tensor created per step:
 * the products in a small GEMM assembled at load time in WebAssembly (relaxed-SIMD fused
 * multiply-add where the runtime has it; XNNPACK, the backend's own library, is built without it),
 * the sigmoids in the backend's XNNPACK kernel. On any other backend (e.g. cpu) the same algorithm
 * runs with JavaScript kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LstmWeights } from "./lstm_seq.ts";

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

/** The few primitives the LSTM loops need from a backend. */
interface Kernels {
  /** A zero-filled buffer the kernels can read and write; freed by {@linkcode Kernels.release}. */
  scratch(size: number): Slot;
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
  /** out = sigmoid(x), element-wise over the whole slot. */
  sigmoid(x: Slot, out: Slot): void;
  /** Free every scratch buffer not turned into a tensor, and every block id. */
  release(): void;
}

// ---------------------------------------------------------------------------------------------
// The GEMM in WebAssembly, assembled here and run on the wasm backend's own memory.

/** gemm(a, b, c, m, k, n, at, flags) on byte offsets; flags: 1 = accumulate, 2 = a is [k, m]. */
type GemmFn = (
  a: number,
  b: number,
  c: number,
  m: number,
  k: number,
  n: number,
  at: number,
  flags: number,
) => void;

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** Rows of A per register tile (then smaller tiles for the remainder), columns: always 8. */
const TILE_ROWS = [6, 4, 2, 1];
/** Depth of one pass over k (keeps a strip of B and a panel of A in the L1 cache). */
const K_BLOCK = 256;

/**
 * The GEMM module: C[m, n] (+)= A[m, k] B[k, n], row-major, n % 8 === 0. Unless flags & 2, A is
 * first transposed into `at` ([k, m], scratch of 4*m*k bytes). Then, for each block of 256 steps
 * of k, strips of 8 columns of B and C and panels of 6 rows of A (4, 2, 1 for the remainder) are
 * multiplied with 2 x rows accumulators of 4 lanes, one multiply-add per accumulator and step of k
 * (`f32x4.relaxed_madd` when `fused`, else `f32x4.mul` + `f32x4.add`).
 */
function gemmModuleBytes(fused: boolean): Uint8Array<ArrayBuffer> {
  const I32 = 0x7f, V128 = 0x7b;
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const tee = (i: number) => [0x22, ...uleb(i)];
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const [add, sub, mul, and, or] = [[0x6a], [0x6b], [0x6c], [0x71], [0x72]];
  const [ltu, leu, gtu, ne, eqz, select] = [[0x49], [0x4d], [0x4b], [0x47], [0x45], [0x1b]];
  const simd = (op: number) => [0xfd, ...uleb(op)];
  const vload = (off: number) => [...simd(0), 4, ...uleb(off)];
  const vstore = (off: number) => [...simd(11), 4, ...uleb(off)];
  const splat = (off: number) => [...simd(9), 2, ...uleb(off)];
  const fload = [0x2a, 2, 0], fstore = [0x38, 2, 0];
  const vzero = [...simd(12), ...new Array(16).fill(0)];
  const block = [0x02, 0x40], loop = [0x03, 0x40], ifThen = [0x04, 0x40], orElse = [0x05];
  const end = [0x0b];
  const br = (d: number) => [0x0c, d], brIf = (d: number) => [0x0d, d];
  // params 0..7: a, b, c, m, k, n, at, flags; i32 locals 8..20; v128 locals from 21
  const [A, Bp, C, M, K, N, AT, FLAGS] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [I, J, P, PA, PB, PC, LDB, LDA, PEND, KB, KC, LOADC, TMP] = [
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
  ];
  const ACC = 21, B0 = ACC + 2 * TILE_ROWS[0], B1 = B0 + 1, AV = B1 + 1;
  const code: number[] = [];
  const e = (...parts: number[][]) => {
    for (const part of parts) code.push(...part);
  };
  const multiplyAdd = (acc: number, bv: number) => {
    if (fused) e(get(AV), get(bv), get(acc), simd(261), set(acc));
    else e(get(acc), get(AV), get(bv), simd(230), simd(228), set(acc));
  };
  e(get(N), i32(4), mul, set(LDB), get(M), i32(4), mul, set(LDA));
  // A transposed: at[p*m + i] = a[i*k + p] (or a already is [k, m])
  e(get(FLAGS), i32(2), and, ifThen, get(A), set(AT), orElse);
  e(i32(0), set(I), block, loop, get(I), get(M), ltu, eqz, brIf(1));
  e(get(A), get(I), get(K), mul, i32(4), mul, add, set(PA));
  e(get(AT), get(I), i32(4), mul, add, set(PB));
  e(i32(0), set(P), block, loop, get(P), get(K), ltu, eqz, brIf(1));
  e(get(PB), get(PA), fload, fstore);
  e(get(PA), i32(4), add, set(PA), get(PB), get(LDA), add, set(PB));
  e(get(P), i32(1), add, set(P), br(0), end, end);
  e(get(I), i32(1), add, set(I), br(0), end, end, end);
  // blocks of k
  e(i32(0), set(KB), block, loop, get(KB), get(K), ltu, eqz, brIf(1));
  // KC = min(K - KB, K_BLOCK)
  e(get(K), get(KB), sub, set(TMP), i32(K_BLOCK), get(TMP), get(TMP), i32(K_BLOCK), gtu, select);
  e(set(KC));
  e(get(FLAGS), i32(1), and, get(KB), i32(0), ne, or, set(LOADC));
  // strips of 8 columns
  e(i32(0), set(J), block, loop, get(J), get(N), ltu, eqz, brIf(1));
  e(i32(0), set(I));
  for (const R of TILE_ROWS) {
    e(block, loop, get(I), i32(R), add, get(M), leu, eqz, brIf(1));
    e(get(LOADC), ifThen);
    for (let r = 0; r < R; r++) {
      e(get(C), get(I), i32(r), add, get(N), mul, get(J), add, i32(4), mul, add, tee(PC));
      e(vload(0), set(ACC + 2 * r), get(PC), vload(16), set(ACC + 2 * r + 1));
    }
    e(orElse);
    for (let q = 0; q < 2 * R; q++) e(vzero, set(ACC + q));
    e(end);
    e(get(AT), get(KB), get(M), mul, get(I), add, i32(4), mul, add, set(PA));
    e(get(Bp), get(KB), get(N), mul, get(J), add, i32(4), mul, add, tee(PB));
    e(get(KC), get(LDB), mul, add, set(PEND));
    e(block, loop, get(PB), vload(0), set(B0), get(PB), vload(16), set(B1));
    for (let r = 0; r < R; r++) {
      e(get(PA), splat(4 * r), set(AV));
      multiplyAdd(ACC + 2 * r, B0);
      multiplyAdd(ACC + 2 * r + 1, B1);
    }
    e(get(PA), get(LDA), add, set(PA));
    e(get(PB), get(LDB), add, tee(PB), get(PEND), ltu, brIf(0), end, end);
    for (let r = 0; r < R; r++) {
      e(get(C), get(I), i32(r), add, get(N), mul, get(J), add, i32(4), mul, add, tee(PC));
      e(get(ACC + 2 * r), vstore(0), get(PC), get(ACC + 2 * r + 1), vstore(16));
    }
    e(get(I), i32(R), add, set(I), br(0), end, end);
  }
  e(get(J), i32(8), add, set(J), br(0), end, end);
  e(get(KB), i32(K_BLOCK), add, set(KB), br(0), end, end, end);
  const body = [2, ...uleb(13), I32, ...uleb(2 * TILE_ROWS[0] + 3), V128, ...code];
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = (text: string) => [...uleb(text.length), ...new TextEncoder().encode(text)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 8, I32, I32, I32, I32, I32, I32, I32, I32, 0]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x01]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("gemm"), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** The GEMM flavour this runtime compiles: relaxed-SIMD multiply-add, plain SIMD, or none. */
type GemmKind = "relaxed-simd" | "simd" | "none";

let gemmModule: { kind: GemmKind; module: WebAssembly.Module | null } | undefined;
const gemmByMemory = new WeakMap<WebAssembly.Memory, GemmFn | null>();

function compiledGemm(): { kind: GemmKind; module: WebAssembly.Module | null } {
  if (gemmModule === undefined) {
    gemmModule = { kind: "none", module: null };
    for (const [kind, fused] of [["relaxed-simd", true], ["simd", false]] as const) {
      const bytes = gemmModuleBytes(fused);
      if (WebAssembly.validate(bytes)) {
        gemmModule = { kind, module: new WebAssembly.Module(bytes) };
        break;
      }
    }
  }
  return gemmModule;
}

/** The GEMM bound to a wasm memory; null without wasm SIMD or with a shared memory. */
function gemmFor(memory: WebAssembly.Memory | undefined): GemmFn | null {
  if (
    memory === undefined ||
    (typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer)
  ) {
    return null;
  }
  const known = gemmByMemory.get(memory);
  if (known !== undefined) return known;
  const { module } = compiledGemm();
  const fn = module === null
    ? null
    : new WebAssembly.Instance(module, { env: { memory } }).exports.gemm as GemmFn;
  gemmByMemory.set(memory, fn);
  return fn;
}

// ---------------------------------------------------------------------------------------------
// Kernels on the wasm heap, and in plain JavaScript.

interface WasmModule {
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

interface WasmBackendLike {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32" | "int32"): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

function isWasmBackend(backend: unknown): backend is WasmBackendLike {
  const b = backend as Partial<WasmBackendLike> | null;
  return b !== null && typeof b === "object" && b.wasm !== undefined &&
    typeof b.wasm._BatchMatMul === "function" && typeof b.wasm._Sigmoid === "function" &&
    typeof b.wasm.tfjs?.registerTensor === "function" &&
    typeof b.wasm.tfjs?.disposeData === "function" &&
    typeof b.dataIdNextNumber === "number" && typeof b.makeOutput === "function" &&
    b.dataIdMap !== undefined;
}

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
 * Kernels of the wasm backend, called directly on heap buffers: the GEMM above (XNNPACK's matMul
 * when n % 8 !== 0 or without wasm SIMD) and XNNPACK's sigmoid.
 */
function wasmKernels(backend: WasmBackendLike): Kernels {
  const wasm = backend.wasm;
  const owned: tf.DataId[] = [];
  const blockIds: number[] = [];
  const slotOf = (dataId: tf.DataId, size: number): Slot => {
    const info = backend.dataIdMap.get(dataId);
    return { arr: wasm.HEAPF32, off: info.memoryOffset >>> 2, id: info.id, size, dataId };
  };
  const gemm = gemmFor(wasm.asm?.memory);
  let shapePtr = -1; // [1, m, k] and [1, k, n] for XNNPACK's matMul
  let gemmScratch: Slot | null = null; // A transposed, for the GEMM
  let tmp: Slot | null = null; // the XNNPACK fallback's operands
  const grow = (slot: Slot | null, size: number): Slot =>
    slot !== null && slot.size >= size ? slot : kernels.scratch(size);
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
  const kernels: Kernels = {
    scratch(size) {
      const info = backend.makeOutput([Math.max(1, size)], "float32");
      owned.push(info.dataId);
      const slot = slotOf(info.dataId, size);
      slot.arr.fill(0, slot.off, slot.off + size);
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
      const accumulate = options.accumulate ?? false;
      const aTransposed = options.aTransposed ?? false;
      if (gemm !== null && n % 8 === 0) {
        if (!aTransposed) gemmScratch = grow(gemmScratch, m * k);
        const at = aTransposed ? 0 : (gemmScratch as Slot).off * 4;
        gemm(
          a.off * 4,
          b.off * 4,
          c.off * 4,
          m,
          k,
          n,
          at,
          (accumulate ? 1 : 0) | (aTransposed ? 2 : 0),
        );
        return;
      }
      // XNNPACK: A must be [m, k] and C is overwritten, so transpose and accumulate around it.
      let aIn = a;
      if (aTransposed) {
        tmp = grow(tmp, m * k);
        const heap = wasm.HEAPF32;
        aIn = kernels.blocks(tmp, 1, m * k)[0];
        transposeInto(heap, a.off, heap, aIn.off, [k, m]);
      }
      if (!accumulate) {
        xnnMatMul(aIn, b, c, [m, k, n]);
        return;
      }
      const product = kernels.blocks(kernels.scratch(m * n), 1, m * n)[0];
      xnnMatMul(aIn, b, product, [m, k, n]);
      const heap = wasm.HEAPF32;
      for (let i = 0; i < m * n; i++) heap[c.off + i] += heap[product.off + i];
    },
    sigmoid(x, out) {
      wasm._Sigmoid(x.id, out.id);
    },
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
    sigmoid(x, out) {
      const X = x.arr, O = out.arr;
      for (let i = 0; i < x.size; i++) O[out.off + i] = 1 / (1 + Math.exp(-X[x.off + i]));
    },
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
  if (gemmFor(backend.wasm.asm?.memory) === null) return "wasm-xnnpack";
  return compiledGemm().kind === "relaxed-simd" ? "wasm-relaxed-simd-gemm" : "wasm-simd-gemm";
}

/** The kernels of the active backend: direct wasm calls on wasm, plain JavaScript elsewhere. */
function activeKernels(): Kernels {
  const backend = tf.engine().findBackend(tf.getBackend());
  return isWasmBackend(backend) ? wasmKernels(backend) : jsKernels();
}

// ---------------------------------------------------------------------------------------------
// The LSTM.

function checkShapes(x: tf.Tensor3D, weights: LstmWeights, mask?: tf.Tensor2D): number {
  if (x.rank !== 3) throw new Error(`lstmSequenceFused: x must be [B, T, In], got [${x.shape}]`);
  const [batch, steps, nIn] = x.shape;
  const { kernel, recurrent, bias } = weights;
  const hidden = recurrent.shape[0];
  if (recurrent.rank !== 2 || recurrent.shape[1] !== 4 * hidden) {
    throw new Error(
      `lstmSequenceFused: recurrent kernel must be [H, 4H], got [${recurrent.shape}]`,
    );
  }
  if (kernel.rank !== 2 || kernel.shape[0] !== nIn || kernel.shape[1] !== 4 * hidden) {
    throw new Error(
      `lstmSequenceFused: kernel must be [In=${nIn}, 4H=${4 * hidden}], got [${kernel.shape}]`,
    );
  }
  if (bias.rank !== 1 || bias.shape[0] !== 4 * hidden) {
    throw new Error(`lstmSequenceFused: bias must be [4H=${4 * hidden}], got [${bias.shape}]`);
  }
  if (
    mask !== undefined && (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== steps)
  ) {
    throw new Error(
      `lstmSequenceFused: mask must be [B=${batch}, T=${steps}], got [${mask.shape}]`,
    );
  }
  const named: [string, tf.Tensor][] = [
    ["x", x],
    ["kernel", kernel],
    ["recurrent", recurrent],
    ["bias", bias],
  ];
  for (const [name, t] of named) {
    if (t.dtype !== "float32") {
      throw new Error(`lstmSequenceFused: ${name} must be float32, got ${t.dtype}`);
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
  cPrev: Float32Array;
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
  heap = k.heap(gates);
  const hb = k.heap(bias2);
  for (let r = 0; r < T * B; r++) {
    for (let j = 0; j < G; j++) heap[gates.off + r * G + j] = hb[bias2.off + j];
  }
  k.matMul(xs, kernel2, gates, [T * B, nIn, G], { accumulate: true });
  const c2 = k.scratch(BH); // 2 * new cell state
  const hLast = k.scratch(BH); // the state after the last step
  const hBlocks = k.blocks(hPrev, T, BH);
  const gateBlocks = k.blocks(gates, T, BG);
  const tanhBlocks = k.blocks(tanhC, T, BH);
  const c = new Float32Array(BH); // cell state
  const cNew = new Float32Array(BH);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const hIn = hBlocks[t], sg = gateBlocks[t], tc = tanhBlocks[t];
    const next = s === T - 1 ? hLast : hBlocks[reverse ? t - 1 : t + 1];
    k.matMul(hIn, recurrent2, sg, [B, H, G], { accumulate: true });
    k.sigmoid(sg, sg);
    const hs = k.heap(sg), hc2 = k.heap(c2);
    cPrev.set(c, t * BH);
    for (let b = 0; b < B; b++) {
      const so = sg.off + b * G, bo = b * H, c2o = c2.off + bo;
      for (let j = 0; j < H; j++) {
        const cn = hs[so + H + j] * c[bo + j] + hs[so + j] * (2 * hs[so + 2 * H + j] - 1);
        cNew[bo + j] = cn;
        hc2[c2o + j] = 2 * cn;
      }
    }
    k.sigmoid(c2, tc);
    const h = k.heap(next), hi = k.heap(hIn), ht = k.heap(tc), ho = k.heap(sg);
    const hseq = k.heap(seq);
    for (let b = 0; b < B; b++) {
      const bo = b * H, so = sg.off + b * G + 3 * H, to = tc.off + bo;
      const io = hIn.off + bo, oo = next.off + bo, qo = seq.off + (b * T + t) * H;
      if (mask === null || mask[b * T + t] !== 0) {
        for (let j = 0; j < H; j++) {
          const v = ho[so + j] * (2 * ht[to + j] - 1);
          c[bo + j] = cNew[bo + j];
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
  const dz = k.scratch(TB * G); // dL/dz of every step
  const dzBlocks = k.blocks(dz, T, BG);
  const dh = k.scratch(BH); // dL/dh of the state after the current step, from later steps
  const dc = new Float32Array(BH);
  const dBias = k.scratch(G);
  const db = new Float32Array(G);
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const hy = k.heap(dy), hz = k.heap(dz), hg = k.heap(gates), ht = k.heap(tanhC);
    const hh = k.heap(dh);
    for (let b = 0; b < B; b++) {
      const bo = b * H, ho = dh.off + bo, yo = dy.off + (b * T + t) * H, row = t * B + b;
      if (mask !== null && mask[b * T + t] === 0) {
        // Masked step: the state passes through unchanged; the gates get no gradient (dz = 0).
        for (let j = 0; j < H; j++) hh[ho + j] += hy[yo + j];
        continue;
      }
      const go = gates.off + row * G, to = tanhC.off + row * H, zo = dz.off + row * G;
      const co = row * H;
      for (let j = 0; j < H; j++) {
        const dht = hh[ho + j] + hy[yo + j];
        const tc = 2 * ht[to + j] - 1;
        const ig = hg[go + j];
        const fg = hg[go + H + j];
        const gg = 2 * hg[go + 2 * H + j] - 1;
        const og = hg[go + 3 * H + j];
        const dcn = dc[bo + j] + dht * og * (1 - tc * tc);
        const dzi = dcn * gg * ig * (1 - ig);
        const dzf = dcn * cPrev[co + j] * fg * (1 - fg);
        const dzg = dcn * ig * (1 - gg * gg);
        const dzo = dht * tc * og * (1 - og);
        dc[bo + j] = dcn * fg;
        hh[ho + j] = 0;
        hz[zo + j] = dzi;
        hz[zo + H + j] = dzf;
        hz[zo + 2 * H + j] = dzg;
        hz[zo + 3 * H + j] = dzo;
        db[j] += dzi;
        db[H + j] += dzf;
        db[2 * H + j] += dzg;
        db[3 * H + j] += dzo;
      }
    }
    // dh (the carry of masked rows, 0 elsewhere) += dz R^T; the initial state needs no gradient.
    if (s > 0) k.matMul(dzBlocks[t], recurrentT, dh, [B, G, H], { accumulate: true });
  }
  k.heap(dBias).set(db, dBias.off);
  const dKernel = k.scratch(nIn * G), dRecurrent = k.scratch(H * G), dxs = k.scratch(TB * nIn);
  k.matMul(xs, dz, dKernel, [nIn, TB, G], { aTransposed: true }); // xs^T dz
  k.matMul(hPrev, dz, dRecurrent, [H, TB, G], { aTransposed: true }); // hPrev^T dz
  k.matMul(dz, kernelT, dxs, [TB, G, nIn]); // dz K^T
  return { dxs, dKernel, dRecurrent, dBias };
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
  const hidden = checkShapes(x, weights, options.mask);
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
    const cPrev = new Float32Array(TB * hidden);
    let sequence: tf.Tensor;
    let kept: tf.Tensor[] = [];
    try {
      const act: Activations = {
        xs: k.view(xs),
        hPrev: k.scratch(TB * hidden),
        gates: k.scratch(TB * G),
        tanhC: k.scratch(TB * hidden),
        cPrev,
      };
      const w = { kernel: k.view(kernel), recurrent: k.view(recurrent), bias: k.view(bias) };
      const seq = k.scratch(TB * hidden);
      forwardPass(k, d, w, seq, act);
      sequence = k.toTensor(seq, [batch, steps, hidden]);
      if (recording) {
        kept = [
          k.toTensor(act.hPrev, [TB, hidden]),
          k.toTensor(act.gates, [TB, G]),
          k.toTensor(act.tanhC, [TB, hidden]),
        ];
      }
    } finally {
      k.release();
    }
    if (recording) save([xs, kernel, recurrent, ...kept]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xsS, kernelS, recurrentS, hPrevS, gatesS, tanhCS] = saved;
      if (tanhCS === undefined) throw new Error("lstmSequenceFused: no forward state kept");
      const kb = activeKernels();
      try {
        const act = {
          xs: kb.view(xsS),
          hPrev: kb.view(hPrevS),
          gates: kb.view(gatesS),
          tanhC: kb.view(tanhCS),
          cPrev,
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
    const last = tf.reshape(
      tf.slice(sequence, [0, lastStep, 0], [batch, 1, hidden]),
      [batch, hidden],
    ) as tf.Tensor2D;
    return { sequence, last };
  });
}
