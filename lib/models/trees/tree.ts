/**
 * One regression tree in flat arrays, and its evaluation on raw values or on bins.
 *
 * Node k is a leaf when `feature[k] === -1` (its output is `value[k]`); otherwise a row goes
 * left when its value is <= `threshold[k]` (equivalently its bin is <= `binThreshold[k]`), right
 * when greater, and to the side given by `missingLeft[k]` when the value is missing (NaN).
 *
 * @module
 */
import type { BinnedMatrix } from "./binning.ts";
import type { FeatureMatrix } from "./matrix.ts";

/** A regression tree in flat arrays (node 0 is the root). */
export interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  binThreshold: Int32Array;
  missingLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  /** Leaf outputs (already multiplied by the learning rate); 0 at inner nodes. */
  value: Float64Array;
}

/** A tree as plain JSON arrays. */
export interface TreeJson {
  feature: number[];
  threshold: number[];
  binThreshold: number[];
  missingLeft: number[];
  left: number[];
  right: number[];
  value: number[];
}

/** Grows a tree node by node (used by the booster). */
export class TreeBuilder {
  feature: number[] = [];
  threshold: number[] = [];
  binThreshold: number[] = [];
  missingLeft: number[] = [];
  left: number[] = [];
  right: number[] = [];
  value: number[] = [];

  /** Add a leaf, returning its index. */
  leaf(value: number): number {
    this.feature.push(-1);
    this.threshold.push(0);
    this.binThreshold.push(0);
    this.missingLeft.push(0);
    this.left.push(-1);
    this.right.push(-1);
    this.value.push(value);
    return this.feature.length - 1;
  }

  /** Turn node k into a split (children are set later). */
  split(k: number, feature: number, binThreshold: number, threshold: number, missingLeft: boolean) {
    this.feature[k] = feature;
    this.binThreshold[k] = binThreshold;
    this.threshold[k] = threshold;
    this.missingLeft[k] = missingLeft ? 1 : 0;
    this.value[k] = 0;
  }

  /** The finished tree. */
  build(): Tree {
    return {
      feature: Int32Array.from(this.feature),
      threshold: Float64Array.from(this.threshold),
      binThreshold: Int32Array.from(this.binThreshold),
      missingLeft: Uint8Array.from(this.missingLeft),
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      value: Float64Array.from(this.value),
    };
  }
}

/**
 * The output of `tree` for row `row` of a raw matrix.
 *
 * @example
 * ```ts
 * import { predictTreeRow, TreeBuilder } from "./tree.ts";
 * const b = new TreeBuilder();
 * const root = b.leaf(0);
 * b.split(root, 0, 1, 0.5, true);
 * b.left[root] = b.leaf(-1);
 * b.right[root] = b.leaf(1);
 * predictTreeRow(b.build(), new Float32Array([0.7]), 0, 1); // 1
 * ```
 */
export function predictTreeRow(tree: Tree, data: Float32Array, row: number, nCols: number): number {
  let k = 0;
  const base = row * nCols;
  while (tree.feature[k] !== -1) {
    const v = data[base + tree.feature[k]];
    const goLeft = Number.isNaN(v) ? tree.missingLeft[k] === 1 : v <= tree.threshold[k];
    k = goLeft ? tree.left[k] : tree.right[k];
  }
  return tree.value[k];
}

/**
 * Add `scale *` the output of `tree` for every row of a raw matrix to `out`.
 *
 * @example
 * ```ts
 * import { addTreePredictions, TreeBuilder } from "./tree.ts";
 * import { matrixFromColumns } from "./matrix.ts";
 * const b = new TreeBuilder();
 * b.leaf(2);
 * const out = new Float64Array(2);
 * addTreePredictions(b.build(), matrixFromColumns({ a: [1, 2] }), out);
 * ```
 */
export function addTreePredictions(
  tree: Tree,
  x: FeatureMatrix,
  out: Float64Array,
  options: { scale?: number } = {},
): void {
  const scale = options.scale ?? 1;
  for (let i = 0; i < x.nRows; i++) out[i] += scale * predictTreeRow(tree, x.data, i, x.nCols);
}

/**
 * Add the output of `tree` for every row of a binned matrix to `out` (used while boosting).
 *
 * @example
 * ```ts
 * import { addTreePredictionsBinned, TreeBuilder } from "./tree.ts";
 * import { applyBins, fitBins } from "./binning.ts";
 * import { matrixFromColumns } from "./matrix.ts";
 * const x = matrixFromColumns({ a: [1, 2] });
 * const b = new TreeBuilder();
 * b.leaf(2);
 * const out = new Float64Array(2);
 * addTreePredictionsBinned(b.build(), applyBins(x, fitBins(x)), out);
 * ```
 */
export function addTreePredictionsBinned(tree: Tree, x: BinnedMatrix, out: Float64Array): void {
  const { bins, nCols, nRows } = x;
  const { feature, binThreshold, missingLeft, left, right, value } = tree;
  for (let i = 0; i < nRows; i++) {
    let k = 0;
    const base = i * nCols;
    while (feature[k] !== -1) {
      const b = bins[base + feature[k]];
      const goLeft = b === 0 ? missingLeft[k] === 1 : b <= binThreshold[k];
      k = goLeft ? left[k] : right[k];
    }
    out[i] += value[k];
  }
}

/**
 * A tree as JSON arrays.
 *
 * @example
 * ```ts
 * import { treeFromJson, treeToJson, TreeBuilder } from "./tree.ts";
 * const b = new TreeBuilder();
 * b.leaf(1);
 * const same = treeFromJson(treeToJson(b.build()));
 * ```
 */
export function treeToJson(tree: Tree): TreeJson {
  return {
    feature: Array.from(tree.feature),
    threshold: Array.from(tree.threshold),
    binThreshold: Array.from(tree.binThreshold),
    missingLeft: Array.from(tree.missingLeft),
    left: Array.from(tree.left),
    right: Array.from(tree.right),
    value: Array.from(tree.value),
  };
}

/**
 * A tree from JSON arrays (checks that every array has the same length and children exist).
 *
 * @example
 * ```ts
 * import { treeFromJson } from "./tree.ts";
 * treeFromJson({ feature: [-1], threshold: [0], binThreshold: [0], missingLeft: [0],
 *   left: [-1], right: [-1], value: [3] });
 * ```
 */
export function treeFromJson(json: TreeJson): Tree {
  const n = json.feature.length;
  for (const [k, a] of Object.entries(json)) {
    if ((a as number[]).length !== n) throw new Error(`trees: tree array ${k} has wrong length`);
  }
  for (let k = 0; k < n; k++) {
    if (json.feature[k] === -1) continue;
    for (const c of [json.left[k], json.right[k]]) {
      if (!(c > k && c < n)) throw new Error(`trees: node ${k} has a bad child ${c}`);
    }
  }
  return {
    feature: Int32Array.from(json.feature),
    threshold: Float64Array.from(json.threshold),
    binThreshold: Int32Array.from(json.binThreshold),
    missingLeft: Uint8Array.from(json.missingLeft),
    left: Int32Array.from(json.left),
    right: Int32Array.from(json.right),
    value: Float64Array.from(json.value),
  };
}
