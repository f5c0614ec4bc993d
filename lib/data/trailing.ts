/**
 * Trailing means of drivers over calendar days, per site: `<column>_MEAN<w>` is the mean of the
 * non-missing values of that site over the calendar days [d - w + 1, d] (NaN when none). Only past
 * and current days are used, never future ones, and never another site's days.
 *
 * One definition for the trees baseline (lib/models/trees/features.ts, its `rolling` features) and
 * the neural feature sets `minimal_trailing`/`meteo_trailing` (lib/data/features.ts, computed per
 * site in `buildFeatures`, so training and `deno task predict` build them by the same code).
 *
 * @module
 */

/** The drivers whose trailing means the `*_trailing` feature sets add. */
export const TRAILING_DRIVERS = ["TA_F", "SW_IN_F", "VPD_F"] as const;
/** The windows (calendar days) of the `*_trailing` feature sets. */
export const TRAILING_WINDOWS = [7, 30] as const;

/**
 * The column name of the trailing mean of `column` over `window` days.
 *
 * @example
 * ```ts
 * import { trailingName } from "./trailing.ts";
 * trailingName("TA_F", 7); // "TA_F_MEAN7"
 * ```
 */
export function trailingName(column: string, window: number): string {
  return `${column}_MEAN${window}`;
}

/**
 * Parse a trailing-mean column name (`<column>_MEAN<w>`), or null when `name` is not one.
 *
 * @example
 * ```ts
 * import { parseTrailingName } from "./trailing.ts";
 * parseTrailingName("VPD_F_MEAN30"); // { column: "VPD_F", window: 30 }
 * parseTrailingName("LAI"); // null
 * ```
 */
export function parseTrailingName(name: string): { column: string; window: number } | null {
  const m = /^(.+)_MEAN(\d+)$/.exec(name);
  return m ? { column: m[1], window: Number(m[2]) } : null;
}

/**
 * The trailing-mean columns of the `*_trailing` feature sets, for each driver of
 * {@link TRAILING_DRIVERS} then each window of {@link TRAILING_WINDOWS} (the trees' order).
 *
 * @example
 * ```ts
 * import { TRAILING_COLUMNS } from "./trailing.ts";
 * console.log(TRAILING_COLUMNS[0]); // "TA_F_MEAN7"
 * ```
 */
export const TRAILING_COLUMNS: readonly string[] = TRAILING_DRIVERS.flatMap((c) =>
  TRAILING_WINDOWS.map((w) => trailingName(c, w))
);

/**
 * Trailing means of `values` over calendar days, per site (`site` runs must be contiguous and
 * dates ascending within a run).
 *
 * @example
 * ```ts
 * import { trailingMean } from "./trailing.ts";
 * trailingMean(Float64Array.from([1, 2, 3]), Int32Array.from([0, 1, 2]), ["a", "a", "a"], 2);
 * // Float64Array [1, 1.5, 2.5]
 * ```
 */
export function trailingMean(
  values: Float64Array,
  day: Int32Array,
  site: readonly string[],
  window: number,
): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  let runStart = 0;
  while (runStart < n) {
    let runEnd = runStart + 1;
    while (runEnd < n && site[runEnd] === site[runStart]) runEnd++;
    let lo = runStart, sum = 0, count = 0;
    for (let i = runStart; i < runEnd; i++) {
      if (i > runStart && day[i] <= day[i - 1]) {
        throw new Error(
          `trailing means need ascending dates per site; site ${site[i]}, row ${i}`,
        );
      }
      if (!Number.isNaN(values[i])) {
        sum += values[i];
        count++;
      }
      while (day[lo] <= day[i] - window) {
        if (!Number.isNaN(values[lo])) {
          sum -= values[lo];
          count--;
        }
        lo++;
      }
      out[i] = count > 0 ? sum / count : NaN;
    }
    runStart = runEnd;
  }
  return out;
}
