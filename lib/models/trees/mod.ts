/**
 * Gradient-boosted regression trees (the XGBoost / FLUXCOM-X-BASE baseline): a histogram-based
 * booster written for this project (npm's ml-xgboost and ml-random-forest did not scale to
 * hundreds of thousands of rows under Deno), per-day tree features with trailing driver means,
 * and the train / predict / cross-validate pipeline.
 *
 * @example
 * ```ts
 * import { fitGbm, matrixFromColumns, predictGbm } from "./mod.ts";
 * const x = matrixFromColumns({ a: [0, 1, 2, 3] });
 * const { model } = fitGbm(x, [0, 0, 1, 1], { config: { nTrees: 20, minSamplesLeaf: 1 } });
 * console.log(predictGbm(model, x));
 * ```
 *
 * @module
 */
export * from "./matrix.ts";
export * from "./binning.ts";
export * from "./config.ts";
export * from "./tree.ts";
export * from "./gbm.ts";
export * from "./features.ts";
export * from "./pipeline.ts";
