/**
 * The uncertainty of a comparison between two models scored at the same test sites: paired
 * per-site differences, a percentile bootstrap interval of their mean over sites, and the Wilcoxon
 * signed-rank test.
 *
 * Rules:
 * - a difference is `a - b` of one metric at one site, for the sites where both models are scored;
 * - the bootstrap resamples sites with replacement (`resamples` times, seeded mulberry32) and takes
 *   the `(1 - level) / 2` and `(1 + level) / 2` quantiles (type 7) of the resampled means;
 * - the Wilcoxon signed-rank test drops zero differences (Wilcoxon's rule), ranks |d| with average
 *   ranks for ties, and gives a two-sided p-value: exact (the distribution of W+ by counting) when
 *   at most 50 differences remain and none tie, else the normal approximation with the tie
 *   correction of the variance and a continuity correction of 0.5 (as `scipy.stats.wilcoxon`'s
 *   "auto" method and R's `wilcox.test` do).
 *
 * @module
 */
import { seededRng } from "../data/random.ts";

/** A bootstrap interval of a mean. */
export interface BootstrapInterval {
  /** Mean of the values. */
  mean: number;
  /** Lower bound of the interval. */
  lo: number;
  /** Upper bound of the interval. */
  hi: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Number of values. */
  n: number;
}

/** Options of {@linkcode bootstrapMean}. */
export interface BootstrapOptions {
  /** Number of resamples (default 10 000). */
  resamples?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/**
 * Type-7 quantile of sorted values (numpy's default).
 *
 * @example
 * ```ts
 * import { quantileSorted } from "./significance.ts";
 * quantileSorted([1, 2, 3, 4], 0.25); // 1.75
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile bootstrap interval of the mean of `values` (resampling the values with replacement).
 *
 * @example
 * ```ts
 * import { bootstrapMean } from "./significance.ts";
 * const ci = bootstrapMean([0.1, -0.05, 0.2, 0.12], { resamples: 2000, seed: 1 });
 * console.log(ci.lo <= ci.mean && ci.mean <= ci.hi); // true
 * ```
 */
export function bootstrapMean(
  values: readonly number[],
  options: BootstrapOptions = {},
): BootstrapInterval {
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 10_000;
  const n = values.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, level, n };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const rng = seededRng(options.seed ?? 0);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rng() * n)];
    means[b] = s / n;
  }
  means.sort();
  return {
    mean,
    lo: quantileSorted(means, (1 - level) / 2),
    hi: quantileSorted(means, (1 + level) / 2),
    level,
    n,
  };
}

/** The result of a Wilcoxon signed-rank test. */
export interface WilcoxonResult {
  /** Sum of the ranks of the positive differences. */
  wPlus: number;
  /** Sum of the ranks of the negative differences. */
  wMinus: number;
  /** Differences used (zeros dropped). */
  n: number;
  /** Two-sided p-value (NaN when no difference is left). */
  p: number;
  /** "exact" or "normal" (with tie and continuity corrections). */
  method: "exact" | "normal";
}

/** Average ranks (1-based) of values, with the sizes of the groups of ties. */
function averageRanks(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = rank;
    ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/** Counts of each value of W+ (0..n(n+1)/2) over the 2^n sign patterns of ranks 1..n. */
function exactCounts(n: number): Float64Array {
  const max = (n * (n + 1)) / 2;
  let counts = new Float64Array(max + 1);
  counts[0] = 1;
  for (let r = 1; r <= n; r++) {
    const next = counts.slice();
    for (let w = r; w <= max; w++) next[w] += counts[w - r];
    counts = next;
  }
  return counts;
}

/** The standard normal upper tail P(Z > z). */
function normalUpperTail(z: number): number {
  // erfc by the Numerical Recipes Chebyshev fit (relative error < 1.2e-7).
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(
    -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                  t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                                  t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * Wilcoxon signed-rank test of paired differences against a median of zero, two-sided.
 *
 * @example
 * ```ts
 * import { wilcoxonSignedRank } from "./significance.ts";
 * wilcoxonSignedRank([1, 2, 3, 4, 5]).p; // 0.0625 (exact: 2 of 32 sign patterns are as extreme)
 * ```
 */
export function wilcoxonSignedRank(differences: readonly number[]): WilcoxonResult {
  const d = differences.filter((v) => Number.isFinite(v) && v !== 0);
  const n = d.length;
  if (n === 0) return { wPlus: 0, wMinus: 0, n, p: NaN, method: "exact" };
  const { ranks, ties } = averageRanks(d.map(Math.abs));
  let wPlus = 0;
  let wMinus = 0;
  d.forEach((v, i) => (v > 0 ? (wPlus += ranks[i]) : (wMinus += ranks[i])));
  const hasTies = ties.some((t) => t > 1);
  if (n <= 50 && !hasTies) {
    const counts = exactCounts(n);
    const total = 2 ** n;
    const w = Math.min(wPlus, wMinus);
    let tail = 0;
    for (let k = 0; k <= w; k++) tail += counts[k];
    return { wPlus, wMinus, n, p: Math.min(1, (2 * tail) / total), method: "exact" };
  }
  const mean = (n * (n + 1)) / 4;
  const tieTerm = ties.reduce((s, t) => s + (t * t * t - t), 0) / 48;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm;
  const diff = wPlus - mean;
  const z = variance > 0 ? (Math.abs(diff) - 0.5) / Math.sqrt(variance) : 0;
  const p = Math.min(1, 2 * normalUpperTail(Math.max(0, z)));
  return { wPlus, wMinus, n, p, method: "normal" };
}

/** One paired comparison of two models on one metric. */
export interface PairedComparison extends BootstrapInterval {
  /** Sites where both models are scored, in the order of the differences. */
  sites: string[];
  /** Per-site differences a - b. */
  differences: number[];
  /** Wilcoxon signed-rank test of the differences. */
  wilcoxon: WilcoxonResult;
  /** True when the bootstrap interval excludes zero. */
  resolved: boolean;
}

/**
 * Compare two per-site metric maps (site -> value) at their common sites: differences `a - b`,
 * their bootstrap interval and Wilcoxon test.
 *
 * @example
 * ```ts
 * import { pairedComparison } from "./significance.ts";
 * const a = new Map([["X", 2.0], ["Y", 1.5], ["Z", 1.8]]);
 * const b = new Map([["X", 2.2], ["Y", 1.9], ["Z", 1.7]]);
 * const c = pairedComparison(a, b, { resamples: 1000 });
 * console.log(c.sites.length); // 3
 * ```
 */
export function pairedComparison(
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
  options: BootstrapOptions = {},
): PairedComparison {
  const sites = [...a.keys()].filter((s) => {
    const x = a.get(s);
    const y = b.get(s);
    return x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y);
  }).sort();
  const differences = sites.map((s) => a.get(s)! - b.get(s)!);
  const ci = bootstrapMean(differences, options);
  return {
    ...ci,
    sites,
    differences,
    wilcoxon: wilcoxonSignedRank(differences),
    resolved: Number.isFinite(ci.lo) && (ci.lo > 0 || ci.hi < 0),
  };
}

/** The statistic over sites that {@link pairedStatistic} compares. */
export type SiteStatistic = "mean" | "median";

/** The result of {@link pairedStatistic}. */
export interface PairedStatistic {
  statistic: SiteStatistic;
  /** The statistic of `a` over the common sites. */
  a: number;
  /** The statistic of `b` over the common sites. */
  b: number;
  /** `a - b`. */
  difference: number;
  /** Percentile bootstrap interval of `a - b`, resampling sites (pairs kept together). */
  lo: number;
  hi: number;
  level: number;
  /** Common sites. */
  n: number;
  /** Wilcoxon signed-rank test of the per-site differences a - b. */
  wilcoxon: WilcoxonResult;
  /** The interval excludes 0 and the Wilcoxon p-value is below 1 - level. */
  resolved: boolean;
}

function statisticOf(values: Float64Array, statistic: SiteStatistic): number {
  if (statistic === "mean") {
    let s = 0;
    for (const v of values) s += v;
    return s / values.length;
  }
  return quantileSorted(values.slice().sort(), 0.5);
}

/**
 * Compare a statistic over sites (the site-mean or the site-median of a per-site metric) between
 * two models scored at the same sites: `statistic(a) - statistic(b)` over the common sites, its
 * percentile bootstrap interval from resampling sites with replacement (each resample takes the
 * same sites for both models), and the Wilcoxon signed-rank test of the per-site differences.
 * Resolved means the interval excludes 0 AND p < 1 - level (the rule of the significance tables).
 * For the mean, the difference equals the mean of the per-site differences
 * ({@link pairedComparison}); the median of `a` minus the median of `b` is not the median of the
 * differences, and it is what "site-median R2 of TAM-RL vs the trees" means.
 *
 * @example
 * ```ts
 * import { pairedStatistic } from "./significance.ts";
 * const a = new Map([["X", 0.7], ["Y", 0.5], ["Z", 0.9]]);
 * const b = new Map([["X", 0.6], ["Y", 0.4], ["Z", 0.8]]);
 * const c = pairedStatistic(a, b, { statistic: "median", resamples: 1000 });
 * console.log(c.difference.toFixed(2)); // "0.10"
 * ```
 */
export function pairedStatistic(
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
  options: BootstrapOptions & { statistic: SiteStatistic },
): PairedStatistic {
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 10_000;
  const sites = [...a.keys()].filter((s) => {
    const x = a.get(s);
    const y = b.get(s);
    return x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y);
  }).sort();
  const n = sites.length;
  const av = Float64Array.from(sites, (s) => a.get(s)!);
  const bv = Float64Array.from(sites, (s) => b.get(s)!);
  const wilcoxon = wilcoxonSignedRank(sites.map((_, i) => av[i] - bv[i]));
  if (n === 0) {
    return {
      statistic: options.statistic,
      a: NaN,
      b: NaN,
      difference: NaN,
      lo: NaN,
      hi: NaN,
      level,
      n,
      wilcoxon,
      resolved: false,
    };
  }
  const sa = statisticOf(av, options.statistic);
  const sb = statisticOf(bv, options.statistic);
  const rng = seededRng(options.seed ?? 0);
  const diffs = new Float64Array(resamples);
  const ra = new Float64Array(n);
  const rb = new Float64Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rng() * n);
      ra[i] = av[k];
      rb[i] = bv[k];
    }
    diffs[r] = statisticOf(ra, options.statistic) - statisticOf(rb, options.statistic);
  }
  diffs.sort();
  const lo = quantileSorted(diffs, (1 - level) / 2);
  const hi = quantileSorted(diffs, (1 + level) / 2);
  return {
    statistic: options.statistic,
    a: sa,
    b: sb,
    difference: sa - sb,
    lo,
    hi,
    level,
    n,
    wilcoxon,
    resolved: (lo > 0 || hi < 0) && wilcoxon.p < 1 - level,
  };
}
