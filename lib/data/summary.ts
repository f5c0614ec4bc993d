/**
 * Summaries of a built dataset: windows per split and sites per IGBP / Köppen class per split,
 * for `deno task data:summary` and run notes.
 *
 * @module
 */
import pl from "polars";
import type { Dataset } from "./dataset.ts";
import { totalDrops } from "./windows.ts";

/** The summary of one dataset. */
export interface DatasetSummary {
  /** One row per split (train, val, test): sites, rows, candidates, kept, dropped by rule. */
  windows: pl.DataFrame;
  /** One row per IGBP class: train and test site counts, train/val/test windows. */
  byIgbp: pl.DataFrame;
  /** One row per Köppen main group: the same. */
  byKoppen: pl.DataFrame;
}

function asInt(df: pl.DataFrame): pl.DataFrame {
  return df.withColumns(
    ...df.columns.filter((c) => df.getColumn(c).dtype.equals(pl.Float64)).map((c) =>
      pl.col(c).cast(pl.Int64)
    ),
  );
}

/**
 * Render every column and row of a small table as aligned plain text (polars' own rendering
 * hides columns and rows beyond a width).
 *
 * @example
 * ```ts
 * import pl from "polars";
 * import { formatTable } from "./summary.ts";
 * console.log(formatTable(pl.DataFrame({ a: [1, 2], b: ["x", "y"] })));
 * ```
 */
export function formatTable(df: pl.DataFrame): string {
  const cols = df.columns;
  const cells = cols.map((c) => (df.getColumn(c).toArray() as unknown[]).map((v) => String(v)));
  const width = cols.map((c, j) => Math.max(c.length, ...cells[j].map((v) => v.length)));
  const line = (vals: string[]) =>
    vals.map((v, j) => (j === 0 ? v.padEnd(width[j]) : v.padStart(width[j]))).join("  ");
  const rows = Array.from({ length: df.height }, (_, i) => line(cells.map((col) => col[i])));
  return [line(cols), line(width.map((w) => "-".repeat(w))), ...rows].join("\n");
}

/**
 * Summarise windows per split and sites per class per split.
 *
 * @example
 * ```ts
 * import { buildDataset } from "./dataset.ts";
 * import { summarizeDataset } from "./summary.ts";
 * const s = summarizeDataset(await buildDataset({ split: { kind: "igbp" } }));
 * console.log(s.windows.toString(), s.byIgbp.toString());
 * ```
 */
export function summarizeDataset(dataset: Dataset): DatasetSummary {
  const r = dataset.report.windows;
  const rules = new Set<string>();
  for (const w of Object.values(r)) for (const k of Object.keys(w.dropped.nullDriver)) rules.add(k);
  const roles = ["train", "val", "test"] as const;
  const windows = pl.DataFrame({
    split: [...roles],
    sites: roles.map((x) => r[x].sites),
    rows: roles.map((x) => r[x].rows),
    candidates: roles.map((x) => r[x].candidates),
    kept: roles.map((x) => r[x].kept),
    dropped: roles.map((x) => totalDrops(r[x].dropped)),
    drop_gap: roles.map((x) => r[x].dropped.gap),
    ...Object.fromEntries(
      [...rules].sort().map((
        k,
      ) => [`drop_null_${k}`, roles.map((x) => r[x].dropped.nullDriver[k] ?? 0)]),
    ),
    drop_no_target: roles.map((x) => r[x].dropped.noTarget),
    loss_days: roles.map((x) => r[x].lossDays.kept),
    loss_days_dropped: roles.map((x) => r[x].lossDays.dropped),
    never_loss_days: roles.map((x) => r[x].lossDays.never),
    support_repeated: roles.map((x) => r[x].support.repeated + r[x].support.selfOnly),
  });
  const perSite = new Map<string, { train: number; val: number; test: number }>();
  const count = (role: "train" | "val" | "test") => {
    for (const [site, k] of dataset[role].windowsPerSite()) {
      const e = perSite.get(site) ?? { train: 0, val: 0, test: 0 };
      e[role] += k;
      perSite.set(site, e);
    }
  };
  roles.forEach(count);
  const test = new Set(dataset.split.test);
  const byClass = (key: "IGBP" | "KOPPEN_MAIN") => {
    const classes = [...new Set(dataset.sites.map((s) => s[key]))].sort();
    const rows = classes.map((c) => {
      const members = dataset.sites.filter((s) => s[key] === c);
      const w = { train: 0, val: 0, test: 0 };
      for (const s of members) {
        const e = perSite.get(s.SITE_ID);
        if (e) (w.train += e.train, w.val += e.val, w.test += e.test);
      }
      return {
        sites_train: members.filter((s) => !test.has(s.SITE_ID)).length,
        sites_test: members.filter((s) => test.has(s.SITE_ID)).length,
        windows_train: w.train,
        windows_val: w.val,
        windows_test: w.test,
      };
    });
    return pl.DataFrame({
      [key]: classes,
      sites_train: rows.map((x) => x.sites_train),
      sites_test: rows.map((x) => x.sites_test),
      windows_train: rows.map((x) => x.windows_train),
      windows_val: rows.map((x) => x.windows_val),
      windows_test: rows.map((x) => x.windows_test),
    });
  };
  return {
    windows: asInt(windows),
    byIgbp: asInt(byClass("IGBP")),
    byKoppen: asInt(byClass("KOPPEN_MAIN")),
  };
}

/**
 * A plain-text rendering of a dataset summary plus the MODIS and driver-null counts.
 *
 * @example
 * ```ts
 * import { formatDatasetSummary, summarizeDataset } from "./summary.ts";
 * console.log(formatDatasetSummary(ds, summarizeDataset(ds)));
 * ```
 */
export function formatDatasetSummary(dataset: Dataset, summary: DatasetSummary): string {
  const { report, split } = dataset;
  const modis = Object.entries(report.features.modis).map(([v, c]) =>
    `  ${v}: ` + Object.entries(c).map(([k, n]) => `${k} ${n}`).join(", ")
  );
  const nulls = Object.entries(report.features.nulls).filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const load = report.load
    ? [
      `loaded ${report.load.filesRead} files, ${report.load.rowsRead} rows read, ` +
      `${report.load.rows} kept; dropped: ${
        report.load.dropped.map((d) => `${d.reason} ${d.rows}`).join(", ") || "none"
      }`,
    ]
    : [];
  return [
    ...load,
    `split ${split.kind} seed ${split.seed}${
      split.kind === "kfold" ? ` fold ${split.spec.fold}/${split.spec.k}` : ""
    }: ${split.train.length} train sites, ` +
    `${split.test.length} test sites; feature set ${report.config.featureSet}, window ` +
    `${report.config.window}, stride ${report.config.stride}, K ${report.config.supportK}`,
    `site-days ${report.features.rows}; null days per driver: ${nulls}`,
    `MODIS days by rule:`,
    ...modis,
    `windows per split:`,
    formatTable(summary.windows),
    `sites and windows per IGBP class:`,
    formatTable(summary.byIgbp),
    `sites and windows per Köppen main group:`,
    formatTable(summary.byKoppen),
  ].join("\n");
}
