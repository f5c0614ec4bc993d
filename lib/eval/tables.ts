/**
 * Result tables with provenance, written as Markdown, CSV and JSON.
 *
 * Every table carries a provenance header (git commit, config hash, seeds, backend, data summary,
 * wall time), the rules it was computed with (notes), the sites it used with their dataset DOIs,
 * and the FLUXNET2015 citation (Pastorello et al. 2020). Builders turn aggregated metrics into
 * tables: the main table with the paper's numbers beside ours, per-Köppen/IGBP tables, the
 * TAM-RL ablation table, the multi-scale table, the carbon-balance table and the site summary.
 *
 * @module
 */
import { z } from "zod";
import { join } from "node:path";
import { atomicWrite } from "../train/runs.ts";
import type { Site } from "../data/sites.ts";
import type { AggregateRow, GroupBy } from "./aggregate.ts";
import type { BalanceRow } from "./balance.ts";
import { METRIC_NAMES, type MetricName } from "../metrics/metrics.ts";
import { ALL_MODELS, MODEL_DISPLAY } from "../models/names.ts";
import { type Flux, FLUXES } from "./predictions.ts";
import type { ScaleRow } from "./scales.ts";

/** The FLUXNET2015 citation every table carries. */
export const FLUXNET_CITATION: string =
  "Pastorello, G. et al. (2020). The FLUXNET2015 dataset and the ONEFlux processing pipeline for " +
  "eddy covariance data. Scientific Data 7, 225. https://doi.org/10.1038/s41597-020-0534-3 " +
  "(data CC-BY-4.0; the per-site dataset DOIs are listed with the sites).";

/** Where a table came from. */
export const ProvenanceSchema = z.object({
  /** Git commit of the code (with "+dirty" for uncommitted changes), or null. */
  gitCommit: z.string().nullable(),
  /** SHA-256 of the canonical JSON of the profile/config. */
  configHash: z.string(),
  /** Training seeds. */
  seeds: z.array(z.number().int()),
  /** TF.js backend(s) used. */
  backend: z.string(),
  /** What data went in, in words (sites, days, split). */
  dataSummary: z.string(),
  /** Wall time of the units behind the table, summed, in seconds. */
  wallTimeSeconds: z.number().nonnegative(),
  profile: z.string().optional(),
  run: z.string().optional(),
  /** ISO time the table was written. */
  generatedAt: z.string(),
});
/** Where a table came from. */
export type Provenance = z.infer<typeof ProvenanceSchema>;

/** A site and its dataset DOI. */
export const SiteCitationSchema = z.object({
  site: z.string(),
  doi: z.string().nullable(),
  /** How the site was used: scored (test) or only trained on (train). */
  role: z.enum(["test", "train"]).optional(),
});
/** A site and its dataset DOI. */
export type SiteCitation = z.infer<typeof SiteCitationSchema>;

/** A cell: text, number (NaN/Infinity are written as empty) or empty. */
export type Cell = string | number | null;

/** A result table. */
export const TableSchema = z.object({
  /** File stem, snake_case. */
  name: z.string().regex(/^[a-z0-9_]+$/, "table names are snake_case"),
  title: z.string(),
  columns: z.array(z.string()).min(1),
  rows: z.array(z.array(z.union([z.string(), z.number(), z.nan(), z.null()]))),
  /** Rules and remarks, shown under the table. */
  notes: z.array(z.string()),
  provenance: ProvenanceSchema,
  sites: z.array(SiteCitationSchema),
}).superRefine((t, ctx) => {
  t.rows.forEach((r, i) => {
    if (r.length !== t.columns.length) {
      ctx.addIssue({
        code: "custom",
        path: ["rows", i],
        message: `table ${t.name}: row ${i} has ${r.length} cells for ${t.columns.length} columns`,
      });
    }
  });
});
/** A result table. */
export type Table = z.infer<typeof TableSchema>;

/** Display names of the models (lib/models/names.ts); ablation labels are "tamrl:<variant>". */
export { MODEL_DISPLAY };

/** Display names of the TAM-RL ablation variants. */
export const ABLATION_DISPLAY: Record<string, string> = {
  full: "TAM-RL (full)",
  no_balance: "no balance term (alpha = 0)",
  no_class_weights: "no class weights",
  no_qc_weights: "no QC weights",
  no_pretrain: "no pretraining stage",
  static: "static descriptors instead of z (= TAMLSTM)",
  meteo: "features without LAI/EVI (meteo set)",
};

/** The display name of a model label. */
export function displayName(model: string): string {
  const display = MODEL_DISPLAY as Record<string, string>;
  if (display[model]) return display[model];
  const [base, variant] = model.split(":");
  if (variant) return `${display[base] ?? base}: ${ABLATION_DISPLAY[variant] ?? variant}`;
  return model;
}

/** One row of the paper's main table (Köppen split, mean over test sites, R2 as reported). */
export interface PaperRow {
  /** The row name in the paper. */
  paper: string;
  /** Our model label it corresponds to, or null when we have no such model. */
  model: string | null;
  GPP_RMSE: number;
  GPP_R2: number;
  NEE_RMSE: number;
  NEE_R2: number;
}

/** The paper's main table (GPP and NEE RMSE/R2), as given in the issue. */
export const PAPER_MAIN: readonly PaperRow[] = [
  {
    paper: "FLUXCOM-X-BASE",
    model: null,
    GPP_RMSE: 2.18,
    GPP_R2: 0.36,
    NEE_RMSE: 1.76,
    NEE_R2: 0.16,
  },
  { paper: "XGBoost", model: "trees", GPP_RMSE: 2.17, GPP_R2: 0.34, NEE_RMSE: 1.76, NEE_R2: 0.16 },
  { paper: "CT-LSTM", model: "ctlstm", GPP_RMSE: 2.03, GPP_R2: 0.42, NEE_RMSE: 1.67, NEE_R2: 0.21 },
  {
    paper: "TAMLSTM",
    model: "tamlstm",
    GPP_RMSE: 2.04,
    GPP_R2: 0.40,
    NEE_RMSE: 1.63,
    NEE_R2: 0.21,
  },
  { paper: "TAM-RL", model: "tamrl", GPP_RMSE: 1.97, GPP_R2: 0.43, NEE_RMSE: 1.62, NEE_R2: 0.23 },
];

/** The models of the main table, in order (every model: lib/models/names.ts `ALL_MODELS`). */
export const MAIN_MODELS = ALL_MODELS;

/** Relative change of `value` against `reference` in percent. */
export function relativeChange(value: number, reference: number): number {
  return reference === 0 ? NaN : (100 * (value - reference)) / reference;
}

function fmt(v: Cell, digits: number): string {
  if (v === null) return "";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return "";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function pct(v: number): string {
  if (!Number.isFinite(v)) return "";
  return `${v >= 0 ? "+" : ""}${v.toFixed(1)}%`;
}

function provenanceLines(p: Provenance): [string, string][] {
  return [
    ["git commit", p.gitCommit ?? "unknown"],
    ["config hash", p.configHash],
    ["seeds", p.seeds.join(", ") || "none"],
    ["backend", p.backend],
    ["data", p.dataSummary],
    ["wall time (sum over units)", `${p.wallTimeSeconds.toFixed(1)} s`],
    ...(p.profile ? [["profile", p.profile] as [string, string]] : []),
    ...(p.run ? [["run", p.run] as [string, string]] : []),
    ["generated", p.generatedAt],
  ];
}

function siteList(sites: readonly SiteCitation[]): string {
  const one = (
    s: SiteCitation,
  ) => (s.doi ? `${s.site} (doi:${s.doi})` : `${s.site} (no DOI listed)`);
  const test = sites.filter((s) => s.role === "test");
  const train = sites.filter((s) => s.role === "train");
  const other = sites.filter((s) => s.role === undefined);
  const parts = [];
  if (test.length) parts.push(`test sites (${test.length}): ${test.map(one).join("; ")}`);
  if (train.length) parts.push(`training sites (${train.length}): ${train.map(one).join("; ")}`);
  if (other.length) parts.push(other.map(one).join("; "));
  return parts.join(". ");
}

/**
 * The table as Markdown: title, provenance, the table, notes, then sites and citation.
 *
 * @example
 * ```ts
 * import { toMarkdown, type Table } from "./tables.ts";
 * declare const table: Table;
 * console.log(toMarkdown(table, { digits: 3 }));
 * ```
 */
export function toMarkdown(table: Table, options: { digits?: number } = {}): string {
  const digits = options.digits ?? 3;
  const esc = (s: string) => s.replaceAll("|", "\\|");
  const lines = [`# ${table.title}`, ""];
  for (const [k, v] of provenanceLines(table.provenance)) lines.push(`- ${k}: ${esc(v)}`);
  lines.push("");
  lines.push(`| ${table.columns.map(esc).join(" | ")} |`);
  lines.push(`|${table.columns.map(() => "---").join("|")}|`);
  for (const row of table.rows) {
    lines.push(`| ${row.map((c) => esc(fmt(c, digits))).join(" | ")} |`);
  }
  lines.push("");
  if (table.notes.length) {
    lines.push("Notes:", "");
    for (const n of table.notes) lines.push(`- ${n}`);
    lines.push("");
  }
  lines.push(`Sites used (${table.sites.length}): ${siteList(table.sites)}`, "");
  lines.push(`Data citation: ${FLUXNET_CITATION}`, "");
  return lines.join("\n");
}

function csvCell(v: Cell): string {
  if (v === null) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  return /[",\n#]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/**
 * The table as CSV: `# key: value` comment lines (provenance, notes, sites, citation), then the
 * header and the rows at full precision.
 *
 * @example
 * ```ts
 * import { toCsv, type Table } from "./tables.ts";
 * declare const table: Table;
 * await Deno.writeTextFile("main.csv", toCsv(table));
 * ```
 */
export function toCsv(table: Table): string {
  const lines = [`# ${table.title}`];
  for (const [k, v] of provenanceLines(table.provenance)) lines.push(`# ${k}: ${v}`);
  for (const n of table.notes) lines.push(`# note: ${n}`);
  lines.push(`# sites (${table.sites.length}): ${siteList(table.sites)}`);
  lines.push(`# citation: ${FLUXNET_CITATION}`);
  lines.push(table.columns.map(csvCell).join(","));
  for (const row of table.rows) lines.push(row.map(csvCell).join(","));
  return lines.join("\n") + "\n";
}

/**
 * The table as JSON (validated); non-finite numbers become null.
 *
 * @example
 * ```ts
 * import { toJson, type Table } from "./tables.ts";
 * declare const table: Table;
 * const text = toJson(table);
 * ```
 */
export function toJson(table: Table): string {
  const clean = {
    ...table,
    rows: table.rows.map((r) =>
      r.map((c) => (typeof c === "number" && !Number.isFinite(c) ? null : c))
    ),
    citation: FLUXNET_CITATION,
  };
  return JSON.stringify(clean, null, 2) + "\n";
}

/**
 * Validate a table and write `<name>.md`, `<name>.csv` and `<name>.json` into `dir`, atomically.
 *
 * @example
 * ```ts
 * import { writeTable, type Table } from "./tables.ts";
 * declare const table: Table;
 * const files = await writeTable(table, "results/quick/tables");
 * ```
 */
export async function writeTable(table: Table, dir: string): Promise<string[]> {
  const t = TableSchema.parse(table);
  const files = [
    [join(dir, `${t.name}.md`), toMarkdown(t)],
    [join(dir, `${t.name}.csv`), toCsv(t)],
    [join(dir, `${t.name}.json`), toJson(t)],
  ] as const;
  for (const [path, text] of files) await atomicWrite(path, text);
  return files.map(([p]) => p);
}

/**
 * The sites and DOIs of the given site ids, from the parsed sites.csv (sorted by id), tagged with
 * their role when given. Throws when a site is not in the site table.
 *
 * @example
 * ```ts
 * import { siteCitations } from "./tables.ts";
 * import { loadSites, resolveDataDir } from "../data/mod.ts";
 * const cites = siteCitations(["DE-Tha"], await loadSites(resolveDataDir().sitesCsv));
 * ```
 */
export function siteCitations(
  ids: Iterable<string>,
  sites: readonly Site[],
  options: { role?: "test" | "train" } = {},
): SiteCitation[] {
  const byId = new Map(sites.map((s) => [s.SITE_ID, s]));
  return [...new Set(ids)].sort().map((id) => {
    const s = byId.get(id);
    if (!s) throw new Error(`tamflux tables: site ${id} is not in sites.csv`);
    return options.role
      ? { site: id, doi: s.DOI ?? null, role: options.role }
      : { site: id, doi: s.DOI ?? null };
  });
}

/** Common inputs of every table builder. */
export interface TableContext {
  provenance: Provenance;
  sites: SiteCitation[];
  /** Rules used to compute the metrics (from the aggregation), added to the notes. */
  rules?: string[];
}

function pick(
  aggregates: readonly AggregateRow[],
  model: string,
  flux: Flux,
  group = "all",
): AggregateRow | undefined {
  return aggregates.find((a) => a.model === model && a.flux === flux && a.group === group);
}

function metricMean(a: AggregateRow | undefined, m: MetricName): number | null {
  return a ? a.metrics[m].mean : null;
}

/**
 * The main table: one row per model (trees, LSTM, CT-LSTM, TAMLSTM, TAM-RL, MLP when present) with
 * GPP/RECO/NEE RMSE, R2 and clipped R2 as means over test sites; the paper's values beside them;
 * then the relative change of TAM-RL against the trees row (ours) and against XGBoost and
 * FLUXCOM-X-BASE (paper), computed as the abstract does (RMSE -%, R2 +%).
 *
 * @example
 * ```ts
 * import { mainTable, type TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const table = mainTable([], ctx);
 * ```
 */
export function mainTable(
  aggregates: readonly AggregateRow[],
  context: TableContext & { models?: readonly string[]; name?: string; title?: string },
): Table {
  const models = (context.models ?? MAIN_MODELS).filter((m) =>
    aggregates.some((a) => a.model === m && a.group === "all")
  );
  const columns = ["model", "sites"];
  for (const f of FLUXES) columns.push(`${f} RMSE`, `${f} R2`, `${f} R2 clipped`);
  columns.push("paper row", "paper GPP RMSE", "paper GPP R2", "paper NEE RMSE", "paper NEE R2");
  const rows: Cell[][] = [];
  const paperFor = (m: string | null) => PAPER_MAIN.find((p) => p.model === m);
  for (const m of models) {
    const row: Cell[] = [displayName(m), pick(aggregates, m, "GPP")?.sites ?? null];
    for (const f of FLUXES) {
      const a = pick(aggregates, m, f);
      row.push(metricMean(a, "rmse"), metricMean(a, "r2"), metricMean(a, "r2_clipped"));
    }
    const p = paperFor(m);
    row.push(
      p?.paper ?? "",
      p?.GPP_RMSE ?? null,
      p?.GPP_R2 ?? null,
      p?.NEE_RMSE ?? null,
      p?.NEE_R2 ?? null,
    );
    rows.push(row);
  }
  const xbase = paperFor(null)!;
  const xbaseRow: Cell[] = ["(paper only) FLUXCOM-X-BASE", null];
  for (const _ of FLUXES) xbaseRow.push(null, null, null);
  xbaseRow.push(xbase.paper, xbase.GPP_RMSE, xbase.GPP_R2, xbase.NEE_RMSE, xbase.NEE_R2);
  rows.push(xbaseRow);

  // Relative change of TAM-RL against the trees row, as the abstract reports it.
  const change = (label: string, value: (m: string, f: Flux, k: MetricName) => number | null) => {
    const row: Cell[] = [label, null];
    for (const f of FLUXES) {
      const d = (k: MetricName) => {
        const v = value("tamrl", f, k);
        const r = value("trees", f, k);
        if (v === null || r === null) return "";
        // A relative change of R2 against a reference <= 0 has no meaning.
        if (k !== "rmse" && r <= 0) return "n/a (ref <= 0)";
        return pct(relativeChange(v, r));
      };
      row.push(d("rmse"), d("r2"), d("r2_clipped"));
    }
    row.push("", null, null, null, null);
    return row;
  };
  const notes = [
    "Ours: mean over test sites of per-site metrics (physical units, gC m-2 d-1). " +
    "'R2' = 1 - SSE/SST; 'R2 clipped' = per-site R2 clipped to [0, 1] before averaging, as the " +
    "authors' released evaluation code does (we take the paper's R2 to be computed that way).",
    "Paper: the TAM-RL paper's main table (Köppen split, 10-seed ensembles); it reports GPP and " +
    "NEE only. FLUXCOM-X-BASE is the published product, which we score separately at four towers " +
    "(xbase table), not on this split.",
    "Relative change rows: 100 * (TAM-RL - reference) / reference; negative RMSE change = lower " +
    "error, positive R2 change = better fit (the abstract's 'RMSE -x%, R2 +y%'); not given " +
    "for an R2 whose reference is <= 0.",
    ...(context.rules ?? []),
  ];
  if (models.includes("tamrl") && models.includes("trees")) {
    rows.push(
      change("TAM-RL vs trees (ours), change", (m, f, k) => metricMean(pick(aggregates, m, f), k)),
    );
  } else {
    notes.push("Relative change (ours) not computed: the table lacks the trees or TAM-RL row.");
  }
  const paperTam = paperFor("tamrl")!;
  for (const ref of [paperFor("trees")!, xbase]) {
    const row: Cell[] = [`TAM-RL vs ${ref.paper} (paper), change`, null];
    row.push("", "", "", "", "", "", "", "", "");
    row.push(
      "",
      pct(relativeChange(paperTam.GPP_RMSE, ref.GPP_RMSE)),
      pct(relativeChange(paperTam.GPP_R2, ref.GPP_R2)),
      pct(relativeChange(paperTam.NEE_RMSE, ref.NEE_RMSE)),
      pct(relativeChange(paperTam.NEE_R2, ref.NEE_R2)),
    );
    rows.push(row);
  }
  return {
    name: context.name ?? "main",
    title: context.title ?? "Main table: zero-shot test sites, ours beside the paper",
    columns,
    rows,
    notes,
    provenance: context.provenance,
    sites: context.sites,
  };
}

/**
 * Per-class table: for each Köppen main group or IGBP class and each model, the number of test
 * sites and, per flux, mean RMSE, mean R2 and mean clipped R2.
 *
 * @example
 * ```ts
 * import { groupTable, type TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const table = groupTable([], { ...ctx, by: "KOPPEN_MAIN" });
 * ```
 */
export function groupTable(
  aggregates: readonly AggregateRow[],
  context: TableContext & { by: Exclude<GroupBy, "all">; models?: readonly string[] },
): Table {
  const rowsIn = aggregates.filter((a) => a.groupBy === context.by);
  const models = context.models ?? [...new Set(rowsIn.map((a) => a.model))];
  const groups = [...new Set(rowsIn.map((a) => a.group))].sort();
  const columns = [context.by === "KOPPEN_MAIN" ? "Köppen" : "IGBP", "model", "sites"];
  for (const f of FLUXES) columns.push(`${f} RMSE`, `${f} R2`, `${f} R2 clipped`);
  const rows: Cell[][] = [];
  for (const g of groups) {
    for (const m of models) {
      const a = pick(rowsIn, m, "GPP", g);
      if (!a) continue;
      const row: Cell[] = [g, displayName(m), a.sites];
      for (const f of FLUXES) {
        const x = pick(rowsIn, m, f, g);
        row.push(metricMean(x, "rmse"), metricMean(x, "r2"), metricMean(x, "r2_clipped"));
      }
      rows.push(row);
    }
  }
  const what = context.by === "KOPPEN_MAIN" ? "Köppen main group" : "IGBP class";
  return {
    name: context.by === "KOPPEN_MAIN" ? "by_koppen" : "by_igbp",
    title: `Metrics by ${what} (mean over the test sites of each class)`,
    columns,
    rows,
    notes: [
      "Means over the test sites of each class of per-site metrics; classes with few sites are " +
      "noisy (see the sites column).",
      ...(context.rules ?? []),
    ],
    provenance: context.provenance,
    sites: context.sites,
  };
}

/**
 * The TAM-RL ablation table: the full model and each variant ("tamrl:<variant>" labels, and
 * "tamlstm" as the static-descriptor variant), with mean RMSE and clipped R2 per flux, the change
 * of NEE RMSE against the full model, and the mean balance violation of its predictions.
 *
 * @example
 * ```ts
 * import { ablationTable, type TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const table = ablationTable([], { ...ctx, balance: [] });
 * ```
 */
export function ablationTable(
  aggregates: readonly AggregateRow[],
  context: TableContext & { balance: readonly BalanceRow[] },
): Table {
  const labels = ["tamrl"];
  const variants = [...new Set(aggregates.map((a) => a.model))].filter((m) =>
    m.startsWith("tamrl:")
  )
    .sort();
  labels.push(...variants);
  if (!variants.includes("tamrl:static") && aggregates.some((a) => a.model === "tamlstm")) {
    labels.push("tamlstm");
  }
  const columns = ["variant", "model label", "sites"];
  for (const f of FLUXES) columns.push(`${f} RMSE`, `${f} R2 clipped`, `${f} R2`);
  columns.push("NEE RMSE change vs full", "balance violation mean");
  const full = pick(aggregates, "tamrl", "NEE");
  const rows: Cell[][] = [];
  for (const m of labels) {
    const a = pick(aggregates, m, "GPP");
    if (!a) continue;
    const variant = m === "tamrl"
      ? ABLATION_DISPLAY.full
      : m === "tamlstm"
      ? ABLATION_DISPLAY.static
      : ABLATION_DISPLAY[m.split(":")[1]] ?? m;
    const row: Cell[] = [variant, m, a.sites];
    for (const f of FLUXES) {
      const x = pick(aggregates, m, f);
      row.push(metricMean(x, "rmse"), metricMean(x, "r2_clipped"), metricMean(x, "r2"));
    }
    const nee = pick(aggregates, m, "NEE");
    row.push(
      m === "tamrl" || !full || !nee
        ? ""
        : pct(relativeChange(nee.metrics.rmse.mean, full.metrics.rmse.mean)),
    );
    const b = context.balance.find((r) => r.model === m);
    row.push(b ? b.mean : null);
    rows.push(row);
  }
  return {
    name: "ablation",
    title: "Ablation of TAM-RL (mean over test sites)",
    columns,
    rows,
    notes: [
      "Each variant changes one thing of the full TAM-RL training and is trained and scored on " +
      "the same split, seeds and test days.",
      "balance violation mean = mean over predicted days of |NEE - (RECO - GPP)| (gC m-2 d-1).",
      ...(context.rules ?? []),
    ],
    provenance: context.provenance,
    sites: context.sites,
  };
}

/**
 * The multi-scale table: per model, flux and scale, sites scored, pooled R2 and RMSE, and the
 * median per-site R2 and mean per-site RMSE.
 *
 * @example
 * ```ts
 * import { scalesTable, type TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const table = scalesTable([], ctx);
 * ```
 */
export function scalesTable(scales: readonly ScaleRow[], context: TableContext): Table {
  const columns = [
    "model",
    "flux",
    "scale",
    "sites",
    "points",
    "pooled R2",
    "pooled RMSE",
    "per-site R2 median",
    "per-site RMSE mean",
  ];
  const rows: Cell[][] = scales.map((s) => [
    displayName(s.model),
    s.flux,
    s.scale,
    s.sites,
    s.pooled.n,
    s.pooled.r2,
    s.pooled.rmse,
    s.perSite ? s.perSite.r2.median : null,
    s.perSite ? s.perSite.rmse.mean : null,
  ]);
  return {
    name: "scales",
    title: "Multi-scale evaluation (FLUXCOM-X style)",
    columns,
    rows,
    notes: context.rules ?? [],
    provenance: context.provenance,
    sites: context.sites,
  };
}

/**
 * The carbon-balance table: per model, the daily |NEE - (RECO - GPP)| of its predictions.
 *
 * @example
 * ```ts
 * import { balanceSummaryTable, type TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const table = balanceSummaryTable([], { ...ctx, tolerance: 0.01 });
 * ```
 */
export function balanceSummaryTable(
  balance: readonly BalanceRow[],
  context: TableContext & { tolerance: number },
): Table {
  return {
    name: "balance",
    title: "Carbon-balance violation |NEE - (RECO - GPP)| of the predictions (gC m-2 d-1)",
    columns: ["model", "days", "mean", "median", "p95", "max", `share > ${context.tolerance}`],
    rows: balance.map((b) => [
      b.model === "observed" ? "observed (FLUXNET2015)" : displayName(b.model),
      b.days,
      b.mean,
      b.median,
      b.p95,
      b.max,
      b.shareAbove,
    ]),
    notes: [
      "All predicted test days. GPP and RECO are clipped at 0 at prediction time, which can add " +
      "violation on days where a raw prediction was negative.",
      "The observed row checks the data: RECO_NT = GPP_NT + NEE holds by construction in FLUXNET2015.",
      ...(context.rules ?? []),
    ],
    provenance: context.provenance,
    sites: context.sites,
  };
}

/**
 * The site summary: for each model, flux and metric, the number of sites, the mean, the median and
 * the quartiles over test sites.
 *
 * @example
 * ```ts
 * import { siteSummaryTable, type TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const table = siteSummaryTable([], ctx);
 * ```
 */
export function siteSummaryTable(
  aggregates: readonly AggregateRow[],
  context: TableContext & { name?: string; title?: string },
): Table {
  const rows: Cell[][] = [];
  for (const a of aggregates.filter((x) => x.group === "all")) {
    for (const m of METRIC_NAMES) {
      const s = a.metrics[m];
      rows.push([displayName(a.model), a.model, a.flux, m, s.n, s.mean, s.median, s.q25, s.q75]);
    }
  }
  return {
    name: context.name ?? "site_summary",
    title: context.title ?? "Per-site metrics summarised over test sites",
    columns: ["model", "model label", "flux", "metric", "sites", "mean", "median", "q25", "q75"],
    rows,
    notes: [
      "Quartiles by linear interpolation (numpy default). nMAE = MAE / |site mean observed|; " +
      "RAE = MAE / mean |observed - site mean|; bias = mean(predicted - observed).",
      ...(context.rules ?? []),
    ],
    provenance: context.provenance,
    sites: context.sites,
  };
}
