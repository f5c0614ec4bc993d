/**
 * Predictions in physical units (gC m-2 d-1) with GPP and RECO clipped at 0, for one model or an
 * ensemble (one model per seed: the mean of the members and their population standard deviation,
 * as `np.std`, which is 0 for a single member).
 *
 * Each window contributes its last `lossDays` days (the days it was trained on: `stride` in the
 * dataset config), so that consecutive windows tile a site's record without overlap.
 *
 * {@link ensembleInference} is the one inference path: {@link predictEnsemble} (reproduce units,
 * the train task) and lib/predict (`deno task predict`) both go through it. A TAM-RL member with
 * `model.inferenceSupport: "all"` gets, for every window of a site, z = the encoder's mean over
 * every window of the site's support pool (computed once per site, in chunks of `poolChunk`
 * windows) instead of the window's K sampled support windows.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type Batch,
  type BatchSource,
  disposeBatch,
  type FluxModel,
  type TargetScale,
} from "./contracts.ts";
import { type PredictedDay, type Target, TARGETS } from "../data/targets.ts";
import { tamrlOptions } from "../models/config.ts";
import { applyWithHeads } from "../models/heads.ts";
import { bias, r2, rmse, validPairs } from "../metrics/metrics.ts";

export type { PredictedDay } from "../data/targets.ts";

/** A day predicted by {@link predictEnsemble}: a {@link PredictedDay} whose ensemble sd is set. */
export type EnsembleDay = PredictedDay & { GPP_sd: number; RECO_sd: number; NEE_sd: number };

/** Options of {@link predictEnsemble}. */
export interface PredictOptions {
  /** Days at the end of each window to report (the dataset's `stride`). */
  lossDays: number;
  /** Windows per forward pass (default 256). */
  batchSize?: number;
  /** Names the models (e.g. the run folder) in the error on a non-finite prediction. */
  label?: string;
  /** Support-pool windows per encoder pass of `inferenceSupport: "all"` (default 64). */
  poolChunk?: number;
}

/**
 * Throw when a predicted day holds a non-finite mean or standard deviation (a model trained into
 * NaN, or overflowing weights): `mean` and `sd` are `[..., 3]` arrays, `i` the index of the day's
 * GPP, `where` names the run, the site and the day in the error.
 *
 * @example
 * ```ts
 * import { checkFinitePrediction } from "./predict.ts";
 * checkFinitePrediction(new Float32Array([1, 2, -1]), new Float32Array(3), 0, "run x, site FR-Pue");
 * ```
 */
export function checkFinitePrediction(
  mean: ArrayLike<number>,
  sd: ArrayLike<number>,
  i: number,
  where: string,
): void {
  for (let k = 0; k < 3; k++) {
    for (const [what, a] of [["", mean], ["_sd", sd]] as const) {
      const v = a[i + k];
      if (!Number.isFinite(v)) {
        throw new Error(
          `${where}: the model predicts a non-finite ${
            TARGETS[k]
          }${what} (${v}); the weights are ` +
            `broken (e.g. training diverged into NaN), so no prediction is written`,
        );
      }
    }
  }
}

/**
 * A model's prediction for a batch in physical units, GPP and RECO clipped at 0: `[B, T, 3]`.
 * The model's output heads (lib/models `applyWithHeads`, e.g. `nonNegative: "softplus"`) come
 * first, as in training, so the clip is a no-op (up to float rounding) for a non-negative model.
 *
 * @example
 * ```ts ignore
 * const phys = predictPhysical(model, batch, source.targetScale);
 * ```
 */
export function predictPhysical(
  model: FluxModel,
  batch: Pick<Batch, "xDyn" | "xStatic" | "support">,
  targetScale: TargetScale,
  options: { z?: tf.Tensor2D } = {},
): tf.Tensor3D {
  return tf.tidy(() => {
    const input = { xDyn: batch.xDyn, xStatic: batch.xStatic, support: batch.support };
    const pred = applyWithHeads(
      model,
      options.z === undefined ? input : { ...input, z: options.z },
      { training: false, targetScale },
    );
    return clipPhysical(pred, targetScale);
  });
}

/**
 * z `[1, Z]` of a TAM-RL model over every window of a site's support pool: the mean of the
 * encoder's z over the pool, encoded `chunk` windows at a time (each chunk's mean weighted by its
 * size; one chunk is the encoder's own mean). Null when the source yields no pool window for the
 * site.
 *
 * @example
 * ```ts ignore
 * const z = poolEmbedding(model, dataset.test, "FR-Pue", { chunk: 64 });
 * z?.dispose();
 * ```
 */
export function poolEmbedding(
  model: FluxModel,
  source: BatchSource,
  site: string,
  options: { chunk: number },
): tf.Tensor2D | null {
  if (model.embed === undefined) throw new Error(`poolEmbedding: ${model.name} has no encoder`);
  if (source.poolWindows === undefined) {
    throw new Error(
      `${model.name}: inferenceSupport "all" needs a source with support pools (poolWindows)`,
    );
  }
  const parts: { z: tf.Tensor2D; n: number }[] = [];
  for (const chunk of source.poolWindows(site, options)) {
    try {
      parts.push({ z: model.embed(chunk), n: chunk.shape[1] });
    } finally {
      chunk.dispose();
    }
  }
  if (parts.length === 0) return null;
  if (parts.length === 1) return parts[0].z;
  const total = parts.reduce((sum, p) => sum + p.n, 0);
  const z = tf.tidy(() => tf.addN(parts.map((p) => tf.mul(p.z, p.n / total))) as tf.Tensor2D);
  tf.dispose(parts.map((p) => p.z));
  return z;
}

/** The one inference path of an ensemble on a source: see {@link ensembleInference}. */
export interface EnsembleInference {
  /**
   * The member mean and population standard deviation of a batch of the source, in physical
   * units with each member's GPP and RECO clipped at 0: `[B, T, 3]` row-major.
   */
  predict(batch: Batch): { mean: Float32Array; sd: Float32Array };
  /** Dispose the cached pool embeddings. */
  dispose(): void;
}

/**
 * The inference of an ensemble over the batches of one source, shared by {@link predictEnsemble}
 * and lib/predict: every member predicts the batch (`training: false`); a TAM-RL member with
 * `inferenceSupport: "all"` uses its {@link poolEmbedding} of each window's site, computed the
 * first time the site is met and kept until `dispose` (a site without pool windows falls back to
 * the batch's sampled support, as the support draw falls back to the query window itself).
 *
 * @example
 * ```ts ignore
 * const inference = ensembleInference(models, source, { poolChunk: 64 });
 * try {
 *   for (const batch of source.batches({ batchSize: 256, shuffle: false, seed: 0 })) {
 *     const { mean, sd } = inference.predict(batch);
 *     disposeBatch(batch);
 *   }
 * } finally {
 *   inference.dispose();
 * }
 * ```
 */
export function ensembleInference(
  models: FluxModel[],
  source: BatchSource,
  options: {
    poolChunk?: number;
    /**
     * Per member, a fixed z `[1, Z]` used for every window of every site instead of encoding
     * support (a few-shot adapted TAM-RL, lib/predict/adapt.ts); null or absent: as without.
     */
    fixedZ?: readonly (tf.Tensor2D | null)[];
  } = {},
): EnsembleInference {
  if (models.length === 0) throw new Error("ensembleInference: no models");
  const chunk = options.poolChunk ?? 64;
  const fixedZ = options.fixedZ ?? [];
  // per member: null = sampled support, else its pool z per site (null: the site has no pool)
  const pooled = models.map((m, i) =>
    !fixedZ[i] && m.embed !== undefined && tamrlOptions(m.config).inferenceSupport === "all"
      ? new Map<string, tf.Tensor2D | null>()
      : null
  );
  // outside any tidy: the cached z live until dispose
  const fill = (sites: readonly string[]) =>
    pooled.forEach((cache, m) => {
      for (const site of cache === null ? [] : sites) {
        if (!cache!.has(site)) cache!.set(site, poolEmbedding(models[m], source, site, { chunk }));
      }
    });
  // inside the caller's tidy: z [B, Z] of member m, or undefined for sampled support
  const zOf = (m: number, batch: Batch): tf.Tensor2D | undefined => {
    const fixed = fixedZ[m];
    if (fixed) return tf.tile(fixed, [batch.xDyn.shape[0], 1]);
    const cache = pooled[m];
    if (cache === null) return undefined;
    const rows = batch.meta.site.map((site) => cache.get(site) ?? null);
    const sampled = rows.some((z) => z === null) ? models[m].embed!(batch.support) : null;
    return tf.concat(rows.map((z, b) => z ?? tf.slice(sampled!, [b, 0], [1, -1])), 0);
  };
  return {
    predict(batch: Batch): { mean: Float32Array; sd: Float32Array } {
      fill(batch.meta.site);
      const [meanT, sdT] = tf.tidy(() => {
        const members = tf.stack(
          models.map((m, i) => predictPhysical(m, batch, source.targetScale, { z: zOf(i, batch) })),
        );
        const { mean, variance } = tf.moments(members, 0);
        return [mean, tf.sqrt(tf.relu(variance))];
      });
      const mean = meanT.dataSync() as Float32Array;
      const sd = sdT.dataSync() as Float32Array;
      tf.dispose([meanT, sdT]);
      return { mean, sd };
    },
    dispose(): void {
      for (const cache of pooled) {
        for (const z of cache?.values() ?? []) z?.dispose();
        cache?.clear();
      }
    },
  };
}

/**
 * Un-standardize `[B, T, 3]` predictions and clip GPP and RECO (not NEE) at 0.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clipPhysical } from "./predict.ts";
 * const phys = clipPhysical(tf.tensor3d([[[-5, -5, -5]]]), { mean: [1, 1, 1], std: [1, 1, 1] });
 * console.log(phys.arraySync()); // [[[0, 0, -4]]]
 * ```
 */
export function clipPhysical(pred: tf.Tensor3D, targetScale: TargetScale): tf.Tensor3D {
  return tf.tidy(() => {
    const mean = tf.tensor1d(targetScale.mean).reshape([1, 1, 3]);
    const std = tf.tensor1d(targetScale.std).reshape([1, 1, 3]);
    const phys = tf.add(tf.mul(pred, std), mean);
    const floor = tf.tensor1d([0, 0, -Infinity]).reshape([1, 1, 3]);
    return tf.maximum(phys, floor) as tf.Tensor3D;
  });
}

function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new Error(`predict: bad window start date "${iso}"`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * Predict every window of a source with an ensemble (one or more models sharing the source's
 * inputs): per site-day the member mean and population standard deviation, in physical units,
 * GPP and RECO of each member clipped at 0 before averaging. Days already predicted by an earlier
 * window are skipped (counted in `duplicates`).
 *
 * @example
 * ```ts ignore
 * const { days } = predictEnsemble(models, dataset.test, { lossDays: 15 });
 * console.log(days[0].site, days[0].date, days[0].GPP, days[0].GPP_sd);
 * ```
 */
export function predictEnsemble(
  models: FluxModel[],
  source: BatchSource,
  options: PredictOptions,
): { days: EnsembleDay[]; duplicates: number; members: number } {
  if (models.length === 0) throw new Error("predictEnsemble: no models");
  const T = source.dims.window;
  const lossDays = options.lossDays;
  if (!Number.isInteger(lossDays) || lossDays < 1 || lossDays > T) {
    throw new Error(`predictEnsemble: lossDays ${lossDays} must be in 1..${T}`);
  }
  const { mean: ym, std: ys } = source.targetScale;
  const days: EnsembleDay[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const batchSize = options.batchSize ?? 256;
  const inference = ensembleInference(models, source, { poolChunk: options.poolChunk });
  try {
    for (const batch of source.batches({ batchSize, shuffle: false, seed: 0 })) {
      try {
        const { mean, sd } = inference.predict(batch);
        const y = batch.y.dataSync();
        const mask = batch.mask.dataSync();
        const qc = batch.qc.dataSync();
        const B = batch.xDyn.shape[0];
        for (let b = 0; b < B; b++) {
          const site = batch.meta.site[b];
          for (let t = T - lossDays; t < T; t++) {
            const date = addDays(batch.meta.start[b], t);
            const key = `${site}|${date}`;
            if (seen.has(key)) {
              duplicates++;
              continue;
            }
            seen.add(key);
            const i = (b * T + t) * 3;
            checkFinitePrediction(
              mean,
              sd,
              i,
              `${options.label ?? "prediction"}: site ${site}, ${date}`,
            );
            const obs = (k: number) => (mask[i + k] > 0 ? y[i + k] * ys[k] + ym[k] : null);
            const anyObs = mask[i] > 0 || mask[i + 1] > 0 || mask[i + 2] > 0;
            days.push({
              site,
              date,
              GPP: mean[i],
              RECO: mean[i + 1],
              NEE: mean[i + 2],
              GPP_sd: sd[i],
              RECO_sd: sd[i + 1],
              NEE_sd: sd[i + 2],
              GPP_obs: obs(0),
              RECO_obs: obs(1),
              NEE_obs: obs(2),
              NEE_QC: anyObs ? qc[b * T + t] : null,
            });
          }
        }
      } finally {
        disposeBatch(batch);
      }
    }
  } finally {
    inference.dispose();
  }
  return { days, duplicates, members: models.length };
}

/** Per-flux RMSE, R2 (1 - SSE/SST), bias and n over the days with an observation. */
export interface QuickMetrics {
  GPP: { rmse: number; r2: number; bias: number; n: number };
  RECO: { rmse: number; r2: number; bias: number; n: number };
  NEE: { rmse: number; r2: number; bias: number; n: number };
}

/**
 * Pooled metrics of predicted days against their observations (physical units), for a run's
 * metrics.json, computed with lib/metrics (the definitions lib/eval uses per site); the paper's
 * per-site metrics are lib/eval's job.
 *
 * @example
 * ```ts ignore
 * const m = pooledMetrics(days);
 * console.log(m.GPP.rmse, m.NEE.r2);
 * ```
 */
export function pooledMetrics(days: readonly PredictedDay[]): QuickMetrics {
  const one = (k: Target) => {
    const obs = days.map((d) => d[`${k}_obs`]);
    const pred = days.map((d) => d[k]);
    return {
      rmse: rmse(obs, pred),
      r2: r2(obs, pred),
      bias: bias(obs, pred),
      n: validPairs(obs, pred).obs.length,
    };
  };
  return { GPP: one("GPP"), RECO: one("RECO"), NEE: one("NEE") };
}
