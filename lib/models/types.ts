/**
 * The contract between the models and the trainer (see ARCHITECTURE.md, "lib/models").
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { ModelConfig, ModelName } from "./config.ts";

/** LSTM weights: kernel `[In, 4H]`, recurrent kernel `[H, 4H]`, bias `[4H]`; gates i, f, g, o. */
export interface LstmWeights {
  kernel: tf.Tensor2D;
  recurrent: tf.Tensor2D;
  bias: tf.Tensor1D;
}

/** What a model reads from a batch. `support` is required by tamrl only. */
export interface ModelInput {
  /** `[B, T, F]` standardized dynamic features. */
  xDyn: tf.Tensor3D;
  /** `[B, S]` standardized static descriptors. */
  xStatic: tf.Tensor2D;
  /** `[B, K, T', F + S]` K support windows of each sample's site (tamrl). */
  support?: tf.Tensor4D;
  /**
   * `[B, Z]` a task embedding computed beforehand (tamrl): used instead of encoding `support`,
   * e.g. the mean z over a site's whole support pool (`model.inferenceSupport: "all"`).
   */
  z?: tf.Tensor2D;
}

/** Options of {@linkcode FluxModel.apply}. */
export interface ApplyOptions {
  /** Apply dropout and TAM-RL's z noise and z dropout (default false). */
  training?: boolean;
  /** Seed of the random masks and noise, for reproducible training; each site derives its own. */
  seed?: number;
}

/** Input widths a model is built for. */
export interface ModelDims {
  /** F, dynamic features per day. */
  nDyn: number;
  /** S, static descriptors per site. */
  nStatic: number;
}

/** A built neural model. */
export interface FluxModel {
  readonly name: ModelName;
  readonly config: ModelConfig;
  /** The input widths it was built for. */
  readonly dims: ModelDims;
  /** Named variables in a stable order, e.g. "decoder/lstm/kernel". */
  readonly variables: Map<string, tf.Variable>;
  /** Daily `[B, T, 3]` predictions (GPP, RECO, NEE) on the standardized scale. */
  apply(input: ModelInput, options?: ApplyOptions): tf.Tensor3D;
  /** tamrl: the task embedding z `[B, Z]`, the mean over the K support windows. */
  embed?(support: tf.Tensor4D): tf.Tensor2D;
  /** Dispose every variable. */
  dispose(): void;
}
