/**
 * A 2-D matrix product whose gradient uses explicit transposes. The TF.js wasm backend computes
 * `matMul` with `transposeA`/`transposeB` (what autodiff of `matMul` emits) about 10-20x slower
 * than a transpose followed by a plain product, which made backpropagation through the LSTM
 * dominate training time.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

const product = tf.customGrad((a, b, save) => {
  const x = a as tf.Tensor2D;
  const y = b as tf.Tensor2D;
  (save as tf.GradSaveFunc)([x, y]);
  return {
    value: tf.matMul(x, y),
    gradFunc: (dy, saved) => {
      const [sx, sy] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(sy)), tf.matMul(tf.transpose(sx), g)];
    },
  };
});

/**
 * `a b` for `a` `[M, K]` and `b` `[K, N]`, same values as `tf.matMul`, faster gradients on wasm.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matMul } from "./matmul.ts";
 * console.log(matMul(tf.ones([2, 3]), tf.ones([3, 4])).shape); // [2, 4]
 * ```
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return product(a, b) as tf.Tensor2D;
}
