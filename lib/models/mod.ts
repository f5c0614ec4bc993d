/**
 * tamflux neural models: lstm, ctlstm, tamlstm, tamrl and mlp, the shared LSTM, and weight
 * (de)serialisation. The compute kernels under them (fused LSTM, GEMM, element-wise ops, the
 * WebAssembly assembler) are in `./kernels/mod.ts`; the gradient-boosted trees in `./trees/mod.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildModel, parseModelConfig } from "./mod.ts";
 * const model = buildModel(parseModelConfig({ name: "tamrl", hidden: 8, latent: 4 }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * const y = model.apply({ xDyn: tf.ones([2, 10, 5]), xStatic: tf.ones([2, 3]), support: tf.ones([2, 3, 10, 8]) });
 * console.log(y.shape); // [2, 10, 3]
 * model.dispose();
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./types.ts";
export * from "./names.ts";
export * from "./lstm_seq.ts";
export * from "./layers.ts";
export * from "./build.ts";
export * from "./weights.ts";
export {
  addLstmParts,
  addLstmStack,
  createLstm,
  lstmForward,
  lstmLayerName,
  runLstmStack,
} from "./lstm.ts";
export type { LstmParts } from "./lstm.ts";
export { concatStatic, createCtLstm } from "./ctlstm.ts";
export { addFilmDecoder, createTamLstm, filmDecoderForward } from "./tamlstm.ts";
export type { FilmDecoderParts } from "./tamlstm.ts";
export { addEncoder, encodeSupport } from "./encoder.ts";
export type { EncoderParts } from "./encoder.ts";
export { createTamRl, regularizeZ } from "./tamrl.ts";
export { createMlp } from "./mlp.ts";
export { applyHeads, applyWithHeads } from "./heads.ts";
export type { HeadOptions } from "./heads.ts";
export { checkDims, checkSupport, createFluxModel } from "./model_base.ts";
export type { ForwardContext, ModelSpec } from "./model_base.ts";
