/**
 * Evaluation of finished predictions: metrics, aggregation over sites, multi-scale scores,
 * carbon-balance violation, the predictions table, result tables with provenance, figures (data,
 * results, training curves) and the X-BASE comparison. The reproduction plan, its units and the
 * report over a run's finished units are in lib/experiments; lib/eval imports nothing from it.
 *
 * @example
 * ```ts
 * import { scoreSeries } from "./mod.ts";
 * console.log(scoreSeries([1, 2, 3], [1, 2, 4]).r2); // 0.5
 * ```
 *
 * @module
 */
export * from "../metrics/metrics.ts";
export * from "./predictions.ts";
export * from "./aggregate.ts";
export * from "./scales.ts";
export * from "./balance.ts";
export * from "./tables.ts";
export * from "./figures.ts";
export * from "./monthly.ts";
export * from "./xbase.ts";
export * from "./data_figures.ts";
export * from "./training_figures.ts";
export * from "./markdown.ts";
export * from "./significance.ts";
