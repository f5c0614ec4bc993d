/**
 * `buildModel` (one entry point for every model) and `transferPretrained` (stage 2 of training:
 * the pretrained `lstm` model's input Linear, LSTM and head go into a tamrl / tamlstm decoder).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ModelConfig, ModelConfigSchema } from "./config.ts";
import { createCtLstm } from "./ctlstm.ts";
import { createLstm, lstmLayerName } from "./lstm.ts";
import { createMlp } from "./mlp.ts";
import { createTamLstm } from "./tamlstm.ts";
import { createTamRl } from "./tamrl.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/**
 * Build a model from its (validated) config and the input widths, with seeded initial weights:
 * the same config, dims and seed give the same weights on every backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildModel } from "./build.ts";
 * import { parseModelConfig } from "./config.ts";
 * const model = buildModel(parseModelConfig({ name: "lstm", hidden: 8 }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * const y = model.apply({ xDyn: tf.ones([2, 10, 5]), xStatic: tf.ones([2, 3]) });
 * console.log(y.shape); // [2, 10, 3]
 * model.dispose();
 * ```
 */
export function buildModel(
  config: ModelConfig,
  dims: ModelDims,
  options: { seed: number },
): FluxModel {
  const checked = ModelConfigSchema.parse(config);
  switch (checked.name) {
    case "lstm":
      return createLstm(checked, dims, options);
    case "ctlstm":
      return createCtLstm(checked, dims, options);
    case "tamlstm":
      return createTamLstm(checked, dims, options);
    case "tamrl":
      return createTamRl(checked, dims, options);
    case "mlp":
      return createMlp(checked, dims, options);
  }
}

/**
 * The number of trainable scalars of a model.
 *
 * @example
 * ```ts
 * import { buildModel, countParameters } from "./build.ts";
 * import { parseModelConfig } from "./config.ts";
 * const model = buildModel(parseModelConfig({ name: "mlp", mlpWidths: [4] }), { nDyn: 2, nStatic: 1 }, { seed: 1 });
 * console.log(countParameters(model)); // (3*4 + 4) + (4*3 + 3) = 31
 * model.dispose();
 * ```
 */
export function countParameters(model: FluxModel): number {
  let total = 0;
  for (const variable of model.variables.values()) total += variable.size;
  return total;
}

function variableOf(model: FluxModel, name: string): tf.Variable {
  const variable = model.variables.get(name);
  if (variable === undefined) {
    throw new Error(`transferPretrained: ${model.name} has no variable "${name}"`);
  }
  return variable;
}

function assignChecked(target: tf.Variable, value: tf.Tensor, name: string): void {
  if (target.shape.join(",") !== value.shape.join(",")) {
    throw new Error(
      `transferPretrained: "${name}" shapes differ: [${value.shape}] -> [${target.shape}]`,
    );
  }
  target.assign(value);
}

/**
 * Stage 2 initialisation: copy a trained `lstm` model's input Linear (-> W_d), LSTM layers and head
 * into the decoder of a `tamrl` or `tamlstm` model. The encoder is left as it is. The FiLM weights
 * are set to zero by default (`modulation: "zero"`), so stage 2 starts exactly from the pretrained
 * LSTM's function and the modulation grows from there (the gradient of W_f and W_s is not zero, so
 * the encoder starts receiving gradient after the first step); `modulation: "keep"` leaves them
 * at their initial values.
 *
 * Bias handling: the lstm's input layer is x1 = W x + b, while the FiLM decoder has no input bias
 * and computes x1' = s * (W_d x) + s, which is W x + 1 when the modulation is neutral (s = 1). The
 * difference b - 1 is folded into the first LSTM layer's bias: bias' = bias + (b - 1) K, with K
 * that layer's kernel. So with zero input-modulation weights (W_s = 0, b_s = 0) and zero hidden
 * modulation (W_f = 0, b_f = 0) the decoder computes exactly the lstm model's function (up to float
 * rounding).
 *
 * @example
 * ```ts
 * import { buildModel, transferPretrained } from "./build.ts";
 * import { parseModelConfig } from "./config.ts";
 * const dims = { nDyn: 5, nStatic: 3 };
 * const lstm = buildModel(parseModelConfig({ name: "lstm", hidden: 8 }), dims, { seed: 1 });
 * const tamrl = buildModel(parseModelConfig({ name: "tamrl", hidden: 8, latent: 4 }), dims, { seed: 2 });
 * transferPretrained(lstm, tamrl);
 * ```
 */
export function transferPretrained(
  from: FluxModel,
  to: FluxModel,
  options: { modulation?: "zero" | "keep" } = {},
): void {
  if (from.name !== "lstm") {
    throw new Error(`transferPretrained: the source must be an lstm model, got ${from.name}`);
  }
  if (to.name !== "tamrl" && to.name !== "tamlstm") {
    throw new Error(`transferPretrained: the target must be tamrl or tamlstm, got ${to.name}`);
  }
  if (from.config.hidden !== to.config.hidden || from.config.layers !== to.config.layers) {
    throw new Error(
      `transferPretrained: hidden/layers differ: lstm H=${from.config.hidden} L=${from.config.layers}` +
        `, ${to.name} H=${to.config.hidden} L=${to.config.layers}`,
    );
  }
  if (from.dims.nDyn !== to.dims.nDyn) {
    throw new Error(`transferPretrained: nDyn differs: ${from.dims.nDyn} vs ${to.dims.nDyn}`);
  }
  tf.tidy(() => {
    const copy = (name: string) =>
      assignChecked(variableOf(to, name), variableOf(from, name), name);
    copy("decoder/input/kernel");
    for (let l = 0; l < from.config.layers; l++) {
      const layer = lstmLayerName("decoder", l);
      copy(`${layer}/kernel`);
      copy(`${layer}/recurrent`);
      if (l === 0) {
        const inputBias = variableOf(from, "decoder/input/bias");
        const kernel = variableOf(from, `${layer}/kernel`) as tf.Tensor2D;
        const shift = tf.matMul(tf.expandDims(tf.sub(inputBias, 1), 0), kernel).reshape([-1]);
        const name = `${layer}/bias`;
        assignChecked(variableOf(to, name), tf.add(variableOf(from, name), shift), name);
      } else {
        copy(`${layer}/bias`);
      }
    }
    copy("head/kernel");
    copy("head/bias");
    if ((options.modulation ?? "zero") === "zero") {
      for (const [name, v] of to.variables) {
        if (name.startsWith("decoder/film_")) v.assign(tf.zerosLike(v));
      }
    }
  });
}
