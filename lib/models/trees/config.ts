/**
 * Hyper-parameters of the gradient-boosted trees (zod; every field has a default).
 *
 * @module
 */
import { z } from "zod";

/** Hyper-parameters of {@link fitGbm} (squared-error gradient boosting, depth-wise trees). */
export const GbmConfigSchema = z.object({
  /** Boosting rounds (trees). */
  nTrees: z.number().int().min(1).default(300),
  /** Maximum depth of each tree (a depth-d tree has at most 2^d leaves). */
  maxDepth: z.number().int().min(1).max(16).default(6),
  /** Shrinkage applied to every leaf value. */
  learningRate: z.number().gt(0).max(1).default(0.1),
  /** Minimum sum of hessians (= sample weights for squared error) in a child. */
  minChildWeight: z.number().min(0).default(1),
  /** Minimum number of (sampled) rows in a leaf. */
  minSamplesLeaf: z.number().int().min(1).default(20),
  /** L2 penalty on leaf values (XGBoost's lambda). */
  lambda: z.number().min(0).default(1),
  /** Minimum loss reduction to split (XGBoost's gamma). */
  minSplitGain: z.number().min(0).default(0),
  /** Fraction of rows drawn (without replacement, Bernoulli) for each tree. */
  subsample: z.number().gt(0).max(1).default(0.8),
  /** Fraction of features drawn for each tree. */
  colsample: z.number().gt(0).max(1).default(1),
  /** Histogram bins per feature, including the missing-value bin. */
  maxBins: z.number().int().min(3).max(256).default(256),
  /** Seed of row and feature sampling. */
  seed: z.number().int().default(0),
}).strict();
/** Hyper-parameters as written by a user (defaults optional). */
export type GbmConfig = z.input<typeof GbmConfigSchema>;
/** Hyper-parameters with every default filled in. */
export type ResolvedGbmConfig = z.output<typeof GbmConfigSchema>;
