/**
 * One call from config to training-ready data: load, features, split, scaler, windows, class
 * weights and the train/val/test {@link BatchSource}s, plus the per-day feature table (for tree
 * models and evaluation) and a report of every count and drop.
 *
 * Segments: each training site's record (its rows, first to last day) is cut in two: the first
 * rows are `train`, the last round(n * valFraction) rows are `val`; every row of a test site is
 * `test`. With split kind `all` (no test site), the split's held-out validation sites (`split.val`)
 * are `val` whole, and every row of a training site is `train`: validation is on unseen sites, as
 * the share `valFraction` of sites rather than of each site's days. The same holds for split kind
 * `kfold` with `split.valSites` > 0: that share of the fold's training sites is held out as whole
 * validation sites, and every row of the remaining training sites is `train`. Kind `all` with
 * `split.valSites: 0` holds out no site and validates on the last days of each site, as `kfold`
 * does. With `valFraction` 0 and no validation site (lib/data/splits.ts `validationMode` "none")
 * every row of every training site is `train` and `val` has no window. Windows never cross a
 * segment boundary. The scaler is fitted on `train` rows of training
 * sites only (static descriptors: on training sites only).
 *
 * Windows: train and val windows must have a target on their loss days (`requireTarget`); test
 * windows are every window of a test site with complete drivers (targets may be missing: masked),
 * so that predictions cover every test day past the first warm-up.
 *
 * Class weights (Batch.weight): "balanced" inverse frequency over training sites,
 * w_IGBP(c) = nTrainSites / (nIgbpClasses * nSites(c)), the same for Köppen, site weight
 * w_IGBP * w_Köppen, normalised to mean 1 over training windows. Validation windows carry the
 * same site weights; test windows carry weight 1.
 *
 * @module
 */
import pl from "polars";
import { z } from "zod";
import { type SupportStats, type TargetScale, WindowBatchSource } from "./batches.ts";
import {
  buildFeatures,
  FEATURE_SETS,
  type FeatureReport,
  FeatureSetSchema,
  needsTrailing,
  needsWater,
} from "./features.ts";
import { loadFluxnet } from "./fluxnet.ts";
import { loadModisMonthly, type ModisMonthly } from "./modis.ts";
import { resolveDataDir } from "./paths.ts";
import { fitScaler, type Scaler, scalerColumn } from "./scaler.ts";
import { preprocessSites, supportPool } from "./preprocess.ts";
import { TARGETS } from "./targets.ts";
import type { LoadReport } from "./report.ts";
import { loadSites, type Site } from "./sites.ts";
import { makeSplit, type Split, type SplitSite, SplitSpecSchema } from "./splits.ts";
import { encodeStatic, fitStaticEncoding, STATIC_EXTRA, type StaticEncoding } from "./static.ts";
import {
  addDrops,
  emptyDrops,
  enumerateWindows,
  type SiteSeries,
  totalDrops,
  type WindowDrops,
  type WindowRef,
} from "./windows.ts";

/**
 * The dataset configuration (validated with zod; every field has a default). `staticExtra` and
 * `standardize` (like `split.valSites`) stay absent when not given, absent meaning the default:
 * a resolved config without them is the config of before they existed, so run folders and config
 * hashes (lib/train run cache) of existing configs do not change, and old run folders load.
 */
export const DatasetConfigSchema = z.object({
  /**
   * Named dynamic feature set: "minimal" (meteo + LAI/EVI + calendar), "meteo" (no LAI/EVI),
   * "minimal_trailing"/"meteo_trailing" (each plus 7- and 30-day trailing means of TA_F, SW_IN_F
   * and VPD_F, as the trees compute them), "minimal_trailing_water"/"meteo_trailing_water" (each
   * plus P, P_MEAN30, P_MEAN90 and SWI of lib/data/water.ts; days without monthly P are null, so
   * their windows are dropped and counted as `nullDriver`).
   */
  featureSet: FeatureSetSchema.default("minimal"),
  /** Window length in days (the paper used 45). */
  window: z.number().int().min(2).default(30),
  /** Days between window starts; the loss is on the last `stride` days of each window. */
  stride: z.number().int().min(1).default(15),
  /** Support windows per query window (task encoder). */
  supportK: z.number().int().min(1).default(5),
  /** How sites are split. */
  split: SplitSpecSchema.prefault({}),
  /**
   * Fraction of each training site's record (its end) kept for validation (kind `all` without
   * `split.valSites`: the share of sites held out). 0 without validation sites = no validation.
   */
  valFraction: z.number().min(0).lt(1).default(0.2),
  /** Use only these sites (default: every site with a daily file). */
  sites: z.array(z.string()).min(2).optional(),
  /** Drop train/val windows with no target on their loss days. */
  requireTarget: z.boolean().default(true),
  /** MODIS: most missing months bridged linearly. */
  modisMaxGapMonths: z.number().int().min(0).default(2),
  /**
   * Extra numeric site descriptors of sites.csv in the static vector ("CANOPY_HEIGHT", "WHC"),
   * imputed with the median over training sites and flagged `<NAME>_MISSING` like the others.
   * Absent or [] = none.
   */
  staticExtra: z.array(z.enum(STATIC_EXTRA)).optional(),
  /**
   * "global" (absent = default): dynamic features standardized with the training sites'
   * statistics; "site": each site's measured drivers with its own mean and std over all its rows
   * (lib/data/preprocess.ts; calendar and solar columns and targets stay global).
   */
  standardize: z.enum(["global", "site"]).optional(),
}).strict().refine((c) => c.stride <= c.window, {
  message: "stride must be <= window",
  path: ["stride"],
}).refine((c) => new Set(c.staticExtra ?? []).size === (c.staticExtra ?? []).length, {
  message: "staticExtra lists a descriptor twice",
  path: ["staticExtra"],
});
/** The dataset configuration as written by a user (defaults optional). */
export type DatasetConfig = z.input<typeof DatasetConfigSchema>;
/** The dataset configuration with every default filled in. */
export type ResolvedDatasetConfig = z.output<typeof DatasetConfigSchema>;

/** Windows of one source and why others were dropped. */
export interface WindowReport {
  sites: number;
  /** Rows (site-days) in this segment. */
  rows: number;
  /** Window positions considered (before drops). */
  candidates: number;
  kept: number;
  dropped: WindowDrops;
  /** Loss days in kept windows / lost with dropped windows / never a loss day (warm-up, tail). */
  lossDays: { kept: number; dropped: number; never: number };
  /** Loss-day target values available (GPP, RECO, NEE) in kept windows. */
  targetsInLoss: [number, number, number];
  support: SupportStats;
}

/** Everything {@link buildDataset} counted. */
export interface DatasetReport {
  config: ResolvedDatasetConfig;
  /** The split actually used (may come from a file rather than `config.split`). */
  split: { kind: Split["kind"]; seed: number; fold: number; k: number };
  /** The loader's report (rows read, dropped by reason, nulls), when known. */
  load: LoadReport | null;
  sites: { total: number; train: number; test: number };
  features: FeatureReport;
  /** Sites with no MODIS file. */
  modisMissingFiles: string[];
  windows: { train: WindowReport; val: WindowReport; test: WindowReport };
  /** Test support pool: non-overlapping driver windows per test site (total). */
  testSupportPool: number;
  /** Normalised class weight of each training site. */
  siteWeights: Record<string, number>;
  seconds: { load: number; features: number; prepare: number; total: number };
}

/** What {@link buildDataset} returns. */
export interface Dataset {
  config: ResolvedDatasetConfig;
  split: Split;
  /** Dynamic features and targets (train rows of training sites) and statics (training sites). */
  scaler: Scaler;
  staticEncoding: StaticEncoding;
  featureNames: { dyn: string[]; static: string[] };
  targetScale: TargetScale;
  train: WindowBatchSource;
  val: WindowBatchSource;
  test: WindowBatchSource;
  /**
   * One row per site-day in physical units: site, date, segment (train|val|test), IGBP,
   * KOPPEN_MAIN, every dynamic column, LAI_MISSING, EVI_MISSING, every static column (imputed),
   * GPP, RECO, NEE, NEE_QC.
   */
  table: pl.DataFrame;
  sites: Site[];
  report: DatasetReport;
}

/** Options of {@link buildDataset}. */
export interface BuildDatasetOptions {
  /** Data folder (else found by resolveDataDir). */
  dataDir?: string;
  /** Already loaded data (skips loadFluxnet; `config.sites` still filters). */
  loaded?: { frame: pl.DataFrame; sites: Site[]; report?: LoadReport };
  /** Options passed to loadFluxnet (e.g. `dir` for a folder of fixtures, `cache`). */
  load?: Parameters<typeof loadFluxnet>[0];
  /** Use this split instead of making one from `config.split`. */
  split?: Split;
  /** Use this scaler instead of fitting one (e.g. the one saved with a run). */
  scaler?: Scaler;
  /** MODIS monthly values by site (else read from the data folder's metaflux_monthly). */
  modis?: Map<string, ModisMonthly>;
  /** IGBP classes for the one-hot (default: every class in the data folder's sites.csv). */
  igbpClasses?: string[];
}

/**
 * "Balanced" inverse-frequency class weights of training sites: w_IGBP(c) = nSites / (nClasses *
 * nSites(c)), the same for the Köppen main group, site weight w_IGBP * w_Köppen, normalised so that
 * the mean over training windows (`windowsPerSite`) is 1.
 *
 * @example
 * ```ts
 * import { classWeights } from "./dataset.ts";
 * const w = classWeights(
 *   [{ SITE_ID: "a", IGBP: "ENF", KOPPEN_MAIN: "D" }, { SITE_ID: "b", IGBP: "GRA", KOPPEN_MAIN: "D" }],
 *   new Map([["a", 10], ["b", 30]]),
 * );
 * ```
 */
export function classWeights(
  trainSites: readonly SplitSite[],
  windowsPerSite: ReadonlyMap<string, number>,
): Record<string, number> {
  const balanced = (key: "IGBP" | "KOPPEN_MAIN") => {
    const counts = new Map<string, number>();
    for (const s of trainSites) counts.set(s[key], (counts.get(s[key]) ?? 0) + 1);
    return (c: string) => trainSites.length / (counts.size * counts.get(c)!);
  };
  const wIgbp = balanced("IGBP"), wKoppen = balanced("KOPPEN_MAIN");
  const raw: Record<string, number> = {};
  let sum = 0, windows = 0;
  for (const s of trainSites) {
    raw[s.SITE_ID] = wIgbp(s.IGBP) * wKoppen(s.KOPPEN_MAIN);
    const n = windowsPerSite.get(s.SITE_ID) ?? 0;
    sum += raw[s.SITE_ID] * n;
    windows += n;
  }
  const norm = windows > 0 && sum > 0 ? windows / sum : 1;
  for (const k of Object.keys(raw)) raw[k] *= norm;
  return raw;
}

function seriesRange(k: number, runs: Int32Array): { from: number; to: number } {
  return { from: runs[k], to: runs[k + 1] };
}

/**
 * Build the dataset described by `config`.
 *
 * @example
 * ```ts
 * import { buildDataset } from "./dataset.ts";
 * const ds = await buildDataset({ featureSet: "minimal", split: { kind: "koppen", seed: 42 } });
 * for (const batch of ds.train.batches({ batchSize: 64, shuffle: true, seed: 1 })) {
 *   // ... train, then disposeBatch(batch)
 * }
 * ```
 */
export async function buildDataset(
  config: DatasetConfig,
  options: BuildDatasetOptions = {},
): Promise<Dataset> {
  const t0 = performance.now();
  const cfg = DatasetConfigSchema.parse(config);
  const paths = options.modis && options.igbpClasses
    ? undefined
    : resolveDataDir({ dataDir: options.dataDir });

  // 1. load
  const { frame, sites, loadReport } = await loadInput(cfg, options);
  const tLoad = performance.now();

  // 2. features
  const siteIds = sites.map((s) => s.SITE_ID);
  let modis = options.modis;
  let modisMissingFiles: string[] = [];
  if (!modis) {
    const loaded = loadModisMonthly(paths!.metafluxMonthly, siteIds);
    modis = loaded.monthly;
    modisMissingFiles = loaded.missing;
  }
  const dynNames = [...FEATURE_SETS[cfg.featureSet]];
  const { table: features, runs, report: featureReport } = buildFeatures(frame, sites, {
    modis,
    maxGapMonths: cfg.modisMaxGapMonths,
    trailing: needsTrailing(dynNames),
    water: needsWater(dynNames),
  });
  const tFeatures = performance.now();

  // 3. split (only over sites with rows)
  const present = new Set(runs.sites);
  const split = options.split ??
    makeSplit(sites.filter((s) => present.has(s.SITE_ID)), cfg.split, {
      valFraction: cfg.valFraction,
    });
  const trainSet = new Set(split.train);
  const testSet = new Set(split.test);
  const valSet = new Set(split.val ?? []);
  for (const s of runs.sites) {
    if (!trainSet.has(s) && !testSet.has(s) && !valSet.has(s)) {
      throw new Error(`buildDataset: site ${s} is in neither train, val nor test of the split`);
    }
  }

  // 4. segments
  const { segment, cut } = segmentRows(runs, {
    rows: features.height,
    testSet,
    valSet,
    valFraction: cfg.valFraction,
  });
  const withSegment = features.withColumns(pl.Series("segment", segment));

  // 5. statics and scaler
  const igbpClasses = options.igbpClasses ??
    [...new Set((await loadSites(paths!.sitesCsv)).map((s) => s.IGBP))];
  const staticEncoding = fitStaticEncoding(sites, split.train, {
    igbpClasses,
    extra: cfg.staticExtra,
  });
  const staticRaw = new Map(sites.map((s) => [s.SITE_ID, encodeStatic(s, staticEncoding)]));
  const staticNames = staticEncoding.names;
  const scaler = options.scaler ?? fitDatasetScaler(withSegment, {
    sites,
    split,
    dynNames,
    staticEncoding,
    staticRaw,
  });
  const targetScale: TargetScale = {
    mean: TARGETS.map((t) => scalerColumn(scaler, t).mean) as [number, number, number],
    std: TARGETS.map((t) => scalerColumn(scaler, t).std) as [number, number, number],
  };

  // 6. standardized series and statics (lib/data/preprocess.ts, as lib/predict does)
  const { series, statics } = preprocessSites(features, {
    scaler,
    dynNames,
    staticNames,
    staticRaw,
    runs,
    standardize: cfg.standardize,
  });

  // 7. windows
  const { reports, lists, trainPools, testPools } = datasetWindows(series, {
    runs,
    cut,
    testSet,
    valSet,
    cfg,
    dynNames,
  });

  // 8. class weights
  const trainWindowsPerSite = new Map<string, number>();
  for (const w of lists.train) {
    const site = runs.sites[w.series];
    trainWindowsPerSite.set(site, (trainWindowsPerSite.get(site) ?? 0) + 1);
  }
  const siteWeights = classWeights(
    sites.filter((s) => trainSet.has(s.SITE_ID)),
    trainWindowsPerSite,
  );
  const trainWeights = Float32Array.from(runs.sites, (site) => siteWeights[site] ?? 1);
  const testWeights = new Float32Array(series.length).fill(1);

  // 9. sources
  const common = {
    window: cfg.window,
    stride: cfg.stride,
    supportK: cfg.supportK,
    nStatic: staticNames.length,
    targetScale,
  };
  const train = new WindowBatchSource(
    { series, statics, weights: trainWeights, windows: lists.train, pools: trainPools },
    { ...common, role: "train" },
  );
  const val = new WindowBatchSource(
    { series, statics, weights: trainWeights, windows: lists.val, pools: trainPools },
    { ...common, role: "val" },
  );
  const test = new WindowBatchSource(
    { series, statics, weights: testWeights, windows: lists.test, pools: testPools },
    { ...common, role: "test" },
  );
  reports.train.support = train.supportStats();
  reports.val.support = val.supportStats();
  reports.test.support = test.supportStats();

  // 10. the per-day table (physical units)
  const table = dayTable(withSegment, { features, sites, staticNames, staticRaw });
  const tEnd = performance.now();

  const report: DatasetReport = {
    config: cfg,
    split: { kind: split.kind, seed: split.seed, fold: split.spec.fold, k: split.spec.k },
    load: loadReport,
    sites: { total: runs.sites.length, train: split.train.length, test: split.test.length },
    features: featureReport,
    modisMissingFiles,
    windows: reports,
    testSupportPool: testPools.reduce((s, p) => s + p.length, 0),
    siteWeights,
    seconds: {
      load: (tLoad - t0) / 1000,
      features: (tFeatures - tLoad) / 1000,
      prepare: (tEnd - tFeatures) / 1000,
      total: (tEnd - t0) / 1000,
    },
  };
  return {
    config: cfg,
    split,
    scaler,
    staticEncoding,
    featureNames: { dyn: dynNames, static: staticNames },
    targetScale,
    train,
    val,
    test,
    table,
    sites,
    report,
  };
}

/** Step 1 of {@link buildDataset}: the loaded frame and sites (filtered to `cfg.sites`). */
async function loadInput(
  cfg: ResolvedDatasetConfig,
  options: BuildDatasetOptions,
): Promise<{ frame: pl.DataFrame; sites: Site[]; loadReport: LoadReport | null }> {
  let frame: pl.DataFrame;
  let sites: Site[];
  let loadReport: LoadReport | null = null;
  if (options.loaded) {
    ({ frame, sites } = options.loaded);
    loadReport = options.loaded.report ?? null;
    if (cfg.sites) {
      const want = new Set(cfg.sites);
      const absent = cfg.sites.filter((s) => !sites.some((x) => x.SITE_ID === s));
      if (absent.length) throw new Error(`buildDataset: sites not loaded: ${absent.join(", ")}`);
      frame = frame.filter(pl.col("site").isIn([...want]));
      sites = sites.filter((s) => want.has(s.SITE_ID));
    }
  } else {
    ({ frame, sites, report: loadReport } = await loadFluxnet({
      dataDir: options.dataDir,
      ...options.load,
      ...(cfg.sites ? { sites: cfg.sites } : {}),
    }));
  }
  return { frame, sites, loadReport };
}

/**
 * Step 4 of {@link buildDataset}: the segment of every row (train|val|test) and, per site, the
 * absolute row where its validation part starts (the site's end for test sites).
 */
function segmentRows(
  runs: { sites: readonly string[]; start: Int32Array },
  options: {
    rows: number;
    testSet: ReadonlySet<string>;
    valSet: ReadonlySet<string>;
    valFraction: number;
  },
): { segment: string[]; cut: Int32Array } {
  const segment: string[] = new Array(options.rows);
  const cut = new Int32Array(runs.sites.length); // absolute row where val starts (train sites)
  runs.sites.forEach((site, k) => {
    const { from, to } = seriesRange(k, runs.start);
    if (options.testSet.has(site)) {
      segment.fill("test", from, to);
      cut[k] = to;
    } else if (options.valSet.size > 0) {
      // held-out validation sites (kind all, kfold with valSites): val whole, training sites train
      const c = options.valSet.has(site) ? from : to;
      segment.fill("train", from, c);
      segment.fill("val", c, to);
      cut[k] = c;
    } else {
      const c = to - Math.round((to - from) * options.valFraction);
      segment.fill("train", from, c);
      segment.fill("val", c, to);
      cut[k] = c;
    }
  });
  return { segment, cut };
}

/**
 * Step 5 of {@link buildDataset}: the scaler, fitted on the train rows of training sites (dynamic
 * features and targets) and on training sites (numeric static descriptors; one-hots identity).
 */
function fitDatasetScaler(
  withSegment: pl.DataFrame,
  context: {
    sites: Site[];
    split: Split;
    dynNames: readonly string[];
    staticEncoding: StaticEncoding;
    staticRaw: ReadonlyMap<string, Float64Array>;
  },
): Scaler {
  const { sites, split, dynNames, staticEncoding, staticRaw } = context;
  const staticNames = staticEncoding.names;
  const trainRows = withSegment.filter(pl.col("segment").eq(pl.lit("train")));
  const dynScaler = fitScaler(trainRows, [...dynNames, ...TARGETS], {
    trainSites: split.train,
  });
  const staticFrame = pl.DataFrame({
    site: sites.map((s) => s.SITE_ID),
    ...Object.fromEntries(
      staticNames.map((name, j) => [name, sites.map((s) => staticRaw.get(s.SITE_ID)![j])]),
    ),
  });
  const staticScaler = fitScaler(staticFrame, staticNames, {
    trainSites: split.train,
    identity: staticNames.filter((c) => !staticEncoding.numeric.includes(c)),
  });
  return {
    version: 1,
    columns: [...dynScaler.columns, ...staticScaler.columns],
    fittedOn: dynScaler.fittedOn,
    rows: dynScaler.rows,
  };
}

type Role = "train" | "val" | "test";

/**
 * Step 7 of {@link buildDataset}: the windows of every role with their reports, the training
 * sites' support pools (their train windows) and the test sites' (non-overlapping windows).
 */
function datasetWindows(
  series: SiteSeries[],
  context: {
    runs: { sites: readonly string[]; start: Int32Array };
    cut: Int32Array;
    testSet: ReadonlySet<string>;
    valSet: ReadonlySet<string>;
    cfg: ResolvedDatasetConfig;
    dynNames: string[];
  },
): {
  reports: Record<Role, WindowReport>;
  lists: Record<Role, WindowRef[]>;
  trainPools: WindowRef[][];
  testPools: WindowRef[][];
} {
  const { runs, cut, testSet, valSet, cfg, dynNames } = context;
  const geometry = { window: cfg.window, stride: cfg.stride, dynNames };
  const newReport = (): WindowReport => ({
    sites: 0,
    rows: 0,
    candidates: 0,
    kept: 0,
    dropped: emptyDrops(),
    lossDays: { kept: 0, dropped: 0, never: 0 },
    targetsInLoss: [0, 0, 0],
    support: { full: 0, repeated: 0, selfOnly: 0 },
  });
  const reports = { train: newReport(), val: newReport(), test: newReport() };
  const lists: Record<Role, WindowRef[]> = { train: [], val: [], test: [] };
  const trainPools: WindowRef[][] = series.map(() => []);
  const testPools: WindowRef[][] = series.map(() => []);
  const add = (
    role: Role,
    k: number,
    range: { from: number; to: number },
    requireTarget: boolean,
  ): WindowRef[] => {
    const rep = reports[role];
    const r = enumerateWindows(series[k], k, { ...geometry, ...range, requireTarget });
    rep.sites++;
    rep.rows += range.to - range.from;
    rep.candidates += r.candidates;
    rep.kept += r.windows.length;
    addDrops(rep.dropped, r.dropped);
    rep.lossDays.kept += r.windows.length * cfg.stride;
    rep.lossDays.dropped += totalDrops(r.dropped) * cfg.stride;
    rep.lossDays.never += range.to - range.from - r.candidates * cfg.stride;
    const y = series[k].y;
    for (const w of r.windows) {
      for (let t = w.start + cfg.window - cfg.stride; t < w.start + cfg.window; t++) {
        for (let j = 0; j < 3; j++) if (!Number.isNaN(y[3 * t + j])) rep.targetsInLoss[j]++;
      }
    }
    lists[role].push(...r.windows);
    return r.windows;
  };
  runs.sites.forEach((site, k) => {
    const len = series[k].days.length;
    if (testSet.has(site)) {
      add("test", k, { from: 0, to: len }, false);
      testPools[k] = supportPool(series[k], k, cfg.window);
    } else {
      const c = cut[k] - runs.start[k];
      trainPools[k] = add("train", k, { from: 0, to: c }, cfg.requireTarget);
      const val = add("val", k, { from: c, to: len }, cfg.requireTarget);
      // a held-out validation site (kind all, kfold with valSites) draws support from its windows
      if (valSet.has(site)) trainPools[k] = val;
    }
  });
  return { reports, lists, trainPools, testPools };
}

/** Step 10 of {@link buildDataset}: the per-day table in physical units (see `Dataset.table`). */
function dayTable(
  withSegment: pl.DataFrame,
  context: {
    features: pl.DataFrame;
    sites: Site[];
    staticNames: readonly string[];
    staticRaw: ReadonlyMap<string, Float64Array>;
  },
): pl.DataFrame {
  const { features, sites, staticNames, staticRaw } = context;
  const staticFrame = pl.DataFrame({
    site: sites.map((s) => s.SITE_ID),
    IGBP: sites.map((s) => s.IGBP),
    KOPPEN_MAIN: sites.map((s) => s.KOPPEN_MAIN),
    ...Object.fromEntries(
      staticNames.map((name, j) => [name, sites.map((s) => staticRaw.get(s.SITE_ID)![j])]),
    ),
  });
  return withSegment.join(staticFrame, { on: "site", how: "left" }).select(
    "site",
    "date",
    "segment",
    "IGBP",
    "KOPPEN_MAIN",
    ...features.columns.filter((c) => !["site", "date", ...TARGETS, "NEE_QC"].includes(c)),
    ...staticNames,
    ...TARGETS,
    "NEE_QC",
  );
}
