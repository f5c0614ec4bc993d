/**
 * Per-site metrics on test days, and their aggregation over sites.
 *
 * Rules (the paper's evaluation, stated in every table that uses them):
 * - a day counts when its NEE QC (NEE_VUT_REF_QC, fraction of good half-hours) is >= the threshold
 *   (default 1.0 as in the paper; 0.8 is also reported) and the flux's observation exists; the same
 *   QC filter applies to GPP, RECO and NEE (they come from the same half-hours);
 * - a site is scored for a flux when it has at least `minDays` such days (default 10), else it is
 *   listed as excluded;
 * - metrics are computed per site in physical units, then summarised over sites as mean, median
 *   and quartiles (type-7 linear interpolation, as numpy's default).
 *
 * @module
 */
import { METRIC_NAMES, type MetricName, type Metrics, scoreSeries } from "../metrics/metrics.ts";
import { type Flux, FLUXES, type PredictionRow } from "./predictions.ts";

/** Options of the per-site evaluation. */
export interface SiteMetricOptions {
  /** Minimum NEE QC of a day (default 1.0). */
  qcThreshold?: number;
  /** Minimum number of valid days for a site to be scored (default 10). */
  minDays?: number;
  /** Fluxes to score (default all three). */
  fluxes?: readonly Flux[];
}

/** Metrics of one model (and seed) at one site for one flux. */
export interface SiteMetricRow extends Metrics {
  model: string;
  seed: number;
  site: string;
  IGBP: string;
  KOPPEN_MAIN: string;
  flux: Flux;
}

/** What the per-site evaluation used and dropped. */
export interface SiteMetricReport {
  qcThreshold: number;
  minDays: number;
  /** Rows read, per model. */
  rows: Record<string, number>;
  /** Rows dropped because NEE QC was missing or below the threshold, per model. */
  droppedQc: Record<string, number>;
  /** (model, site, flux) combinations excluded for having fewer than `minDays` valid days. */
  excluded: { model: string; seed: number; site: string; flux: Flux; days: number }[];
  /** The rules in words, for table notes. */
  rules: string[];
}

/**
 * Score every (model, seed, site) of a predictions table for each flux, on the days that pass the
 * QC rule.
 *
 * @example
 * ```ts
 * import { siteMetrics } from "./aggregate.ts";
 * const { sites, report } = siteMetrics([], { qcThreshold: 1.0 });
 * ```
 */
export function siteMetrics(
  rows: readonly PredictionRow[],
  options: SiteMetricOptions = {},
): { sites: SiteMetricRow[]; report: SiteMetricReport } {
  const qcThreshold = options.qcThreshold ?? 1.0;
  const minDays = options.minDays ?? 10;
  const fluxes = options.fluxes ?? FLUXES;
  const report: SiteMetricReport = {
    qcThreshold,
    minDays,
    rows: {},
    droppedQc: {},
    excluded: [],
    rules: [
      `days with NEE_QC >= ${qcThreshold} (same days for GPP, RECO and NEE) and an observed value`,
      `sites with fewer than ${minDays} such days are excluded for that flux`,
      "metrics per site in physical units (gC m-2 d-1), then summarised over sites",
    ],
  };
  const groups = new Map<string, PredictionRow[]>();
  for (const r of rows) {
    report.rows[r.model] = (report.rows[r.model] ?? 0) + 1;
    if (r.NEE_QC === null || r.NEE_QC < qcThreshold) {
      report.droppedQc[r.model] = (report.droppedQc[r.model] ?? 0) + 1;
      continue;
    }
    const k = `${r.model}\u0000${r.seed}\u0000${r.site}`;
    let g = groups.get(k);
    if (!g) groups.set(k, g = []);
    g.push(r);
  }
  const sites: SiteMetricRow[] = [];
  for (const g of groups.values()) {
    const first = g[0];
    for (const flux of fluxes) {
      const obsKey = `${flux}_obs` as const;
      const obs = g.map((r) => r[obsKey]);
      const pred = g.map((r) => r[flux]);
      const m = scoreSeries(obs, pred);
      if (m.n < minDays) {
        report.excluded.push({
          model: first.model,
          seed: first.seed,
          site: first.site,
          flux,
          days: m.n,
        });
        continue;
      }
      sites.push({
        model: first.model,
        seed: first.seed,
        site: first.site,
        IGBP: first.IGBP,
        KOPPEN_MAIN: first.KOPPEN_MAIN,
        flux,
        ...m,
      });
    }
  }
  sites.sort((a, b) =>
    a.model.localeCompare(b.model) || a.seed - b.seed || a.site.localeCompare(b.site) ||
    FLUXES.indexOf(a.flux) - FLUXES.indexOf(b.flux)
  );
  return { sites, report };
}

/** Mean, median and quartiles of a set of values (NaN values are ignored and counted out). */
export interface Summary {
  n: number;
  mean: number;
  median: number;
  q25: number;
  q75: number;
}

/**
 * Quantile by linear interpolation between order statistics (numpy's default, "type 7").
 *
 * @example
 * ```ts
 * import { quantile } from "./aggregate.ts";
 * quantile([1, 2, 3, 4], 0.25); // 1.75
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = (v.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return v[lo] + (h - lo) * (v[hi] - v[lo]);
}

/**
 * Summarise values over sites: count, mean, median and quartiles of the finite values.
 *
 * @example
 * ```ts
 * import { summarize } from "./aggregate.ts";
 * summarize([1, 2, 3, 4]); // { n: 4, mean: 2.5, median: 2.5, q25: 1.75, q75: 3.25 }
 * ```
 */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  return {
    n,
    mean: n === 0 ? NaN : v.reduce((a, b) => a + b, 0) / n,
    median: quantile(v, 0.5),
    q25: quantile(v, 0.25),
    q75: quantile(v, 0.75),
  };
}

/** The grouping of an aggregation: all sites, or by Köppen main group, or by IGBP class. */
export type GroupBy = "all" | "KOPPEN_MAIN" | "IGBP";

/** One aggregated row: a model (and seed) x flux x group, every metric summarised over sites. */
export interface AggregateRow {
  model: string;
  seed: number;
  flux: Flux;
  groupBy: GroupBy;
  /** The group value ("all" when groupBy is "all"). */
  group: string;
  /** Number of sites. */
  sites: number;
  metrics: Record<MetricName, Summary>;
}

/**
 * Aggregate per-site metrics over sites, per model, seed and flux, for all sites or by class.
 *
 * @example
 * ```ts
 * import { aggregateSites } from "./aggregate.ts";
 * const rows = aggregateSites([], { by: "KOPPEN_MAIN" });
 * ```
 */
export function aggregateSites(
  sites: readonly SiteMetricRow[],
  options: { by?: GroupBy } = {},
): AggregateRow[] {
  const by = options.by ?? "all";
  const groups = new Map<string, SiteMetricRow[]>();
  for (const s of sites) {
    const g = by === "all" ? "all" : s[by];
    const k = `${s.model}\u0000${s.seed}\u0000${s.flux}\u0000${g}`;
    let list = groups.get(k);
    if (!list) groups.set(k, list = []);
    list.push(s);
  }
  const out: AggregateRow[] = [];
  for (const list of groups.values()) {
    const first = list[0];
    const metrics = {} as Record<MetricName, Summary>;
    for (const m of METRIC_NAMES) metrics[m] = summarize(list.map((s) => s[m]));
    out.push({
      model: first.model,
      seed: first.seed,
      flux: first.flux,
      groupBy: by,
      group: by === "all" ? "all" : first[by],
      sites: list.length,
      metrics,
    });
  }
  out.sort((a, b) =>
    a.model.localeCompare(b.model) || a.seed - b.seed ||
    FLUXES.indexOf(a.flux) - FLUXES.indexOf(b.flux) || a.group.localeCompare(b.group)
  );
  return out;
}

/**
 * Spread over seeds of the across-site mean of a metric: for each model and flux, the mean and
 * population standard deviation over seeds of the per-seed site means (ensemble rows, seed -1,
 * are left out).
 *
 * @example
 * ```ts
 * import { seedSpread } from "./aggregate.ts";
 * const spread = seedSpread([], "rmse");
 * ```
 */
export function seedSpread(
  sites: readonly SiteMetricRow[],
  metric: MetricName,
): {
  model: string;
  flux: Flux;
  seeds: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
}[] {
  const perSeed = aggregateSites(sites.filter((s) => s.seed >= 0));
  const groups = new Map<string, number[]>();
  for (const a of perSeed) {
    const k = `${a.model}\u0000${a.flux}`;
    let list = groups.get(k);
    if (!list) groups.set(k, list = []);
    list.push(a.metrics[metric].mean);
  }
  const out = [];
  for (const [k, values] of groups) {
    const [model, flux] = k.split("\u0000") as [string, Flux];
    const m = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
    out.push({
      model,
      flux,
      seeds: values.length,
      mean: m,
      sd,
      min: Math.min(...values),
      max: Math.max(...values),
    });
  }
  return out;
}
