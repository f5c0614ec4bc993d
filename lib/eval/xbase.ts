/**
 * The FLUXCOM-X-BASE product at four towers (DE-Tha, DK-Sor, US-MMS, US-NR1), monthly, against
 * tower observations and the project's models over the same months.
 *
 * Files: `<data>/xbase_monthly/<SITE>_fluxcom_monthly.csv`, `#` comment lines, then columns year,
 * month, GPP_gC_m2_d, NEE_gC_m2_d, ET_mm_d, TER_gC_m2_d (NaN = missing). Only GPP and NEE are used:
 * the folder's README explains that TER was computed with the wrong sign and ET's units are in
 * doubt.
 *
 * Scoring: daily observations and model predictions at a tower are aggregated to months with the
 * rule of monthly.ts (valid days: observed, NEE QC >= threshold, every model predicted; a month
 * needs `minValidDays`). A month is scored when it counts for the tower and X-BASE has a value for
 * it; X-BASE and every model are scored on exactly those months (R2 = 1 - SSE/SST, RMSE, bias).
 * X-BASE is a whole-month mean of a 0.5-degree cell, the others are means over the tower's valid
 * days: stated in the table notes.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { join } from "node:path";
import { z } from "zod";
import {
  aggregateMonthly,
  type DailyValues,
  type MonthlyReport,
  type MonthlyRule,
} from "./monthly.ts";
import { scoreSeries } from "../metrics/metrics.ts";
import type { Cell } from "./tables.ts";
import type { PredictionRow } from "./predictions.ts";

/** The four towers with an X-BASE extract. */
export const XBASE_SITES = ["DE-Tha", "DK-Sor", "US-MMS", "US-NR1"] as const;
/** The fluxes X-BASE is compared on. */
export const XBASE_FLUXES = ["GPP", "NEE"] as const;
/** One X-BASE flux. */
export type XbaseFlux = typeof XBASE_FLUXES[number];
/** The name X-BASE rows carry in the comparison. */
export const XBASE_SOURCE = "X-BASE";

/** One month of X-BASE at one tower. */
export interface XbaseMonth {
  site: string;
  /** yyyy-mm. */
  month: string;
  GPP: number | null;
  NEE: number | null;
}

const numberCell = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (t === "" || t.toLowerCase() === "nan") return null;
  const v = Number(t);
  if (!Number.isFinite(v)) {
    ctx.addIssue({ code: "custom", message: `not a number: ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return v;
});
const XbaseRowSchema = z.object({
  year: z.string().regex(/^\d{4}$/, "year must have 4 digits").transform(Number),
  month: z.string().regex(/^\d{1,2}$/).transform(Number).refine((m) => m >= 1 && m <= 12, {
    message: "month must be 1-12",
  }),
  GPP_gC_m2_d: numberCell,
  NEE_gC_m2_d: numberCell,
});

/**
 * Read one tower's X-BASE file (GPP and NEE only).
 *
 * @example
 * ```ts
 * import { readXbaseFile } from "./xbase.ts";
 * const months = readXbaseFile("../shared/data/xbase_monthly/DE-Tha_fluxcom_monthly.csv", "DE-Tha");
 * ```
 */
export function readXbaseFile(path: string, site: string): XbaseMonth[] {
  const text = Deno.readTextFileSync(path);
  const records = parse(text, {
    comment: "#",
    columns: true,
    skip_empty_lines: true,
    trim: true,
  }) as Record<string, string>[];
  if (records.length === 0) throw new Error(`xbase: ${path}: no data row`);
  for (const c of ["year", "month", "GPP_gC_m2_d", "NEE_gC_m2_d"]) {
    if (!(c in records[0])) throw new Error(`xbase: ${path}: no column ${c}`);
  }
  const out: XbaseMonth[] = [];
  const seen = new Set<string>();
  records.forEach((rec, i) => {
    const r = XbaseRowSchema.safeParse(rec);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new Error(
        `xbase: ${path}, data row ${i + 1}, column ${issue.path.join(".")}: ${issue.message}`,
      );
    }
    const month = `${r.data.year}-${String(r.data.month).padStart(2, "0")}`;
    if (seen.has(month)) throw new Error(`xbase: ${path}, data row ${i + 1}: month ${month} twice`);
    seen.add(month);
    out.push({ site, month, GPP: r.data.GPP_gC_m2_d, NEE: r.data.NEE_gC_m2_d });
  });
  return out;
}

/**
 * Read the X-BASE extracts of `sites` (default the four towers) from the data folder's
 * `xbase_monthly` directory.
 *
 * @example
 * ```ts
 * import { readXbase } from "./xbase.ts";
 * import { resolveDataDir } from "../data/paths.ts";
 * const xbase = readXbase(resolveDataDir().xbaseMonthly);
 * ```
 */
export function readXbase(dir: string, options: { sites?: readonly string[] } = {}): XbaseMonth[] {
  const sites = options.sites ?? XBASE_SITES;
  return sites.flatMap((s) => readXbaseFile(join(dir, `${s}_fluxcom_monthly.csv`), s));
}

/** A day of one site with observations and each model's predictions of GPP and NEE. */
export interface XbaseDay {
  site: string;
  /** ISO yyyy-mm-dd. */
  date: string;
  qc: number | null;
  obs: Record<XbaseFlux, number | null>;
  /** Model name -> predictions. */
  pred: Record<string, Record<XbaseFlux, number | null>>;
}

/**
 * Gather prediction rows at the given towers into {@link XbaseDay}s, one per site-day, adding
 * each row's GPP/NEE under `label` (default: the row's model). Pass `into` to add several sources
 * (e.g. one predictions file each) to the same days.
 *
 * @example
 * ```ts
 * import { collectXbaseDays } from "./xbase.ts";
 * const days = collectXbaseDays([], { sites: ["US-MMS"] });
 * ```
 */
export function collectXbaseDays(
  rows: readonly PredictionRow[],
  options: { sites: readonly string[]; label?: string; into?: Map<string, XbaseDay> },
): Map<string, XbaseDay> {
  const days = options.into ?? new Map<string, XbaseDay>();
  for (const r of rows) {
    if (!options.sites.includes(r.site)) continue;
    const k = `${r.site}\u0000${r.date}`;
    let d = days.get(k);
    if (!d) {
      d = {
        site: r.site,
        date: r.date,
        qc: r.NEE_QC,
        obs: { GPP: r.GPP_obs, NEE: r.NEE_obs },
        pred: {},
      };
      days.set(k, d);
    }
    d.pred[options.label ?? r.model] = { GPP: r.GPP, NEE: r.NEE };
  }
  return days;
}

/** One row of the comparison: a tower, a flux and a source (X-BASE or a model). */
export interface XbaseScore {
  site: string;
  flux: XbaseFlux;
  source: string;
  months: number;
  r2: number;
  rmse: number;
  bias: number;
  /** First and last month scored. */
  from: string | null;
  to: string | null;
}

/** One scored month, for plots and checks. */
export interface XbaseScoredMonth {
  site: string;
  flux: XbaseFlux;
  month: string;
  validDays: number;
  obs: number;
  values: Record<string, number>;
}

/** What {@link compareXbase} returns. */
export interface XbaseComparison {
  scores: XbaseScore[];
  months: XbaseScoredMonth[];
  /** Aggregation report per site and flux. */
  reports: { site: string; flux: XbaseFlux; report: MonthlyReport; xbaseMissing: number }[];
  notes: string[];
}

/**
 * Score tower observations against X-BASE and against each model over the same months.
 * Throws when a tower has no prediction of some model (a tower must be a test site of every
 * scored run).
 *
 * @example
 * ```ts
 * import { compareXbase } from "./xbase.ts";
 * const { scores } = compareXbase([], [], { models: [], sites: [] });
 * ```
 */
export function compareXbase(
  days: readonly XbaseDay[],
  xbase: readonly XbaseMonth[],
  options: MonthlyRule & { models: readonly string[]; sites?: readonly string[] },
): XbaseComparison {
  const { models, sites: sitesOpt, ...rule } = options;
  const sites = sitesOpt ?? XBASE_SITES;
  const xb = new Map(xbase.map((m) => [`${m.site}\u0000${m.month}`, m]));
  const scores: XbaseScore[] = [];
  const scored: XbaseScoredMonth[] = [];
  const reports: XbaseComparison["reports"] = [];
  let ruleText = "";
  for (const site of sites) {
    const siteDays = days.filter((d) => d.site === site);
    for (const m of models) {
      if (!siteDays.some((d) => d.pred[m] !== undefined)) {
        throw new Error(
          `xbase: model ${m} has no prediction at ${site}; the tower must be a test site of the run`,
        );
      }
    }
    for (const flux of XBASE_FLUXES) {
      const daily: DailyValues[] = siteDays.map((d) => ({
        site,
        date: d.date,
        obs: d.obs[flux],
        qc: d.qc,
        pred: Object.fromEntries(models.map((m) => [m, d.pred[m]?.[flux] ?? null])),
      }));
      const { months, report } = aggregateMonthly(daily, { ...rule, models });
      ruleText = report.text;
      let xbaseMissing = 0;
      const rows: XbaseScoredMonth[] = [];
      for (const mo of months) {
        const x = xb.get(`${site}\u0000${mo.month}`)?.[flux];
        if (x === null || x === undefined || !Number.isFinite(x)) {
          xbaseMissing++;
          continue;
        }
        rows.push({
          site,
          flux,
          month: mo.month,
          validDays: mo.validDays,
          obs: mo.obs,
          values: { [XBASE_SOURCE]: x, ...mo.pred },
        });
      }
      reports.push({ site, flux, report, xbaseMissing });
      scored.push(...rows);
      for (const source of [XBASE_SOURCE, ...models]) {
        const m = scoreSeries(rows.map((r) => r.obs), rows.map((r) => r.values[source]));
        scores.push({
          site,
          flux,
          source,
          months: m.n,
          r2: m.r2,
          rmse: m.rmse,
          bias: m.bias,
          from: rows[0]?.month ?? null,
          to: rows.at(-1)?.month ?? null,
        });
      }
    }
  }
  const notes = [
    ruleText,
    "a month is scored when it counts for the tower and X-BASE has a value; X-BASE and every " +
    "model are scored on the same months",
    "X-BASE: FLUXCOM-X-BASE (Nelson et al. 2024, doi:10.5194/bg-21-5079-2024; data " +
    "doi:10.18160/5NZG-JMJE, CC-BY-4.0), 050_monthly, nearest 0.5-degree cell, whole-month " +
    "mean; tower and models: means over the tower's valid days",
    "GPP and NEE only (the extract's TER has the wrong sign, ET's units are in doubt)",
    "R2 = 1 - SSE/SST over the scored months of a tower; RMSE and bias in gC m-2 d-1",
  ];
  return { scores, months: scored, reports, notes };
}

/**
 * The comparison as table rows: one row per tower and flux, R2/RMSE of each source side by side.
 *
 * @example
 * ```ts
 * import { xbaseTableRows } from "./xbase.ts";
 * const { columns, rows } = xbaseTableRows([], ["trees"]);
 * ```
 */
export function xbaseTableRows(
  scores: readonly XbaseScore[],
  models: readonly string[],
): { columns: string[]; rows: Cell[][] } {
  const sources = [XBASE_SOURCE, ...models];
  const columns = ["site", "flux", "months", "from", "to"];
  for (const s of sources) columns.push(`${s} R2`, `${s} RMSE`);
  const rows: Cell[][] = [];
  const keys = [...new Set(scores.map((s) => `${s.site}\u0000${s.flux}`))];
  for (const key of keys) {
    const [site, flux] = key.split("\u0000");
    const of = (source: string) =>
      scores.find((s) => s.site === site && s.flux === flux && s.source === source);
    const first = of(XBASE_SOURCE)!;
    const row: Cell[] = [site, flux, first.months, first.from, first.to];
    for (const s of sources) {
      const r = of(s);
      row.push(r ? round(r.r2) : null, r ? round(r.rmse) : null);
    }
    rows.push(row);
  }
  return { columns, rows };
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : NaN;
}
