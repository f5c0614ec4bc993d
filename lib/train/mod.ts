/**
 * tamflux training: the loss (data + carbon balance), Adam/AdamW with step decay, the two-stage
 * trainer with early stopping and exact resume, run folders, progress display and predictions
 * (single models and seed ensembles) in physical units.
 *
 * @example
 * ```ts ignore
 * import { buildDataset } from "../data/dataset.ts";
 * import { buildModel, transferPretrained } from "../models/mod.ts";
 * import { loadExperimentConfig, terminalProgress, trainModel } from "./mod.ts";
 * const config = await loadExperimentConfig("configs/quick.json");
 * const ds = await buildDataset(config.data);
 * const result = await trainModel({ train: ds.train, val: ds.val }, config, {
 *   seed: 0, buildModel, transfer: transferPretrained, ...terminalProgress(),
 * });
 * result.model.dispose();
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./contracts.ts";
export * from "./loss.ts";
export * from "./optim.ts";
export * from "./seed.ts";
export * from "./runs.ts";
export * from "./trainer.ts";
export * from "./progress.ts";
export * from "./predict.ts";
export * from "./run_cache.ts";
export * from "./reference.ts";
export * from "./merge_patch.ts";
export * from "./subsample.ts";
