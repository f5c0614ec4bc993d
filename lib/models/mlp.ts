/**
 * The memory-less `mlp` reference: per day, [xDyn, xStatic] -> (Linear -> ReLU -> dropout) for each
 * width in `mlpWidths` -> Linear(-> 3).
 *
 * Variables: "mlp/dense_i/kernel|bias" for each hidden layer i, "head/kernel", "head/bias".
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import { concatStatic } from "./ctlstm.ts";
import { dense, VariableStore } from "./layers.ts";
import { checkDims, createFluxModel } from "./model_base.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/**
 * Build the `mlp` model.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { createMlp } from "./mlp.ts";
 * const model = createMlp(parseModelConfig({ name: "mlp", mlpWidths: [16] }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * model.dispose();
 * ```
 */
export function createMlp(
  config: ModelConfig,
  dims: ModelDims,
  options: { seed: number },
): FluxModel {
  checkDims(dims, "mlp");
  const store = new VariableStore(options.seed);
  let nIn = dims.nDyn + dims.nStatic;
  const hiddenLayers = config.mlpWidths.map((width, i) => {
    const layer = store.dense(`mlp/dense_${i}`, nIn, width);
    nIn = width;
    return layer;
  });
  const head = store.dense("head", nIn, 3);
  return createFluxModel({
    name: "mlp",
    config,
    dims,
    store,
    needsSupport: false,
    forward: (input, context) => {
      let h = concatStatic(input.xDyn, input.xStatic);
      for (const layer of hiddenLayers) h = context.dropout(tf.relu(dense(h, layer)));
      return dense(h, head);
    },
  });
}
