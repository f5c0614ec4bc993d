/**
 * The models' small element-wise layers as single ops with hand-written gradients: LeakyReLU,
 * the two FiLM modulations and the last step of a sequence.
 *
 * Composed of TF.js ops, each of these records several ops on the tape, and on the wasm backend
 * some are slow for what they do: `leakyRelu` and its gradient (`Greater` + `Select`) take about
 * 2 ms on `[960, 128]`, a broadcast's gradient is a `Sum` over a middle axis (a transpose, then a
 * sum), a `split`'s gradient is a `Concat`, which the wasm backend runs in JavaScript on copies.
 * Here each is one loop over the values on the wasm heap (no copy), forward and backward: a SIMD
 * kernel of `wasm_elementwise.ts` when the widths allow (multiples of 4), else JavaScript. On other
 * backends they compose TF.js ops, the reference that the tests compare against.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { floatBits } from "./wasm_elementwise.ts";
import { activeWasmHeap, type WasmHeap } from "./wasm_kernels.ts";

/** New float32 tensors of `shapes` on the heap, their float offsets, then the heap as floats. */
function outputs(
  heap: WasmHeap,
  shapes: number[][],
): { tensors: tf.Tensor[]; at: number[]; f: Float32Array } {
  const made = shapes.map((shape) => heap.alloc(shape));
  // Fetch the heap after allocating: the memory may have grown.
  return {
    tensors: made.map((m) => m.tensor),
    at: made.map((m) => m.offset >>> 2),
    f: heap.floats(),
  };
}

/** The wasm heap when every tensor is float32 on it, else null (then compose TF.js ops). */
function heapFor(...tensors: tf.Tensor[]): WasmHeap | null {
  const heap = activeWasmHeap();
  return heap !== null && tensors.every((t) => t.dtype === "float32") ? heap : null;
}

/**
 * LeakyReLU, `x` where `x > 0`, else `slope * x` (the gradient is 1 or `slope` by the same test,
 * as in `tf.leakyRelu`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { leakyRelu } from "./fused_ops.ts";
 * leakyRelu(tf.tensor1d([-1, 2]), 0.2).print(); // [-0.2, 2]
 * ```
 */
export function leakyRelu<T extends tf.Tensor>(x: T, slope: number): T {
  const heap = heapFor(x);
  if (heap === null) return tf.leakyRelu(x, slope);
  const op = tf.customGrad((input, save) => {
    const xIn = input as tf.Tensor;
    (save as tf.GradSaveFunc)([xIn]);
    const { tensors, at, f } = outputs(heap, [xIn.shape]);
    const xo = heap.offsetOf(xIn) >>> 2, yo = at[0], n = xIn.size;
    if (n % 4 === 0) heap.kernels.leakyForward(4 * xo, 4 * yo, n, floatBits(slope));
    else {
      for (let i = 0; i < n; i++) {
        const v = f[xo + i];
        f[yo + i] = v > 0 ? v : slope * v;
      }
    }
    return {
      value: tensors[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const { tensors: [dx], at: [dxo], f: g } = outputs(heap, [dy.shape]);
        const so = heap.offsetOf(saved[0]) >>> 2, dyo = heap.offsetOf(dy) >>> 2;
        if (n % 4 === 0) heap.kernels.leakyBackward(4 * so, 4 * dyo, 4 * dxo, n, floatBits(slope));
        else {
          for (let i = 0; i < n; i++) g[dxo + i] = g[so + i] > 0 ? g[dyo + i] : slope * g[dyo + i];
        }
        return dx;
      },
    };
  });
  return op(x) as T;
}

/**
 * Where a FiLM reads its factor and offset: row b of `params` `[B, width]` holds `a` at column
 * `aAt` and `c` at column `cAt` (the same columns for the input FiLM, whose factor is its offset).
 */
interface FilmLayout {
  aAt: number;
  cAt: number;
  /** Added to `a`: 1 for `(γ + 1) h`, 0 for `s x`. */
  shift: number;
}

/**
 * `y = (a + shift) x + c` on the wasm heap for `x` `[B, T, H]`, with its gradient: dx = dy (a +
 * shift); d params += dy x at `a`'s columns and dy at `c`'s (both, when they are the same columns).
 */
function film(
  heap: WasmHeap,
  x: tf.Tensor3D,
  params: tf.Tensor2D,
  layout: FilmLayout,
): tf.Tensor3D {
  const [B, T, H] = x.shape;
  const W = params.shape[1], { aAt, cAt, shift } = layout;
  const op = tf.customGrad((xArg, pArg, save) => {
    const [xIn, pIn] = [xArg, pArg] as tf.Tensor[];
    (save as tf.GradSaveFunc)([xIn, pIn]);
    const { tensors, at: [yo], f } = outputs(heap, [[B, T, H]]);
    const xo = heap.offsetOf(xIn) >>> 2, po = heap.offsetOf(pIn) >>> 2;
    if (H % 4 === 0) {
      const [a, c] = [4 * (po + aAt), 4 * (po + cAt)];
      heap.kernels.filmForward(4 * xo, a, c, 4 * W, 4 * yo, B, T, H, floatBits(shift));
    } else {
      for (let b = 0; b < B; b++) {
        const a = po + b * W + aAt, c = po + b * W + cAt;
        for (let t = 0; t < T; t++) {
          const row = (b * T + t) * H;
          for (let j = 0; j < H; j++) {
            f[yo + row + j] = (f[a + j] + shift) * f[xo + row + j] + f[c + j];
          }
        }
      }
    }
    return {
      value: tensors[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const { tensors: [dx, dp], at: [dxo, dpo], f: g } = outputs(heap, [[B, T, H], [B, W]]);
        const xs = heap.offsetOf(saved[0]) >>> 2, ps = heap.offsetOf(saved[1]) >>> 2;
        const dyo = heap.offsetOf(dy) >>> 2;
        g.fill(0, dpo, dpo + B * W);
        if (H % 4 === 0) {
          const [a, dA, dC] = [4 * (ps + aAt), 4 * (dpo + aAt), 4 * (dpo + cAt)];
          heap.kernels.filmBackward(
            4 * xs,
            a,
            4 * W,
            4 * dyo,
            4 * dxo,
            dA,
            dC,
            B,
            T,
            H,
            floatBits(shift),
          );
          return [dx, dp];
        }
        for (let b = 0; b < B; b++) {
          const a = ps + b * W + aAt, dA = dpo + b * W + aAt, dC = dpo + b * W + cAt;
          for (let t = 0; t < T; t++) {
            const row = (b * T + t) * H;
            for (let j = 0; j < H; j++) {
              const d = g[dyo + row + j];
              g[dxo + row + j] = d * (g[a + j] + shift);
              g[dA + j] += d * g[xs + row + j];
              g[dC + j] += d;
            }
          }
        }
        return [dx, dp];
      },
    };
  });
  return op(x, params) as tf.Tensor3D;
}

/**
 * Input FiLM, `x' = s * x + s` for `x` `[B, T, H]` and `s` `[B, H]` (the same `s` at every step).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { filmInput } from "./fused_ops.ts";
 * filmInput(tf.zeros([2, 5, 4]), tf.ones([2, 4])).print(); // all ones
 * ```
 */
export function filmInput(x: tf.Tensor3D, s: tf.Tensor2D): tf.Tensor3D {
  const [B, , H] = x.shape;
  if (s.shape[0] !== B || s.shape[1] !== H) {
    throw new Error(`filmInput: s must be [${B}, ${H}], got [${s.shape}]`);
  }
  const heap = heapFor(x, s);
  if (heap === null) {
    return tf.tidy(() => {
      const s3 = tf.expandDims(s, 1);
      return tf.add(tf.mul(s3, x), s3);
    });
  }
  return film(heap, x, s, { aAt: 0, cAt: 0, shift: 0 });
}

/**
 * Hidden FiLM, `h' = (γ + 1) * h + β` for `h` `[B, T, H]` and `gammaBeta` `[B, 2H]` (γ the first H
 * columns, β the last H; the same at every step).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { filmHidden } from "./fused_ops.ts";
 * filmHidden(tf.ones([2, 5, 4]), tf.zeros([2, 8])).print(); // unchanged: all ones
 * ```
 */
export function filmHidden(h: tf.Tensor3D, gammaBeta: tf.Tensor2D): tf.Tensor3D {
  const [B, , H] = h.shape;
  if (gammaBeta.shape[0] !== B || gammaBeta.shape[1] !== 2 * H) {
    throw new Error(`filmHidden: gammaBeta must be [${B}, ${2 * H}], got [${gammaBeta.shape}]`);
  }
  const heap = heapFor(h, gammaBeta);
  if (heap === null) {
    return tf.tidy(() => {
      const [gamma, beta] = tf.split(gammaBeta, 2, 1);
      return tf.add(tf.mul(tf.add(tf.expandDims(gamma, 1), 1), h), tf.expandDims(beta, 1));
    });
  }
  return film(heap, h, gammaBeta, { aAt: 0, cAt: H, shift: 1 });
}

/**
 * Step `t` of a sequence `[B, T, H]` as `[B, H]` (`tf.slice` and its gradient, a pad, copy the
 * whole sequence on the wasm backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { stepOf } from "./fused_ops.ts";
 * stepOf(tf.range(0, 6).reshape([1, 3, 2]) as tf.Tensor3D, 2).print(); // [[4, 5]]
 * ```
 */
export function stepOf(sequence: tf.Tensor3D, t: number): tf.Tensor2D {
  const [B, T, H] = sequence.shape;
  if (!Number.isInteger(t) || t < 0 || t >= T) {
    throw new Error(`stepOf: step ${t} is outside the sequence's ${T} steps`);
  }
  const heap = heapFor(sequence);
  if (heap === null) {
    return tf.tidy(() => tf.reshape(tf.slice(sequence, [0, t, 0], [B, 1, H]), [B, H]));
  }
  const op = tf.customGrad((seqArg) => {
    const seq = seqArg as tf.Tensor;
    const { tensors, at: [yo], f } = outputs(heap, [[B, H]]);
    const so = heap.offsetOf(seq) >>> 2;
    for (let b = 0; b < B; b++) {
      const from = so + (b * T + t) * H;
      f.copyWithin(yo + b * H, from, from + H);
    }
    return {
      value: tensors[0],
      gradFunc: (dy: tf.Tensor) => {
        const { tensors: [dSeq], at: [dso], f: g } = outputs(heap, [[B, T, H]]);
        const dyo = heap.offsetOf(dy) >>> 2;
        g.fill(0, dso, dso + B * T * H);
        for (let b = 0; b < B; b++) {
          g.copyWithin(dso + (b * T + t) * H, dyo + b * H, dyo + (b + 1) * H);
        }
        return dSeq;
      },
    };
  });
  return op(sequence) as tf.Tensor2D;
}
