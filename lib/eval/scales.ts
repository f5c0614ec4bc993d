/**
 * FLUXCOM-X-style evaluation at several time scales, beyond the paper's daily scores.
 *
 * Scales (each computed from the same valid days of predicted and observed values):
 * - `daily`: daily values;
 * - `monthly`: monthly means of the valid days, a month counting when it has at least
 *   `minDaysPerMonth` valid days;
 * - `seasonal`: the mean seasonal cycle (MSC), per calendar month the mean of the valid months;
 *   a site needs all 12 calendar months;
 * - `anomaly`: monthly value minus the MSC of its calendar month; a site needs at least
 *   `minMonthsAnomaly` valid months;
 * - `across_site`: one value per site, the mean over its valid days (a site needs at least
 *   `minDaysAcrossSite`); scored across sites.
 *
 * For the first four scales metrics are computed per site (then summarised over sites) and also
 * pooled over all sites' points; `across_site` has only the pooled score. The rules actually used
 * are returned as text with every result.
 *
 * @module
 */
import { summarize, type Summary } from "./aggregate.ts";
import { type Metrics, scoreSeries } from "../metrics/metrics.ts";
import { type Flux, FLUXES, type PredictionRow } from "./predictions.ts";

/** The time scales of {@link multiScaleMetrics}. */
export const SCALES = ["daily", "monthly", "seasonal", "anomaly", "across_site"] as const;
/** One time scale. */
export type Scale = typeof SCALES[number];

/** Rules of the multi-scale evaluation. */
export interface ScaleOptions {
  /** Minimum NEE QC of a valid day (default 0.8). */
  qcThreshold?: number;
  /** Minimum valid days in a month (default 15). */
  minDaysPerMonth?: number;
  /** Minimum valid months of a site for the monthly score (default 12). */
  minMonths?: number;
  /** Minimum valid months of a site for the anomaly score (default 24). */
  minMonthsAnomaly?: number;
  /** Minimum valid days of a site for the daily score and the across-site mean (default 30). */
  minDaysAcrossSite?: number;
  /** Fluxes (default all three). */
  fluxes?: readonly Flux[];
}

/** One row of the multi-scale table: a model (and seed) x flux x scale. */
export interface ScaleRow {
  model: string;
  seed: number;
  flux: Flux;
  scale: Scale;
  /** Sites scored. */
  sites: number;
  /** Metrics of all sites' points pooled. */
  pooled: Metrics;
  /** Per-site R2 and RMSE summarised over sites (null for across_site). */
  perSite: { r2: Summary; rmse: Summary } | null;
}

/** A month of one site: mean observed and predicted over the valid days of the month. */
export interface MonthValue {
  /** yyyy-mm. */
  month: string;
  days: number;
  obs: number;
  pred: number;
}

/**
 * Monthly means of paired daily values, keeping months with at least `minDays` valid pairs.
 *
 * @example
 * ```ts
 * import { monthlyPairs } from "./scales.ts";
 * monthlyPairs([{ date: "2010-01-01", obs: 1, pred: 2 }], { minDays: 1 });
 * ```
 */
export function monthlyPairs(
  days: readonly { date: string; obs: number; pred: number }[],
  options: { minDays: number },
): MonthValue[] {
  const acc = new Map<string, { days: number; obs: number; pred: number }>();
  for (const d of days) {
    const month = d.date.slice(0, 7);
    let a = acc.get(month);
    if (!a) acc.set(month, a = { days: 0, obs: 0, pred: 0 });
    a.days++;
    a.obs += d.obs;
    a.pred += d.pred;
  }
  const out: MonthValue[] = [];
  for (const [month, a] of acc) {
    if (a.days >= options.minDays) {
      out.push({ month, days: a.days, obs: a.obs / a.days, pred: a.pred / a.days });
    }
  }
  return out.sort((a, b) => a.month.localeCompare(b.month));
}

/**
 * Mean seasonal cycle of monthly values: per calendar month (1-12) the mean over years, or null
 * for a calendar month without any valid month.
 *
 * @example
 * ```ts
 * import { seasonalCycle } from "./scales.ts";
 * seasonalCycle([{ month: "2010-01", days: 31, obs: 1, pred: 2 }]);
 * ```
 */
export function seasonalCycle(
  months: readonly MonthValue[],
): ({ obs: number; pred: number; years: number } | null)[] {
  const acc = Array.from({ length: 12 }, () => ({ obs: 0, pred: 0, years: 0 }));
  for (const m of months) {
    const k = Number(m.month.slice(5, 7)) - 1;
    acc[k].obs += m.obs;
    acc[k].pred += m.pred;
    acc[k].years++;
  }
  return acc.map((a) =>
    a.years === 0 ? null : { obs: a.obs / a.years, pred: a.pred / a.years, years: a.years }
  );
}

/** The rules of a multi-scale evaluation in words. */
export function scaleRules(options: ScaleOptions = {}): string[] {
  const o = withDefaults(options);
  return [
    `valid day: observed flux present, prediction present, NEE_QC >= ${o.qcThreshold}`,
    `daily: per-site metrics on valid days, site needs >= ${o.minDaysAcrossSite} valid days`,
    `monthly: a month counts with >= ${o.minDaysPerMonth} valid days (means of the same days for ` +
    `observed and predicted); site needs >= ${o.minMonths} valid months`,
    "seasonal: mean seasonal cycle = per calendar month the mean of valid months; site needs " +
    "all 12 calendar months",
    `anomaly: valid month minus its calendar month's MSC; site needs >= ${o.minMonthsAnomaly} ` +
    "valid months",
    `across_site: per-site mean of valid days (site needs >= ${o.minDaysAcrossSite}); one point ` +
    "per site, scored across sites",
    "perSite = metrics per site summarised over sites; pooled = metrics of all sites' points",
  ];
}

function withDefaults(options: ScaleOptions): Required<ScaleOptions> {
  return {
    qcThreshold: options.qcThreshold ?? 0.8,
    minDaysPerMonth: options.minDaysPerMonth ?? 15,
    minMonths: options.minMonths ?? 12,
    minMonthsAnomaly: options.minMonthsAnomaly ?? 24,
    minDaysAcrossSite: options.minDaysAcrossSite ?? 30,
    fluxes: options.fluxes ?? FLUXES,
  };
}

interface Points {
  obs: number[];
  pred: number[];
}

function push(p: Points, obs: number, pred: number) {
  p.obs.push(obs);
  p.pred.push(pred);
}

/**
 * Score a predictions table at daily, monthly, seasonal-cycle, anomaly and across-site scales.
 *
 * @example
 * ```ts
 * import { multiScaleMetrics } from "./scales.ts";
 * const { rows, rules } = multiScaleMetrics([], { qcThreshold: 0.8 });
 * ```
 */
export function multiScaleMetrics(
  rows: readonly PredictionRow[],
  options: ScaleOptions = {},
): { rows: ScaleRow[]; rules: string[] } {
  const o = withDefaults(options);
  const groups = new Map<string, PredictionRow[]>();
  for (const r of rows) {
    const k = `${r.model}\u0000${r.seed}`;
    let g = groups.get(k);
    if (!g) groups.set(k, g = []);
    g.push(r);
  }
  const out: ScaleRow[] = [];
  for (const g of groups.values()) {
    const bySite = new Map<string, PredictionRow[]>();
    for (const r of g) {
      let s = bySite.get(r.site);
      if (!s) bySite.set(r.site, s = []);
      s.push(r);
    }
    for (const flux of o.fluxes) {
      const pooled: Record<Exclude<Scale, "across_site">, Points> = {
        daily: { obs: [], pred: [] },
        monthly: { obs: [], pred: [] },
        seasonal: { obs: [], pred: [] },
        anomaly: { obs: [], pred: [] },
      };
      const perSite: Record<Exclude<Scale, "across_site">, Metrics[]> = {
        daily: [],
        monthly: [],
        seasonal: [],
        anomaly: [],
      };
      const across: Points = { obs: [], pred: [] };
      for (const siteRows of bySite.values()) {
        const days = [];
        for (const r of siteRows) {
          const obs = r[`${flux}_obs`];
          if (obs === null || r.NEE_QC === null || r.NEE_QC < o.qcThreshold) continue;
          days.push({ date: r.date, obs, pred: r[flux] });
        }
        if (days.length >= o.minDaysAcrossSite) {
          const d: Points = { obs: days.map((x) => x.obs), pred: days.map((x) => x.pred) };
          perSite.daily.push(scoreSeries(d.obs, d.pred));
          for (let i = 0; i < d.obs.length; i++) push(pooled.daily, d.obs[i], d.pred[i]);
          push(
            across,
            d.obs.reduce((a, b) => a + b, 0) / d.obs.length,
            d.pred.reduce((a, b) => a + b, 0) / d.pred.length,
          );
        }
        const months = monthlyPairs(days, { minDays: o.minDaysPerMonth });
        if (months.length >= o.minMonths) {
          perSite.monthly.push(scoreSeries(months.map((m) => m.obs), months.map((m) => m.pred)));
          for (const m of months) push(pooled.monthly, m.obs, m.pred);
        }
        const msc = seasonalCycle(months);
        if (msc.every((m) => m !== null)) {
          const ms = msc as { obs: number; pred: number }[];
          perSite.seasonal.push(scoreSeries(ms.map((m) => m.obs), ms.map((m) => m.pred)));
          for (const m of ms) push(pooled.seasonal, m.obs, m.pred);
        }
        if (months.length >= o.minMonthsAnomaly) {
          const a: Points = { obs: [], pred: [] };
          for (const m of months) {
            const c = msc[Number(m.month.slice(5, 7)) - 1]!;
            push(a, m.obs - c.obs, m.pred - c.pred);
          }
          perSite.anomaly.push(scoreSeries(a.obs, a.pred));
          for (let i = 0; i < a.obs.length; i++) push(pooled.anomaly, a.obs[i], a.pred[i]);
        }
      }
      for (const scale of ["daily", "monthly", "seasonal", "anomaly"] as const) {
        out.push({
          model: g[0].model,
          seed: g[0].seed,
          flux,
          scale,
          sites: perSite[scale].length,
          pooled: scoreSeries(pooled[scale].obs, pooled[scale].pred),
          perSite: {
            r2: summarize(perSite[scale].map((m) => m.r2)),
            rmse: summarize(perSite[scale].map((m) => m.rmse)),
          },
        });
      }
      out.push({
        model: g[0].model,
        seed: g[0].seed,
        flux,
        scale: "across_site",
        sites: across.obs.length,
        pooled: scoreSeries(across.obs, across.pred),
        perSite: null,
      });
    }
  }
  return { rows: out, rules: scaleRules(options) };
}
