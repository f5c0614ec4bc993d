/**
 * Point metrics of predicted against observed values, in the units of the inputs.
 *
 * Every function takes the observed values first and the predicted values second and ignores the
 * pairs where either value is missing (`null`, `undefined` or not finite). When no pair is left,
 * or a metric is undefined for the data (e.g. R2 of a constant observed series), the result is
 * `NaN`.
 *
 * Definitions (n valid pairs, o observed, p predicted, ō mean of o):
 * - R2 = 1 - SSE / SST, SSE = Σ(p - o)², SST = Σ(o - ō)² (can be negative);
 * - R2 clipped to [0, 1]: `min(1, max(0, R2))`, the variant the TAM-RL authors' evaluation code
 *   used per site (`np.clip(r2_score(...), 0, 1)`); reported as "R2 (clipped, authors' code)";
 * - RMSE = sqrt(SSE / n);
 * - nMAE = mean|p - o| / |ō| (MAE normalised by the absolute site-mean flux, as in CarbonBench);
 * - RAE = mean|p - o| / mean|o - ō| (MAE relative to predicting the observed mean);
 * - bias = mean(p - o) (positive = over-prediction).
 *
 * @module
 */

/** A series of values where `null`/`undefined`/non-finite means missing. */
export type Series = ArrayLike<number | null | undefined>;

/** All point metrics of one series pair. */
export interface Metrics {
  /** Number of valid pairs used. */
  n: number;
  /** 1 - SSE/SST. */
  r2: number;
  /** R2 clipped to [0, 1] (the authors' code). */
  r2_clipped: number;
  /** Root mean squared error. */
  rmse: number;
  /** Mean absolute error over |mean observed|. */
  nmae: number;
  /** Mean absolute error over the mean absolute deviation of the observed values. */
  rae: number;
  /** Mean of predicted minus observed. */
  bias: number;
}

/** The metric names, in the order tables show them. */
export const METRIC_NAMES = ["r2", "r2_clipped", "rmse", "nmae", "rae", "bias"] as const;
/** One metric name. */
export type MetricName = typeof METRIC_NAMES[number];

function isValid(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * The valid pairs of two series of equal length, as two dense arrays.
 *
 * @example
 * ```ts
 * import { validPairs } from "./metrics.ts";
 * validPairs([1, null, 3], [2, 2, NaN]); // { obs: [1], pred: [2] }
 * ```
 */
export function validPairs(obs: Series, pred: Series): { obs: number[]; pred: number[] } {
  if (obs.length !== pred.length) {
    throw new Error(
      `tamflux metrics: observed (${obs.length}) and predicted (${pred.length}) differ in length`,
    );
  }
  const o: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < obs.length; i++) {
    const a = obs[i];
    const b = pred[i];
    if (isValid(a) && isValid(b)) {
      o.push(a);
      p.push(b);
    }
  }
  return { obs: o, pred: p };
}

function mean(values: number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Coefficient of determination 1 - SSE/SST (NaN when SST is 0 or no pair is valid).
 *
 * @example
 * ```ts
 * import { r2 } from "./metrics.ts";
 * r2([1, 2, 3], [1, 2, 4]); // 1 - 1/2 = 0.5
 * ```
 */
export function r2(obs: Series, pred: Series): number {
  const v = validPairs(obs, pred);
  if (v.obs.length === 0) return NaN;
  const m = mean(v.obs);
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < v.obs.length; i++) {
    sse += (v.pred[i] - v.obs[i]) ** 2;
    sst += (v.obs[i] - m) ** 2;
  }
  return sst === 0 ? NaN : 1 - sse / sst;
}

/**
 * R2 clipped to [0, 1], as the TAM-RL authors' evaluation code computed it per site.
 *
 * @example
 * ```ts
 * import { r2Clipped } from "./metrics.ts";
 * r2Clipped([1, 2, 3], [3, 2, 1]); // R2 = -3, clipped to 0
 * ```
 */
export function r2Clipped(obs: Series, pred: Series): number {
  const r = r2(obs, pred);
  return Number.isNaN(r) ? NaN : Math.min(1, Math.max(0, r));
}

/**
 * Root mean squared error.
 *
 * @example
 * ```ts
 * import { rmse } from "./metrics.ts";
 * rmse([0, 0], [3, 4]); // sqrt(12.5)
 * ```
 */
export function rmse(obs: Series, pred: Series): number {
  const v = validPairs(obs, pred);
  if (v.obs.length === 0) return NaN;
  let sse = 0;
  for (let i = 0; i < v.obs.length; i++) sse += (v.pred[i] - v.obs[i]) ** 2;
  return Math.sqrt(sse / v.obs.length);
}

/**
 * Mean absolute error normalised by the absolute mean observed value (NaN when that mean is 0).
 *
 * @example
 * ```ts
 * import { nmae } from "./metrics.ts";
 * nmae([2, 4], [3, 3]); // MAE 1 / |3|
 * ```
 */
export function nmae(obs: Series, pred: Series): number {
  const v = validPairs(obs, pred);
  if (v.obs.length === 0) return NaN;
  const m = Math.abs(mean(v.obs));
  if (m === 0) return NaN;
  let s = 0;
  for (let i = 0; i < v.obs.length; i++) s += Math.abs(v.pred[i] - v.obs[i]);
  return s / v.obs.length / m;
}

/**
 * Relative absolute error: MAE over the MAE of always predicting the observed mean.
 *
 * @example
 * ```ts
 * import { rae } from "./metrics.ts";
 * rae([1, 3], [1, 1]); // MAE 1 / mean|o - 2| = 1
 * ```
 */
export function rae(obs: Series, pred: Series): number {
  const v = validPairs(obs, pred);
  if (v.obs.length === 0) return NaN;
  const m = mean(v.obs);
  let num = 0;
  let den = 0;
  for (let i = 0; i < v.obs.length; i++) {
    num += Math.abs(v.pred[i] - v.obs[i]);
    den += Math.abs(v.obs[i] - m);
  }
  return den === 0 ? NaN : num / den;
}

/**
 * Mean error, predicted minus observed.
 *
 * @example
 * ```ts
 * import { bias } from "./metrics.ts";
 * bias([1, 2], [2, 4]); // 1.5
 * ```
 */
export function bias(obs: Series, pred: Series): number {
  const v = validPairs(obs, pred);
  if (v.obs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < v.obs.length; i++) s += v.pred[i] - v.obs[i];
  return s / v.obs.length;
}

/**
 * Every metric of one series pair at once.
 *
 * @example
 * ```ts
 * import { scoreSeries } from "./metrics.ts";
 * const m = scoreSeries([1, 2, 3], [1, 2, 4]);
 * console.log(m.n, m.r2, m.rmse);
 * ```
 */
export function scoreSeries(obs: Series, pred: Series): Metrics {
  const v = validPairs(obs, pred);
  return {
    n: v.obs.length,
    r2: r2(v.obs, v.pred),
    r2_clipped: r2Clipped(v.obs, v.pred),
    rmse: rmse(v.obs, v.pred),
    nmae: nmae(v.obs, v.pred),
    rae: rae(v.obs, v.pred),
    bias: bias(v.obs, v.pred),
  };
}
