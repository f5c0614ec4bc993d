/**
 * Half-hours to local-standard-time days, the rule of the store sample README:
 * each half-hour belongs to the local day in which it ends (store time + offset - 1 minute,
 * floored to the day); a daily value is the mean of the day's non-missing half-hours, kept only
 * when there are at least 46 of them; a daily QC is the share of the day's half-hours whose flag,
 * rounded, is <= 1.
 *
 * @module
 */

/** Minutes in a day. */
const DAY_MINUTES = 1440;

/** One daily column to compute from one half-hourly series. */
export interface DailySeries {
  /** Output column name, e.g. "NEE_VUT_REF". */
  column: string;
  /** "mean": daily mean of values; "qc": share of half-hours with a flag (rounded) <= 1. */
  kind: "mean" | "qc";
  /** Half-hourly values, NaN = missing; same length as the time axis. */
  values: Float64Array;
  /** Multiply daily means by this (unit conversion). Default 1. */
  factor?: number;
  /** Decimals written to the CSV. */
  decimals: number;
}

/** Options of {@linkcode aggregateDaily}. */
export interface AggregateOptions {
  /** Minutes added to store time stamps to get local standard time. */
  offsetMinutes: number;
  /** Minimum non-missing half-hours for a daily mean. Default 46. */
  minHalfHours?: number;
}

/** Daily values of one site over whole calendar years. */
export interface DailyTable {
  /** Day numbers (days since 1970-01-01) of the rows, consecutive. */
  days: Int32Array;
  /** First and last calendar year of the rows. */
  firstYear: number;
  lastYear: number;
  /** Column values per row, NaN = missing; in the order of the input series. */
  columns: { name: string; decimals: number; values: Float64Array }[];
  /** Days with at least one kept daily mean. */
  daysWithData: number;
}

/**
 * Aggregate half-hourly series to local days. The rows run from 1 January of the first year to
 * 31 December of the last year that hold a kept daily mean (the FLUXNET2015 file span); returns
 * `null` when no day has a kept mean.
 *
 * @param timeMinutes store time stamps (end of each half-hour, minutes since 1970-01-01 UTC,
 *   shifted by the site offset as the store README describes)
 * @example
 * ```ts
 * import { aggregateDaily } from "./aggregate.ts";
 * const time = Float64Array.from({ length: 48 }, (_, i) => 30 * (i + 1));
 * const table = aggregateDaily(time, [
 *   { column: "TA_F", kind: "mean", values: new Float64Array(48).fill(2), decimals: 3 },
 * ], { offsetMinutes: 0 });
 * console.log(table?.firstYear); // 1970
 * ```
 */
export function aggregateDaily(
  timeMinutes: Float64Array,
  series: DailySeries[],
  options: AggregateOptions,
): DailyTable | null {
  const n = timeMinutes.length;
  const minCount = options.minHalfHours ?? 46;
  for (const s of series) {
    if (s.values.length !== n) {
      throw new Error(
        `aggregateDaily: column ${s.column} has ${s.values.length} values, time has ${n}`,
      );
    }
  }
  if (n === 0) return null;
  const dayOf = new Int32Array(n);
  let minDay = Infinity;
  let maxDay = -Infinity;
  for (let i = 0; i < n; i++) {
    const d = Math.floor((timeMinutes[i] + options.offsetMinutes - 1) / DAY_MINUTES);
    dayOf[i] = d;
    if (d < minDay) minDay = d;
    if (d > maxDay) maxDay = d;
  }
  const nDays = maxDay - minDay + 1;
  const halfHours = new Int32Array(nDays);
  for (let i = 0; i < n; i++) halfHours[dayOf[i] - minDay]++;

  const daily: Float64Array[] = [];
  const kept = new Uint8Array(nDays);
  for (const s of series) {
    const sum = new Float64Array(nDays);
    const count = new Int32Array(nDays);
    const good = new Int32Array(nDays);
    const v = s.values;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (Number.isNaN(x)) continue;
      const d = dayOf[i] - minDay;
      count[d]++;
      if (s.kind === "mean") sum[d] += x;
      else if (Math.round(x) <= 1) good[d]++;
    }
    const out = new Float64Array(nDays).fill(NaN);
    const factor = s.factor ?? 1;
    for (let d = 0; d < nDays; d++) {
      if (s.kind === "mean") {
        if (count[d] >= minCount) {
          out[d] = (sum[d] / count[d]) * factor;
          kept[d] = 1;
        }
      } else if (count[d] > 0) {
        out[d] = good[d] / halfHours[d];
      }
    }
    daily.push(out);
  }

  let first = -1;
  let last = -1;
  let daysWithData = 0;
  for (let d = 0; d < nDays; d++) {
    if (!kept[d]) continue;
    if (first < 0) first = d;
    last = d;
    daysWithData++;
  }
  if (first < 0) return null;
  const firstYear = new Date((minDay + first) * 86_400_000).getUTCFullYear();
  const lastYear = new Date((minDay + last) * 86_400_000).getUTCFullYear();
  const startDay = Date.UTC(firstYear, 0, 1) / 86_400_000;
  const endDay = Date.UTC(lastYear, 11, 31) / 86_400_000;
  const rows = endDay - startDay + 1;
  const days = new Int32Array(rows);
  for (let r = 0; r < rows; r++) days[r] = startDay + r;
  const columns = series.map((s, k) => {
    const values = new Float64Array(rows).fill(NaN);
    for (let r = 0; r < rows; r++) {
      const d = startDay + r - minDay;
      if (d >= 0 && d < nDays) values[r] = daily[k][d];
    }
    return { name: s.column, decimals: s.decimals, values };
  });
  return { days, firstYear, lastYear, columns, daysWithData };
}

/** `YYYYMMDD` of a day number (days since 1970-01-01). */
export function dayStamp(day: number): string {
  const date = new Date(day * 86_400_000);
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth() + 1;
  const d = date.getUTCDate();
  return `${y}${m < 10 ? "0" : ""}${m}${d < 10 ? "0" : ""}${d}`;
}

/** A number as the FLUXNET2015 daily files write it: rounded, "-9999" when missing. */
export function formatValue(x: number, decimals: number): string {
  if (!Number.isFinite(x)) return "-9999";
  const rounded = Number(x.toFixed(decimals));
  const clean = Object.is(rounded, -0) ? 0 : rounded;
  return Number.isInteger(clean) ? `${clean}.0` : String(clean);
}

/**
 * The FLUXNET2015 DD layout of a daily table: `TIMESTAMP` (YYYYMMDD) then the columns,
 * `-9999` for missing values.
 *
 * @example
 * ```ts
 * import { aggregateDaily, dailyCsv } from "./aggregate.ts";
 * const time = Float64Array.from({ length: 48 }, (_, i) => 30 * (i + 1));
 * const table = aggregateDaily(time, [
 *   { column: "TA_F", kind: "mean", values: new Float64Array(48).fill(2), decimals: 3 },
 * ], { offsetMinutes: 0 })!;
 * console.log(dailyCsv(table).split("\n")[1]); // "19700101,2.0"
 * ```
 */
export function dailyCsv(table: DailyTable): string {
  const lines = ["TIMESTAMP," + table.columns.map((c) => c.name).join(",")];
  for (let r = 0; r < table.days.length; r++) {
    let line = dayStamp(table.days[r]);
    for (const c of table.columns) line += "," + formatValue(c.values[r], c.decimals);
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}
