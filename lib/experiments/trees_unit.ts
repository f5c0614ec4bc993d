/**
 * The trees unit of the reproduction plan: the gradient-boosted trees baseline
 * (lib/models/trees `trainPredictDataset`) behind the {@link TreesUnitFn} seam of units.ts. The
 * unit's config is the trees config (zod `TreesConfigSchema`) with the unit's seed as the
 * booster's sampling seed; it trains on every day of the split's training sites and predicts
 * every day of its test sites.
 *
 * @module
 */
import { configHash } from "../train/runs.ts";
import { trainPredictDataset, TreesConfigSchema } from "../models/trees/pipeline.ts";
import { mergePatch } from "../train/merge_patch.ts";
import { toPredictionRows, type TreesUnitFn } from "./units.ts";

/**
 * Train and predict the trees of one unit.
 *
 * @example
 * ```ts ignore
 * import { createUnitRunner } from "./units.ts";
 * import { treesUnit } from "./trees_unit.ts";
 * const runner = createUnitRunner({ profile, root: "." }, { trees: treesUnit });
 * ```
 */
export const treesUnit: TreesUnitFn = async (unit, { dataset, config, log }) => {
  const raw = mergePatch(config, {
    gbm: { ...((config.gbm as Record<string, unknown> | undefined) ?? {}), seed: unit.seed },
  });
  delete raw.seed;
  const parsed = TreesConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(
      `tamflux reproduce: trees config of unit ${unit.id}: ${i.path.join(".") || "(root)"}: ` +
        i.message,
    );
  }
  const out = trainPredictDataset(dataset, { config: parsed.data, log });
  log(
    `trees: fit ${out.fitSeconds.toFixed(1)} s, predict ${out.predictSeconds.toFixed(1)} s, ` +
      `${out.days.length} test days`,
  );
  return {
    rows: toPredictionRows(out.days, { label: unit.label, seed: unit.seed, sites: dataset.sites }),
    configHash: (await configHash(out.config)).slice(0, 16),
    extra: {
      fitSeconds: out.fitSeconds,
      predictSeconds: out.predictSeconds,
      trainRows: out.fitted.rows,
      config: out.config,
    },
  };
};
