/**
 * Point metrics of predicted against observed values (R2, clipped R2, RMSE, nMAE, RAE, bias).
 * A floor of its own that imports nothing, below lib/train (a run's pooled metrics.json) and
 * lib/eval (per-site metrics, tables): one definition of each metric for both.
 *
 * @module
 */
export * from "./metrics.ts";
