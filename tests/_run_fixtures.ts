/**
 * A run folder for the predict tests, written from a dataset built on the fixtures with an
 * untrained model (so the tests do not depend on runs/): weights/best.bin, model.json, scaler,
 * split and config, as `writeRunFolder` and training leave them.
 */
import { saveScaler } from "../lib/data/scaler.ts";
import { saveSplit } from "../lib/data/splits.ts";
import type { Dataset } from "../lib/data/dataset.ts";
import {
  buildModel,
  encodeWeights,
  type FluxModel,
  type ModelConfigInput,
  parseModelConfig,
  readWeights,
} from "../lib/models/mod.ts";
import { runPaths, writeJson } from "../lib/train/runs.ts";

/** Write a run folder of model `name` (H 8, Z 4) with the untrained weights of `seed`. */
export async function writeFixtureRun(
  dir: string,
  options: {
    name: "tamrl" | "lstm";
    seed: number;
    dataset: Dataset;
    /** Change the weights before they are written. */
    edit?: (weights: ReturnType<typeof readWeights>) => void;
    /** Model options beside name, H 8 and Z 4 (e.g. TAM-RL's inferenceSupport). */
    modelOptions?: Omit<ModelConfigInput, "name">;
    /** Called with the model before it is disposed (e.g. to write reference_sites.json). */
    withModel?: (model: FluxModel) => Promise<void>;
  },
): Promise<string> {
  const ds = options.dataset;
  const config = parseModelConfig({
    name: options.name,
    hidden: 8,
    latent: 4,
    ...options.modelOptions,
  });
  const model = buildModel(config, { nDyn: ds.train.dims.nDyn, nStatic: ds.train.dims.nStatic }, {
    seed: options.seed,
  });
  try {
    const p = runPaths(dir);
    await Deno.mkdir(p.weightsDir, { recursive: true });
    const weights = readWeights(model.variables);
    options.edit?.(weights);
    await Deno.writeFile(p.weights("best"), encodeWeights(weights));
    await writeJson(p.model, {
      model: config,
      dims: ds.train.dims,
      targetScale: ds.targetScale,
      lossDays: ds.config.stride,
      featureNames: ds.featureNames,
    });
    await saveScaler(p.scaler, ds.scaler);
    await saveSplit(p.split, ds.split);
    await writeJson(p.config, { name: "fixture", data: ds.config, backend: "cpu" });
    await options.withModel?.(model);
  } finally {
    model.dispose();
  }
  return dir;
}
