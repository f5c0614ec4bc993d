/**
 * Histogram-based gradient boosting of regression trees for squared error (XGBoost-style
 * second-order gain with L2 leaf penalty; LightGBM-style histograms and sibling subtraction).
 *
 * - features are binned once by quantiles (binning.ts; bin 0 = missing);
 * - every tree is grown depth-wise to `maxDepth` on a row sample (`subsample`, drawn per tree)
 *   and a feature sample (`colsample`, per tree); a node splits at the bin threshold and
 *   missing-value direction with the largest gain
 *   0.5 * (GL²/(HL+λ) + GR²/(HR+λ) - G²/(H+λ)) when it exceeds `minSplitGain` and both children
 *   have at least `minSamplesLeaf` rows and `minChildWeight` hessian;
 * - leaf value = -learningRate * G / (H + λ), with g = w (F - y), h = w;
 * - the start value is the weighted mean of the targets; rows with a missing (NaN) target are
 *   left out and counted.
 *
 * All randomness comes from `seed`: the same data and config give the same model.
 *
 * @module
 */
import { z } from "zod";
import { deriveSeed, seededRng } from "../../data/random.ts";
import { applyBins, type BinnedMatrix, fitBins } from "./binning.ts";
import { type GbmConfig, GbmConfigSchema, type ResolvedGbmConfig } from "./config.ts";
import { checkMatrix, type FeatureMatrix } from "./matrix.ts";
import {
  addTreePredictionsBinned,
  predictTreeRow,
  type Tree,
  TreeBuilder,
  treeFromJson,
  type TreeJson,
  treeToJson,
} from "./tree.ts";

/** A fitted booster. */
export interface GbmModel {
  config: ResolvedGbmConfig;
  featureNames: string[];
  baseScore: number;
  trees: Tree[];
  /** Total split gain per feature (same order as featureNames). */
  importance: Float64Array;
}

/** What {@link fitGbm} did. */
export interface GbmFitReport {
  rows: number;
  /** Rows left out because the target was missing (NaN). */
  droppedMissingTarget: number;
  /** Rows left out because their weight was 0. */
  droppedZeroWeight: number;
  trees: number;
  leaves: number;
  seconds: { binning: number; boosting: number };
  /** RMSE on the training rows after each tree. */
  trainRmse: number[];
  /** RMSE on `valid` after each tree (when given). */
  validRmse: number[];
}

/** Options of {@link fitGbm}. */
export interface FitGbmOptions {
  config?: GbmConfig;
  /** Sample weights (>= 0), one per row. */
  weights?: ArrayLike<number>;
  /** The training matrix already binned (reuse it across targets). */
  binned?: BinnedMatrix;
  /** Rows to score after every tree (RMSE in `report.validRmse`); NaN targets are skipped. */
  valid?: { x: FeatureMatrix; y: ArrayLike<number> };
  /** Called after each tree. */
  onTree?: (tree: number, trainRmse: number, validRmse: number | null) => void;
}

const NB = 256; // histogram stride per feature

interface Split {
  feature: number;
  bin: number;
  missingLeft: boolean;
  gain: number;
  left: [number, number, number]; // G, H, count
  right: [number, number, number];
}

/** The rows that take part in boosting and their weights (see {@linkcode usableRows}). */
interface UsableRows {
  usable: number[];
  /** Weight per row (0 for rows left out). */
  weight: Float64Array;
  /** Sum of the weights, and of weight times target, over the usable rows. */
  sw: number;
  swy: number;
  droppedMissingTarget: number;
  droppedZeroWeight: number;
}

/** What the boosting steps share: the binned data, the per-row buffers and the histogram pool. */
interface BoostState {
  cfg: ResolvedGbmConfig;
  F: number;
  y: ArrayLike<number>;
  binned: BinnedMatrix;
  usable: number[];
  weight: Float64Array;
  /** Every usable row has weight 1 (the hessian is the count). */
  unitWeights: boolean;
  pred: Float64Array;
  grad: Float64Array;
  hess: Float64Array;
  /** The sampled rows of the current tree, partitioned node by node; `scratch` for partitioning. */
  rows: Uint32Array;
  scratch: Uint32Array;
  importance: Float64Array;
  /** Histograms (F * NB * 3: G, H, count per bin) not in use. */
  pool: Float64Array[];
}

/**
 * Fit a booster to targets `y` (NaN = missing) from features `x`.
 *
 * @example
 * ```ts
 * import { fitGbm, predictGbm } from "./gbm.ts";
 * import { matrixFromColumns } from "./matrix.ts";
 * const x = matrixFromColumns({ a: [0, 1, 2, 3, 4, 5, 6, 7] });
 * const { model } = fitGbm(x, [0, 0, 0, 0, 1, 1, 1, 1], {
 *   config: { nTrees: 1, learningRate: 1, lambda: 0, minSamplesLeaf: 1, subsample: 1 },
 * });
 * console.log(Array.from(predictGbm(model, x))); // [0, 0, 0, 0, 1, 1, 1, 1]
 * ```
 */
export function fitGbm(
  x: FeatureMatrix,
  y: ArrayLike<number>,
  options: FitGbmOptions = {},
): { model: GbmModel; report: GbmFitReport } {
  const cfg = GbmConfigSchema.parse(options.config ?? {});
  checkMatrix(x, { source: "training matrix" });
  const n = x.nRows, F = x.nCols;
  if (y.length !== n) throw new Error(`trees: ${y.length} targets for ${n} rows`);
  const w = options.weights;
  if (w && w.length !== n) throw new Error(`trees: ${w.length} weights for ${n} rows`);

  const t0 = performance.now();
  const binned = options.binned ??
    applyBins(x, fitBins(x, { maxBins: cfg.maxBins, seed: cfg.seed }));
  if (binned.nRows !== n || binned.nCols !== F) {
    throw new Error(
      `trees: the binned matrix is ${binned.nRows} x ${binned.nCols}, x is ${n} x ${F}`,
    );
  }
  const t1 = performance.now();

  const { usable, weight, sw, swy, droppedMissingTarget, droppedZeroWeight } = usableRows(y, w);
  const baseScore = swy / sw;
  let unitWeights = true;
  for (const i of usable) if (weight[i] !== 1) unitWeights = false;
  const state: BoostState = {
    cfg,
    F,
    y,
    binned,
    usable,
    weight,
    unitWeights,
    pred: new Float64Array(n).fill(baseScore),
    grad: new Float64Array(n),
    hess: new Float64Array(n),
    rows: new Uint32Array(usable.length),
    scratch: new Uint32Array(usable.length),
    importance: new Float64Array(F),
    pool: [],
  };
  const rng = seededRng(deriveSeed(cfg.seed, "gbm"));
  const trees: Tree[] = [];
  const trainRmse: number[] = [];
  const validRmse: number[] = [];
  let leaves = 0;

  const valid = options.valid;
  let validPred: Float64Array | null = null;
  if (valid) {
    checkValid(valid, x);
    validPred = new Float64Array(valid.x.nRows).fill(baseScore);
  }

  for (let tIdx = 0; tIdx < cfg.nTrees; tIdx++) {
    const sums = gradientsAndRowSample(state, rng);
    const active = featureSample(F, Math.max(1, Math.round(cfg.colsample * F)), rng);
    const grown = growTree(state, active, sums);
    leaves += grown.leaves;
    const tree = grown.tree;
    trees.push(tree);
    addTreePredictionsBinned(tree, binned, state.pred);

    const tr = trainingRmse(state, sw);
    trainRmse.push(tr);
    let vr: number | null = null;
    if (valid && validPred) {
      vr = addValidationTree(tree, valid, validPred);
      validRmse.push(vr);
    }
    options.onTree?.(tIdx, tr, vr);
  }
  const t2 = performance.now();

  return {
    model: {
      config: cfg,
      featureNames: x.names.slice(),
      baseScore,
      trees,
      importance: state.importance,
    },
    report: {
      rows: usable.length,
      droppedMissingTarget,
      droppedZeroWeight,
      trees: trees.length,
      leaves,
      seconds: { binning: (t1 - t0) / 1000, boosting: (t2 - t1) / 1000 },
      trainRmse,
      validRmse,
    },
  };
}

/** The rows with a target and a positive weight; missing targets and zero weights counted. */
function usableRows(y: ArrayLike<number>, w: ArrayLike<number> | undefined): UsableRows {
  const n = y.length;
  const usable: number[] = [];
  let droppedMissingTarget = 0, droppedZeroWeight = 0;
  const weight = new Float64Array(n);
  let sw = 0, swy = 0;
  for (let i = 0; i < n; i++) {
    const yi = y[i];
    const wi = w ? w[i] : 1;
    if (!(wi >= 0) || !Number.isFinite(wi)) {
      throw new Error(`trees: weight of row ${i} is ${wi}; weights must be finite and >= 0`);
    }
    if (Number.isNaN(yi)) {
      droppedMissingTarget++;
      continue;
    }
    if (!Number.isFinite(yi)) throw new Error(`trees: target of row ${i} is ${yi}`);
    if (wi === 0) {
      droppedZeroWeight++;
      continue;
    }
    usable.push(i);
    weight[i] = wi;
    sw += wi;
    swy += wi * yi;
  }
  if (usable.length === 0) throw new Error("trees: no row with a target and a positive weight");
  return { usable, weight, sw, swy, droppedMissingTarget, droppedZeroWeight };
}

/** The validation rows must have as many targets as rows and the training columns, in order. */
function checkValid(valid: { x: FeatureMatrix; y: ArrayLike<number> }, x: FeatureMatrix): void {
  checkMatrix(valid.x, { source: "validation matrix" });
  if (valid.y.length !== valid.x.nRows) throw new Error("trees: validation targets mismatch");
  valid.x.names.forEach((nm, j) => {
    if (nm !== x.names[j]) {
      throw new Error(`trees: validation column ${j} is ${nm}, not ${x.names[j]}`);
    }
  });
}

/**
 * The gradients and hessians of every usable row at the current predictions, and the row sample
 * of the next tree (into `state.rows`); returns the sample's sums [G, H, count].
 */
function gradientsAndRowSample(
  state: BoostState,
  rng: () => number,
): [number, number, number] {
  const { cfg, usable, weight, pred, y, grad, hess, rows } = state;
  let m = 0;
  let G = 0, H = 0;
  for (const i of usable) {
    const gi = weight[i] * (pred[i] - (y[i] as number));
    grad[i] = gi;
    hess[i] = weight[i];
    if (cfg.subsample >= 1 || rng() < cfg.subsample) {
      rows[m++] = i;
      G += gi;
      H += weight[i];
    }
  }
  return [G, H, m];
}

/** The features of the next tree: all of them, or `nColsample` drawn without replacement, sorted. */
function featureSample(F: number, nColsample: number, rng: () => number): Int32Array {
  const allFeatures = Int32Array.from({ length: F }, (_, j) => j);
  if (nColsample >= F) return allFeatures;
  const perm = allFeatures.slice();
  for (let k = 0; k < nColsample; k++) {
    const j = k + Math.floor(rng() * (F - k));
    const tmp = perm[k];
    perm[k] = perm[j];
    perm[j] = tmp;
  }
  return perm.slice(0, nColsample).sort();
}

/** Grow one tree depth-wise on the sampled rows (`state.rows[0, count)`), from the root. */
function growTree(
  state: BoostState,
  active: Int32Array,
  sums: [number, number, number],
): { tree: Tree; leaves: number } {
  const { cfg, F, rows, scratch, importance } = state;
  const { bins, binCount } = state.binned;
  const edges = state.binned.edges.edges;
  const lambda = cfg.lambda;
  const histSize = F * NB * 3;
  const take = () => state.pool.pop() ?? new Float64Array(histSize);
  const give = (h: Float64Array) => state.pool.push(h);
  const builder = new TreeBuilder();
  const leafValue = (g: number, hh: number) => (-cfg.learningRate * g) / (hh + lambda);
  let leaves = 0;

  const grow = (
    node: number,
    start: number,
    end: number,
    hist: Float64Array,
    depth: number,
    sums: [number, number, number],
  ) => {
    const [g, hh, c] = sums;
    const split = depth < cfg.maxDepth && c >= 2 * cfg.minSamplesLeaf
      ? bestSplit(state, hist, active, g, hh, c)
      : null;
    if (!split) {
      builder.value[node] = leafValue(g, hh);
      leaves++;
      give(hist);
      return;
    }
    const f = split.feature;
    const threshold = split.bin - 1 < edges[f].length ? edges[f][split.bin - 1] : Number.MAX_VALUE;
    builder.split(node, f, split.bin, threshold, split.missingLeft);
    importance[f] += split.gain;
    // stable partition: left rows first
    let l = start, r = 0;
    for (let p = start; p < end; p++) {
      const i = rows[p];
      const b = bins[i * F + f];
      const goLeft = b === 0 ? split.missingLeft : b <= split.bin;
      if (goLeft) rows[l++] = i;
      else scratch[r++] = i;
    }
    rows.set(scratch.subarray(0, r), l);
    const mid = l;
    // histogram of the smaller child; the larger one by subtraction from the parent's
    const small = take();
    const leftSmaller = mid - start <= end - mid;
    if (leftSmaller) buildHistogram(state, small, active, start, mid);
    else buildHistogram(state, small, active, mid, end);
    for (let a = 0; a < active.length; a++) {
      const ff = active[a];
      const from = ff * NB * 3, to = (ff * NB + binCount[ff]) * 3;
      for (let k = from; k < to; k++) hist[k] -= small[k];
    }
    const leftHist = leftSmaller ? small : hist;
    const rightHist = leftSmaller ? hist : small;
    const ln = builder.leaf(0);
    const rn = builder.leaf(0);
    builder.left[node] = ln;
    builder.right[node] = rn;
    grow(ln, start, mid, leftHist, depth + 1, split.left);
    grow(rn, mid, end, rightHist, depth + 1, split.right);
  };

  const root = builder.leaf(0);
  const rootHist = take();
  buildHistogram(state, rootHist, active, 0, sums[2]);
  grow(root, 0, sums[2], rootHist, 0, sums);
  return { tree: builder.build(), leaves };
}

/** The histogram (G, H, count per bin of each active feature) of `state.rows[start, end)`. */
function buildHistogram(
  state: BoostState,
  h: Float64Array,
  active: Int32Array,
  start: number,
  end: number,
): void {
  const { F, rows, grad, hess, unitWeights } = state;
  const { bins, binCount } = state.binned;
  for (let a = 0; a < active.length; a++) {
    const f = active[a];
    h.fill(0, f * NB * 3, (f * NB + binCount[f]) * 3);
  }
  const nA = active.length;
  if (unitWeights) {
    // hessian = count: accumulate g and count only, fill h afterwards
    for (let p = start; p < end; p++) {
      const i = rows[p];
      const gi = grad[i];
      const base = i * F;
      for (let a = 0; a < nA; a++) {
        const f = active[a];
        const k = ((f << 8) + bins[base + f]) * 3;
        h[k] += gi;
        h[k + 2] += 1;
      }
    }
    for (let a = 0; a < nA; a++) {
      const f = active[a];
      for (let k = f * NB * 3, e = (f * NB + binCount[f]) * 3; k < e; k += 3) h[k + 1] = h[k + 2];
    }
    return;
  }
  for (let p = start; p < end; p++) {
    const i = rows[p];
    const gi = grad[i], hi = hess[i];
    const base = i * F;
    for (let a = 0; a < nA; a++) {
      const f = active[a];
      const k = ((f << 8) + bins[base + f]) * 3;
      h[k] += gi;
      h[k + 1] += hi;
      h[k + 2] += 1;
    }
  }
}

/** The split of largest gain over the active features' bins (and missing directions), or null. */
function bestSplit(
  state: BoostState,
  h: Float64Array,
  active: Int32Array,
  G: number,
  H: number,
  C: number,
): Split | null {
  const { cfg } = state;
  const { binCount } = state.binned;
  const lambda = cfg.lambda;
  const parent = (G * G) / (H + lambda);
  let best: Split | null = null;
  let bestGain = cfg.minSplitGain;
  for (let a = 0; a < active.length; a++) {
    const f = active[a];
    const nb = binCount[f];
    const m = f * NB * 3;
    const mG = h[m], mH = h[m + 1], mC = h[m + 2];
    let cG = 0, cH = 0, cC = 0;
    // t = nb - 1 puts every value left: only useful to split off the missing rows
    for (let t = 1; t <= nb - 1; t++) {
      const k = (f * NB + t) * 3;
      if (h[k + 2] === 0) continue; // same partition as threshold t - 1
      cG += h[k];
      cH += h[k + 1];
      cC += h[k + 2];
      for (let side = 0; side < (mC > 0 ? 2 : 1); side++) {
        const lG = side ? cG + mG : cG;
        const lH = side ? cH + mH : cH;
        const lC = side ? cC + mC : cC;
        const rG = G - lG, rH = H - lH, rC = C - lC;
        if (lC < cfg.minSamplesLeaf || rC < cfg.minSamplesLeaf) continue;
        if (lH < cfg.minChildWeight || rH < cfg.minChildWeight) continue;
        const gain = 0.5 * ((lG * lG) / (lH + lambda) + (rG * rG) / (rH + lambda) - parent);
        if (gain > bestGain + 1e-12 * Math.abs(parent)) {
          bestGain = gain;
          best = {
            feature: f,
            bin: t,
            missingLeft: side === 1,
            gain,
            left: [lG, lH, lC],
            right: [rG, rH, rC],
          };
        }
      }
      if (cC + mC >= C) break; // no row in higher bins
    }
  }
  return best;
}

/** The weighted RMSE of the current predictions over the usable rows. */
function trainingRmse(state: BoostState, sw: number): number {
  const { usable, weight, pred, y } = state;
  let se = 0;
  for (const i of usable) se += weight[i] * (pred[i] - (y[i] as number)) ** 2;
  return Math.sqrt(se / sw);
}

/** Add `tree` to the validation predictions; the RMSE over the rows with a target (NaN if none). */
function addValidationTree(
  tree: Tree,
  valid: { x: FeatureMatrix; y: ArrayLike<number> },
  validPred: Float64Array,
): number {
  let vse = 0, vn = 0;
  for (let i = 0; i < valid.x.nRows; i++) {
    validPred[i] += predictTreeRow(tree, valid.x.data, i, valid.x.nCols);
    const yi = valid.y[i];
    if (!Number.isNaN(yi)) {
      vse += (validPred[i] - yi) ** 2;
      vn++;
    }
  }
  return vn > 0 ? Math.sqrt(vse / vn) : NaN;
}

/**
 * Predict every row of `x` (columns must match the model's features by name and order).
 * `nTrees` uses only the first trees (e.g. the best iteration of a validation curve).
 *
 * @example
 * ```ts
 * import { fitGbm, predictGbm } from "./gbm.ts";
 * import { matrixFromColumns } from "./matrix.ts";
 * const x = matrixFromColumns({ a: [1, 2, 3] });
 * const { model } = fitGbm(x, [5, 5, 5], { config: { nTrees: 3, minSamplesLeaf: 1 } });
 * predictGbm(model, x); // Float64Array [5, 5, 5]
 * ```
 */
export function predictGbm(
  model: GbmModel,
  x: FeatureMatrix,
  options: { nTrees?: number } = {},
): Float64Array {
  checkMatrix(x, { source: "prediction matrix" });
  if (x.nCols !== model.featureNames.length) {
    throw new Error(
      `trees: the matrix has ${x.nCols} columns, the model ${model.featureNames.length}`,
    );
  }
  model.featureNames.forEach((nm, j) => {
    if (x.names[j] !== nm) {
      throw new Error(`trees: column ${j} is ${x.names[j]}, the model has ${nm}`);
    }
  });
  const nTrees = Math.min(options.nTrees ?? model.trees.length, model.trees.length);
  const out = new Float64Array(x.nRows).fill(model.baseScore);
  for (let t = 0; t < nTrees; t++) {
    const tree = model.trees[t];
    for (let i = 0; i < x.nRows; i++) out[i] += predictTreeRow(tree, x.data, i, x.nCols);
  }
  return out;
}

/**
 * Feature importance (total split gain), largest first, as fractions of the total.
 *
 * @example
 * ```ts
 * import { featureImportance } from "./gbm.ts";
 * // featureImportance(model).slice(0, 5)
 * ```
 */
export function featureImportance(model: GbmModel): { name: string; gain: number }[] {
  let total = 0;
  for (const g of model.importance) total += g;
  return model.featureNames
    .map((name, j) => ({ name, gain: total > 0 ? model.importance[j] / total : 0 }))
    .sort((a, b) => b.gain - a.gain);
}

const TreeJsonSchema = z.object({
  feature: z.array(z.number().int()),
  threshold: z.array(z.number()),
  binThreshold: z.array(z.number().int()),
  missingLeft: z.array(z.number().int()),
  left: z.array(z.number().int()),
  right: z.array(z.number().int()),
  value: z.array(z.number()),
});

/** A saved booster (JSON). */
export const GbmModelJsonSchema = z.object({
  format: z.literal("tamflux-gbm-1"),
  config: GbmConfigSchema,
  featureNames: z.array(z.string()),
  baseScore: z.number(),
  importance: z.array(z.number()),
  trees: z.array(TreeJsonSchema),
});
/** A saved booster (JSON). */
export type GbmModelJson = z.infer<typeof GbmModelJsonSchema>;

/**
 * A booster as JSON (exact: numbers round-trip).
 *
 * @example
 * ```ts
 * import { gbmFromJson, gbmToJson } from "./gbm.ts";
 * // const copy = gbmFromJson(JSON.parse(JSON.stringify(gbmToJson(model))));
 * ```
 */
export function gbmToJson(model: GbmModel): GbmModelJson {
  return {
    format: "tamflux-gbm-1",
    config: model.config,
    featureNames: model.featureNames,
    baseScore: model.baseScore,
    importance: Array.from(model.importance),
    trees: model.trees.map(treeToJson),
  };
}

/**
 * A booster from JSON (validated).
 *
 * @example
 * ```ts
 * import { gbmFromJson } from "./gbm.ts";
 * // const model = gbmFromJson(JSON.parse(await Deno.readTextFile("model.json")));
 * ```
 */
export function gbmFromJson(json: unknown, options: { source?: string } = {}): GbmModel {
  const r = GbmModelJsonSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(
      `trees: ${options.source ?? "model JSON"}: ${
        issue.path.join(".") || "(root)"
      }: ${issue.message}`,
    );
  }
  const j = r.data;
  return {
    config: j.config,
    featureNames: j.featureNames,
    baseScore: j.baseScore,
    importance: Float64Array.from(j.importance),
    trees: j.trees.map((t) => treeFromJson(t as TreeJson)),
  };
}
