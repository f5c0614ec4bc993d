/**
 * Site preprocessing, the one path from a feature table to model inputs, shared by training
 * (`buildDataset`) and zero-shot prediction (lib/predict): dynamic features and targets
 * standardized with a scaler, per site a {@link SiteSeries}, the static vector standardized with
 * the same scaler, and the support pool of non-overlapping driver windows (what test sites and
 * new sites draw their support sets from).
 *
 * Standardization (`standardize`, the data config's option): "global" (default) uses the scaler's
 * training statistics for every column. "site" standardizes the measured drivers of each site
 * ({@link siteStandardizedColumns}: TA_F, SW_IN_F, VPD_F, LAI, EVI and trailing means of them)
 * with that site's own mean and population std over all of its rows (every segment: drivers are
 * known at prediction time, so a new site gets the statistics of its own drivers); MODIS days
 * flagged `<V>_MISSING` = 1 do not count (in prediction: the seasonal-cycle fill), so that a site's
 * statistics are the same in training and prediction. The computed columns SW_POT, DAY_LENGTH,
 * DOY_SIN and DOY_COS stay global: they are functions of the date and latitude, the same at every
 * site of a latitude, and global scaling keeps the seasonal amplitude that tells latitudes apart.
 * Targets and statics are always global.
 *
 * @module
 */
import pl from "polars";
import { siteMatrix } from "./features.ts";
import { columnAsFloat64, finiteMeanStd, type Scaler, scalerColumn } from "./scaler.ts";
import { parseTrailingName } from "./trailing.ts";
import { TARGETS } from "./targets.ts";
import { enumerateWindows, type SiteSeries, type WindowRef } from "./windows.ts";

/** Options of {@link preprocessSites}. */
export interface PreprocessOptions {
  /** The fitted scaler (dynamic columns, targets and static columns). */
  scaler: Scaler;
  /** Dynamic feature names, in model order. */
  dynNames: readonly string[];
  /** Static feature names, in model order. */
  staticNames: readonly string[];
  /** Raw (encoded, unstandardized) static vector of each site, in `staticNames` order. */
  staticRaw: ReadonlyMap<string, ArrayLike<number>>;
  /** Row ranges of the sites in the table: `sites[k]` is rows `start[k]..start[k+1]`. */
  runs: { sites: readonly string[]; start: Int32Array | readonly number[] };
  /** "global" (default): the scaler for every column; "site": drivers per site (module doc). */
  standardize?: Standardize;
}

/** How dynamic drivers are standardized (see the module doc). */
export type Standardize = "global" | "site";

/** Measured drivers (the rest of the dynamic columns are computed from date and latitude). */
const MEASURED_DRIVERS = ["TA_F", "SW_IN_F", "VPD_F", "LAI", "EVI"];

/**
 * The dynamic columns that `standardize: "site"` standardizes per site: the measured drivers and
 * their trailing means, in `dynNames` order.
 *
 * @example
 * ```ts
 * import { siteStandardizedColumns } from "./preprocess.ts";
 * siteStandardizedColumns(["TA_F", "SW_POT", "DOY_SIN", "TA_F_MEAN7"]); // ["TA_F", "TA_F_MEAN7"]
 * ```
 */
export function siteStandardizedColumns(dynNames: readonly string[]): string[] {
  return dynNames.filter((n) => MEASURED_DRIVERS.includes(parseTrailingName(n)?.column ?? n));
}

/** What {@link preprocessSites} returns, one entry per site of `runs`. */
export interface PreprocessedSites {
  series: SiteSeries[];
  /** Standardized static vector of each site. */
  statics: Float32Array[];
}

/**
 * Standardize a feature table (sorted by site then date, with `date`, the dynamic columns,
 * GPP, RECO, NEE and NEE_QC; missing values null) with `scaler`: x' = (x - mean) / std, in
 * float64, then per site a float32 {@link SiteSeries} (targets standardized, NaN where missing;
 * NEE_QC raw) and the standardized static vector. With `standardize: "site"` the drivers of
 * {@link siteStandardizedColumns} use each site's own statistics instead (module doc).
 *
 * @example
 * ```ts ignore
 * import { preprocessSites } from "./preprocess.ts";
 * const { series, statics } = preprocessSites(features, {
 *   scaler, dynNames, staticNames, staticRaw, runs,
 * });
 * ```
 */
export function preprocessSites(
  features: pl.DataFrame,
  options: PreprocessOptions,
): PreprocessedSites {
  const { scaler, dynNames, staticNames, staticRaw, runs } = options;
  const cols = standardizeColumns(features, [...dynNames, ...TARGETS], scaler);
  if (options.standardize === "site") {
    for (const c of siteStandardizedColumns(dynNames)) {
      cols[c] = standardizePerSite(features, c, runs);
    }
  }
  cols.NEE_QC = columnAsFloat64(features, "NEE_QC");
  const days = features.getColumn("date").cast(pl.Int32).toTypedArray() as Int32Array;
  const series: SiteSeries[] = runs.sites.map((site, k) => {
    const r = { from: runs.start[k], to: runs.start[k + 1] };
    return {
      site,
      days: days.slice(r.from, r.to),
      dyn: siteMatrix(cols, dynNames, r),
      nDyn: dynNames.length,
      y: siteMatrix(cols, TARGETS, r),
      qc: Float32Array.from(cols.NEE_QC.subarray(r.from, r.to)),
    };
  });
  const statics = runs.sites.map((site) => {
    const raw = staticRaw.get(site);
    if (!raw) throw new Error(`preprocessSites: no static vector for site ${site}`);
    return standardizeStatic(raw, staticNames, scaler);
  });
  return { series, statics };
}

/**
 * Columns of `frame` as float64, standardized with `scaler` (null becomes NaN).
 *
 * @example
 * ```ts ignore
 * const cols = standardizeColumns(features, ["TA_F", "GPP"], scaler);
 * ```
 */
export function standardizeColumns(
  frame: pl.DataFrame,
  names: readonly string[],
  scaler: Scaler,
): Record<string, Float64Array> {
  const cols: Record<string, Float64Array> = {};
  for (const c of names) {
    const a = columnAsFloat64(frame, c);
    const { mean, std } = scalerColumn(scaler, c);
    for (let i = 0; i < a.length; i++) a[i] = (a[i] - mean) / std;
    cols[c] = a;
  }
  return cols;
}

/**
 * Column `name` of `frame` standardized with each site's own mean and std (rows flagged
 * `<name>_MISSING` = 1, when that column exists, do not count towards the statistics).
 */
function standardizePerSite(
  frame: pl.DataFrame,
  name: string,
  runs: PreprocessOptions["runs"],
): Float64Array {
  const a = columnAsFloat64(frame, name);
  const flagName = `${name}_MISSING`;
  const flag = frame.columns.includes(flagName) ? columnAsFloat64(frame, flagName) : null;
  runs.sites.forEach((_, k) => {
    const from = runs.start[k], to = runs.start[k + 1];
    const { mean, std } = finiteMeanStd(
      a.subarray(from, to),
      flag ? (i) => flag[from + i] !== 1 : undefined,
    );
    for (let i = from; i < to; i++) a[i] = (a[i] - mean) / std;
  });
  return a;
}

/**
 * A site's raw static vector standardized with `scaler` (float32, in `names` order).
 *
 * @example
 * ```ts ignore
 * const s = standardizeStatic(encodeStatic(site, encoding), encoding.names, scaler);
 * ```
 */
export function standardizeStatic(
  raw: ArrayLike<number>,
  names: readonly string[],
  scaler: Scaler,
): Float32Array {
  return Float32Array.from(names, (name, j) => {
    const { mean, std } = scalerColumn(scaler, name);
    return (raw[j] - mean) / std;
  });
}

/**
 * The support pool of a site with no training windows (a test site, a new site): its
 * non-overlapping windows of `window` days with complete drivers, from its first row.
 *
 * @example
 * ```ts ignore
 * const pool = supportPool(series, 0, 30);
 * ```
 */
export function supportPool(series: SiteSeries, index: number, window: number): WindowRef[] {
  return enumerateWindows(series, index, { window, stride: window, requireTarget: false }).windows;
}
