/**
 * Daily features: one row per site-day with every dynamic feature, MODIS flags and the targets.
 *
 * Dynamic features:
 * - TA_F, SW_IN_F, VPD_F: tower meteorology as loaded;
 * - LAI, EVI: MODIS, monthly -> daily (see modis.ts), null before MODIS (flag columns
 *   LAI_MISSING/EVI_MISSING = 1: no MODIS observation covers the day). With
 *   `modisFill: "seasonalCycle"` (prediction only; training never fills) such a day holds the
 *   site's mean seasonal cycle instead (`interpolateModisFilled`), its flag still 1, so
 *   "flag 1 and a value" means "from the seasonal cycle";
 * - SW_POT (W m-2) and DAY_LENGTH (h) from latitude and day of year (see solar.ts);
 * - DOY_SIN, DOY_COS: sin/cos(2 pi doy / days in year).
 *
 * - TA_F_MEAN7, TA_F_MEAN30, SW_IN_F_MEAN7, ... (`trailing: true` only): trailing means of the
 *   drivers over 7 and 30 calendar days, per site (lib/data/trailing.ts, the trees' definition).
 * - P, P_MEAN30, P_MEAN90, SWI (`water: true` only; {@link WATER_COLUMNS}): daily precipitation
 *   from the monthly files (P_F, else P_ERA), its 30- and 90-day trailing means and a bucket
 *   soil-water index (lib/data/water.ts), with the flag P_MISSING (1: no observed monthly P
 *   covers the day; with `modisFill: "seasonalCycle"` such a day holds the site's mean seasonal
 *   cycle of P).
 *
 * Named feature sets ({@link FEATURE_SETS}) choose the dynamic columns: `minimal` (meteorology +
 * LAI/EVI + calendar), `meteo` (the same without LAI/EVI), and `minimal_trailing`/`meteo_trailing`
 * (each plus the trailing means {@link TRAILING_COLUMNS}), and `minimal_trailing_water`/
 * `meteo_trailing_water` (each of those plus the water columns {@link WATER_COLUMNS}). All use
 * every static descriptor.
 *
 * @module
 */
import pl from "polars";
import { z } from "zod";
import {
  emptyModisReport,
  interpolateModis,
  interpolateModisFilled,
  type ModisInterpolationOptions,
  type ModisMonthly,
  type ModisReport,
} from "./modis.ts";
import { columnAsFloat64 } from "./scaler.ts";
import { dayLength, potentialShortwave } from "./solar.ts";
import { parseTrailingName, TRAILING_COLUMNS, trailingMean } from "./trailing.ts";
import { DEFAULT_WHC, siteWater, type SiteWaterReport, WATER_COLUMNS } from "./water.ts";

/**
 * Every dynamic column of the feature table, the feature set `minimal` (with `trailing: true`,
 * {@link buildFeatures} adds {@link TRAILING_COLUMNS}, which the `*_trailing` sets use).
 */
export const DYNAMIC_COLUMNS = [
  "TA_F",
  "SW_IN_F",
  "VPD_F",
  "LAI",
  "EVI",
  "SW_POT",
  "DAY_LENGTH",
  "DOY_SIN",
  "DOY_COS",
] as const;

const METEO = ["TA_F", "SW_IN_F", "VPD_F", "SW_POT", "DAY_LENGTH", "DOY_SIN", "DOY_COS"] as const;

/** Dynamic feature names of each feature set. */
export const FEATURE_SETS: Record<FeatureSet, readonly string[]> = {
  minimal: DYNAMIC_COLUMNS,
  meteo: METEO,
  minimal_trailing: [...DYNAMIC_COLUMNS, ...TRAILING_COLUMNS],
  meteo_trailing: [...METEO, ...TRAILING_COLUMNS],
  minimal_trailing_water: [...DYNAMIC_COLUMNS, ...TRAILING_COLUMNS, ...WATER_COLUMNS],
  meteo_trailing_water: [...METEO, ...TRAILING_COLUMNS, ...WATER_COLUMNS],
};
/** The name of a feature set. */
export const FeatureSetSchema = z.enum([
  "minimal",
  "meteo",
  "minimal_trailing",
  "meteo_trailing",
  "minimal_trailing_water",
  "meteo_trailing_water",
]);
/** The name of a feature set. */
export type FeatureSet = z.infer<typeof FeatureSetSchema>;

/** Columns the loader's frame must have (ARCHITECTURE.md). */
export const FRAME_COLUMNS = [
  "site",
  "date",
  "TA_F",
  "SW_IN_F",
  "VPD_F",
  "NEE",
  "NEE_QC",
  "GPP",
  "RECO",
] as const;

/** The fields of a `Site` that features use. */
export interface FeatureSite {
  SITE_ID: string;
  LAT: number | null;
  /** Water-holding capacity, mm (water columns only; null/absent: lib/data/water.ts DEFAULT_WHC). */
  WHC?: number | null;
}

/** The water drivers of {@link buildFeatures} (`water: true`): per site, and the default WHC. */
export interface WaterFeatureReport {
  defaultWhc: number;
  /** Sites that use the default WHC. */
  sitesWithDefaultWhc: string[];
  /** Per site: source of P (months by source), WHC, mean SWI. */
  sites: Record<string, SiteWaterReport>;
}

/** What {@link buildFeatures} did. */
export interface FeatureReport {
  rows: number;
  sites: number;
  /** Null count per dynamic column. */
  nulls: Record<string, number>;
  /** MODIS interpolation reasons per variable (days). */
  modis: ModisReport;
  /** Sites with no MODIS file or value. */
  sitesWithoutModis: string[];
  /** The water drivers (only with `water: true`). */
  water?: WaterFeatureReport;
}

/** Row ranges of each site in a frame sorted by site then date. */
export interface SiteRuns {
  sites: string[];
  /** start[i]..start[i+1] are the rows of sites[i]; length sites + 1. */
  start: Int32Array;
}

/**
 * Find the contiguous row range of every site; throws when the frame is not sorted by site then
 * date, naming the row.
 *
 * @example
 * ```ts
 * import { siteRuns } from "./features.ts";
 * const runs = siteRuns(frame);
 * ```
 */
export function siteRuns(frame: pl.DataFrame): SiteRuns {
  const site = frame.getColumn("site").toArray() as string[];
  const days = frame.getColumn("date").cast(pl.Int32).toTypedArray() as Int32Array;
  const sites: string[] = [];
  const starts: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < site.length; i++) {
    if (i === 0 || site[i] !== site[i - 1]) {
      if (seen.has(site[i])) {
        throw new Error(
          `frame row ${i}: site ${site[i]} appears in two separate runs (not sorted)`,
        );
      }
      seen.add(site[i]);
      sites.push(site[i]);
      starts.push(i);
    } else if (days[i] <= days[i - 1]) {
      throw new Error(`frame row ${i}: site ${site[i]}: date not strictly after the previous row`);
    }
  }
  starts.push(site.length);
  return { sites, start: Int32Array.from(starts) };
}

/** Year of a day number (days since 1970-01-01), civil-from-days arithmetic (H. Hinnant). */
function yearOf(epochDay: number): number {
  const z = epochDay + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

/**
 * Day of year (1-366) and the length of that year, for a day number (days since 1970-01-01).
 *
 * @example
 * ```ts
 * import { dayOfYear } from "./features.ts";
 * dayOfYear(15400); // { doy: 61, daysInYear: 366 } (2012-03-01)
 * ```
 */
export function dayOfYear(epochDay: number): { doy: number; daysInYear: number } {
  const y = yearOf(epochDay);
  const jan1 = Math.round(Date.UTC(y, 0, 1) / 86400000);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return { doy: epochDay - jan1 + 1, daysInYear: leap ? 366 : 365 };
}

/**
 * Whether dynamic feature names include trailing means (then {@link buildFeatures} needs
 * `trailing: true`).
 *
 * @example
 * ```ts
 * import { FEATURE_SETS, needsTrailing } from "./features.ts";
 * needsTrailing(FEATURE_SETS.meteo_trailing); // true
 * ```
 */
export function needsTrailing(dynNames: readonly string[]): boolean {
  return dynNames.some((n) => parseTrailingName(n) !== null);
}

/**
 * Whether dynamic feature names include water drivers (then {@link buildFeatures} needs
 * `water: true`).
 *
 * @example
 * ```ts
 * import { FEATURE_SETS, needsWater } from "./features.ts";
 * needsWater(FEATURE_SETS.meteo_trailing_water); // true
 * ```
 */
export function needsWater(dynNames: readonly string[]): boolean {
  return dynNames.some((n) => WATER_COLUMNS.includes(n));
}

/**
 * Build the per-day feature table from the loader's frame.
 *
 * Output columns: site, date, every {@link DYNAMIC_COLUMNS}, with `trailing: true` then every
 * {@link TRAILING_COLUMNS}, with `water: true` then every {@link WATER_COLUMNS}, LAI_MISSING,
 * EVI_MISSING (0/1), with `water: true` P_MISSING (0/1), GPP, RECO, NEE, NEE_QC; same rows and
 * order as `frame`. The water columns need each site's monthly file in `modis` (its P_F/P_ERA)
 * and its WHC in `sites` (else the default).
 *
 * @example
 * ```ts
 * import { buildFeatures } from "./features.ts";
 * import { loadModisMonthly } from "./modis.ts";
 * const { monthly } = loadModisMonthly(paths.metafluxMonthly, sites.map((s) => s.SITE_ID));
 * const { table, report } = buildFeatures(frame, sites, { modis: monthly });
 * ```
 */
export function buildFeatures(
  frame: pl.DataFrame,
  sites: readonly FeatureSite[],
  options: {
    modis: Map<string, ModisMonthly>;
    /**
     * Fill days without a MODIS observation (and, with `water`, without monthly precipitation)
     * from the site's mean seasonal cycle (prediction).
     */
    modisFill?: "seasonalCycle";
    /** Add the trailing driver means {@link TRAILING_COLUMNS} (default false). */
    trailing?: boolean;
    /** Add the water drivers {@link WATER_COLUMNS} and P_MISSING (default false). */
    water?: boolean;
  } & ModisInterpolationOptions,
): { table: pl.DataFrame; runs: SiteRuns; report: FeatureReport } {
  for (const c of FRAME_COLUMNS) {
    if (!frame.columns.includes(c)) throw new Error(`buildFeatures: the frame has no column ${c}`);
  }
  const runs = siteRuns(frame);
  const n = frame.height;
  const days = frame.getColumn("date").cast(pl.Int32).toTypedArray() as Int32Array;
  const lat = new Map(sites.map((s) => [s.SITE_ID, s.LAT]));
  const whcOf = new Map(sites.map((s) => [s.SITE_ID, s.WHC ?? null]));
  const ta = options.water ? columnAsFloat64(frame, "TA_F") : null;
  const swIn = options.water ? columnAsFloat64(frame, "SW_IN_F") : null;
  const water: Record<string, Float64Array> = {};
  if (options.water) { for (const c of WATER_COLUMNS) water[c] = new Float64Array(n); }
  const pMissing = new Int8Array(options.water ? n : 0);
  const waterReport: WaterFeatureReport = {
    defaultWhc: DEFAULT_WHC,
    sitesWithDefaultWhc: [],
    sites: {},
  };
  const swPot = new Float64Array(n);
  const dayLen = new Float64Array(n);
  const doySin = new Float64Array(n);
  const doyCos = new Float64Array(n);
  const lai = new Float64Array(n);
  const evi = new Float64Array(n);
  const laiMissing = new Int8Array(n);
  const eviMissing = new Int8Array(n);
  const modisReport = emptyModisReport();
  const sitesWithoutModis: string[] = [];
  runs.sites.forEach((site, k) => {
    const from = runs.start[k], to = runs.start[k + 1];
    const phi = lat.get(site);
    if (phi === undefined) throw new Error(`buildFeatures: site ${site} is not in the site table`);
    if (phi === null) throw new Error(`site table, site ${site}, column LAT: missing`);
    // the solar terms depend on (day of year, year length) only: compute each once per site
    const memo = new Map<number, [number, number]>();
    for (let i = from; i < to; i++) {
      const { doy, daysInYear } = dayOfYear(days[i]);
      const key = doy * 1000 + daysInYear;
      let v = memo.get(key);
      if (!v) {
        v = [potentialShortwave(phi, doy, { daysInYear }), dayLength(phi, doy, { daysInYear })];
        memo.set(key, v);
      }
      swPot[i] = v[0];
      dayLen[i] = v[1];
      const a = (2 * Math.PI * doy) / daysInYear;
      doySin[i] = Math.sin(a);
      doyCos[i] = Math.cos(a);
    }
    const m = options.modis.get(site);
    if (!m) sitesWithoutModis.push(site);
    const siteDays = days.subarray(from, to);
    if (options.water) {
      const w = siteWater(m, {
        days: siteDays,
        ta: ta!.subarray(from, to),
        swIn: swIn!.subarray(from, to),
      }, { whc: whcOf.get(site), fill: options.modisFill });
      for (const c of WATER_COLUMNS) water[c].set(w.columns[c], from);
      pMissing.set(w.missing, from);
      waterReport.sites[site] = w.report;
      if (w.report.whcDefault) waterReport.sitesWithDefaultWhc.push(site);
    }
    const opts = { maxGapMonths: options.maxGapMonths, report: modisReport };
    for (
      const [name, values, missing] of [["LAI", lai, laiMissing], ["EVI", evi, eviMissing]] as const
    ) {
      if (options.modisFill === "seasonalCycle") {
        const f = interpolateModisFilled(m, name, siteDays, opts);
        values.set(f.values, from);
        for (let i = 0; i < f.values.length; i++) {
          missing[from + i] = f.filled[i] || f.values[i] !== f.values[i] ? 1 : 0;
        }
      } else {
        values.set(interpolateModis(m, name, siteDays, opts), from);
        for (let i = from; i < to; i++) missing[i] = values[i] !== values[i] ? 1 : 0;
      }
    }
  });
  const computed = pl.DataFrame({
    LAI: lai,
    EVI: evi,
    SW_POT: swPot,
    DAY_LENGTH: dayLen,
    DOY_SIN: doySin,
    DOY_COS: doyCos,
    LAI_MISSING: laiMissing,
    EVI_MISSING: eviMissing,
  }).withColumns(pl.col("LAI").fillNan(pl.lit(null)), pl.col("EVI").fillNan(pl.lit(null)));
  const base = frame.select(
    pl.col("site"),
    pl.col("date"),
    ...["TA_F", "SW_IN_F", "VPD_F", "GPP", "RECO", "NEE", "NEE_QC"].map((c) =>
      pl.col(c).cast(pl.Float64)
    ),
  );
  const trailing = options.trailing ? trailingColumns(base, runs) : null;
  const waterFrame = options.water
    ? pl.DataFrame({ ...water, P_MISSING: pMissing }).withColumns(
      ...WATER_COLUMNS.map((c) => pl.col(c).fillNan(pl.lit(null))),
    )
    : null;
  const dynamic = [
    ...DYNAMIC_COLUMNS,
    ...(trailing ? TRAILING_COLUMNS : []),
    ...(waterFrame ? WATER_COLUMNS : []),
  ];
  const table = pl.concat([
    base,
    computed,
    ...(trailing ? [trailing] : []),
    ...(waterFrame ? [waterFrame] : []),
  ], { how: "horizontal" }).select(
    "site",
    "date",
    ...dynamic,
    "LAI_MISSING",
    "EVI_MISSING",
    ...(waterFrame ? ["P_MISSING"] : []),
    "GPP",
    "RECO",
    "NEE",
    "NEE_QC",
  );
  const nulls: Record<string, number> = {};
  for (const c of dynamic) nulls[c] = table.getColumn(c).nullCount();
  return {
    table,
    runs,
    report: {
      rows: n,
      sites: runs.sites.length,
      nulls,
      modis: modisReport,
      sitesWithoutModis,
      ...(options.water ? { water: waterReport } : {}),
    },
  };
}

/** The {@link TRAILING_COLUMNS} of a frame sorted by site then date (null where no value). */
function trailingColumns(base: pl.DataFrame, runs: SiteRuns): pl.DataFrame {
  const days = base.getColumn("date").cast(pl.Int32).toTypedArray() as Int32Array;
  const site = new Array<string>(base.height);
  runs.sites.forEach((s, k) => site.fill(s, runs.start[k], runs.start[k + 1]));
  const columns: Record<string, Float64Array> = {};
  for (const name of TRAILING_COLUMNS) {
    const { column, window } = parseTrailingName(name)!;
    columns[name] = trailingMean(columnAsFloat64(base, column), days, site, window);
  }
  return pl.DataFrame(columns).withColumns(
    ...TRAILING_COLUMNS.map((c) => pl.col(c).fillNan(pl.lit(null))),
  );
}

/**
 * Rows [from, to) of several columns as one row-major Float32Array ([to - from, F], NaN = null),
 * in the order of `names`.
 *
 * @example
 * ```ts
 * import { siteMatrix } from "./features.ts";
 * const cols = { TA_F: new Float64Array([1, 2, 3]), VPD_F: new Float64Array([4, 5, 6]) };
 * const m = siteMatrix(cols, ["TA_F", "VPD_F"], { from: 1, to: 3 }); // [2, 5, 3, 6]
 * ```
 */
export function siteMatrix(
  columns: Record<string, Float64Array>,
  names: readonly string[],
  range: { from: number; to: number },
): Float32Array {
  const { from, to } = range;
  const F = names.length;
  const out = new Float32Array((to - from) * F);
  names.forEach((name, f) => {
    const col = columns[name];
    if (!col) throw new Error(`siteMatrix: no column ${name}`);
    for (let i = from; i < to; i++) out[(i - from) * F + f] = col[i];
  });
  return out;
}
