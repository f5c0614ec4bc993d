/**
 * The dense feature matrix the tree engine reads: row-major Float32 values, NaN = missing.
 *
 * @module
 */

/** A dense row-major feature matrix (`data[row * nCols + col]`, NaN = missing). */
export interface FeatureMatrix {
  data: Float32Array;
  nRows: number;
  nCols: number;
  /** Column names, one per column. */
  names: string[];
}

/**
 * Check that a matrix is consistent (size, names) and has no infinite value; returns it.
 *
 * @example
 * ```ts
 * import { checkMatrix } from "./matrix.ts";
 * checkMatrix({ data: new Float32Array([1, 2]), nRows: 1, nCols: 2, names: ["a", "b"] });
 * ```
 */
export function checkMatrix(x: FeatureMatrix, options: { source?: string } = {}): FeatureMatrix {
  const src = options.source ?? "feature matrix";
  if (!Number.isInteger(x.nRows) || x.nRows < 0 || !Number.isInteger(x.nCols) || x.nCols < 1) {
    throw new Error(`trees: ${src}: bad shape ${x.nRows} x ${x.nCols}`);
  }
  if (x.data.length !== x.nRows * x.nCols) {
    throw new Error(
      `trees: ${src}: data has ${x.data.length} values, expected ${x.nRows} x ${x.nCols}`,
    );
  }
  if (x.names.length !== x.nCols) {
    throw new Error(`trees: ${src}: ${x.names.length} names for ${x.nCols} columns`);
  }
  const seen = new Set<string>();
  for (const n of x.names) {
    if (seen.has(n)) throw new Error(`trees: ${src}: column ${n} appears twice`);
    seen.add(n);
  }
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i];
    if (v === Infinity || v === -Infinity) {
      const row = Math.floor(i / x.nCols);
      throw new Error(
        `trees: ${src}: column ${x.names[i % x.nCols]}, row ${row}: infinite value ${v}`,
      );
    }
  }
  return x;
}

/**
 * Build a matrix from named columns of equal length (null/NaN = missing).
 *
 * @example
 * ```ts
 * import { matrixFromColumns } from "./matrix.ts";
 * const x = matrixFromColumns({ a: [1, 2], b: [3, null] });
 * console.log(x.nRows, x.nCols); // 2 2
 * ```
 */
export function matrixFromColumns(
  columns: Record<string, ArrayLike<number | null>>,
  options: { source?: string } = {},
): FeatureMatrix {
  const names = Object.keys(columns);
  if (names.length === 0) throw new Error(`trees: ${options.source ?? "columns"}: no column`);
  const nRows = columns[names[0]].length;
  const nCols = names.length;
  const data = new Float32Array(nRows * nCols);
  names.forEach((name, j) => {
    const col = columns[name];
    if (col.length !== nRows) {
      throw new Error(
        `trees: ${options.source ?? "columns"}: column ${name} has ${col.length} rows, ` +
          `${names[0]} has ${nRows}`,
      );
    }
    for (let i = 0; i < nRows; i++) {
      const v = col[i];
      data[i * nCols + j] = v === null || v === undefined ? NaN : v;
    }
  });
  return checkMatrix({ data, nRows, nCols, names }, options);
}

/**
 * The rows `rows` of a matrix, as a new matrix.
 *
 * @example
 * ```ts
 * import { matrixFromColumns, selectRows } from "./matrix.ts";
 * const x = selectRows(matrixFromColumns({ a: [1, 2, 3] }), [0, 2]);
 * ```
 */
export function selectRows(x: FeatureMatrix, rows: ArrayLike<number>): FeatureMatrix {
  const out = new Float32Array(rows.length * x.nCols);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (r < 0 || r >= x.nRows) throw new Error(`trees: selectRows: row ${r} out of ${x.nRows}`);
    out.set(x.data.subarray(r * x.nCols, (r + 1) * x.nCols), k * x.nCols);
  }
  return { data: out, nRows: rows.length, nCols: x.nCols, names: x.names.slice() };
}
