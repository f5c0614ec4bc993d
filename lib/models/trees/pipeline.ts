/**
 * The trees baseline end to end: one booster per flux (GPP, RECO, NEE) trained on the rows of the
 * training sites, predictions for any rows, and hyper-parameter choice by k-fold site
 * cross-validation inside the training sites (test sites are never read for selection).
 *
 * Training rows: every day of a training site (both the `train` and `val` segments of the
 * dataset) with an observed target. Sample weight = NEE QC (the fraction of good half-hours, as in
 * the neural loss) when `qcWeights` is on (days with QC 0 or missing get weight 0 and are left
 * out), times the site's class weight (w_IGBP * w_Köppen) when `classWeights` is on.
 *
 * @module
 */
import { z } from "zod";
import { makeSplit, type SplitSite } from "../../data/splits.ts";
import { applyBins, type BinnedMatrix, fitBins } from "./binning.ts";
import { GbmConfigSchema, type ResolvedGbmConfig } from "./config.ts";
import { fitGbm, type GbmFitReport, type GbmModel, predictGbm } from "./gbm.ts";
import type { Dataset } from "../../data/dataset.ts";
import { type PredictedDay, type Target, TARGETS } from "../../data/targets.ts";
import { RollingSpecSchema, type TreeTable, treeTable } from "./features.ts";
import { type FeatureMatrix, selectRows } from "./matrix.ts";

/** The trees baseline's configuration (zod; every field has a default). */
export const TreesConfigSchema = z.object({
  /** Booster hyper-parameters shared by the three fluxes. */
  gbm: GbmConfigSchema.prefault({}),
  /** Per-flux overrides of `gbm` (e.g. the CV choice for each flux). */
  perTarget: z.partialRecord(z.enum(TARGETS), GbmConfigSchema.partial()).default({}),
  /** Trailing means of drivers added as features. */
  rolling: RollingSpecSchema.prefault({}),
  /** Weight each training day by its NEE QC. */
  qcWeights: z.boolean().default(true),
  /** Multiply by the site's class weight w_IGBP * w_Köppen. */
  classWeights: z.boolean().default(false),
  /** Cross-validation grid (used by {@link crossValidateTrees}). */
  cv: z.object({
    folds: z.number().int().min(2).default(3),
    seed: z.number().int().default(42),
    /** Use every `rowStride`-th day of the CV training sites (days are autocorrelated). */
    rowStride: z.number().int().min(1).default(3),
    /** Validation days need NEE QC >= this. */
    qcThreshold: z.number().min(0).max(1).default(0.8),
    /** Trees grown per fit; the best count on the validation curve is chosen. */
    maxTrees: z.number().int().min(1).default(500),
    maxDepth: z.array(z.number().int().min(1).max(16)).default([4, 6, 8]),
    learningRate: z.array(z.number().gt(0).max(1)).default([0.1]),
    minSamplesLeaf: z.array(z.number().int().min(1)).default([50]),
  }).strict().prefault({}),
}).strict();
/** The trees configuration as written (defaults optional). */
export type TreesConfig = z.input<typeof TreesConfigSchema>;
/** The trees configuration with every default. */
export type ResolvedTreesConfig = z.output<typeof TreesConfigSchema>;

/** The hyper-parameters used for one flux. */
export function targetConfig(cfg: ResolvedTreesConfig, target: Target): ResolvedGbmConfig {
  return GbmConfigSchema.parse({ ...cfg.gbm, ...(cfg.perTarget[target] ?? {}) });
}

/** Three fitted boosters and what fitting them did. */
export interface TreesModel {
  models: Record<Target, GbmModel>;
  reports: Record<Target, GbmFitReport>;
  /** Training sites, rows considered, and wall time of the whole fit (s). */
  trainSites: string[];
  rows: number;
  fitSeconds: number;
}

/** Row indices of `table` whose site is in `sites`, every `stride`-th row of each site. */
export function rowsOfSites(table: TreeTable, sites: readonly string[], stride = 1): Int32Array {
  const want = new Set(sites);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < table.site.length; i++) {
    if (i > 0 && table.site[i] !== table.site[i - 1]) k = 0;
    if (want.has(table.site[i])) {
      if (k % stride === 0) out.push(i);
      k++;
    }
  }
  return Int32Array.from(out);
}

function weightsOf(
  table: TreeTable,
  rows: Int32Array,
  cfg: ResolvedTreesConfig,
  siteWeights: Record<string, number>,
): Float64Array {
  const w = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    let v = 1;
    if (cfg.qcWeights) v *= Number.isNaN(table.qc[i]) ? 0 : Math.max(0, Math.min(1, table.qc[i]));
    if (cfg.classWeights) {
      const s = siteWeights[table.site[i]];
      if (s === undefined) throw new Error(`trees: no class weight for site ${table.site[i]}`);
      v *= s;
    }
    w[k] = v;
  }
  return w;
}

function pick(a: Float64Array, rows: Int32Array): Float64Array {
  return Float64Array.from(rows, (i) => a[i]);
}

/**
 * Fit one booster per flux on the rows of `trainSites`.
 *
 * @example
 * ```ts
 * import { trainTrees } from "./pipeline.ts";
 * // const fitted = trainTrees(table, ds.split.train, { config: { gbm: { nTrees: 300 } } });
 * ```
 */
export function trainTrees(
  table: TreeTable,
  trainSites: readonly string[],
  options: {
    config?: TreesConfig;
    siteWeights?: Record<string, number>;
    rowStride?: number;
    binned?: BinnedMatrix;
    log?: (message: string) => void;
  } = {},
): TreesModel {
  const cfg = TreesConfigSchema.parse(options.config ?? {});
  const t0 = performance.now();
  const rows = rowsOfSites(table, trainSites, options.rowStride ?? 1);
  if (rows.length === 0) throw new Error("trees: no row of a training site");
  const x = selectRows(table.x, rows);
  const w = weightsOf(table, rows, cfg, options.siteWeights ?? {});
  const binned = options.binned ??
    applyBins(x, fitBins(x, { maxBins: cfg.gbm.maxBins, seed: cfg.gbm.seed }));
  const models = {} as Record<Target, GbmModel>;
  const reports = {} as Record<Target, GbmFitReport>;
  for (const target of TARGETS) {
    const gcfg = targetConfig(cfg, target);
    const t = performance.now();
    const r = fitGbm(x, pick(table.y[target], rows), { config: gcfg, weights: w, binned });
    models[target] = r.model;
    reports[target] = r.report;
    options.log?.(
      `trees: ${target}: ${r.report.rows} rows (${r.report.droppedMissingTarget} without target, ` +
        `${r.report.droppedZeroWeight} with weight 0), ${gcfg.nTrees} trees depth ${gcfg.maxDepth}, ` +
        `${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  }
  return {
    models,
    reports,
    trainSites: [...trainSites].sort(),
    rows: rows.length,
    fitSeconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Predict the three fluxes for `rows` of `table` (GPP and RECO clipped at 0, as for every model).
 *
 * @example
 * ```ts
 * import { predictTrees, rowsOfSites } from "./pipeline.ts";
 * // const pred = predictTrees(fitted, table, rowsOfSites(table, ds.split.test));
 * ```
 */
export function predictTrees(
  fitted: Pick<TreesModel, "models">,
  table: TreeTable,
  rows: Int32Array,
  options: { clip?: boolean } = {},
): Record<Target, Float64Array> {
  const x: FeatureMatrix = selectRows(table.x, rows);
  const out = {} as Record<Target, Float64Array>;
  for (const target of TARGETS) {
    const p = predictGbm(fitted.models[target], x);
    if ((options.clip ?? true) && target !== "NEE") {
      for (let i = 0; i < p.length; i++) if (p[i] < 0) p[i] = 0;
    }
    out[target] = p;
  }
  return out;
}

/** One CV grid point's result for one flux. */
export interface CvResult {
  target: Target;
  maxDepth: number;
  learningRate: number;
  minSamplesLeaf: number;
  /** Best tree count (min of the fold-mean validation RMSE curve). */
  nTrees: number;
  /** Fold-mean validation RMSE at `nTrees`. */
  rmse: number;
  /** Validation RMSE of each fold at `nTrees`. */
  foldRmse: number[];
  seconds: number;
}

/** What {@link crossValidateTrees} returns. */
export interface CvReport {
  results: CvResult[];
  /** The best grid point per flux. */
  best: Record<Target, CvResult>;
  /** The config with `perTarget` set to the best points. */
  chosen: ResolvedTreesConfig;
  folds: { train: string[]; test: string[] }[];
  seconds: number;
}

/**
 * Choose depth, learning rate, min leaf and the tree count per flux by k-fold site CV over
 * `sites` (the training sites of the outer split): folds come from the dataset's k-fold split
 * (stratified by Köppen main group); each fold's validation RMSE (days with NEE QC >=
 * `cv.qcThreshold`, in physical units) is recorded after every tree, and the count minimising the
 * fold-mean RMSE is taken.
 *
 * @example
 * ```ts
 * import { crossValidateTrees } from "./pipeline.ts";
 * // const cv = crossValidateTrees(table, trainSites, { config: {}, sites });
 * ```
 */
export function crossValidateTrees(
  table: TreeTable,
  sites: readonly SplitSite[],
  options: {
    config?: TreesConfig;
    siteWeights?: Record<string, number>;
    log?: (message: string) => void;
  } = {},
): CvReport {
  const cfg = TreesConfigSchema.parse(options.config ?? {});
  const t0 = performance.now();
  const folds = Array.from({ length: cfg.cv.folds }, (_, fold) => {
    const s = makeSplit(sites, {
      kind: "kfold",
      k: cfg.cv.folds,
      fold,
      seed: cfg.cv.seed,
      stratify: "koppen",
    });
    return { train: s.train, test: s.test };
  });
  const grid: { maxDepth: number; learningRate: number; minSamplesLeaf: number }[] = [];
  for (const maxDepth of cfg.cv.maxDepth) {
    for (const learningRate of cfg.cv.learningRate) {
      for (const minSamplesLeaf of cfg.cv.minSamplesLeaf) {
        grid.push({ maxDepth, learningRate, minSamplesLeaf });
      }
    }
  }
  // curves[target][grid][fold] = validation RMSE after each tree
  const curves = new Map<string, number[][]>();
  const seconds = new Map<string, number>();
  for (const [f, fold] of folds.entries()) {
    const rows = rowsOfSites(table, fold.train, cfg.cv.rowStride);
    const x = selectRows(table.x, rows);
    const w = weightsOf(table, rows, cfg, options.siteWeights ?? {});
    const binned = applyBins(x, fitBins(x, { maxBins: cfg.gbm.maxBins, seed: cfg.gbm.seed }));
    const vAll = rowsOfSites(table, fold.test);
    const vRows = vAll.filter((i) => table.qc[i] >= cfg.cv.qcThreshold);
    const vx = selectRows(table.x, vRows);
    for (const target of TARGETS) {
      const y = pick(table.y[target], rows);
      const vy = pick(table.y[target], vRows);
      for (const [g, point] of grid.entries()) {
        const key = `${target}:${g}`;
        const t = performance.now();
        const r = fitGbm(x, y, {
          config: { ...cfg.gbm, ...point, nTrees: cfg.cv.maxTrees },
          weights: w,
          binned,
          valid: { x: vx, y: vy },
        });
        const s = (performance.now() - t) / 1000;
        seconds.set(key, (seconds.get(key) ?? 0) + s);
        const list = curves.get(key) ?? [];
        list.push(r.report.validRmse);
        curves.set(key, list);
        options.log?.(
          `trees cv: fold ${f + 1}/${folds.length} ${target} depth ${point.maxDepth} ` +
            `lr ${point.learningRate} minLeaf ${point.minSamplesLeaf}: ` +
            `RMSE ${r.report.validRmse.at(-1)!.toFixed(3)} after ${cfg.cv.maxTrees} trees, ` +
            `min ${Math.min(...r.report.validRmse).toFixed(3)} (${s.toFixed(1)} s)`,
        );
      }
    }
  }
  const results: CvResult[] = [];
  const best = {} as Record<Target, CvResult>;
  for (const target of TARGETS) {
    for (const [g, point] of grid.entries()) {
      const key = `${target}:${g}`;
      const fc = curves.get(key)!;
      let bestT = 0, bestV = Infinity;
      for (let t = 0; t < cfg.cv.maxTrees; t++) {
        let m = 0;
        for (const c of fc) m += c[t] / fc.length;
        if (m < bestV) {
          bestV = m;
          bestT = t;
        }
      }
      const res: CvResult = {
        target,
        ...point,
        nTrees: bestT + 1,
        rmse: bestV,
        foldRmse: fc.map((c) => c[bestT]),
        seconds: seconds.get(key)!,
      };
      results.push(res);
      if (!best[target] || res.rmse < best[target].rmse) best[target] = res;
    }
  }
  const chosen = TreesConfigSchema.parse({
    ...cfg,
    perTarget: Object.fromEntries(TARGETS.map((t) => [t, {
      nTrees: best[t].nTrees,
      maxDepth: best[t].maxDepth,
      learningRate: best[t].learningRate,
      minSamplesLeaf: best[t].minSamplesLeaf,
    }])),
  });
  return { results, best, chosen, folds, seconds: (performance.now() - t0) / 1000 };
}

/** The parts of a built dataset (lib/data/dataset.ts) the trees use. */
export interface TreesDatasetInput {
  table: Dataset["table"];
  featureNames: Dataset["featureNames"];
  split: Pick<Dataset["split"], "train" | "test">;
  report: { siteWeights: Record<string, number> };
}

/** What {@link trainPredictDataset} returns. */
export interface TrainPredictResult {
  config: ResolvedTreesConfig;
  table: TreeTable;
  fitted: TreesModel;
  /** Every day of every test site. */
  days: PredictedDay[];
  fitSeconds: number;
  predictSeconds: number;
}

const nullIfNaN = (v: number) => (Number.isNaN(v) ? null : v);

/**
 * Train on every day of the dataset's training sites and predict every day of its test sites:
 * the trees baseline of one split in one call (features: the dataset's dynamic and static
 * columns plus the trailing means of `config.rolling`).
 *
 * @example
 * ```ts
 * import { buildDataset } from "../../data/dataset.ts";
 * import { trainPredictDataset } from "./pipeline.ts";
 * const ds = await buildDataset({ split: { kind: "koppen", seed: 42 } });
 * const { days, fitSeconds } = trainPredictDataset(ds, { config: { gbm: { nTrees: 300 } } });
 * ```
 */
export function trainPredictDataset(
  ds: TreesDatasetInput,
  options: { config?: TreesConfig; log?: (message: string) => void } = {},
): TrainPredictResult {
  const cfg = TreesConfigSchema.parse(options.config ?? {});
  const table = treeTable(ds.table, [...ds.featureNames.dyn, ...ds.featureNames.static], {
    rolling: cfg.rolling,
  });
  const fitted = trainTrees(table, ds.split.train, {
    config: cfg,
    siteWeights: ds.report.siteWeights,
    log: options.log,
  });
  const t = performance.now();
  const rows = rowsOfSites(table, ds.split.test);
  const p = predictTrees(fitted, table, rows);
  const predictSeconds = (performance.now() - t) / 1000;
  const days: PredictedDay[] = Array.from(rows, (i, k) => ({
    site: table.site[i],
    date: table.date[i],
    GPP: p.GPP[k],
    RECO: p.RECO[k],
    NEE: p.NEE[k],
    GPP_obs: nullIfNaN(table.y.GPP[i]),
    RECO_obs: nullIfNaN(table.y.RECO[i]),
    NEE_obs: nullIfNaN(table.y.NEE[i]),
    NEE_QC: nullIfNaN(table.qc[i]),
  }));
  return { config: cfg, table, fitted, days, fitSeconds: fitted.fitSeconds, predictSeconds };
}
