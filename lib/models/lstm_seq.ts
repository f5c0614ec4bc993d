/**
 * The one LSTM every model uses: a functional LSTM over a whole sequence `[B, T, In]`, with the
 * weights passed in (so the same code serves the decoder, the stacked layers and both directions of
 * the task encoder, and gradients flow to whatever variables the caller owns).
 *
 * Gate order i, f, g (cell candidate), o, exactly as `tf.layers.lstm` lays out its kernel,
 * recurrent kernel and bias (with `recurrentActivation: "sigmoid"`; tf.layers defaults to
 * hard-sigmoid). The "fused" implementation (the default) is `kernels/fused_lstm.ts`: one
 * `tf.customGrad` op per sequence over WebAssembly kernels. The reference implementation is plain
 * TF.js ops (differentiable by autodiff): the oracle the fused one is tested against.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LstmImpl } from "./config.ts";
import { checkLstmShapes, lstmSequenceFused } from "./kernels/fused_lstm.ts";
import { matMul } from "./kernels/matmul.ts";
import type { LstmWeights } from "./types.ts";

/** Options of {@linkcode lstmSequence}. */
export interface LstmSequenceOptions {
  /** Run from t = T-1 down to 0; `sequence` is still returned in the original time order. */
  reverse?: boolean;
  /** `[B, T]`, 1 = step used, 0 = step skipped: state and output carried over (tf.layers masking). */
  mask?: tf.Tensor2D;
  /** "fused" (default) or "reference" (plain TF.js ops, the test oracle). */
  impl?: LstmImpl;
}

/** The result of {@linkcode lstmSequence}. */
export interface LstmSequenceResult {
  /** `[B, T, H]` hidden state after each step, in the original time order. */
  sequence: tf.Tensor3D;
  /** `[B, H]` the final hidden state (after t = T-1, or after t = 0 when `reverse`). */
  last: tf.Tensor2D;
}

/** The signature shared by the reference and the fused implementation. */
export type LstmSequenceFn = (
  x: tf.Tensor3D,
  weights: LstmWeights,
  options?: LstmSequenceOptions,
) => LstmSequenceResult;

function referenceLstm(
  x: tf.Tensor3D,
  weights: LstmWeights,
  reverse: boolean,
  mask: tf.Tensor2D | undefined,
): LstmSequenceResult {
  const hidden = checkLstmShapes(x, weights, { caller: "lstmSequence", mask });
  const [batch, steps, nIn] = x.shape;
  return tf.tidy(() => {
    // The input projection of every step at once: [B*T, In] x [In, 4H] + bias.
    const projected = tf.add(
      matMul(tf.reshape(x, [batch * steps, nIn]), weights.kernel),
      weights.bias,
    )
      .reshape([batch, steps, 4 * hidden]);
    const inputs = tf.unstack(projected, 1) as tf.Tensor2D[];
    const masks = mask === undefined
      ? null
      : tf.unstack(tf.reshape(tf.cast(mask, "float32"), [batch, steps, 1]), 1) as tf.Tensor2D[];
    let h: tf.Tensor2D = tf.zeros([batch, hidden]);
    let c: tf.Tensor2D = tf.zeros([batch, hidden]);
    const outputs: tf.Tensor2D[] = new Array(steps);
    for (let k = 0; k < steps; k++) {
      const t = reverse ? steps - 1 - k : k;
      const z = tf.add(inputs[t], matMul(h, weights.recurrent));
      const [zi, zf, zg, zo] = tf.split(z, 4, 1);
      const cNew = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg)));
      const hNew = tf.mul(tf.sigmoid(zo), tf.tanh(cNew));
      if (masks === null) {
        h = hNew as tf.Tensor2D;
        c = cNew as tf.Tensor2D;
      } else {
        const m = masks[t];
        const keep = tf.sub(1, m);
        h = tf.add(tf.mul(hNew, m), tf.mul(h, keep));
        c = tf.add(tf.mul(cNew, m), tf.mul(c, keep));
      }
      outputs[t] = h;
    }
    return { sequence: tf.stack(outputs, 1) as tf.Tensor3D, last: h };
  });
}

/**
 * Run an LSTM over a whole sequence. Returns new tensors the caller disposes (or a surrounding
 * `tf.tidy` does).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { lstmSequence } from "./lstm_seq.ts";
 * const x = tf.randomNormal([2, 5, 3]) as tf.Tensor3D;
 * const weights = {
 *   kernel: tf.randomNormal([3, 16]) as tf.Tensor2D,
 *   recurrent: tf.randomNormal([4, 16]) as tf.Tensor2D,
 *   bias: tf.zeros([16]) as tf.Tensor1D,
 * };
 * const { sequence, last } = lstmSequence(x, weights, { reverse: true });
 * console.log(sequence.shape, last.shape); // [2, 5, 4] [2, 4]
 * ```
 */
export function lstmSequence(
  x: tf.Tensor3D,
  weights: LstmWeights,
  options: LstmSequenceOptions = {},
): LstmSequenceResult {
  const impl = options.impl ?? "fused";
  if (impl === "fused") {
    return lstmSequenceFused(x, weights, { reverse: options.reverse, mask: options.mask });
  }
  if (impl !== "reference") throw new Error(`lstmSequence: unknown impl "${impl}"`);
  return referenceLstm(x, weights, options.reverse ?? false, options.mask);
}
