/**
 * Quantile binning of features for histogram-based tree growing.
 *
 * Each feature gets ascending bin edges e[0] < e[1] < ... < e[k-1]. A value v goes to bin
 * `1 + #{j : e[j] < v}` (1..k+1); bin 0 holds missing values (NaN). So "bin <= t" is the same as
 * "v <= e[t-1]", and a tree can be applied to raw values with the thresholds `e[t-1]`.
 *
 * Edges: when a feature has at most `maxBins - 1` distinct values, one edge between each pair of
 * neighbours (their midpoint), so every distinct value has its own bin; otherwise the distinct
 * values at the quantiles i / (maxBins - 1) of a sample of at most `sampleRows` rows.
 *
 * @module
 */
import { seededRng } from "../../data/random.ts";
import type { FeatureMatrix } from "./matrix.ts";

/** Bin edges of every feature of a matrix. */
export interface BinEdges {
  names: string[];
  /** Ascending edges per feature (length <= maxBins - 2). */
  edges: Float64Array[];
  maxBins: number;
}

/** A matrix turned into bin indices (row-major, `bins[row * nCols + col]`, 0 = missing). */
export interface BinnedMatrix {
  bins: Uint8Array;
  nRows: number;
  nCols: number;
  /** Number of bins used by each feature, including the missing bin 0. */
  binCount: Int32Array;
  edges: BinEdges;
}

/** Options of {@link fitBins}. */
export interface FitBinsOptions {
  /** Bins per feature including the missing bin (2..256, default 256). */
  maxBins?: number;
  /** Rows sampled to find quantiles (default 200000). */
  sampleRows?: number;
  /** Seed of the row sample (default 0). */
  seed?: number;
}

/**
 * Find quantile bin edges of every feature of `x`.
 *
 * @example
 * ```ts
 * import { fitBins } from "./binning.ts";
 * import { matrixFromColumns } from "./matrix.ts";
 * const edges = fitBins(matrixFromColumns({ a: [1, 2, 3, 4] }), { maxBins: 256 });
 * console.log(Array.from(edges.edges[0])); // [1.5, 2.5, 3.5]
 * ```
 */
export function fitBins(x: FeatureMatrix, options: FitBinsOptions = {}): BinEdges {
  const maxBins = options.maxBins ?? 256;
  if (!Number.isInteger(maxBins) || maxBins < 3 || maxBins > 256) {
    throw new Error(`trees: maxBins must be an integer in 3..256, got ${maxBins}`);
  }
  const sampleRows = options.sampleRows ?? 200_000;
  let rows: Int32Array;
  if (x.nRows <= sampleRows) {
    rows = Int32Array.from({ length: x.nRows }, (_, i) => i);
  } else {
    // a seeded sample without replacement (partial Fisher-Yates on an index array)
    const rng = seededRng(options.seed ?? 0);
    const all = Int32Array.from({ length: x.nRows }, (_, i) => i);
    for (let i = 0; i < sampleRows; i++) {
      const j = i + Math.floor(rng() * (x.nRows - i));
      const t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    rows = all.slice(0, sampleRows).sort();
  }
  const valueBins = maxBins - 1; // bins for values (bin 0 is missing)
  const edges: Float64Array[] = [];
  const buf = new Float64Array(rows.length);
  for (let j = 0; j < x.nCols; j++) {
    let n = 0;
    for (let k = 0; k < rows.length; k++) {
      const v = x.data[rows[k] * x.nCols + j];
      if (!Number.isNaN(v)) buf[n++] = v;
    }
    const sorted = buf.subarray(0, n).sort();
    const distinct: number[] = [];
    for (let k = 0; k < n; k++) {
      if (k === 0 || sorted[k] !== sorted[k - 1]) distinct.push(sorted[k]);
    }
    const e: number[] = [];
    if (distinct.length <= valueBins) {
      for (let k = 1; k < distinct.length; k++) {
        e.push(midpoint(distinct[k - 1], distinct[k]));
      }
    } else {
      for (let q = 1; q < valueBins; q++) {
        const v = sorted[Math.min(n - 1, Math.floor((q * n) / valueBins))];
        if (e.length === 0 || v > e[e.length - 1]) e.push(v);
      }
      // the largest value must be in a bin above the last edge
      if (e.length > 0 && e[e.length - 1] >= sorted[n - 1]) e.pop();
    }
    edges.push(Float64Array.from(e));
  }
  return { names: x.names.slice(), edges, maxBins };
}

/** A midpoint that lies strictly between a and b in float32, so both sides bin apart. */
function midpoint(a: number, b: number): number {
  const m = a + (b - a) / 2;
  return m >= b ? a : m;
}

/**
 * The bin of value `v` given ascending `edges` (0 for NaN, else 1 + #edges below v).
 *
 * @example
 * ```ts
 * import { binOf } from "./binning.ts";
 * binOf(2, Float64Array.from([1.5, 2.5])); // 2
 * ```
 */
export function binOf(v: number, edges: Float64Array): number {
  if (Number.isNaN(v)) return 0;
  let lo = 0, hi = edges.length; // first index with edges[i] >= v
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/**
 * Bin every value of `x` with `edges` (the columns must match by name and order).
 *
 * @example
 * ```ts
 * import { applyBins, fitBins } from "./binning.ts";
 * import { matrixFromColumns } from "./matrix.ts";
 * const x = matrixFromColumns({ a: [1, 2, NaN] });
 * const b = applyBins(x, fitBins(x));
 * console.log(Array.from(b.bins)); // [1, 2, 0]
 * ```
 */
export function applyBins(x: FeatureMatrix, edges: BinEdges): BinnedMatrix {
  if (x.nCols !== edges.names.length) {
    throw new Error(`trees: matrix has ${x.nCols} columns, bins have ${edges.names.length}`);
  }
  x.names.forEach((n, j) => {
    if (n !== edges.names[j]) {
      throw new Error(`trees: column ${j} is ${n}, bins were fitted on ${edges.names[j]}`);
    }
  });
  const bins = new Uint8Array(x.nRows * x.nCols);
  for (let i = 0; i < x.nRows; i++) {
    const base = i * x.nCols;
    for (let j = 0; j < x.nCols; j++) bins[base + j] = binOf(x.data[base + j], edges.edges[j]);
  }
  const binCount = Int32Array.from(edges.edges, (e) => e.length + 2);
  return { bins, nRows: x.nRows, nCols: x.nCols, binCount, edges };
}
