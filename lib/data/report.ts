/**
 * The load report of {@link loadFluxnet} and summaries of the loaded table.
 *
 * @module
 */
import pl from "polars";
import { z } from "zod";

/** What was read from one file. */
export const FileReportSchema = z.object({
  /** The file name (without folder). */
  file: z.string(),
  site: z.string(),
  /** Data rows read from the file (blank lines excluded). */
  rows: z.number().int().nonnegative(),
  /** Rows kept in the table. */
  kept: z.number().int().nonnegative(),
  firstDate: z.string(),
  lastDate: z.string(),
  /** Where RECO came from. */
  recoSource: z.enum(["RECO_NT_VUT_REF", "GPP_NT_VUT_REF+NEE_VUT_REF"]),
  /** Empty cells in the columns read (read as null and so counted in `nulls`). */
  emptyCells: z.number().int().nonnegative(),
});

/** What was read from one file. */
export type FileReport = z.output<typeof FileReportSchema>;

/** Rows dropped for one reason. */
export const DropRecordSchema = z.object({
  reason: z.string(),
  rows: z.number().int().nonnegative(),
  bySite: z.record(z.string(), z.number().int().nonnegative()),
});

/** Rows dropped for one reason. */
export type DropRecord = z.output<typeof DropRecordSchema>;

/** The report of one load. */
export const LoadReportSchema = z.object({
  /** The folder of daily files. */
  dir: z.string(),
  sitesCsv: z.string(),
  filesRead: z.number().int().nonnegative(),
  files: z.array(FileReportSchema),
  /** Data rows read over all files. */
  rowsRead: z.number().int().nonnegative(),
  /** Rows in the returned table (= rowsRead - dropped rows). */
  rows: z.number().int().nonnegative(),
  /** Every dropped row, counted by reason (blank lines are not rows and are not listed). */
  dropped: z.array(DropRecordSchema),
  /** Null cells per column of the table. */
  nulls: z.record(z.string(), z.number().int().nonnegative()),
  /** Rows (days) per site in the table. */
  daysPerSite: z.record(z.string(), z.number().int().nonnegative()),
  /** How the cache was used: off, hit, or built (with why the old entry could not be used). */
  cache: z.object({
    status: z.enum(["off", "hit", "built"]),
    lookup: z.enum(["missing", "stale", "corrupt"]).optional(),
    reason: z.string().optional(),
    path: z.string().optional(),
  }),
  /** Wall time of the load. */
  seconds: z.number().nonnegative(),
});

/** The report of one load. */
export type LoadReport = z.output<typeof LoadReportSchema>;

/** The citation every output built from FLUXNET2015 must carry. */
export const DATA_ATTRIBUTION: string =
  "Data: FLUXNET2015 (CC-BY-4.0) — Pastorello et al. (2020), The FLUXNET2015 dataset and the " +
  "ONEFlux processing pipeline for eddy covariance data, Scientific Data 7:225, " +
  "doi:10.1038/s41597-020-0534-3; per-site dataset DOIs are in fluxnet2015/sites.csv (column DOI).";

/**
 * The attribution of a set of sites: Pastorello et al. (2020) and each site's dataset DOI, as a
 * Markdown or plain-text list. Every place that shows results from these sites should carry it.
 *
 * @example
 * ```ts
 * import { citeSites, loadFluxnet } from "./mod.ts";
 * const { sites } = await loadFluxnet({ sites: ["FR-Pue"] });
 * console.log(citeSites(sites));
 * ```
 */
export function citeSites(
  sites: readonly { SITE_ID: string; DOI: string | null }[],
  options: { markdown?: boolean } = {},
): string {
  const ids = [...sites].sort((a, b) => a.SITE_ID.localeCompare(b.SITE_ID));
  const items = ids.map((s) => {
    if (!s.DOI) return `${s.SITE_ID} (no DOI in sites.csv)`;
    return options.markdown
      ? `${s.SITE_ID} [${s.DOI}](https://doi.org/${s.DOI})`
      : `${s.SITE_ID} doi:${s.DOI}`;
  });
  return `${DATA_ATTRIBUTION}\nSites (${ids.length}): ${items.join("; ")}.`;
}

/** Per-group counts of the loaded table. */
export interface Summary {
  /** One row per IGBP class: IGBP, sites, days, days_nee, days_qc. */
  byIgbp: pl.DataFrame;
  /** One row per Köppen main group: KOPPEN_MAIN, sites, days, days_nee, days_qc. */
  byKoppen: pl.DataFrame;
  /** One row: sites, days, days_nee, days_qc over the whole table. */
  total: pl.DataFrame;
  /** The NEE_QC threshold used for `days_qc`. */
  qcThreshold: number;
}

function counts(qcThreshold: number): pl.Expr[] {
  const hasNee = pl.col("NEE").isNotNull();
  return [
    pl.col("site").nUnique().cast(pl.Int64).alias("sites"),
    pl.col("date").count().cast(pl.Int64).alias("days"),
    hasNee.cast(pl.Int64).sum().alias("days_nee"),
    hasNee.and(pl.col("NEE_QC").gtEq(qcThreshold)).cast(pl.Int64).sum().alias("days_qc"),
  ];
}

/**
 * Count sites, days (rows), days with NEE, and days with NEE and NEE_QC >= `qcThreshold`
 * (default 0.8) per IGBP class, per Köppen main group and in total.
 *
 * @example
 * ```ts
 * import { loadFluxnet, summarize } from "./mod.ts";
 * const { frame } = await loadFluxnet();
 * const { byIgbp, total } = summarize(frame);
 * console.log(byIgbp.toString(), total.toString());
 * ```
 */
export function summarize(frame: pl.DataFrame, options: { qcThreshold?: number } = {}): Summary {
  const qcThreshold = options.qcThreshold ?? 0.8;
  const byIgbp = frame.groupBy("IGBP").agg(...counts(qcThreshold)).sort("IGBP");
  const byKoppen = frame.groupBy("KOPPEN_MAIN").agg(...counts(qcThreshold)).sort("KOPPEN_MAIN");
  const total = frame.select(...counts(qcThreshold));
  return { byIgbp, byKoppen, total, qcThreshold };
}

/**
 * A short human-readable text of a load report: files, rows, drops, nulls, days per site, cache.
 *
 * @example
 * ```ts
 * import { formatLoadReport, loadFluxnet } from "./mod.ts";
 * const { report } = await loadFluxnet();
 * console.log(formatLoadReport(report));
 * ```
 */
export function formatLoadReport(report: LoadReport): string {
  const days = Object.values(report.daysPerSite).sort((a, b) => a - b);
  const median = days.length ? days[Math.floor(days.length / 2)] : 0;
  const reco = report.files.filter((f) => f.recoSource === "RECO_NT_VUT_REF").length;
  const empty = report.files.reduce((n, f) => n + f.emptyCells, 0);
  const lines = [
    `folder: ${report.dir}`,
    `sites table: ${report.sitesCsv}`,
    `files read: ${report.filesRead} (RECO from RECO_NT_VUT_REF in ${reco}, ` +
    `from GPP_NT_VUT_REF + NEE_VUT_REF in ${report.filesRead - reco})`,
    `rows read: ${report.rowsRead}, rows kept: ${report.rows}, empty cells read as null: ${empty}`,
  ];
  const droppedTotal = report.dropped.reduce((n, d) => n + d.rows, 0);
  lines.push(`rows dropped: ${droppedTotal}`);
  for (const d of report.dropped) {
    lines.push(`  ${d.rows} rows: ${d.reason} (${Object.keys(d.bySite).length} sites)`);
  }
  lines.push(
    `nulls per column: ${Object.entries(report.nulls).map(([c, n]) => `${c}=${n}`).join(" ")}`,
  );
  lines.push(
    `days per site: ${days.length} sites, min ${days[0] ?? 0}, median ${median}, ` +
      `max ${days[days.length - 1] ?? 0}`,
  );
  lines.push(
    `cache: ${report.cache.status}` +
      (report.cache.lookup
        ? ` (previous entry ${report.cache.lookup}: ${report.cache.reason})`
        : "") +
      (report.cache.path ? ` ${report.cache.path}` : ""),
  );
  lines.push(`load time: ${report.seconds.toFixed(2)} s`);
  return lines.join("\n");
}
