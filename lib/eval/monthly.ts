/**
 * Daily -> monthly aggregation of tower observations and model predictions, on the same days.
 *
 * The rule (stated with every result, see {@link monthlyRuleText}):
 * - a day is valid when the observed flux exists, its NEE QC (fraction of measured or
 *   good-quality gap-filled half-hours) is >= `qcThreshold`, and every model has a prediction for
 *   that day;
 * - a month counts when it has at least `minValidDays` valid days;
 * - the monthly observed value and each model's monthly value are the means over the valid days
 *   of that month (so models are scored on exactly the days the tower measured well).
 *
 * Defaults: `qcThreshold` 0.8 and `minValidDays` 15 (about half a month), the same defaults as
 * the multi-scale evaluation (scales.ts).
 *
 * @module
 */
import { z } from "zod";

/** The monthly aggregation rule. */
export const MonthlyRuleSchema = z.object({
  /** Minimum NEE QC of a valid day. */
  qcThreshold: z.number().min(0).max(1).default(0.8),
  /** Minimum valid days for a month to count. */
  minValidDays: z.number().int().min(1).max(31).default(15),
}).strict();
/** The monthly aggregation rule as written (defaults optional). */
export type MonthlyRule = z.input<typeof MonthlyRuleSchema>;

/** One day of one site: the observation, its QC, and each model's prediction. */
export interface DailyValues {
  site: string;
  /** ISO yyyy-mm-dd. */
  date: string;
  obs: number | null;
  qc: number | null;
  /** Model name -> predicted value (null = no prediction). */
  pred: Record<string, number | null>;
}

/** One month of one site. */
export interface MonthlyValues {
  site: string;
  /** yyyy-mm. */
  month: string;
  year: number;
  /** 1-12. */
  monthOfYear: number;
  validDays: number;
  obs: number;
  /** Model name -> mean prediction over the valid days. */
  pred: Record<string, number>;
}

/** What {@link aggregateMonthly} counted. */
export interface MonthlyReport {
  rule: { qcThreshold: number; minValidDays: number };
  days: number;
  /** Days left out, by reason (first failing reason counts). */
  invalidDays: { noObs: number; lowQc: number; noPrediction: number };
  /** Site-months seen, and those dropped for too few valid days. */
  months: number;
  monthsDropped: number;
  /** The rule in words. */
  text: string;
}

/**
 * The rule in words, for table notes.
 *
 * @example
 * ```ts
 * import { monthlyRuleText } from "./monthly.ts";
 * monthlyRuleText({ qcThreshold: 0.8, minValidDays: 15 });
 * ```
 */
export function monthlyRuleText(rule: MonthlyRule = {}): string {
  const r = MonthlyRuleSchema.parse(rule);
  return `monthly values are means over valid days (observed flux present, NEE_QC >= ` +
    `${r.qcThreshold}, every model predicted); a month counts with >= ${r.minValidDays} valid days`;
}

function finite(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * Aggregate daily values to months with the rule above. `models` lists the models that must all
 * have a prediction on a valid day (default: every key seen in `pred`).
 *
 * @example
 * ```ts
 * import { aggregateMonthly } from "./monthly.ts";
 * const { months } = aggregateMonthly([
 *   { site: "DE-Tha", date: "2010-06-01", obs: 8, qc: 1, pred: { trees: 7 } },
 * ], { minValidDays: 1 });
 * console.log(months[0]); // { site: "DE-Tha", month: "2010-06", obs: 8, pred: { trees: 7 }, ... }
 * ```
 */
export function aggregateMonthly(
  days: readonly DailyValues[],
  options: MonthlyRule & { models?: readonly string[] } = {},
): { months: MonthlyValues[]; report: MonthlyReport } {
  const { models: given, ...ruleIn } = options;
  const rule = MonthlyRuleSchema.parse(ruleIn);
  const models = given ?? [...new Set(days.flatMap((d) => Object.keys(d.pred)))].sort();
  const invalidDays = { noObs: 0, lowQc: 0, noPrediction: 0 };
  const acc = new Map<
    string,
    { site: string; month: string; n: number; obs: number; pred: number[] }
  >();
  const seen = new Set<string>();
  for (const d of days) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d.date)) {
      throw new Error(`monthly: site ${d.site}: date ${JSON.stringify(d.date)} is not yyyy-mm-dd`);
    }
    const month = d.date.slice(0, 7);
    const key = `${d.site}\u0000${month}`;
    seen.add(key);
    if (!finite(d.obs)) {
      invalidDays.noObs++;
      continue;
    }
    if (!(finite(d.qc) ? d.qc >= rule.qcThreshold : rule.qcThreshold <= 0)) {
      invalidDays.lowQc++;
      continue;
    }
    if (!models.every((m) => finite(d.pred[m]))) {
      invalidDays.noPrediction++;
      continue;
    }
    let a = acc.get(key);
    if (!a) acc.set(key, a = { site: d.site, month, n: 0, obs: 0, pred: models.map(() => 0) });
    a.n++;
    a.obs += d.obs;
    models.forEach((m, k) => a!.pred[k] += d.pred[m] as number);
  }
  const months: MonthlyValues[] = [];
  for (const a of acc.values()) {
    if (a.n < rule.minValidDays) continue;
    months.push({
      site: a.site,
      month: a.month,
      year: Number(a.month.slice(0, 4)),
      monthOfYear: Number(a.month.slice(5, 7)),
      validDays: a.n,
      obs: a.obs / a.n,
      pred: Object.fromEntries(models.map((m, k) => [m, a.pred[k] / a.n])),
    });
  }
  months.sort((a, b) => a.site.localeCompare(b.site) || a.month.localeCompare(b.month));
  return {
    months,
    report: {
      rule,
      days: days.length,
      invalidDays,
      months: seen.size,
      monthsDropped: seen.size - months.length,
      text: monthlyRuleText(rule),
    },
  };
}
