/**
 * A 2-D matrix product with a hand-written gradient. On the wasm backend the product and both
 * gradients run in the packed GEMM of `wasm_gemm.ts` when the output has a multiple of 8 columns
 * (A^T for the weight gradient is read transposed while packing, with no transpose op); otherwise
 * `tf.matMul` computes them, with explicit transposes (the TF.js wasm backend computes `matMul`
 * with `transposeA`/`transposeB`, what autodiff of `matMul` emits, about 10-20x slower than a
 * transpose followed by a plain product).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CACHE_LINE_FLOATS, cacheLineStart, gemmColumnBlock, packedASize } from "./wasm_gemm.ts";
import { activeWasmHeap } from "./wasm_kernels.ts";

/**
 * `a b` (or `a^T b` when `aTransposed`) in the packed GEMM on the wasm heap; null where it does
 * not apply (other backend, no wasm SIMD, columns not a multiple of 8).
 */
function wasmProduct(a: tf.Tensor2D, b: tf.Tensor2D, aTransposed: boolean): tf.Tensor2D | null {
  const heap = activeWasmHeap();
  const n = b.shape[1];
  if (heap === null || n % 8 !== 0 || a.dtype !== "float32" || b.dtype !== "float32") return null;
  const [m, k] = aTransposed ? [a.shape[1], a.shape[0]] : a.shape;
  // Packed operands start on a cache line (byte offsets here, float offsets in cacheLineStart).
  const pad = CACHE_LINE_FLOATS - 1;
  const ap = heap.alloc([packedASize(m, k) + pad]), bp = heap.alloc([k * n + pad]);
  const [apAt, bpAt] = [ap.offset, bp.offset].map((o) => 4 * cacheLineStart(o / 4));
  const c = heap.alloc([m, n]);
  const { kernels } = heap;
  kernels.packA(heap.offsetOf(a), apAt, m, k, aTransposed ? 1 : 0);
  kernels.packB(heap.offsetOf(b), bpAt, k, n);
  kernels.gemm(apAt, bpAt, c.offset, m, k, n, 0, gemmColumnBlock(k, n));
  ap.tensor.dispose();
  bp.tensor.dispose();
  return c.tensor as tf.Tensor2D;
}

/** `a b`: the GEMM where it applies, else `tf.matMul`. */
const forward = (a: tf.Tensor2D, b: tf.Tensor2D) => wasmProduct(a, b, false) ?? tf.matMul(a, b);

/** The weight gradient `a^T dy` (A read transposed while packing, no transpose op). */
const weightGradient = (a: tf.Tensor2D, dy: tf.Tensor2D) =>
  wasmProduct(a, dy, true) ?? tf.matMul(tf.transpose(a), dy);

const product = tf.customGrad((a, b, save) => {
  const x = a as tf.Tensor2D;
  const y = b as tf.Tensor2D;
  (save as tf.GradSaveFunc)([x, y]);
  return {
    value: forward(x, y),
    gradFunc: (dy, saved) => {
      const [sx, sy] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D;
      return [forward(g, tf.transpose(sy)), weightGradient(sx, g)]; // sy^T: the weights, small
    },
  };
});

/** `a b` whose backward pass computes only the gradient of `b` (`a` is data). */
function productOfData(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((bArg, save) => {
    const y = bArg as tf.Tensor2D;
    (save as tf.GradSaveFunc)([a]);
    return {
      value: forward(a, y),
      gradFunc: (dy, saved) => weightGradient((saved as tf.Tensor2D[])[0], dy as tf.Tensor2D),
    };
  });
  return op(b) as tf.Tensor2D;
}

/**
 * `a b` for `a` `[M, K]` and `b` `[K, N]`, same values as `tf.matMul` (within float rounding),
 * faster with its gradients on wasm. With `dataInput`, `a` is data: its gradient is not computed
 * (on `[960, 41]` inputs that product alone takes 0.6 ms on wasm), and `tf.grads` throws if asked
 * for it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matMul } from "./matmul.ts";
 * console.log(matMul(tf.ones([2, 3]), tf.ones([3, 4])).shape); // [2, 4]
 * ```
 */
export function matMul(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  options: { dataInput?: boolean } = {},
): tf.Tensor2D {
  return options.dataInput ? productOfData(a, b) : product(a, b) as tf.Tensor2D;
}
