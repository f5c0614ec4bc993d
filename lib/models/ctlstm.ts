/**
 * The `ctlstm` model (CT-LSTM): the lstm model with the static descriptors `xStatic` concatenated
 * to every step's dynamic features, so its input Linear is `[F + S, H]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import { VariableStore } from "./layers.ts";
import { addLstmParts, lstmForward } from "./lstm.ts";
import { checkDims, createFluxModel } from "./model_base.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/**
 * Concatenate `[B, S]` static descriptors to every step of `[B, T, F]` -> `[B, T, F + S]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { concatStatic } from "./ctlstm.ts";
 * console.log(concatStatic(tf.ones([2, 4, 5]) as tf.Tensor3D, tf.ones([2, 3]) as tf.Tensor2D).shape);
 * // [2, 4, 8]
 * ```
 */
export function concatStatic(xDyn: tf.Tensor3D, xStatic: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const steps = xDyn.shape[1];
    const tiled = tf.tile(tf.expandDims(xStatic, 1), [1, steps, 1]);
    return tf.concat([xDyn, tiled], 2) as tf.Tensor3D;
  });
}

/**
 * Build the `ctlstm` model.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { createCtLstm } from "./ctlstm.ts";
 * const model = createCtLstm(parseModelConfig({ name: "ctlstm", hidden: 8 }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * model.dispose();
 * ```
 */
export function createCtLstm(
  config: ModelConfig,
  dims: ModelDims,
  options: { seed: number },
): FluxModel {
  checkDims(dims, "ctlstm");
  const store = new VariableStore(options.seed);
  const parts = addLstmParts(store, dims.nDyn + dims.nStatic, config);
  return createFluxModel({
    name: "ctlstm",
    config,
    dims,
    store,
    needsSupport: false,
    forward: (input, context) =>
      lstmForward(concatStatic(input.xDyn, input.xStatic), parts, {
        impl: config.lstmImpl,
        context,
      }),
  });
}
