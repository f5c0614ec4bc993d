/**
 * The TAM-RL task encoder: each support window `[T, F + S]` goes through a per-step
 * Linear(F + S -> He) + LeakyReLU(0.2), a bidirectional LSTM (width He), the sum of the forward
 * direction's last state and the backward direction's last state (after t = 0), and
 * Linear(He -> Z); the K windows' z are averaged.
 *
 * Variables: "encoder/input/kernel" [F + S, He], "encoder/input/bias" [He],
 * "encoder/lstm_fw/kernel|recurrent|bias", "encoder/lstm_bw/kernel|recurrent|bias",
 * "encoder/latent/kernel" [He, Z], "encoder/latent/bias" [Z].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { leakyRelu } from "./kernels/fused_ops.ts";
import type { LstmImpl } from "./config.ts";
import { dense, type DenseWeights, type VariableStore } from "./layers.ts";
import { lstmSequence } from "./lstm_seq.ts";
import type { LstmWeights } from "./types.ts";

/** The task encoder's parts. */
export interface EncoderParts {
  input: DenseWeights;
  forward: LstmWeights;
  backward: LstmWeights;
  latent: DenseWeights;
  leakySlope: number;
}

/**
 * Create the task encoder's variables.
 *
 * @example
 * ```ts
 * import { VariableStore } from "./layers.ts";
 * import { addEncoder } from "./encoder.ts";
 * const store = new VariableStore(1);
 * addEncoder(store, { nIn: 8, hidden: 16, latent: 4, leakySlope: 0.2 });
 * store.dispose();
 * ```
 */
export function addEncoder(
  store: VariableStore,
  sizes: { nIn: number; hidden: number; latent: number; leakySlope: number },
): EncoderParts {
  return {
    input: store.dense("encoder/input", sizes.nIn, sizes.hidden),
    forward: store.lstm("encoder/lstm_fw", sizes.hidden, sizes.hidden),
    backward: store.lstm("encoder/lstm_bw", sizes.hidden, sizes.hidden),
    latent: store.dense("encoder/latent", sizes.hidden, sizes.latent),
    leakySlope: sizes.leakySlope,
  };
}

/**
 * Encode support windows `[B, K, T, F + S]` into z `[B, Z]` (mean over K).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { VariableStore } from "./layers.ts";
 * import { addEncoder, encodeSupport } from "./encoder.ts";
 * const store = new VariableStore(1);
 * const parts = addEncoder(store, { nIn: 8, hidden: 16, latent: 4, leakySlope: 0.2 });
 * const z = encodeSupport(tf.ones([2, 3, 10, 8]) as tf.Tensor4D, parts, { impl: "reference" });
 * console.log(z.shape); // [2, 4]
 * ```
 */
export function encodeSupport(
  support: tf.Tensor4D,
  parts: EncoderParts,
  options: { impl: LstmImpl },
): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, k, steps, width] = support.shape;
    const windows = tf.reshape(support, [batch * k, steps, width]) as tf.Tensor3D;
    const projected = leakyRelu(dense(windows, parts.input, { dataInput: true }), parts.leakySlope);
    const fw = lstmSequence(projected, parts.forward, { impl: options.impl }).last;
    const bw = lstmSequence(projected, parts.backward, { impl: options.impl, reverse: true }).last;
    const zAll = dense(tf.add(fw, bw) as tf.Tensor2D, parts.latent);
    const zDim = zAll.shape[1];
    return tf.mean(tf.reshape(zAll, [batch, k, zDim]), 1) as tf.Tensor2D;
  });
}
