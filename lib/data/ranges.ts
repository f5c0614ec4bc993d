/**
 * Plausible ranges of the daily drivers and fluxes, one definition for the training loader
 * (lib/data/fluxnet.ts) and prediction's input reader (lib/predict/inputs.ts). A value outside its
 * range is a unit mistake (TA_F in kelvin, SW_IN_F as a daily sum, VPD_F in Pa) or a corrupt cell
 * (99999), never weather: the limits are physical bounds of daily means with a wide margin.
 *
 * Extremes of the 183 FLUXNET2015 daily files (measured for issue 21): TA_F -51.5 .. 37.8 degC,
 * SW_IN_F 0 .. 431.9 W m-2, VPD_F 0 .. 58.4 hPa, NEE -26.0 .. 23.8, GPP_NT -13.3 .. 76.3 (CA-Man),
 * GPP_DT 0 .. 30.5, RECO -8.1 .. 76.5 gC m-2 d-1; QC fractions 0 .. 1.
 *
 * MODIS LAI and EVI (the monthly MetaFlux files, lib/data/modis.ts) have ranges here too: LAI in
 * [0, 10] m2 m-2 (the valid range of the MODIS LAI product; the 183 MetaFlux sites: 0 .. 6.61,
 * AU-Tum) and EVI in [-1, 1] (bounded by its definition; MetaFlux: 0 .. 0.93).
 *
 * Beyond one column at a time, the drivers are checked against each other and against the site
 * ({@link DRIVER_CONSISTENCY}, {@link findInconsistentDriver}, {@link checkLatitude}): VPD against
 * the saturation vapour pressure at TA, SW_IN against the potential (top-of-atmosphere) radiation
 * at the site's latitude and day of year, and the whole record's SW_IN against the seasonal cycle
 * of that potential radiation (a latitude with the wrong sign).
 *
 * @module
 */
import { potentialShortwave } from "./solar.ts";

/** A plausible range and its unit. */
export interface PlausibleRange {
  min: number;
  max: number;
  unit: string;
}

/**
 * Plausible daily values by table column (the loader's names; FLUXNET2015's `NEE_VUT_REF`,
 * `GPP_NT_VUT_REF`, `GPP_DT_VUT_REF` and `RECO_NT_VUT_REF` map to NEE, GPP, GPP_DT and RECO).
 * - TA_F: the coldest and hottest daily means on Earth are about -70 and 40 degC;
 * - SW_IN_F: the daily mean top-of-atmosphere radiation is at most about 560 W m-2; -10 allows
 *   sensor offsets at night-long days;
 * - VPD_F: the saturation vapour pressure at a 50 degC daily mean is 123 hPa; -1 allows
 *   gap-filling noise;
 * - fluxes: the largest daily NEE of crops is about -25; GPP and RECO up to 100 allow the
 *   partitioning artefacts of the record (GPP_NT 76 at CA-Man);
 * - QC columns are fractions of good half-hours;
 * - LAI (monthly MODIS): the product's valid range 0-10 m2 m-2; EVI: [-1, 1] by definition.
 * - P (precipitation, mm d-1, the monthly mean of daily sums in the MetaFlux monthly files, P_F
 *   and P_ERA): non-negative; the wettest calendar month on record (Cherrapunji, July 1861, about
 *   9300 mm) is 300 mm d-1. The 183 sites' monthly files: 0 .. 25.2 mm d-1 (AU-DaS, 2008-02).
 *
 * @example
 * ```ts
 * import { PLAUSIBLE_RANGES } from "./ranges.ts";
 * console.log(PLAUSIBLE_RANGES.TA_F); // { min: -70, max: 60, unit: "degC" }
 * ```
 */
export const PLAUSIBLE_RANGES = {
  TA_F: { min: -70, max: 60, unit: "degC" },
  SW_IN_F: { min: -10, max: 600, unit: "W m-2" },
  VPD_F: { min: -1, max: 120, unit: "hPa" },
  NEE: { min: -50, max: 50, unit: "gC m-2 d-1" },
  GPP: { min: -50, max: 100, unit: "gC m-2 d-1" },
  GPP_DT: { min: -50, max: 100, unit: "gC m-2 d-1" },
  RECO: { min: -50, max: 100, unit: "gC m-2 d-1" },
  TA_F_QC: { min: 0, max: 1, unit: "(fraction)" },
  SW_IN_F_QC: { min: 0, max: 1, unit: "(fraction)" },
  VPD_F_QC: { min: 0, max: 1, unit: "(fraction)" },
  NEE_QC: { min: 0, max: 1, unit: "(fraction)" },
  LAI: { min: 0, max: 10, unit: "m2 m-2" },
  EVI: { min: -1, max: 1, unit: "(index)" },
  P: { min: 0, max: 300, unit: "mm d-1" },
} as const satisfies Record<string, PlausibleRange>;

/** A column with a plausible range. */
export type RangedColumn = keyof typeof PLAUSIBLE_RANGES;

/**
 * The first value of `values` outside the plausible range of `column` (NaN = missing is skipped),
 * as its index and a message naming the value, the range and the unit; null when all are
 * plausible.
 *
 * @example
 * ```ts
 * import { findImplausible } from "./ranges.ts";
 * console.log(findImplausible("TA_F", new Float64Array([12, 290]))?.index); // 1
 * ```
 */
export function findImplausible(
  column: RangedColumn,
  values: ArrayLike<number>,
): { index: number; message: string } | null {
  const { min, max, unit } = PLAUSIBLE_RANGES[column];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min || v > max) {
      const hint = column === "TA_F" && v > 200 && v < 340 ? " (kelvin? expected degC)" : "";
      return {
        index: i,
        message: `implausible value ${v}: outside the plausible range [${min}, ${max}] ${unit}` +
          hint,
      };
    }
  }
  return null;
}

/**
 * Thresholds of the driver-consistency checks, measured on the 183 FLUXNET2015 daily files (HH2DD
 * `daily` and the 24 `official_dd` files) with sites.csv's LAT; tests/faults_plausibility_test.ts
 * measures them again and asserts that no real site alarms.
 * - `vpdSaturation`: a day fails when VPD_F > factor * e_sat(TA_F) + offset (hPa; e_sat by
 *   {@link saturationVapourPressure}). A daily mean of half-hourly VPD can exceed e_sat of the
 *   daily mean TA (e_sat is convex): measured ratios VPD / e_sat(TA) reach 3.4 on cold days,
 *   VPD - e_sat(TA) reaches 6.4 hPa (US-Ton), and VPD / (1.5 e_sat + 8) reaches 0.68 (US-SRC,
 *   US-Ton, AU-TTE): a margin of 1.47. VPD = 60 hPa at TA = 0 degC (threshold 17.2) fails.
 * - `swPotential`: a day fails when SW_IN_F > factor * SW_POT + offset (W m-2, daily means; SW_POT
 *   by lib/data/solar.ts `potentialShortwave`). Surface radiation stays below the
 *   top-of-atmosphere one but for artefacts of the record: SW_IN - SW_POT reaches 84.5 W m-2
 *   (US-Myb 2014-12-31, the last day of its record; IT-PT1 2004-11 62 W m-2), SW_IN / (1.5 SW_POT
 *   + 60) reaches 0.81 (US-Myb): a margin of 1.24. Twice SW_POT fails when SW_POT > 120 W m-2.
 * - `latitude`: over the whole record, the Pearson correlation of daily SW_IN_F with SW_POT at the
 *   site's LAT must be at least `minCorrelation`, checked when SW_POT varies enough over the
 *   record's days (standard deviation >= `minPotentialSd` W m-2, i.e. away from the tropics and
 *   over a season or more) on at least `minDays` days. Measured: every site with a standard
 *   deviation >= 80 correlates >= 0.485 (JP-SMF), the same sites with LAT's sign flipped <= -0.47.
 *
 * @example
 * ```ts
 * import { DRIVER_CONSISTENCY } from "./ranges.ts";
 * console.log(DRIVER_CONSISTENCY.vpdSaturation); // { factor: 1.5, offset: 8, unit: "hPa" }
 * ```
 */
export const DRIVER_CONSISTENCY = {
  vpdSaturation: { factor: 1.5, offset: 8, unit: "hPa" },
  swPotential: { factor: 1.5, offset: 60, unit: "W m-2" },
  latitude: { minCorrelation: 0, minPotentialSd: 80, minDays: 180 },
} as const;

/**
 * Saturation vapour pressure over water, hPa, at an air temperature in degC (Magnus formula with
 * the WMO coefficients: 6.112 exp(17.62 T / (243.12 + T))).
 *
 * @example
 * ```ts
 * import { saturationVapourPressure } from "./ranges.ts";
 * console.log(saturationVapourPressure(0)); // 6.112
 * ```
 */
export function saturationVapourPressure(taC: number): number {
  return 6.112 * Math.exp((17.62 * taC) / (243.12 + taC));
}

/** Day of year (1-366) and days in the year of a day number (days since 1970-01-01). */
function dayOfYearOf(day: number): { doy: number; daysInYear: number } {
  const y = new Date(day * 86_400_000).getUTCFullYear();
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return {
    doy: day - Math.round(Date.UTC(y, 0, 1) / 86_400_000) + 1,
    daysInYear: leap ? 366 : 365,
  };
}

/** The daily drivers of one site as checked by {@link findInconsistentDriver}: NaN = missing. */
export interface DriverColumns {
  /** Days since 1970-01-01. */
  days: ArrayLike<number>;
  TA_F?: ArrayLike<number>;
  SW_IN_F?: ArrayLike<number>;
  VPD_F?: ArrayLike<number>;
}

/** A day that fails a consistency check, and how many days of the record fail it. */
export interface Inconsistency {
  check: "vpdSaturation" | "swPotential";
  /** The column at fault. */
  column: "VPD_F" | "SW_IN_F";
  /** Index of the first failing day. */
  index: number;
  /** Failing days in the record. */
  days: number;
  message: string;
}

/**
 * The first day whose drivers contradict each other or the site's latitude (see
 * {@link DRIVER_CONSISTENCY}): VPD_F above saturation at TA_F, or SW_IN_F above the potential
 * radiation at `lat`. Checks a pair only when both columns are given; missing values are skipped.
 * Returns null when every day passes.
 *
 * @example
 * ```ts
 * import { findInconsistentDriver } from "./ranges.ts";
 * const bad = findInconsistentDriver({ days: [15500], TA_F: [0], VPD_F: [60] }, { lat: 45 });
 * console.log(bad?.column, bad?.index); // VPD_F 0
 * ```
 */
export function findInconsistentDriver(
  drivers: DriverColumns,
  options: { lat: number },
): Inconsistency | null {
  const { days, TA_F: ta, VPD_F: vpd, SW_IN_F: sw } = drivers;
  const v = DRIVER_CONSISTENCY.vpdSaturation, s = DRIVER_CONSISTENCY.swPotential;
  let vpdFirst = -1, vpdDays = 0, swFirst = -1, swDays = 0;
  for (let i = 0; i < days.length; i++) {
    if (ta && vpd && vpd[i] > v.factor * saturationVapourPressure(ta[i]) + v.offset) {
      if (vpdDays++ === 0) vpdFirst = i;
    }
    if (sw && sw[i] > s.offset) { // SW_POT >= 0: only such days can fail
      const { doy, daysInYear } = dayOfYearOf(days[i]);
      if (sw[i] > s.factor * potentialShortwave(options.lat, doy, { daysInYear }) + s.offset) {
        if (swDays++ === 0) swFirst = i;
      }
    }
  }
  const on = (n: number) => `${n} day${n === 1 ? "" : "s"} of the record`;
  if (vpdDays > 0) {
    const e = saturationVapourPressure(ta![vpdFirst]);
    return {
      check: "vpdSaturation",
      column: "VPD_F",
      index: vpdFirst,
      days: vpdDays,
      message: `implausible VPD_F ${vpd![vpdFirst]} hPa above saturation at TA_F ` +
        `${ta![vpdFirst]} degC (e_sat ${e.toFixed(1)} hPa; at most ${v.factor} e_sat + ` +
        `${v.offset} = ${
          (v.factor * e + v.offset).toFixed(1)
        } hPa is plausible for a daily mean; ` +
        `${on(vpdDays)} fail)`,
    };
  }
  if (swDays > 0) {
    const { doy, daysInYear } = dayOfYearOf(days[swFirst]);
    const pot = potentialShortwave(options.lat, doy, { daysInYear });
    return {
      check: "swPotential",
      column: "SW_IN_F",
      index: swFirst,
      days: swDays,
      message: `implausible SW_IN_F ${sw![swFirst]} W m-2 above the potential radiation at LAT ` +
        `${options.lat}, day of year ${doy} (SW_POT ${pot.toFixed(1)} W m-2; at most ` +
        `${s.factor} SW_POT + ${s.offset} = ${(s.factor * pot + s.offset).toFixed(1)} W m-2 is ` +
        `plausible; ${on(swDays)} fail)`,
    };
  }
  return null;
}

/** What {@link checkLatitude} measured. */
export interface LatitudeCheck {
  /** Whether the record's SW_POT varies enough for the check (see {@link DRIVER_CONSISTENCY}). */
  checked: boolean;
  /** Days with SW_IN_F. */
  days: number;
  /** Standard deviation of SW_POT over those days, W m-2. */
  potentialSd: number;
  /** Pearson correlation of SW_IN_F with SW_POT (NaN when undefined). */
  correlation: number;
  /** Null when plausible (or not checked), else why not. */
  message: string | null;
}

/**
 * Whether a site's SW_IN_F follows the seasonal cycle of the potential radiation at its LAT over
 * the whole record (see {@link DRIVER_CONSISTENCY}): a negative correlation means the latitude's
 * sign is flipped, or the file belongs to another hemisphere's site.
 *
 * @example
 * ```ts
 * import { checkLatitude } from "./ranges.ts";
 * const days = Array.from({ length: 365 }, (_, i) => 15340 + i); // 2012
 * const sw = days.map((_, i) => 200 - 120 * Math.cos((2 * Math.PI * (i - 10)) / 365));
 * console.log(checkLatitude({ days, SW_IN_F: sw }, { lat: -45 }).message !== null); // true
 * ```
 */
export function checkLatitude(drivers: DriverColumns, options: { lat: number }): LatitudeCheck {
  const { minCorrelation, minPotentialSd, minDays } = DRIVER_CONSISTENCY.latitude;
  const sw = drivers.SW_IN_F;
  let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  if (sw) {
    for (let i = 0; i < drivers.days.length; i++) {
      const x = sw[i];
      if (!Number.isFinite(x)) continue;
      const { doy, daysInYear } = dayOfYearOf(drivers.days[i]);
      const y = potentialShortwave(options.lat, doy, { daysInYear });
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
  }
  const varY = n ? syy / n - (sy / n) ** 2 : 0, varX = n ? sxx / n - (sx / n) ** 2 : 0;
  const potentialSd = Math.sqrt(Math.max(0, varY));
  const correlation = varX > 0 && varY > 0
    ? (sxy / n - (sx / n) * (sy / n)) / Math.sqrt(varX * varY)
    : NaN;
  const checked = n >= minDays && potentialSd >= minPotentialSd;
  const bad = checked && !(correlation >= minCorrelation);
  return {
    checked,
    days: n,
    potentialSd,
    correlation,
    message: bad
      ? `LAT ${options.lat} is inconsistent with SW_IN_F: over ${n} days SW_IN_F correlates ` +
        `${correlation.toFixed(2)} with the potential radiation at this latitude (plausible >= ` +
        `${minCorrelation}; real sites >= 0.48); is the sign of LAT flipped?`
      : null,
  };
}
