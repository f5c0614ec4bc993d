/**
 * The real measurements behind the cost estimate (`cost.ts`): a unit's dataset built once (window
 * counts, feature widths, build time), a few training steps of the real model at the unit's
 * shapes on its backend, and a small booster fit for the trees' rate. Each is cached in
 * `<cacheDir>/` (default `cache/cost/`) keyed by what was measured, so later estimates are free.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { timeSteps } from "../bench/step_bench.ts";
import { buildDataset } from "../data/dataset.ts";
import { median } from "../bench/step_bench.ts";
import { deepMerge, type Profile, type Unit } from "../eval/plan.ts";
import { unitExperimentConfig } from "../eval/units.ts";
import { fitGbm } from "../models/trees/gbm.ts";
import { canonicalJson } from "../train/runs.ts";
import { type DatasetShape, jsonMemo, type Measurer } from "./cost.ts";

/** Rows, trees and depth of the synthetic booster fit that measures the trees' rate. */
const TREES_PROBE = { rows: 20_000, nTrees: 4, maxDepth: 6 };

/**
 * The measurer of a profile on this machine, caching in `cacheDir`.
 *
 * @example
 * ```ts ignore
 * import { measureUnits, summarizeEstimate } from "./cost.ts";
 * import { machineMeasurer } from "./measure.ts";
 * const m = machineMeasurer({ profile, root: "." });
 * const estimate = summarizeEstimate(await measureUnits(units, m));
 * ```
 */
export function machineMeasurer(
  env: { profile: Profile; root: string; dataDir?: string },
  options: { cacheDir?: string; log?: (message: string) => void } = {},
): Measurer {
  const dir = options.cacheDir ?? join(env.root, "cache", "cost");
  const log = options.log ?? (() => {});
  const datasets = jsonMemo(join(dir, "datasets.json"));
  const steps = jsonMemo(join(dir, "steps.json"));
  const trees = jsonMemo(join(dir, "trees.json"));
  const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));
  return {
    config: (unit: Unit) => unitExperimentConfig(env, unit),
    dataset: (config) =>
      datasets<DatasetShape>(canonicalJson(config.data), async () => {
        log(`cost: building the ${config.data.split.kind} dataset once to count its windows`);
        const ds = await buildDataset(config.data, { dataDir: env.dataDir });
        const w = ds.report.windows;
        return {
          windows: { train: w.train.kept, val: w.val.kept, test: w.test.kept },
          nDyn: ds.featureNames.dyn.length,
          nStatic: ds.featureNames.static.length,
          trainDays: w.train.rows + w.val.rows,
          seconds: ds.report.seconds.total,
        };
      }),
    step: (model, shapes, backend) =>
      steps<number>(canonicalJson({ model, shapes, backend }), async () => {
        log(`cost: timing training steps of ${model.name} (H ${shapes.H}, B ${shapes.B})`);
        const times = await timeSteps({
          case: "tamrl",
          impl: model.lstmImpl === "reference" ? "reference" : "fused",
          steps: 5,
          warmup: 2,
          backend: backend === "cpu" ? "cpu" : "wasm",
          shapes,
          model,
        });
        return median(times) / 1000;
      }),
    treesRate: (nCols) =>
      trees<number>(canonicalJson({ nCols, ...TREES_PROBE }), () => {
        log(`cost: timing a small booster fit (${TREES_PROBE.rows} rows x ${nCols} columns)`);
        const { rows, nTrees, maxDepth } = TREES_PROBE;
        let s = 1;
        const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
        const data = Float32Array.from({ length: rows * nCols }, rand);
        const y = Float64Array.from({ length: rows }, (_, i) => data[i * nCols] + rand());
        const names = Array.from({ length: nCols }, (_, j) => `x${j}`);
        const t = performance.now();
        fitGbm({ data, nRows: rows, nCols, names }, y, { config: { nTrees, maxDepth } });
        return Promise.resolve((performance.now() - t) / 1000 / (rows * nTrees * maxDepth));
      }),
    treesConfig: async (unit) => {
      const base = env.profile.treesConfig
        ? await readJson(resolve(env.root, env.profile.treesConfig))
        : {};
      return deepMerge(base, unit.overrides);
    },
  };
}
