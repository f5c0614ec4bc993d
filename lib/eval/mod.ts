/**
 * Evaluation: metrics, aggregation over sites, multi-scale scores, carbon-balance violation, the
 * predictions table, result tables with provenance, figures, and the reproduction plan.
 *
 * @example
 * ```ts
 * import { scoreSeries } from "./mod.ts";
 * console.log(scoreSeries([1, 2, 3], [1, 2, 4]).r2); // 0.5
 * ```
 *
 * @module
 */
export * from "./metrics.ts";
export * from "./predictions.ts";
export * from "./aggregate.ts";
export * from "./scales.ts";
export * from "./balance.ts";
export * from "./tables.ts";
export * from "./figures.ts";
export * from "./plan.ts";
export * from "./report.ts";
export * from "./units.ts";
export * from "./monthly.ts";
export * from "./xbase.ts";
export * from "./data_figures.ts";
export * from "./drilldown.ts";
export * from "./embedding.ts";
export * from "./embedding_figures.ts";
export * from "./training_figures.ts";
export * from "./markdown.ts";
