/**
 * Per-day features for tree models, from the dataset's per-day table (`Dataset.table`).
 *
 * Trees have no memory, so besides the day's drivers and the site's static descriptors they get
 * trailing means of drivers: for each `column` and window `w` (days), `<column>_MEAN<w>` is the
 * mean of the non-missing values of that site over the calendar days [d - w + 1, d] (NaN when
 * none), by lib/data/trailing.ts `trailingMean` (the same definition as the neural feature sets
 * `minimal_trailing`/`meteo_trailing`, re-exported here).
 *
 * @module
 */
import pl from "polars";
import { z } from "zod";
import { columnAsFloat64 } from "../../data/scaler.ts";
import { type Target, TARGETS } from "../../data/targets.ts";
import { trailingMean, trailingName } from "../../data/trailing.ts";
import { checkMatrix, type FeatureMatrix } from "./matrix.ts";

export { trailingMean } from "../../data/trailing.ts";

/** Which trailing means to add. */
export const RollingSpecSchema = z.object({
  columns: z.array(z.string()).default(["TA_F", "SW_IN_F", "VPD_F"]),
  windows: z.array(z.number().int().min(2)).default([7, 30]),
}).strict();
/** Which trailing means to add. */
export type RollingSpec = z.input<typeof RollingSpecSchema>;

/** Per-day rows for tree models: features, targets and the identifying columns. */
export interface TreeTable {
  x: FeatureMatrix;
  site: string[];
  /** ISO yyyy-mm-dd. */
  date: string[];
  /** Days since 1970-01-01. */
  day: Int32Array;
  segment: string[];
  IGBP: string[];
  KOPPEN_MAIN: string[];
  /** Observed targets (NaN = missing). */
  y: Record<Target, Float64Array>;
  /** NEE_VUT_REF_QC (NaN = missing). */
  qc: Float64Array;
}

function isoDate(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Build the tree table from `Dataset.table`: features are `featureColumns` (as stored: physical
 * units, statics imputed) plus the trailing means of `rolling`.
 *
 * @example
 * ```ts
 * import { treeTable } from "./features.ts";
 * // const ds = await buildDataset({ split: { kind: "koppen" } });
 * // const t = treeTable(ds.table, [...ds.featureNames.dyn, ...ds.featureNames.static]);
 * ```
 */
export function treeTable(
  table: pl.DataFrame,
  featureColumns: readonly string[],
  options: { rolling?: RollingSpec } = {},
): TreeTable {
  const rolling = RollingSpecSchema.parse(options.rolling ?? {});
  const need = ["site", "date", "segment", "IGBP", "KOPPEN_MAIN", ...TARGETS, "NEE_QC"];
  for (const c of [...need, ...featureColumns, ...rolling.columns]) {
    if (!table.columns.includes(c)) throw new Error(`trees: the per-day table has no column ${c}`);
  }
  const n = table.height;
  const site = table.getColumn("site").toArray() as string[];
  const day = Int32Array.from(
    table.getColumn("date").cast(pl.Int32).toTypedArray() as Int32Array,
  );
  const columns: Record<string, Float64Array> = {};
  for (const c of featureColumns) columns[c] = columnAsFloat64(table, c);
  for (const c of rolling.columns) {
    const v = columns[c] ?? columnAsFloat64(table, c);
    for (const w of rolling.windows) columns[trailingName(c, w)] = trailingMean(v, day, site, w);
  }
  const names = Object.keys(columns);
  const data = new Float32Array(n * names.length);
  names.forEach((name, j) => {
    const col = columns[name];
    for (let i = 0; i < n; i++) data[i * names.length + j] = col[i];
  });
  const x = checkMatrix({ data, nRows: n, nCols: names.length, names }, {
    source: "per-day table",
  });
  const str = (c: string) => table.getColumn(c).toArray() as string[];
  return {
    x,
    site,
    date: Array.from(day, isoDate),
    day,
    segment: str("segment"),
    IGBP: str("IGBP"),
    KOPPEN_MAIN: str("KOPPEN_MAIN"),
    y: {
      GPP: columnAsFloat64(table, "GPP"),
      RECO: columnAsFloat64(table, "RECO"),
      NEE: columnAsFloat64(table, "NEE"),
    },
    qc: columnAsFloat64(table, "NEE_QC"),
  };
}
