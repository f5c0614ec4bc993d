/**
 * The FiLM-modulated decoder shared by `tamlstm` and `tamrl`, and the `tamlstm` model (conditioned
 * on the static descriptors, c = xStatic).
 *
 * Decoder, conditioned on c `[B, C]`:
 * - input modulation s = ReLU(W_s c + b_s) + 1 `[B, H]`, x' = s * (W_d x) + s (W_d has no bias:
 *   the "+ s" term plays its part);
 * - stacked LSTM on x';
 * - hidden modulation h' = (γ + 1) * h + β with [γ, β] = W_f c + b_f;
 * - dropout (training only), Linear(H -> 3).
 *
 * Variables: "decoder/input/kernel" [F, H] (W_d), "decoder/lstm.../kernel|recurrent|bias",
 * "decoder/film_input/kernel" [C, H] and "/bias" [H] (W_s, b_s), "decoder/film_hidden/kernel"
 * [C, 2H] and "/bias" [2H] (W_f, b_f), "head/kernel" [H, 3], "head/bias" [3]. Modulation kernels
 * start Glorot-uniform (so gradients reach the conditioning from the first step), biases zero.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { LstmImpl, ModelConfig } from "./config.ts";
import {
  dense,
  type DenseWeights,
  inputModulation,
  modulateHidden,
  modulateInput,
  VariableStore,
} from "./layers.ts";
import type { LstmWeights } from "./types.ts";
import { addLstmStack, runLstmStack } from "./lstm.ts";
import { checkDims, createFluxModel, type ForwardContext } from "./model_base.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/** The parts of a FiLM decoder. */
export interface FilmDecoderParts {
  /** W_d, no bias. */
  input: DenseWeights;
  stack: LstmWeights[];
  /** W_s, b_s. */
  filmInput: DenseWeights;
  /** W_f, b_f. */
  filmHidden: DenseWeights;
  head: DenseWeights;
}

/**
 * Create the FiLM decoder's variables for `nIn` features per step and a condition of width `nCond`.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { VariableStore } from "./layers.ts";
 * import { addFilmDecoder } from "./tamlstm.ts";
 * const store = new VariableStore(1);
 * addFilmDecoder(store, { nIn: 5, nCond: 3 }, parseModelConfig({ name: "tamlstm", hidden: 8 }));
 * store.dispose();
 * ```
 */
export function addFilmDecoder(
  store: VariableStore,
  sizes: { nIn: number; nCond: number },
  config: ModelConfig,
): FilmDecoderParts {
  const hidden = config.hidden;
  const input = store.dense("decoder/input", sizes.nIn, hidden, { bias: false });
  const stack = addLstmStack(store, "decoder", { nIn: hidden, hidden, layers: config.layers });
  const filmInput = store.dense("decoder/film_input", sizes.nCond, hidden);
  const filmHidden = store.dense("decoder/film_hidden", sizes.nCond, 2 * hidden);
  const head = store.dense("head", hidden, 3);
  return { input, stack, filmInput, filmHidden, head };
}

/**
 * The FiLM decoder forward pass: `x` `[B, T, nIn]`, condition `c` `[B, nCond]` -> `[B, T, 3]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parseModelConfig } from "./config.ts";
 * import { VariableStore } from "./layers.ts";
 * import { addFilmDecoder, filmDecoderForward } from "./tamlstm.ts";
 * const store = new VariableStore(1);
 * const parts = addFilmDecoder(store, { nIn: 5, nCond: 3 }, parseModelConfig({ name: "tamlstm", hidden: 8 }));
 * const y = filmDecoderForward(tf.ones([2, 4, 5]) as tf.Tensor3D, tf.ones([2, 3]) as tf.Tensor2D, parts, { impl: "reference" });
 * console.log(y.shape); // [2, 4, 3]
 * ```
 */
export function filmDecoderForward(
  x: tf.Tensor3D,
  c: tf.Tensor2D,
  parts: FilmDecoderParts,
  options: { impl: LstmImpl; context?: ForwardContext },
): tf.Tensor3D {
  const s = inputModulation(c, parts.filmInput);
  const modulated = modulateInput(dense(x, parts.input, { dataInput: true }), s);
  const h = runLstmStack(modulated, parts.stack, options);
  let hMod = modulateHidden(h, dense(c, parts.filmHidden));
  if (options.context !== undefined) hMod = options.context.dropout(hMod);
  return dense(hMod, parts.head);
}

/**
 * Build the `tamlstm` model: the FiLM decoder on xDyn conditioned on c = xStatic.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { createTamLstm } from "./tamlstm.ts";
 * const model = createTamLstm(parseModelConfig({ name: "tamlstm", hidden: 8 }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * model.dispose();
 * ```
 */
export function createTamLstm(
  config: ModelConfig,
  dims: ModelDims,
  options: { seed: number },
): FluxModel {
  checkDims(dims, "tamlstm");
  if (dims.nStatic < 1) throw new Error("tamlstm: needs at least one static descriptor (nStatic)");
  const store = new VariableStore(options.seed);
  const parts = addFilmDecoder(store, { nIn: dims.nDyn, nCond: dims.nStatic }, config);
  return createFluxModel({
    name: "tamlstm",
    config,
    dims,
    store,
    needsSupport: false,
    forward: (input, context) =>
      filmDecoderForward(input.xDyn, input.xStatic, parts, { impl: config.lstmImpl, context }),
  });
}
