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
  const [B, T, H] = x.shape;
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
  const op = tf.customGrad((xArg, sArg, save) => {
    const [xIn, sIn] = [xArg, sArg] as tf.Tensor[];
    (save as tf.GradSaveFunc)([xIn, sIn]);
    const { tensors, at: [yo], f } = outputs(heap, [[B, T, H]]);
    const xo = heap.offsetOf(xIn) >>> 2, so = heap.offsetOf(sIn) >>> 2;
    if (H % 4 === 0) {
      heap.kernels.filmForward(4 * xo, 4 * so, 4 * so, 4 * H, 4 * yo, B, T, H, 0);
    } else {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const row = (b * T + t) * H;
          for (let j = 0; j < H; j++) {
            const sv = f[so + b * H + j];
            f[yo + row + j] = sv * f[xo + row + j] + sv;
          }
        }
      }
    }
    return {
      value: tensors[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const { tensors: [dx, ds], at: [dxo, dso], f: g } = outputs(heap, [[B, T, H], [B, H]]);
        const xs = heap.offsetOf(saved[0]) >>> 2, ss = heap.offsetOf(saved[1]) >>> 2;
        const dyo = heap.offsetOf(dy) >>> 2;
        g.fill(0, dso, dso + B * H);
        if (H % 4 === 0) {
          heap.kernels.filmBackward(
            4 * xs,
            4 * ss,
            4 * H,
            4 * dyo,
            4 * dxo,
            4 * dso,
            4 * dso,
            B,
            T,
            H,
            0,
          );
          return [dx, ds];
        }
        for (let b = 0; b < B; b++) {
          for (let t = 0; t < T; t++) {
            const row = (b * T + t) * H;
            for (let j = 0; j < H; j++) {
              const d = g[dyo + row + j];
              g[dxo + row + j] = d * g[ss + b * H + j];
              g[dso + b * H + j] += d * (g[xs + row + j] + 1);
            }
          }
        }
        return [dx, ds];
      },
    };
  });
  return op(x, s) as tf.Tensor3D;
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
  const [B, T, H] = h.shape;
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
  const op = tf.customGrad((hArg, gbArg, save) => {
    const [hIn, gbIn] = [hArg, gbArg] as tf.Tensor[];
    (save as tf.GradSaveFunc)([hIn, gbIn]);
    const { tensors, at: [yo], f } = outputs(heap, [[B, T, H]]);
    const ho = heap.offsetOf(hIn) >>> 2, go = heap.offsetOf(gbIn) >>> 2;
    if (H % 4 === 0) {
      const one = floatBits(1);
      heap.kernels.filmForward(4 * ho, 4 * go, 4 * (go + H), 8 * H, 4 * yo, B, T, H, one);
    } else {
      for (let b = 0; b < B; b++) {
        const gamma = go + 2 * b * H, beta = gamma + H;
        for (let t = 0; t < T; t++) {
          const row = (b * T + t) * H;
          for (let j = 0; j < H; j++) {
            f[yo + row + j] = (f[gamma + j] + 1) * f[ho + row + j] + f[beta + j];
          }
        }
      }
    }
    return {
      value: tensors[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const { tensors: [dh, dgb], at: [dho, dgo], f: g } = outputs(heap, [[B, T, H], [B, 2 * H]]);
        const hs = heap.offsetOf(saved[0]) >>> 2, gs = heap.offsetOf(saved[1]) >>> 2;
        const dyo = heap.offsetOf(dy) >>> 2;
        g.fill(0, dgo, dgo + 2 * B * H);
        if (H % 4 === 0) {
          const [dGamma, dBeta] = [4 * dgo, 4 * (dgo + H)];
          heap.kernels.filmBackward(
            4 * hs,
            4 * gs,
            8 * H,
            4 * dyo,
            4 * dho,
            dGamma,
            dBeta,
            B,
            T,
            H,
            floatBits(1),
          );
          return [dh, dgb];
        }
        for (let b = 0; b < B; b++) {
          const gamma = gs + 2 * b * H, dGamma = dgo + 2 * b * H, dBeta = dGamma + H;
          for (let t = 0; t < T; t++) {
            const row = (b * T + t) * H;
            for (let j = 0; j < H; j++) {
              const d = g[dyo + row + j];
              g[dho + row + j] = d * (g[gamma + j] + 1);
              g[dGamma + j] += d * g[hs + row + j];
              g[dBeta + j] += d;
            }
          }
        }
        return [dh, dgb];
      },
    };
  });
  return op(h, gammaBeta) as tf.Tensor3D;
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
