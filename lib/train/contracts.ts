/**
 * The seams lib/train codes against: the dataset's `BatchSource`/`Batch` (lib/data) and the
 * models' `FluxModel` (lib/models), re-exported from one place (see ARCHITECTURE.md).
 *
 * @module
 */
export type { Batch, BatchSource, TargetScale } from "../data/batches.ts";
export { disposeBatch } from "../data/batches.ts";
export type { FluxModel, ModelDims, ModelInput } from "../models/types.ts";
export type { ModelConfig, ModelName } from "../models/config.ts";

/** Target order everywhere: 0 = GPP, 1 = RECO, 2 = NEE (defined in lib/data/targets.ts). */
export { TARGETS } from "../data/targets.ts";
