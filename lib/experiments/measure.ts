/**
 * The real measurements behind the cost estimate (`cost.ts`): a unit's dataset built once (window
 * counts, feature widths, build time), a few training steps of the real model at the unit's
 * shapes on its backend, and a small booster fit for the trees' rate. Each is cached in
 * `<cacheDir>/` (default `cache/cost/`) keyed by what was measured, so later estimates are free.
 * Where finished units of the same model and shapes exist under `results/`, their recorded stage
 * times (seconds / (steps + evaluation steps)) replace the timed steps: they include what a short
 * timing misses (start-up, data batching), and they do not depend on the machine's load now.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { timeSteps } from "../bench/step_bench.ts";
import { buildDataset } from "../data/dataset.ts";
import { median } from "../bench/step_bench.ts";
import { mergePatch } from "../train/merge_patch.ts";
import type { Profile, Unit } from "./plan.ts";
import { unitExperimentConfig } from "./units.ts";
import { fitGbm } from "../models/trees/gbm.ts";
import { canonicalJson } from "../train/runs.ts";
import {
  type DatasetShape,
  FORWARD_FRACTION,
  type JsonMemo,
  jsonMemo,
  type Measurer,
  measureUnits,
  type PlanEstimate,
  stepShapes,
  summarizeEstimate,
} from "./cost.ts";
import { DoneMarkerSchema } from "./plan.ts";
import { parseExperimentConfig } from "../train/config.ts";
import type { StageSummary } from "../train/trainer.ts";

/** Rows, trees (two fits: their difference is the trees' own cost) and depth of the trees probe. */
const TREES_PROBE = { rows: 60_000, nTrees: [2, 10], maxDepth: 6 };

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
  options: {
    cacheDir?: string;
    log?: (message: string) => void;
    /** Use the stage timings of finished units in `results/` before timing steps (default true). */
    recorded?: boolean;
  } = {},
): Measurer {
  const dir = options.cacheDir ?? join(env.root, "cache", "cost");
  const log = options.log ?? (() => {});
  const datasets = jsonMemo(join(dir, "datasets.json"));
  const steps = jsonMemo(join(dir, "steps.json"));
  const trees = jsonMemo(join(dir, "trees.json"));
  const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));
  let recorded: Map<string, number[]> | undefined;
  return {
    config: (unit: Unit) => unitExperimentConfig(env, unit),
    dataset: (config) =>
      datasets.get<DatasetShape>(canonicalJson(config.data), async () => {
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
    step: async (model, shapes, backend) => {
      const key = canonicalJson({ model, shapes, backend });
      if (options.recorded !== false) {
        recorded ??= await recordedSteps(env.root, datasets, log);
        const r = recorded.get(key);
        if (r) return r.reduce((a, b) => a + b, 0) / r.length;
      }
      return await steps.get<number>(key, async () => {
        log(`cost: timing training steps of ${model.name} (H ${shapes.H}, B ${shapes.B})`);
        const times = await timeSteps({
          case: "tamrl",
          impl: model.lstmImpl === "reference" ? "reference" : "fused",
          steps: 8,
          warmup: 3,
          backend: backend === "cpu" ? "cpu" : "wasm",
          shapes,
          model,
        });
        // the fastest steps: on a shared machine the slow ones measure the neighbours' load
        return median([...times].sort((a, b) => a - b).slice(0, 4)) / 1000;
      });
    },
    treesRate: (nCols) =>
      trees.get<{ perWork: number; perRow: number }>(
        canonicalJson({ nCols, ...TREES_PROBE }),
        () => {
          const { rows, nTrees: [few, many], maxDepth } = TREES_PROBE;
          log(`cost: timing two small booster fits (${rows} rows x ${nCols} columns)`);
          let s = 1;
          const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
          const data = Float32Array.from({ length: rows * nCols }, rand);
          const y = Float64Array.from({ length: rows }, (_, i) => data[i * nCols] + rand());
          const names = Array.from({ length: nCols }, (_, j) => `x${j}`);
          const fit = (nTrees: number) => {
            const t = performance.now();
            fitGbm({ data, nRows: rows, nCols, names }, y, { config: { nTrees, maxDepth } });
            return (performance.now() - t) / 1000;
          };
          // binning the matrix is paid once per fit: the difference of two fits is the trees alone
          const [tFew, tMany] = [fit(few), fit(many)];
          const perWork = Math.max(tMany - tFew, 1e-9) / (rows * (many - few) * maxDepth);
          const perRow = Math.max(tFew - perWork * rows * few * maxDepth, 0) / rows;
          return Promise.resolve({ perWork, perRow });
        },
      ),
    treesConfig: async (unit) => {
      const base = env.profile.treesConfig
        ? await readJson(resolve(env.root, env.profile.treesConfig)) as Record<string, unknown>
        : {};
      return mergePatch(base, unit.overrides);
    },
  };
}

/**
 * Seconds per training step recorded by finished neural units in the unit folders of `<root>/results/` (`<run>/units/<id>/`),
 * keyed like the timed steps (model config, shapes, backend). Units whose dataset shape is not in
 * the datasets memo are left out (their feature widths are not known without building it).
 */
async function recordedSteps(
  root: string,
  datasets: JsonMemo,
  log: (message: string) => void,
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const results = join(root, "results");
  let n = 0;
  const dirs = async function* (dir: string) {
    try {
      for await (const e of Deno.readDir(dir)) if (e.isDirectory) yield join(dir, e.name);
    } catch {
      // no such folder
    }
  };
  for await (const run of dirs(results)) {
    for await (const unit of dirs(join(run, "units"))) {
      let done, config;
      try {
        done = DoneMarkerSchema.parse(JSON.parse(await Deno.readTextFile(join(unit, "done.json"))));
        if (done.unit.model === "trees") continue;
        config = parseExperimentConfig(
          JSON.parse(await Deno.readTextFile(join(unit, "config.json"))),
        );
      } catch {
        continue;
      }
      const ds = await datasets.peek<DatasetShape>(canonicalJson(config.data));
      const stages = (done.outcome.extra.stages ?? []) as StageSummary[];
      if (!ds || !Array.isArray(stages)) continue;
      const shapes = stepShapes(config, ds);
      for (const stage of stages) {
        const perEpoch = Math.ceil(ds.windows.train / config.train.batchSize) +
          (ds.windows.val / config.train.batchSize) * FORWARD_FRACTION;
        const key = canonicalJson({
          model: { ...config.model, name: stage.model },
          shapes,
          backend: done.outcome.backend,
        });
        if (!(stage.epochsRun > 0)) continue;
        out.set(key, [...(out.get(key) ?? []), stage.seconds / (stage.epochsRun * perEpoch)]);
        n++;
      }
    }
  }
  if (n) log(`cost: ${n} stage timings recorded by finished units in ${results}`);
  return out;
}

/**
 * The estimated cost of `units` of a profile on this machine: {@linkcode machineMeasurer} (recorded
 * timings of finished units first, then measured steps, cached in `cache/cost/`) summed by
 * {@linkcode summarizeEstimate}. Used by `reproduce --dry-run` and the cluster tasks.
 *
 * @example
 * ```ts ignore
 * import { buildPlan, loadProfile } from "./mod.ts";
 * import { estimatePlan } from "./measure.ts";
 * const { profile } = await loadProfile("smoke", { root: "." });
 * const estimate = await estimatePlan(profile, buildPlan(profile), { root: "." });
 * console.log(estimate.coreHours);
 * ```
 */
export async function estimatePlan(
  profile: Profile,
  units: readonly Unit[],
  options: { root: string; log?: (message: string) => void },
): Promise<PlanEstimate> {
  const measurer = machineMeasurer({ profile, root: options.root }, { log: options.log });
  return summarizeEstimate(await measureUnits(units, measurer));
}
