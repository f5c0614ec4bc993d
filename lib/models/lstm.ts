/**
 * The plain `lstm` model: Linear(F -> H) -> LSTM(H, layers) -> dropout -> Linear(H -> 3), and the
 * stacked-LSTM helpers the other decoders share.
 *
 * Variables: "decoder/input/kernel" [F, H], "decoder/input/bias" [H], per layer l
 * "decoder/lstm{suffix}/kernel|recurrent|bias" (suffix "" for l = 0, "_l" after), "head/kernel"
 * [H, 3], "head/bias" [3].
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { LstmImpl, ModelConfig } from "./config.ts";
import { dense, type DenseWeights, VariableStore } from "./layers.ts";
import { lstmSequence } from "./lstm_seq.ts";
import type { LstmWeights } from "./types.ts";
import { checkDims, createFluxModel, type ForwardContext } from "./model_base.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/**
 * The variable-name prefix of LSTM layer `layer` of `scope`: "decoder/lstm", "decoder/lstm_1", ...
 *
 * @example
 * ```ts
 * import { lstmLayerName } from "./lstm.ts";
 * console.log(lstmLayerName("decoder", 1)); // "decoder/lstm_1"
 * ```
 */
export function lstmLayerName(scope: string, layer: number): string {
  return layer === 0 ? `${scope}/lstm` : `${scope}/lstm_${layer}`;
}

/**
 * Create `layers` stacked LSTM layers of width `hidden` under `scope`.
 *
 * @example
 * ```ts
 * import { VariableStore } from "./layers.ts";
 * import { addLstmStack } from "./lstm.ts";
 * const store = new VariableStore(1);
 * const stack = addLstmStack(store, "decoder", { nIn: 4, hidden: 8, layers: 2 });
 * console.log(stack.length); // 2
 * store.dispose();
 * ```
 */
export function addLstmStack(
  store: VariableStore,
  scope: string,
  options: { nIn: number; hidden: number; layers: number },
): LstmWeights[] {
  const stack: LstmWeights[] = [];
  for (let l = 0; l < options.layers; l++) {
    const nIn = l === 0 ? options.nIn : options.hidden;
    stack.push(store.lstm(lstmLayerName(scope, l), nIn, options.hidden));
  }
  return stack;
}

/**
 * Run stacked LSTM layers; dropout (from `context`) between layers, not after the last one.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { VariableStore } from "./layers.ts";
 * import { addLstmStack, runLstmStack } from "./lstm.ts";
 * const store = new VariableStore(1);
 * const stack = addLstmStack(store, "decoder", { nIn: 4, hidden: 8, layers: 1 });
 * const h = runLstmStack(tf.ones([2, 5, 4]) as tf.Tensor3D, stack, { impl: "reference" });
 * console.log(h.shape); // [2, 5, 8]
 * ```
 */
export function runLstmStack(
  x: tf.Tensor3D,
  stack: LstmWeights[],
  options: { impl: LstmImpl; context?: ForwardContext },
): tf.Tensor3D {
  let h = x;
  stack.forEach((weights, l) => {
    if (l > 0 && options.context !== undefined) h = options.context.dropout(h);
    h = lstmSequence(h, weights, { impl: options.impl }).sequence;
  });
  return h;
}

/** The parts of an lstm / ctlstm model. */
export interface LstmParts {
  input: DenseWeights;
  stack: LstmWeights[];
  head: DenseWeights;
}

/**
 * Create the variables of an lstm-style model reading `nIn` features per step.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { VariableStore } from "./layers.ts";
 * import { addLstmParts } from "./lstm.ts";
 * const store = new VariableStore(1);
 * addLstmParts(store, 5, parseModelConfig({ name: "lstm", hidden: 8 }));
 * store.dispose();
 * ```
 */
export function addLstmParts(store: VariableStore, nIn: number, config: ModelConfig): LstmParts {
  const hidden = config.hidden;
  const input = store.dense("decoder/input", nIn, hidden);
  const stack = addLstmStack(store, "decoder", { nIn: hidden, hidden, layers: config.layers });
  const head = store.dense("head", hidden, 3);
  return { input, stack, head };
}

/**
 * The lstm forward pass on `[B, T, nIn]` inputs: Linear -> LSTM stack -> dropout -> head.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parseModelConfig } from "./config.ts";
 * import { VariableStore } from "./layers.ts";
 * import { addLstmParts, lstmForward } from "./lstm.ts";
 * const config = parseModelConfig({ name: "lstm", hidden: 8 });
 * const store = new VariableStore(1);
 * const parts = addLstmParts(store, 5, config);
 * const y = lstmForward(tf.ones([2, 4, 5]) as tf.Tensor3D, parts, { impl: "reference" });
 * console.log(y.shape); // [2, 4, 3]
 * ```
 */
export function lstmForward(
  x: tf.Tensor3D,
  parts: LstmParts,
  options: { impl: LstmImpl; context?: ForwardContext },
): tf.Tensor3D {
  const projected = dense(x, parts.input, { dataInput: true });
  let h = runLstmStack(projected, parts.stack, options);
  if (options.context !== undefined) h = options.context.dropout(h);
  return dense(h, parts.head);
}

/**
 * Build the plain `lstm` model (reads `xDyn` only).
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { createLstm } from "./lstm.ts";
 * const model = createLstm(parseModelConfig({ name: "lstm", hidden: 8 }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * model.dispose();
 * ```
 */
export function createLstm(
  config: ModelConfig,
  dims: ModelDims,
  options: { seed: number },
): FluxModel {
  checkDims(dims, "lstm");
  const store = new VariableStore(options.seed);
  const parts = addLstmParts(store, dims.nDyn, config);
  return createFluxModel({
    name: "lstm",
    config,
    dims,
    store,
    needsSupport: false,
    forward: (input, context) => lstmForward(input.xDyn, parts, { impl: config.lstmImpl, context }),
  });
}
