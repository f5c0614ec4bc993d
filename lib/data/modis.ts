/**
 * MODIS LAI and EVI from the MetaFlux monthly files (`metaflux_monthly/<SITE>_MM.csv`), interpolated
 * to days.
 *
 * Rule (per site and variable):
 * - each monthly value is placed on the 15th of its month (the "mid-month point"); on that day the
 *   daily value equals the monthly value exactly;
 * - between two consecutive mid-month points that both have a value the daily value is linear in
 *   time; when months are missing in between, the gap is bridged linearly only if at most
 *   `maxGapMonths` months are missing (default 2), else the days in between are null (`gap`);
 * - from the 1st of the first month with a value to its 15th, and from the 15th of the last month
 *   with a value to its end, the value is held constant (`held`);
 * - before the first month with a value, the day is null (`beforeFirst`). MODIS starts in
 *   2000-02 (EVI) and 2001-01 (LAI, as published in MetaFlux), so every tower day before that is
 *   null; the same reason covers sites whose MODIS record starts later. After the last month with
 *   a value the day is null (`afterLast`). A site with no file or no value is null (`noData`).
 *
 * Every null is flagged (`LAI_MISSING`/`EVI_MISSING` = 1 in the feature table) and counted by
 * reason in {@link ModisReport}.
 *
 * @module
 */
import { join } from "node:path";
import { findImplausible } from "./ranges.ts";

/** The MODIS variables used as features. */
export const MODIS_VARIABLES = ["LAI", "EVI"] as const;
/** One of {@link MODIS_VARIABLES}. */
export type ModisVariable = typeof MODIS_VARIABLES[number];

/** Monthly values of one site: month keys `YYYYMM` -> value (null = missing). */
export interface ModisMonthly {
  site: string;
  months: number[]; // YYYYMM, ascending
  LAI: (number | null)[];
  EVI: (number | null)[];
  /**
   * Tower precipitation P_F, mm d-1 (the month's mean daily sum; a year of them times the days
   * of each month sums to about MAP of sites.csv); set when the file has the column.
   */
  P_F?: (number | null)[];
  /** Downscaled ERA-Interim precipitation P_ERA, mm d-1; set when the file has the column. */
  P_ERA?: (number | null)[];
}

/** The precipitation columns of the monthly files, in order of preference (lib/data/water.ts). */
export const PRECIPITATION_COLUMNS = ["P_F", "P_ERA"] as const;
/** One of {@link PRECIPITATION_COLUMNS}. */
export type PrecipitationColumn = typeof PRECIPITATION_COLUMNS[number];

/** Why a daily value is what it is. */
export type ModisReason =
  | "exact"
  | "interpolated"
  | "held"
  | "gap"
  | "beforeFirst"
  | "afterLast"
  | "noData";

/** Counts of days per reason, per variable. */
export type ModisReport = Record<ModisVariable, Record<ModisReason, number>>;

/** Options of the interpolation. */
export interface ModisInterpolationOptions {
  /** Most missing months bridged linearly between two values (default 2). */
  maxGapMonths?: number;
}

function parseValue(raw: string, where: string): number | null {
  const s = raw.trim();
  if (s === "" || s.toLowerCase() === "nan" || s === "-9999") return null;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`${where}: not a number: "${raw}"`);
  return v;
}

/**
 * Read a MetaFlux monthly CSV (one or several sites; the `Site` column names them, else `site`
 * must be given). Only TIMESTAMP, Site, LAI and EVI are read, and P_F and P_ERA when the header
 * has them; a value outside its plausible range (lib/data/ranges.ts: LAI 0-10, EVI -1-1, P
 * 0-300 mm d-1) is an error naming the file, line, column and month.
 *
 * @example
 * ```ts
 * import { readModisMonthlyFile } from "./modis.ts";
 * const [lox] = readModisMonthlyFile("../shared/data/metaflux_monthly/AU-Lox_MM.csv");
 * ```
 */
export function readModisMonthlyFile(
  path: string,
  options: { site?: string } = {},
): ModisMonthly[] {
  const lines = Deno.readTextFileSync(path).split("\n");
  const header = lines[0].replace(/^\uFEFF/, "").replace(/\r$/, "").split(",");
  const col = (name: string, required: boolean) => {
    const i = header.indexOf(name);
    if (i < 0 && required) throw new Error(`${path}, line 1: no column ${name}`);
    return i;
  };
  const iTs = col("TIMESTAMP", true), iSite = col("Site", false);
  const iLai = col("LAI", true), iEvi = col("EVI", true);
  const iPrecip = PRECIPITATION_COLUMNS.map((c) => [c, col(c, false)] as const)
    .filter(([, i]) => i >= 0);
  const bySite = new Map<string, ModisMonthly>();
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li].replace(/\r$/, "");
    if (line.trim() === "") continue;
    const where = `${path}, line ${li + 1}`;
    if (line.includes('"')) throw new Error(`${where}: quoted cells are not supported`);
    const cells = line.split(",");
    if (cells.length !== header.length) {
      throw new Error(`${where}: ${cells.length} cells, the header has ${header.length}`);
    }
    const ts = cells[iTs].trim();
    const month = Number(ts.slice(4, 6));
    if (!/^\d{6}$/.test(ts) || month < 1 || month > 12) {
      throw new Error(`${where}, column TIMESTAMP: "${ts}" is not YYYYMM`);
    }
    const site = (iSite >= 0 ? cells[iSite].trim() : "") || options.site;
    if (!site) throw new Error(`${where}: no Site column and no site given`);
    let entry = bySite.get(site);
    if (!entry) {
      entry = { site, months: [], LAI: [], EVI: [] };
      for (const [c] of iPrecip) entry[c] = [];
      bySite.set(site, entry);
    }
    entry.months.push(Number(ts));
    for (const [v, i] of [["LAI", iLai], ["EVI", iEvi]] as const) {
      const value = parseValue(cells[i], `${where}, column ${v}`);
      const bad = value === null ? null : findImplausible(v, [value]);
      if (bad) throw new Error(`${where}, column ${v}: month ${ts}: ${bad.message}`);
      entry[v].push(value);
    }
    for (const [c, i] of iPrecip) {
      const v = parseValue(cells[i], `${where}, column ${c}`);
      const bad = v === null ? null : findImplausible("P", [v]);
      if (bad) throw new Error(`${where}, column ${c}: month ${ts}: ${bad.message}`);
      entry[c]!.push(v);
    }
  }
  for (const entry of bySite.values()) {
    for (let i = 1; i < entry.months.length; i++) {
      if (entry.months[i] <= entry.months[i - 1]) {
        throw new Error(
          `${path}: site ${entry.site}: TIMESTAMP not strictly ascending at ${entry.months[i]}`,
        );
      }
    }
  }
  return [...bySite.values()];
}

/**
 * Read `<SITE>_MM.csv` for each site from a MetaFlux folder. Sites without a file are returned
 * in `missing` (their days will be null, reason `noData`).
 *
 * @example
 * ```ts
 * import { loadModisMonthly } from "./modis.ts";
 * const { monthly, missing } = loadModisMonthly("../shared/data/metaflux_monthly", ["FR-Pue"]);
 * ```
 */
export function loadModisMonthly(
  dir: string,
  sites: readonly string[],
): { monthly: Map<string, ModisMonthly>; missing: string[] } {
  const monthly = new Map<string, ModisMonthly>();
  const missing: string[] = [];
  for (const site of sites) {
    const path = join(dir, `${site}_MM.csv`);
    let found: ModisMonthly[];
    try {
      found = readModisMonthlyFile(path, { site });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        missing.push(site);
        continue;
      }
      throw error;
    }
    const entry = found.find((m) => m.site === site) ?? found[0];
    if (entry) monthly.set(site, { ...entry, site });
    else missing.push(site);
  }
  return { monthly, missing };
}

/** Days since 1970-01-01 of a UTC calendar date. */
export function epochDay(year: number, month: number, day: number): number {
  return Math.round(Date.UTC(year, month - 1, day) / 86400000);
}

function monthIndex(yyyymm: number): number {
  return Math.floor(yyyymm / 100) * 12 + (yyyymm % 100) - 1;
}

/** An empty report. */
export function emptyModisReport(): ModisReport {
  const zero = (): Record<ModisReason, number> => ({
    exact: 0,
    interpolated: 0,
    held: 0,
    gap: 0,
    beforeFirst: 0,
    afterLast: 0,
    noData: 0,
  });
  return { LAI: zero(), EVI: zero() };
}

/**
 * Interpolate one site's monthly values to the given days (days since 1970-01-01, any order).
 * Returns a Float64Array with NaN where null, and adds the reasons to `report`.
 *
 * @example
 * ```ts
 * import { epochDay, interpolateModis, emptyModisReport } from "./modis.ts";
 * const m = { site: "X", months: [200101, 200102], LAI: [1, 2], EVI: [0.2, 0.3] };
 * const report = emptyModisReport();
 * const lai = interpolateModis(m, "LAI", [epochDay(2001, 1, 15), epochDay(2001, 2, 15)], { report });
 * // lai = [1, 2]
 * ```
 */
export function interpolateModis(
  monthly: ModisMonthly | undefined,
  variable: ModisVariable,
  days: ArrayLike<number>,
  options: ModisInterpolationOptions & { report?: ModisReport } = {},
): Float64Array {
  const maxGap = options.maxGapMonths ?? 2;
  const counts = options.report?.[variable];
  const out = new Float64Array(days.length).fill(NaN);
  const points: { t: number; m: number; v: number }[] = [];
  if (monthly) {
    const values = monthly[variable];
    monthly.months.forEach((ym, i) => {
      const v = values[i];
      if (v !== null && Number.isFinite(v)) {
        points.push({ t: epochDay(Math.floor(ym / 100), ym % 100, 15), m: monthIndex(ym), v });
      }
    });
  }
  if (points.length === 0) {
    if (counts) counts.noData += days.length;
    return out;
  }
  const first = points[0];
  const last = points[points.length - 1];
  const firstStart = first.t - 14; // the 1st of the first month
  const lastYm = last.m;
  const lastEnd = epochDay(Math.floor(lastYm / 12), (lastYm % 12) + 2, 1) - 1; // last day of that month
  const times = points.map((p) => p.t);
  for (let i = 0; i < days.length; i++) {
    const t = days[i];
    let reason: ModisReason;
    if (t < firstStart) reason = "beforeFirst";
    else if (t > lastEnd) reason = "afterLast";
    else if (t <= first.t) {
      out[i] = first.v;
      reason = t === first.t ? "exact" : "held";
    } else if (t >= last.t) {
      out[i] = last.v;
      reason = t === last.t ? "exact" : "held";
    } else {
      // binary search: largest k with times[k] <= t
      let lo = 0, hi = times.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (times[mid] <= t) lo = mid;
        else hi = mid - 1;
      }
      const a = points[lo];
      if (a.t === t) {
        out[i] = a.v;
        reason = "exact";
      } else {
        const b = points[lo + 1];
        if (b.m - a.m - 1 > maxGap) reason = "gap";
        else {
          out[i] = a.v + ((b.v - a.v) * (t - a.t)) / (b.t - a.t);
          reason = "interpolated";
        }
      }
    }
    if (counts) counts[reason]++;
  }
  return out;
}

/**
 * The mean seasonal cycle of one variable of a site: per calendar month (index 0 = January) the
 * mean of the site's values in that month over its whole MODIS record. A calendar month with no
 * value in any year is interpolated linearly between the nearest calendar months that have one,
 * going round the year (a site with values in one calendar month only gets that value in every
 * month). Returns null when the site has no value at all.
 *
 * @example
 * ```ts
 * import { modisSeasonalCycle } from "./modis.ts";
 * const m = { site: "X", months: [200101, 200201], LAI: [1, 3], EVI: [null, null] };
 * console.log(modisSeasonalCycle(m, "LAI")?.[0], modisSeasonalCycle(m, "EVI")); // 2 null
 * ```
 */
export function modisSeasonalCycle(
  monthly: ModisMonthly | undefined,
  variable: ModisVariable,
): number[] | null {
  return monthly ? monthlySeasonalCycle(monthly.months, monthly[variable]) : null;
}

/**
 * The mean seasonal cycle of any monthly series (`months` YYYYMM, `values` null or NaN =
 * missing): the rule of {@link modisSeasonalCycle} (per calendar month the mean over the record,
 * an empty calendar month interpolated round the year), null when no value at all. The water
 * drivers (lib/data/water.ts) fill precipitation with it.
 *
 * @example
 * ```ts
 * import { monthlySeasonalCycle } from "./modis.ts";
 * console.log(monthlySeasonalCycle([200101, 200201, 200103], [1, 3, 4])?.slice(0, 3)); // [2, 3, 4]
 * ```
 */
export function monthlySeasonalCycle(
  months: readonly number[],
  values: readonly (number | null)[],
): number[] | null {
  const sum = new Array(12).fill(0), count = new Array(12).fill(0);
  months.forEach((ym, i) => {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) return;
    sum[(ym % 100) - 1] += v;
    count[(ym % 100) - 1]++;
  });
  const have = count.flatMap((c, m) => (c > 0 ? [m] : []));
  if (have.length === 0) return null;
  return sum.map((s, m) => {
    if (count[m] > 0) return s / count[m];
    // nearest calendar months with a value before and after m, round the year
    const before = [...have].reverse().find((h) => h < m) ?? have[have.length - 1];
    const after = have.find((h) => h > m) ?? have[0];
    const dBefore = (m - before + 12) % 12 || 12, dAfter = (after - m + 12) % 12 || 12;
    const a = sum[before] / count[before], b = sum[after] / count[after];
    return a + ((b - a) * dBefore) / (dBefore + dAfter);
  });
}

/** What {@link interpolateModisFilled} returns. */
export interface FilledModis {
  /** Daily values; NaN only when the site has no value of the variable at all. */
  values: Float64Array;
  /** 1 where the value comes from the site's mean seasonal cycle (no observation covers the day). */
  filled: Uint8Array;
}

/**
 * Daily values of one variable with every hole filled from the site's mean seasonal cycle
 * ({@link modisSeasonalCycle}): a day that {@link interpolateModis} leaves null (before the first
 * or after the last month with a value, in a gap of more than `maxGapMonths` months) gets the
 * value of a monthly series in which every month without a value holds the cycle's value of its
 * calendar month, interpolated to days by the same rule (mid-month points, linear in between).
 * Days with an observed value keep it exactly. Counts in `report` are those of the observed
 * values (as without the fill).
 *
 * @example
 * ```ts
 * import { epochDay, interpolateModisFilled } from "./modis.ts";
 * const m = { site: "X", months: [200101, 200201], LAI: [1, 3], EVI: [null, null] };
 * const { values, filled } = interpolateModisFilled(m, "LAI", [epochDay(1999, 1, 15)]);
 * console.log(values[0], filled[0]); // 2 1
 * ```
 */
export function interpolateModisFilled(
  monthly: ModisMonthly | undefined,
  variable: ModisVariable,
  days: ArrayLike<number>,
  options: ModisInterpolationOptions & { report?: ModisReport } = {},
): FilledModis {
  const values = interpolateModis(monthly, variable, days, options);
  const filled = new Uint8Array(days.length);
  const cycle = modisSeasonalCycle(monthly, variable);
  const holes: number[] = [];
  values.forEach((v, i) => v !== v && holes.push(i));
  if (!cycle || holes.length === 0) return { values, filled };
  // the monthly series from the earliest to the latest month of the record and of the days
  const observed = new Map<number, number>();
  monthly!.months.forEach((ym, i) => {
    const v = monthly![variable][i];
    if (v !== null && Number.isFinite(v)) observed.set(monthIndex(ym), v);
  });
  let lo = Math.min(...observed.keys()), hi = Math.max(...observed.keys());
  for (const i of holes) {
    const d = new Date(days[i] * 86400000);
    const m = d.getUTCFullYear() * 12 + d.getUTCMonth();
    lo = Math.min(lo, m - 1);
    hi = Math.max(hi, m + 1);
  }
  const months: number[] = [], series: number[] = [];
  for (let m = lo; m <= hi; m++) {
    months.push(Math.floor(m / 12) * 100 + (m % 12) + 1);
    series.push(observed.get(m) ?? cycle[m % 12]);
  }
  const complete: ModisMonthly = {
    site: monthly!.site,
    months,
    LAI: variable === "LAI" ? series : [],
    EVI: variable === "EVI" ? series : [],
  };
  const fill = interpolateModis(complete, variable, holes.map((i) => days[i]), {
    maxGapMonths: 0,
  });
  holes.forEach((i, k) => {
    values[i] = fill[k];
    filled[i] = 1;
  });
  return { values, filled };
}
