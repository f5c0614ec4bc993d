/**
 * Water drivers of the `*_water` feature sets (issue 25, point 2), pure functions; per site in
 * lib/data/features.ts `buildFeatures` (`water: true`), so training (`buildDataset`) and
 * `deno task predict` (lib/predict `siteInputs`) compute them by the same code.
 *
 * Columns ({@link WATER_COLUMNS}):
 * - `P` (mm d-1): daily precipitation. The MetaFlux monthly files give the month's mean daily
 *   precipitation; every day of a month holds that monthly mean (a step function, no
 *   interpolation and no attempt to place rain events). Source per month: P_F (tower, gap-filled
 *   by FLUXNET2015) when the month has it, else P_ERA (downscaled ERA-Interim)
 *   ({@link monthlyPrecipitation}). A day whose month has neither (or no monthly file) is null
 *   (`P_MISSING` = 1 in the feature table; training drops its windows, counted as
 *   `nullDriver.P`); with `fill: "seasonalCycle"` (prediction only) it gets the site's mean
 *   seasonal cycle of the monthly P ({@link precipitationCycle}), `P_MISSING` still 1.
 * - `P_MEAN30`, `P_MEAN90` (mm d-1): trailing MEANS of P over 30 and 90 calendar days
 *   (lib/data/trailing.ts `trailingMean`, the definition of the other trailing means).
 * - `SWI` (0-1): a daily bucket soil-water index ({@link soilWaterIndex}):
 *   W_t = clamp(W_{t-1} + P_t - ET_t, 0, WHC), ET_t = PET_t * W_{t-1} / WHC (demand scaled by the
 *   relative water content as supply limit), SWI_t = W_t / WHC, with PET the Priestley-Taylor
 *   potential evapotranspiration from TA_F and SW_IN_F ({@link priestleyTaylorPet}). WHC is the
 *   site's water-holding capacity of sites.csv, else {@link DEFAULT_WHC}. Initial state:
 *   spin-up, the bucket is run from full over the site's first {@link SPIN_UP_DAYS} calendar
 *   days of record and its end state is W_0 of the real run. A day without P or PET (a missing
 *   driver) keeps the state unchanged and has SWI null.
 *
 * @module
 */
import { type ModisMonthly, monthlySeasonalCycle, type PrecipitationColumn } from "./modis.ts";
import { trailingMean, trailingName } from "./trailing.ts";

/** The windows (calendar days) of the trailing means of P. */
export const PRECIPITATION_WINDOWS = [30, 90] as const;

/** The dynamic columns the `*_water` feature sets add, in order. */
export const WATER_COLUMNS: readonly string[] = [
  "P",
  ...PRECIPITATION_WINDOWS.map((w) => trailingName("P", w)),
  "SWI",
];

/**
 * Water-holding capacity (mm) of a site without a WHC in its site table: 230 mm, the median of the
 * 130 WHC values of FLUXNET2015's sites.csv (232.6 mm, 104-1115 mm) rounded; 53 of its 183 sites
 * have none (tests/water_test.ts checks both on the real table).
 */
export const DEFAULT_WHC = 230;

/** Calendar days of the spin-up of the bucket (the first year of a site's record). */
export const SPIN_UP_DAYS = 365;

/**
 * Constants of {@link priestleyTaylorPet} (FAO-56, Allen et al. 1998, and Priestley & Taylor
 * 1972): `alpha` the Priestley-Taylor coefficient, `gamma` the psychrometric constant at sea level
 * (kPa K-1; the site's pressure is not modelled), `lambda` the latent heat of vaporisation
 * (MJ kg-1), `netRadiationFraction` net radiation as a share of incoming shortwave at daily scale
 * (daily Rn/Rs of vegetated surfaces is about 0.5-0.7: albedo 0.23 less the net longwave loss;
 * the tower files have no net radiation and the model learns any scale error).
 */
export const PRIESTLEY_TAYLOR = {
  alpha: 1.26,
  gamma: 0.066,
  lambda: 2.45,
  netRadiationFraction: 0.6,
} as const;

/**
 * Priestley-Taylor potential evapotranspiration (mm d-1) from the daily mean air temperature
 * (degC) and incoming shortwave (W m-2): PET = alpha * Delta / (Delta + gamma) * Rn / lambda,
 * Rn = netRadiationFraction * max(SW_IN, 0) * 0.0864 (MJ m-2 d-1), Delta the slope of the
 * saturation vapour pressure curve at TA (FAO-56 eq. 13). NaN when an input is missing.
 *
 * @example
 * ```ts
 * import { priestleyTaylorPet } from "./water.ts";
 * console.log(priestleyTaylorPet(20, 250).toFixed(2)); // "4.58" (a summer day)
 * ```
 */
export function priestleyTaylorPet(ta: number, swIn: number): number {
  if (!Number.isFinite(ta) || !Number.isFinite(swIn)) return NaN;
  const { alpha, gamma, lambda, netRadiationFraction } = PRIESTLEY_TAYLOR;
  const es = 0.6108 * Math.exp((17.27 * ta) / (ta + 237.3));
  const delta = (4098 * es) / ((ta + 237.3) ** 2);
  const rn = netRadiationFraction * Math.max(swIn, 0) * 0.0864;
  return (alpha * delta / (delta + gamma)) * rn / lambda;
}

/** The monthly precipitation of a site with the source of each month. */
export interface MonthlyPrecipitation {
  months: number[];
  /** mm d-1; null when neither source has the month. */
  values: (number | null)[];
  source: (PrecipitationColumn | null)[];
}

/**
 * Monthly precipitation of a site: P_F where the month has it, else P_ERA, else null.
 *
 * @example
 * ```ts
 * import { monthlyPrecipitation } from "./water.ts";
 * const m = { site: "X", months: [200101, 200102], LAI: [], EVI: [], P_F: [null, 2], P_ERA: [1, 3] };
 * console.log(monthlyPrecipitation(m).source); // ["P_ERA", "P_F"]
 * ```
 */
export function monthlyPrecipitation(monthly: ModisMonthly | undefined): MonthlyPrecipitation {
  const months = monthly?.months ?? [];
  const values: (number | null)[] = [], source: (PrecipitationColumn | null)[] = [];
  months.forEach((_, i) => {
    const f = monthly!.P_F?.[i] ?? null, e = monthly!.P_ERA?.[i] ?? null;
    const [v, s] = f !== null && Number.isFinite(f)
      ? [f, "P_F" as const]
      : e !== null && Number.isFinite(e)
      ? [e, "P_ERA" as const]
      : [null, null];
    values.push(v);
    source.push(s);
  });
  return { months: [...months], values, source };
}

/**
 * The site's mean seasonal cycle of monthly precipitation ({@link monthlyPrecipitation}, by
 * lib/data/modis.ts `monthlySeasonalCycle`), null when it has no month with a value.
 *
 * @example
 * ```ts
 * import { precipitationCycle } from "./water.ts";
 * const m = { site: "X", months: [200101, 200201], LAI: [], EVI: [], P_F: [1, 3] };
 * console.log(precipitationCycle(m)?.[0]); // 2
 * ```
 */
export function precipitationCycle(monthly: ModisMonthly | undefined): number[] | null {
  const { months, values } = monthlyPrecipitation(monthly);
  return monthlySeasonalCycle(months, values);
}

/** Where a day's precipitation comes from (codes of {@link DailyPrecipitation}.source). */
export const P_SOURCE = { none: 0, P_F: 1, P_ERA: 2, seasonalCycle: 3 } as const;

/** What {@link dailyPrecipitation} returns. */
export interface DailyPrecipitation {
  /** mm d-1, NaN where no value. */
  values: Float64Array;
  /** Per day a {@link P_SOURCE} code. */
  source: Uint8Array;
}

/** YYYYMM of a day number (days since 1970-01-01). */
function yyyymm(day: number): number {
  const d = new Date(day * 86_400_000);
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}

/**
 * Daily precipitation (mm d-1) of a site on the given days: each day holds its month's value of
 * {@link monthlyPrecipitation} (P_F, else P_ERA). With `fill: "seasonalCycle"` a day without one
 * gets the calendar month's value of {@link precipitationCycle} (source `seasonalCycle`), when
 * the site has any month at all.
 *
 * @example
 * ```ts
 * import { dailyPrecipitation } from "./water.ts";
 * const m = { site: "X", months: [200101], LAI: [], EVI: [], P_F: [2] };
 * // 2001-01-31 and 2001-02-01 (no month): [2, NaN], sources [1, 0]
 * const { values, source } = dailyPrecipitation(m, [11353, 11354]);
 * ```
 */
export function dailyPrecipitation(
  monthly: ModisMonthly | undefined,
  days: ArrayLike<number>,
  options: { fill?: "seasonalCycle" } = {},
): DailyPrecipitation {
  const p = monthlyPrecipitation(monthly);
  const byMonth = new Map<number, [number, number]>();
  p.months.forEach((ym, i) => {
    const v = p.values[i], s = p.source[i];
    if (v !== null && s !== null) byMonth.set(ym, [v, P_SOURCE[s]]);
  });
  const cycle = options.fill === "seasonalCycle" ? monthlySeasonalCycle(p.months, p.values) : null;
  const values = new Float64Array(days.length).fill(NaN);
  const source = new Uint8Array(days.length);
  for (let i = 0; i < days.length; i++) {
    const ym = yyyymm(days[i]);
    const hit = byMonth.get(ym);
    if (hit) [values[i], source[i]] = hit;
    else if (cycle) {
      values[i] = cycle[(ym % 100) - 1];
      source[i] = P_SOURCE.seasonalCycle;
    }
  }
  return { values, source };
}

/** Options of {@link soilWaterIndex}. */
export interface SoilWaterOptions {
  /** Water-holding capacity, mm (> 0). */
  whc: number;
  /** Calendar days of spin-up from full (default {@link SPIN_UP_DAYS}; 0: start full). */
  spinUpDays?: number;
}

/**
 * The bucket soil-water index of one site (module doc): `p` and `pet` in mm d-1 per row, `days`
 * ascending day numbers. Returns SWI in [0, 1] per row, NaN where P or PET is missing (the state
 * is then carried over unchanged, also over calendar days absent from `days`).
 *
 * @example
 * ```ts
 * import { soilWaterIndex } from "./water.ts";
 * const swi = soilWaterIndex([0, 0, 50], [10, 10, 0], [0, 1, 2], { whc: 100, spinUpDays: 0 });
 * // W: 100 - 10 = 90, 90 - 9 = 81, min(81 + 50, 100) = 100 -> [0.9, 0.81, 1]
 * ```
 */
export function soilWaterIndex(
  p: ArrayLike<number>,
  pet: ArrayLike<number>,
  days: ArrayLike<number>,
  options: SoilWaterOptions,
): Float64Array {
  const { whc } = options;
  if (!(whc > 0) || !Number.isFinite(whc)) {
    throw new Error(`soilWaterIndex: WHC must be a positive number of mm, got ${whc}`);
  }
  const n = p.length;
  if (pet.length !== n || days.length !== n) {
    throw new Error(
      `soilWaterIndex: p, pet and days differ in length (${n}, ${pet.length}, ` +
        `${days.length})`,
    );
  }
  const out = new Float64Array(n);
  const run = (w: number, to: number, store: boolean): number => {
    for (let i = 0; i < to; i++) {
      if (i > 0 && days[i] <= days[i - 1]) {
        throw new Error(`soilWaterIndex: days not ascending at row ${i}`);
      }
      if (!Number.isFinite(p[i]) || !Number.isFinite(pet[i])) {
        if (store) out[i] = NaN;
        continue;
      }
      const et = (pet[i] * w) / whc;
      w = Math.min(Math.max(w + p[i] - et, 0), whc);
      if (store) out[i] = w / whc;
    }
    return w;
  };
  const spin = options.spinUpDays ?? SPIN_UP_DAYS;
  let spinRows = 0;
  while (spinRows < n && days[spinRows] < days[0] + spin) spinRows++;
  run(spinRows > 0 ? run(whc, spinRows, false) : whc, n, true);
  return out;
}

/** Where the water drivers of one site came from (the feature report). */
export interface SiteWaterReport {
  /** P_F / P_ERA on every day with P, a mix of both, or no P at all. */
  source: "P_F" | "P_ERA" | "mix" | "none";
  /** Months of the record (months with at least one of its days) by source of P. */
  months: { P_F: number; P_ERA: number; seasonalCycle: number; none: number };
  /** The WHC used (mm) and whether it is {@link DEFAULT_WHC}. */
  whc: number;
  whcDefault: boolean;
  /** Mean SWI over the days with a value (null: none). */
  meanSwi: number | null;
}

/** What {@link siteWater} returns. */
export interface SiteWater {
  /** Every {@link WATER_COLUMNS} entry, per row; NaN = null. */
  columns: Record<string, Float64Array>;
  /** 1 where no observed monthly P covers the day (from the seasonal cycle, or null). */
  missing: Uint8Array;
  report: SiteWaterReport;
}

/**
 * Every water column of one site's rows (days ascending): P from the monthly file, its trailing
 * means, PET from TA_F and SW_IN_F, SWI with the site's WHC (null or non-positive: the default).
 *
 * @example
 * ```ts
 * import { siteWater } from "./water.ts";
 * const m = { site: "X", months: [200101], LAI: [], EVI: [], P_F: [2] };
 * const days = [11323, 11324]; // 2001-01-01, 2001-01-02
 * const w = siteWater(m, { days, ta: [10, 12], swIn: [100, 120] }, { whc: null });
 * console.log(w.columns.P, w.report.whcDefault); // Float64Array [2, 2] true
 * ```
 */
export function siteWater(
  monthly: ModisMonthly | undefined,
  drivers: { days: ArrayLike<number>; ta: ArrayLike<number>; swIn: ArrayLike<number> },
  options: { whc: number | null | undefined; fill?: "seasonalCycle" },
): SiteWater {
  const { days, ta, swIn } = drivers;
  const n = days.length;
  const whcDefault = !(options.whc !== null && options.whc !== undefined && options.whc > 0);
  const whc = whcDefault ? DEFAULT_WHC : options.whc!;
  const { values: p, source } = dailyPrecipitation(monthly, days, { fill: options.fill });
  const pet = Float64Array.from({ length: n }, (_, i) => priestleyTaylorPet(ta[i], swIn[i]));
  const dayArr = Int32Array.from(days);
  const site = new Array<string>(n).fill("");
  const columns: Record<string, Float64Array> = { P: p };
  for (const w of PRECIPITATION_WINDOWS) {
    columns[trailingName("P", w)] = trailingMean(p, dayArr, site, w);
  }
  columns.SWI = soilWaterIndex(p, pet, dayArr, { whc });
  const missing = Uint8Array.from(
    source,
    (s) => (s === P_SOURCE.P_F || s === P_SOURCE.P_ERA ? 0 : 1),
  );
  // months of the record by source
  const monthSource = new Map<number, number>();
  for (let i = 0; i < n; i++) monthSource.set(yyyymm(days[i]), source[i]);
  const months = { P_F: 0, P_ERA: 0, seasonalCycle: 0, none: 0 };
  for (const s of monthSource.values()) {
    if (s === P_SOURCE.P_F) months.P_F++;
    else if (s === P_SOURCE.P_ERA) months.P_ERA++;
    else if (s === P_SOURCE.seasonalCycle) months.seasonalCycle++;
    else months.none++;
  }
  let sum = 0, count = 0;
  for (const v of columns.SWI) {
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  return {
    columns,
    missing,
    report: {
      source: months.P_F > 0 && months.P_ERA > 0
        ? "mix"
        : months.P_F > 0
        ? "P_F"
        : months.P_ERA > 0
        ? "P_ERA"
        : "none",
      months,
      whc,
      whcDefault,
      meanSwi: count > 0 ? sum / count : null,
    },
  };
}
