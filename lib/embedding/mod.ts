/**
 * The task embedding of TAM-RL under the microscope: each site's z from its own support windows,
 * PCA, nearest neighbours in z, agreement of neighbours' climate and vegetation classes, how z
 * moves with its support, and the vega-lite figures of these (notebook 02).
 *
 * It reads a trained model (lib/models) and batches of lib/data; its figures are vega-lite specs of
 * lib/eval's `FigureSpec` type (rendered by lib/eval's `renderSvg`/`writeFigure`). Nothing in lib/data, lib/models, lib/train or lib/eval imports it.
 *
 * @example
 * ```ts
 * import { fitPca, projectPca } from "./mod.ts";
 * const pca = fitPca([[2, 0], [-2, 0], [0, 1], [0, -1]]);
 * console.log(projectPca(pca, [[3, 1]])); // [[3, 1]]
 * ```
 *
 * @module
 */
export * from "./embedding.ts";
export * from "./embedding_figures.ts";
