/**
 * The significance table: TAM-RL (or another reference model) against every other model, per
 * flux and metric, from per-site metrics: the paired per-site difference with its 95 % bootstrap
 * interval over test sites, the Wilcoxon signed-rank p-value, and the spread over seeds (min-max
 * of the per-seed site means) beside each ensemble number.
 *
 * @module
 */
import { seedSpread, type SiteMetricRow } from "./aggregate.ts";
import type { MetricName } from "../metrics/metrics.ts";
import { FLUXES } from "./predictions.ts";
import { pairedComparison } from "./significance.ts";
import { type Cell, displayName, type Table, type TableContext } from "./tables.ts";

/** Metrics the table compares, and whether lower is better. */
export const SIGNIFICANCE_METRICS: readonly { metric: MetricName; lowerIsBetter: boolean }[] = [
  { metric: "rmse", lowerIsBetter: true },
  { metric: "r2", lowerIsBetter: false },
  { metric: "r2_clipped", lowerIsBetter: false },
];

/** Options of {@linkcode significanceTable}. */
export interface SignificanceOptions {
  /** The model every other model is compared with (default "tamrl"). */
  reference?: string;
  /** Models to compare with, in table order (default: every other model in the rows). */
  models?: readonly string[];
  /** Per-seed site metrics (seed >= 0) for the seed ranges; omitted with one seed. */
  perSeed?: readonly SiteMetricRow[];
  /** Bootstrap resamples (default 10 000) and seed (default 0). */
  resamples?: number;
  seed?: number;
  /** Table name (default "significance"). */
  name?: string;
}

/** The verdict of one comparison, from the reference model's side. */
export type Verdict = "better" | "worse" | "not resolved";

/** Where the reference is better or worse at 95 %: the rows' verdicts, for a README sentence. */
export interface SignificanceSummary {
  reference: string;
  rows: { model: string; flux: string; metric: MetricName; difference: number; verdict: Verdict }[];
}

/**
 * One model's value of one metric per site, for one flux (site -> value).
 *
 * @example
 * ```ts
 * import { siteValues } from "./significance_table.ts";
 * const rmse = siteValues([], "tamrl", "GPP", "rmse"); // Map {}
 * ```
 */
export function siteValues(
  rows: readonly SiteMetricRow[],
  model: string,
  flux: string,
  metric: MetricName,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) if (r.model === model && r.flux === flux) out.set(r.site, r[metric]);
  return out;
}

/**
 * Build the significance table from the per-site metrics of the (ensemble) predictions.
 *
 * @example
 * ```ts
 * import { significanceTable } from "./significance_table.ts";
 * import type { TableContext } from "./tables.ts";
 * declare const ctx: TableContext;
 * const { table, summary } = significanceTable([], ctx, { reference: "tamrl" });
 * ```
 */
export function significanceTable(
  sites: readonly SiteMetricRow[],
  context: TableContext,
  options: SignificanceOptions = {},
): { table: Table; summary: SignificanceSummary } {
  const reference = options.reference ?? "tamrl";
  const present = [...new Set(sites.map((s) => s.model))];
  const models = (options.models ?? present).filter((m) => m !== reference && present.includes(m));
  const spreads = new Map<string, { min: number; max: number; seeds: number }>();
  if (options.perSeed?.length) {
    for (const { metric } of SIGNIFICANCE_METRICS) {
      for (const s of seedSpread(options.perSeed, metric)) {
        spreads.set(`${s.model}\u0000${s.flux}\u0000${metric}`, s);
      }
    }
  }
  const range = (model: string, flux: string, metric: MetricName) => {
    const s = spreads.get(`${model}\u0000${flux}\u0000${metric}`);
    return s ? [s.min, s.max] : [null, null];
  };
  const refName = displayName(reference);
  const columns = [
    "comparison",
    "flux",
    "metric",
    "sites",
    refName,
    "other",
    "difference",
    "CI 2.5%",
    "CI 97.5%",
    "Wilcoxon p",
    "verdict",
    `${refName} seeds min`,
    `${refName} seeds max`,
    "other seeds min",
    "other seeds max",
  ];
  const rows: Cell[][] = [];
  const summary: SignificanceSummary = { reference, rows: [] };
  for (const model of models) {
    for (const flux of FLUXES) {
      for (const { metric, lowerIsBetter } of SIGNIFICANCE_METRICS) {
        const a = siteValues(sites, reference, flux, metric);
        const b = siteValues(sites, model, flux, metric);
        const c = pairedComparison(a, b, { resamples: options.resamples, seed: options.seed });
        if (!c.n) continue;
        const mean = (m: Map<string, number>) =>
          c.sites.reduce((acc, s) => acc + m.get(s)!, 0) / c.n;
        // Resolved only when both agree: the mean's interval excludes 0 and the signed-rank
        // test (robust to a few extreme sites, which can carry a mean of unclipped R2) rejects.
        const verdict: Verdict = !(c.resolved && c.wilcoxon.p < 0.05)
          ? "not resolved"
          : (c.mean < 0) === lowerIsBetter
          ? "better"
          : "worse";
        summary.rows.push({ model, flux, metric, difference: c.mean, verdict });
        rows.push([
          `${refName} vs ${displayName(model)}`,
          flux,
          metric === "r2_clipped" ? "R2 clipped" : metric === "r2" ? "R2" : "RMSE",
          c.n,
          mean(a),
          mean(b),
          c.mean,
          c.lo,
          c.hi,
          c.wilcoxon.p,
          verdict === "not resolved" ? verdict : `${refName} ${verdict}`,
          ...range(reference, flux, metric),
          ...range(model, flux, metric),
        ]);
      }
    }
  }
  const notes = [
    `Paired per-site differences (${refName} minus the other model) of each metric, at the test ` +
    "sites where both are scored; the reference and other columns are the means over those sites.",
    `95 % interval: percentile bootstrap of the mean difference over test sites ` +
    `(${options.resamples ?? 10_000} resamples of the sites with replacement, seed ` +
    `${options.seed ?? 0}). Wilcoxon: two-sided signed-rank test of the differences (exact ` +
    "without ties and n <= 50, else normal with tie and continuity corrections).",
    `Verdict: resolved at 95 % when the interval excludes 0 and the Wilcoxon p is below 0.05 ` +
    `(both); ${refName} better means lower RMSE or higher R2.`,
    options.perSeed?.length
      ? "Seeds min/max: range over training seeds of the single-seed site-mean metric; the " +
        "reference and other columns score the seed-ensemble mean."
      : "Seeds min/max: empty, the run has one seed per model.",
    ...(context.rules ?? []),
  ];
  return {
    table: {
      name: options.name ?? "significance",
      title: `Significance: ${refName} against each model, paired over test sites`,
      columns,
      rows,
      notes,
      provenance: context.provenance,
      sites: context.sites,
    },
    summary,
  };
}

/**
 * One sentence per verdict kind from a summary: which margins of the reference are resolved at
 * 95 %, for the README and notebook 04.
 *
 * @example
 * ```ts
 * import { describeSignificance } from "./significance_table.ts";
 * describeSignificance({ reference: "tamrl", rows: [] }); // "TAM-RL: no comparison."
 * ```
 */
export function describeSignificance(summary: SignificanceSummary): string {
  const ref = displayName(summary.reference);
  if (!summary.rows.length) return `${ref}: no comparison.`;
  const list = (v: Verdict) =>
    summary.rows.filter((r) => r.verdict === v).map((r) =>
      `${r.flux} ${r.metric === "rmse" ? "RMSE" : r.metric === "r2" ? "R2" : "R2c"} vs ` +
      displayName(r.model)
    );
  const better = list("better");
  const worse = list("worse");
  const parts = [
    better.length
      ? `${ref} is better at 95 % in ${better.join(", ")}`
      : `${ref} is better at 95 % in no comparison`,
    worse.length ? `worse in ${worse.join(", ")}` : "worse in none",
    `${summary.rows.length - better.length - worse.length} of ${summary.rows.length} ` +
    "comparisons are not resolved",
  ];
  return parts.join("; ") + ".";
}
