/**
 * The output mapping after a model's Linear(H -> 3) head (`model.nonNegative`): by default the
 * identity (today's model: GPP and RECO are clipped at 0 only at inference); with "softplus" GPP
 * and RECO are made non-negative in physical units, NEE stays linear.
 *
 * The mapping needs the targets' physical scale (the training source's `targetScale`, saved in a
 * run's model.json), which the model itself does not hold; so it is applied by the callers of
 * `model.apply` through {@linkcode applyWithHeads}: the training step and the validation loss
 * (lib/train/trainer.ts) and the one inference path (lib/train/predict.ts `predictPhysical`, used
 * by `predictEnsemble` and lib/predict). The pretraining `lstm` of a TAM-RL run is built from the
 * same model config, so it is trained with the same mapping as the decoder it is copied into.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TargetScale } from "../data/batches.ts";
import type { NonNegative } from "./config.ts";
import type { ApplyOptions, FluxModel, ModelInput } from "./types.ts";

/** Options of {@linkcode applyHeads}. */
export interface HeadOptions {
  /** Absent: the identity; "softplus": GPP and RECO through softplus in physical units. */
  nonNegative?: NonNegative;
}

/**
 * Map a model's raw `[B, T, 3]` output (standardized GPP, RECO, NEE) to its prediction on the
 * standardized scale. Without `nonNegative` it returns `raw` itself (bit for bit today's model).
 *
 * With "softplus", for GPP and RECO, p = s * std + mean is the raw physical value and the
 * prediction is p' = softplus(p) = log(1 + exp(p)) (gC m-2 d-1, unit scale), put back on the
 * standardized scale: s' = (p' - mean) / std. It is computed as s' = s + softplus(-p) / std, which
 * is the same (softplus(p) = p + softplus(-p)) without a split of the fluxes, and exact where
 * softplus(-p) underflows (large p). So p' > 0 (>= 0 up to float rounding of the standardization,
 * which the inference clip removes), smooth, increasing, and p' - p = softplus(-p) < 0.05 for
 * p > 3, i.e. near-identity for large positive p; every p' > 0 is reached by exactly one p.
 * d s'/d s = sigmoid(p). NEE is `raw`'s NEE, bit for bit.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { applyHeads } from "./heads.ts";
 * const scale = { mean: [1, 1, 0] as [number, number, number], std: [2, 2, 2] as [number, number, number] };
 * const s = applyHeads(tf.tensor3d([[[-5, 3, -5]]]), scale, { nonNegative: "softplus" });
 * // physical: GPP softplus(-9) = 1.2e-4, RECO softplus(7) = 7.0009, NEE -10
 * ```
 */
export function applyHeads(
  raw: tf.Tensor3D,
  targetScale: TargetScale,
  options: HeadOptions = {},
): tf.Tensor3D {
  if (options.nonNegative === undefined) return raw;
  if (options.nonNegative !== "softplus") {
    throw new Error(`applyHeads: unknown nonNegative "${options.nonNegative}"`);
  }
  if (raw.rank !== 3 || raw.shape[2] !== 3) {
    throw new Error(`applyHeads: raw must be [B, T, 3], got [${raw.shape}]`);
  }
  const { mean, std } = targetScale;
  return tf.tidy(() => {
    const m = tf.tensor1d(mean).reshape([1, 1, 3]);
    const sd = tf.tensor1d(std).reshape([1, 1, 3]);
    // 1/std for GPP and RECO, 0 for NEE: NEE gets + 0
    const gate = tf.tensor1d([1 / std[0], 1 / std[1], 0]).reshape([1, 1, 3]);
    const negPhys = tf.neg(tf.add(tf.mul(raw, sd), m));
    return tf.add(raw, tf.mul(tf.softplus(negPhys), gate)) as tf.Tensor3D;
  });
}

/**
 * `model.apply` followed by {@linkcode applyHeads} with the model's `nonNegative`: the prediction
 * on the standardized scale that the loss, the validation loss and inference all use.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildModel } from "./build.ts";
 * import { parseModelConfig } from "./config.ts";
 * import { applyWithHeads } from "./heads.ts";
 * const config = parseModelConfig({ name: "lstm", hidden: 8, nonNegative: "softplus" });
 * const model = buildModel(config, { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * const y = applyWithHeads(model, { xDyn: tf.ones([2, 10, 5]), xStatic: tf.ones([2, 3]) }, {
 *   targetScale: { mean: [3, 3, 0], std: [3, 2, 2] },
 * });
 * console.log(y.shape); // [2, 10, 3]
 * model.dispose();
 * ```
 */
export function applyWithHeads(
  model: FluxModel,
  input: ModelInput,
  options: ApplyOptions & { targetScale: TargetScale },
): tf.Tensor3D {
  const { targetScale, ...apply } = options;
  const nonNegative = model.config.nonNegative;
  if (nonNegative === undefined) return model.apply(input, apply);
  return tf.tidy(() => applyHeads(model.apply(input, apply), targetScale, { nonNegative }));
}
