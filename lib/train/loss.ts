/**
 * The training loss: a qc- and class-weighted squared error on the standardized targets plus a
 * carbon-balance penalty NEE = RECO - GPP computed in physical units.
 *
 * Every term is always computed, also when it is switched off, so that the run log shows the value
 * a disabled term would have had.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, TargetScale } from "./contracts.ts";

/** Which loss terms enter the total, and how. */
export interface LossOptions {
  /** Physical mean and std of the targets (GPP, RECO, NEE). */
  targetScale: TargetScale;
  /** Weight of the balance term in the total (default 0.1). */
  alpha?: number;
  /** Multiply each day's squared error by its NEE QC (default true). */
  useQc?: boolean;
  /** Multiply each window's squared error by its class weight w_IGBP * w_Koppen (default true). */
  useClassWeights?: boolean;
  /** Add alpha * balance to the total (default true). */
  useBalance?: boolean;
}

/** The parts of a batch the loss reads. */
export type LossBatch = Pick<Batch, "y" | "mask" | "qc" | "weight">;

/**
 * Sums from which the loss terms are means; sums of several batches add up to the sums of their
 * union, so an epoch's loss is the exact mean over all its days.
 */
export type LossSums = {
  /** Sum over masked (day, flux) entries of qc * w * (pred - y)^2 (factors as configured). */
  weightedSq: tf.Scalar;
  /** Number of masked (day, flux) entries. */
  count: tf.Scalar;
  /** Sum over masked entries of the plain squared error (no qc, no class weight). */
  plainSq: tf.Scalar;
  /** Sum over loss days of (NEE - (RECO - GPP))^2 of the prediction, physical units. */
  balanceSq: tf.Scalar;
  /** Number of loss days (days with at least one masked target). */
  days: tf.Scalar;
};

/** The loss terms of one batch (scalars; the caller disposes them). */
export interface LossTerms {
  /** data + alpha * balance (the terms that are switched on). */
  total: tf.Scalar;
  /** Weighted mean squared error over masked days, standardized scale. */
  data: tf.Scalar;
  /** Mean squared carbon-balance residual over loss days, physical units (gC m-2 d-1)^2. */
  balance: tf.Scalar;
  /** Plain (unweighted) masked mean squared error, standardized scale, for the log. */
  mse: tf.Scalar;
}

/** Numbers of a {@link LossTerms} or of an epoch's aggregate. */
export interface LossValues {
  total: number;
  data: number;
  balance: number;
  mse: number;
}

/**
 * The loss sums of one batch. `pred` is [B, T, 3] on the standardized scale, after the model's
 * output heads (lib/models `applyWithHeads`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { lossSums } from "./loss.ts";
 * const y = tf.zeros([1, 2, 3]) as tf.Tensor3D;
 * const sums = lossSums(y, {
 *   y, mask: tf.onesLike(y), qc: tf.ones([1, 2]), weight: tf.ones([1]),
 * }, { targetScale: { mean: [0, 0, 0], std: [1, 1, 1] } });
 * console.log(sums.count.dataSync()[0]); // 6
 * ```
 */
export function lossSums(pred: tf.Tensor3D, batch: LossBatch, options: LossOptions): LossSums {
  checkShapes(pred, batch);
  const useQc = options.useQc ?? true;
  const useClassWeights = options.useClassWeights ?? true;
  return tf.tidy(() => {
    const [b, t] = pred.shape;
    const sq = tf.square(tf.sub(pred, batch.y));
    const maskedSq = tf.mul(sq, batch.mask);
    let factor: tf.Tensor = tf.ones([b, t, 1]);
    if (useQc) factor = tf.mul(factor, batch.qc.reshape([b, t, 1]));
    if (useClassWeights) factor = tf.mul(factor, batch.weight.reshape([b, 1, 1]));
    const weightedSq = tf.sum(tf.mul(maskedSq, factor)) as tf.Scalar;
    const plainSq = tf.sum(maskedSq) as tf.Scalar;
    const count = tf.sum(batch.mask) as tf.Scalar;

    const mean = tf.tensor1d(options.targetScale.mean).reshape([1, 1, 3]);
    const std = tf.tensor1d(options.targetScale.std).reshape([1, 1, 3]);
    const phys = tf.add(tf.mul(pred, std), mean);
    // NEE - (RECO - GPP) = GPP - RECO + NEE, one product and sum over the fluxes (a split of the
    // fluxes costs a concat in the backward pass, slow on the wasm backend).
    const signs = tf.tensor1d([1, -1, 1]).reshape([1, 1, 3]);
    const residual = tf.sum(tf.mul(phys, signs), 2);
    const lossDay = tf.max(batch.mask, 2); // [B, T] 1 on days with any masked target
    const balanceSq = tf.sum(tf.mul(tf.square(residual), lossDay)) as tf.Scalar;
    const days = tf.sum(lossDay) as tf.Scalar;
    return { weightedSq, count, plainSq, balanceSq, days };
  });
}

/**
 * Turn loss sums into loss terms (means). Divisions by zero counts give 0.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { type LossOptions, lossSums, termsFromSums } from "./loss.ts";
 * const y = tf.zeros<tf.Rank.R3>([1, 2, 3]);
 * const batch = { y, mask: tf.onesLike(y), qc: tf.ones<tf.Rank.R2>([1, 2]), weight: tf.ones<tf.Rank.R1>([1]) };
 * const options: LossOptions = { targetScale: { mean: [0, 0, 0], std: [1, 1, 1] }, alpha: 0.1 };
 * const terms = termsFromSums(lossSums(y, batch, options), options);
 * ```
 */
export function termsFromSums(sums: LossSums, options: LossOptions): LossTerms {
  const alpha = options.alpha ?? 0.1;
  const useBalance = options.useBalance ?? true;
  return tf.tidy(() => {
    const count = tf.maximum(sums.count, 1);
    const days = tf.maximum(sums.days, 1);
    const data = tf.div(sums.weightedSq, count) as tf.Scalar;
    const mse = tf.div(sums.plainSq, count) as tf.Scalar;
    const balance = tf.div(sums.balanceSq, days) as tf.Scalar;
    const total = (useBalance ? tf.add(data, tf.mul(balance, alpha)) : data.clone()) as tf.Scalar;
    return { total, data, balance, mse };
  });
}

/**
 * The loss terms of one batch: `total` is what is minimised; `data`, `balance` and `mse` are
 * reported (also when switched off).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { lossTerms } from "./loss.ts";
 * const pred = tf.tensor3d([[[1, 2, 1]]]); // GPP 1, RECO 2, NEE 1: balanced
 * const batch = {
 *   y: pred, mask: tf.onesLike(pred), qc: tf.ones<tf.Rank.R2>([1, 1]), weight: tf.ones<tf.Rank.R1>([1]),
 * };
 * const terms = lossTerms(pred, batch, { targetScale: { mean: [0, 0, 0], std: [1, 1, 1] } });
 * console.log(terms.balance.dataSync()[0]); // 0
 * ```
 */
export function lossTerms(pred: tf.Tensor3D, batch: LossBatch, options: LossOptions): LossTerms {
  const sums = lossSums(pred, batch, options);
  const terms = termsFromSums(sums, options);
  disposeSums(sums);
  return terms;
}

/** Dispose the tensors of a {@link LossSums}. */
export function disposeSums(sums: LossSums): void {
  tf.dispose([sums.weightedSq, sums.count, sums.plainSq, sums.balanceSq, sums.days]);
}

/** Running totals of loss sums over many batches, in plain numbers (float64). */
export class LossAccumulator {
  #weightedSq = 0;
  #count = 0;
  #plainSq = 0;
  #balanceSq = 0;
  #days = 0;
  #options: LossOptions;

  /** @param options the loss options, used to combine the terms into `total`. */
  constructor(options: LossOptions) {
    this.#options = options;
  }

  /** Add one batch's sums (reads them; does not dispose them). */
  add(sums: LossSums): void {
    this.#weightedSq += sums.weightedSq.dataSync()[0];
    this.#count += sums.count.dataSync()[0];
    this.#plainSq += sums.plainSq.dataSync()[0];
    this.#balanceSq += sums.balanceSq.dataSync()[0];
    this.#days += sums.days.dataSync()[0];
  }

  /** How many masked (day, flux) entries were added. */
  get count(): number {
    return this.#count;
  }

  /** The mean loss terms over everything added. */
  values(): LossValues {
    const data = this.#count > 0 ? this.#weightedSq / this.#count : 0;
    const mse = this.#count > 0 ? this.#plainSq / this.#count : 0;
    const balance = this.#days > 0 ? this.#balanceSq / this.#days : 0;
    const useBalance = this.#options.useBalance ?? true;
    const total = useBalance ? data + (this.#options.alpha ?? 0.1) * balance : data;
    return { total, data, balance, mse };
  }
}

function checkShapes(pred: tf.Tensor3D, batch: LossBatch): void {
  const [b, t, k] = pred.shape;
  const same = (a: number[], e: number[]) => a.length === e.length && a.every((v, i) => v === e[i]);
  if (k !== 3) throw new Error(`lossSums: pred must be [B, T, 3], got [${pred.shape}]`);
  if (!same(batch.y.shape, [b, t, 3])) {
    throw new Error(`lossSums: y is [${batch.y.shape}], pred is [${pred.shape}]`);
  }
  if (!same(batch.mask.shape, [b, t, 3])) {
    throw new Error(`lossSums: mask is [${batch.mask.shape}], pred is [${pred.shape}]`);
  }
  if (!same(batch.qc.shape, [b, t])) {
    throw new Error(`lossSums: qc is [${batch.qc.shape}], expected [${b}, ${t}]`);
  }
  if (!same(batch.weight.shape, [b])) {
    throw new Error(`lossSums: weight is [${batch.weight.shape}], expected [${b}]`);
  }
}
