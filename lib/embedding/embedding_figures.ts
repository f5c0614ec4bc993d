/**
 * Figures of the task embedding (vega-lite specs with their data inline; render with `renderSvg`
 * from `./figures.ts`): the sites' z on the first two principal axes coloured by IGBP class and
 * by Köppen group, and how a few sites' z move with their support windows.
 *
 * @module
 */
import type { FigureSpec } from "../eval/figures.ts";
import { type Pca, projectPca, type SiteEmbedding, type SpreadPoint } from "./embedding.ts";

/** A site on the embedding map. */
export interface EmbeddingPoint {
  site: string;
  /** First and second principal coordinate. */
  x: number;
  y: number;
  IGBP: string;
  KOPPEN_MAIN: string;
  /** "train" or "test". */
  split: string;
}

/**
 * The map points of sites: their z projected on the PCA axes, with their classes and split.
 *
 * @example
 * ```ts
 * import { embeddingPoints } from "./embedding_figures.ts";
 * import { fitPca } from "./embedding.ts";
 * const z = [{ site: "A", windows: 1, z: [0, 1] }, { site: "B", windows: 1, z: [1, 0] }];
 * const points = embeddingPoints(z, fitPca(z.map((s) => s.z)), {
 *   sites: [
 *     { SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "D" },
 *     { SITE_ID: "B", IGBP: "GRA", KOPPEN_MAIN: "C" },
 *   ],
 *   test: ["B"],
 * });
 * ```
 */
export function embeddingPoints(
  embeddings: readonly SiteEmbedding[],
  pca: Pca,
  options: {
    sites: readonly { SITE_ID: string; IGBP: string; KOPPEN_MAIN: string }[];
    test: readonly string[];
  },
): EmbeddingPoint[] {
  const bySite = new Map(options.sites.map((s) => [s.SITE_ID, s]));
  const test = new Set(options.test);
  const xy = projectPca(pca, embeddings.map((e) => e.z));
  return embeddings.map((e, i) => {
    const s = bySite.get(e.site);
    if (!s) throw new Error(`embeddingPoints: site ${e.site} is not in the site table`);
    return {
      site: e.site,
      x: xy[i][0],
      y: xy[i][1] ?? 0,
      IGBP: s.IGBP,
      KOPPEN_MAIN: s.KOPPEN_MAIN,
      split: test.has(e.site) ? "test" : "train",
    };
  });
}

function axisTitle(pca: Pca | undefined, i: number): string {
  const share = pca?.explained[i];
  return `PC${i + 1} of z` +
    (share === undefined ? "" : ` (${(100 * share).toFixed(0)}% of variance)`);
}

/**
 * Two scatter plots of the sites on the first two principal axes of z, coloured by IGBP class
 * (left) and Köppen group (right); filled circles are training sites, labelled triangles test
 * sites.
 *
 * @example
 * ```ts
 * import { embeddingMapSpec } from "./embedding_figures.ts";
 * const spec = embeddingMapSpec([]);
 * ```
 */
export function embeddingMapSpec(
  points: readonly EmbeddingPoint[],
  options: { pca?: Pca; width?: number } = {},
): FigureSpec {
  const width = options.width ?? 340;
  const panel = (field: "IGBP" | "KOPPEN_MAIN", title: string) => ({
    width,
    height: width,
    title: `z coloured by ${title}`,
    layer: [
      {
        mark: { type: "point", filled: true, size: 70, opacity: 0.85 },
        encoding: {
          x: { field: "x", type: "quantitative", title: axisTitle(options.pca, 0) },
          y: { field: "y", type: "quantitative", title: axisTitle(options.pca, 1) },
          color: {
            field,
            type: "nominal",
            title,
            scale: { scheme: field === "IGBP" ? "tableau20" : "category10" },
          },
          shape: {
            field: "split",
            type: "nominal",
            scale: { domain: ["train", "test"], range: ["circle", "triangle-up"] },
          },
          tooltip: [
            { field: "site" },
            { field: "IGBP" },
            { field: "KOPPEN_MAIN", title: "Köppen" },
            { field: "split" },
          ],
        },
      },
      {
        transform: [{ filter: "datum.split === 'test'" }],
        mark: { type: "text", dx: 6, align: "left", fontSize: 9 },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
          text: { field: "site" },
        },
      },
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    data: { values: points as unknown as Record<string, unknown>[] },
    hconcat: [panel("IGBP", "IGBP"), panel("KOPPEN_MAIN", "Köppen")],
    resolve: { scale: { color: "independent" } },
  } as unknown as FigureSpec;
}

/**
 * How the z of a few sites move with their support windows, on the PCA map: every site's z in
 * grey, and for each examined site the z of random support sets of K windows (small dots), the z of
 * each calendar year's windows (squares; the year in the tooltip) and the z of all its windows
 * (cross).
 *
 * @example
 * ```ts
 * import { supportSpreadSpec } from "./embedding_figures.ts";
 * import { fitPca } from "./embedding.ts";
 * const pca = fitPca([[0, 0], [1, 1]]);
 * const spec = supportSpreadSpec([], { pca, embeddings: [] });
 * ```
 */
export function supportSpreadSpec(
  points: readonly SpreadPoint[],
  options: { pca: Pca; embeddings: readonly SiteEmbedding[]; width?: number },
): FigureSpec {
  const width = options.width ?? 520;
  const bg = projectPca(options.pca, options.embeddings.map((e) => e.z));
  const fg = projectPca(options.pca, points.map((p) => p.z));
  const values = [
    ...options.embeddings.map((e, i) => ({
      site: e.site,
      kind: "other sites",
      label: "",
      x: bg[i][0],
      y: bg[i][1] ?? 0,
    })),
    ...points.map((p, i) => ({
      site: p.site,
      kind: p.kind === "site" ? "all windows" : p.kind === "draw" ? "random K windows" : "one year",
      label: p.label,
      x: fg[i][0],
      y: fg[i][1] ?? 0,
    })),
  ];
  const x = { field: "x", type: "quantitative", title: axisTitle(options.pca, 0) };
  const y = { field: "y", type: "quantitative", title: axisTitle(options.pca, 1) };
  const color = { field: "site", type: "nominal", title: "site", scale: { scheme: "category10" } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width,
    height: width * 0.75,
    data: { values },
    layer: [
      {
        transform: [{ filter: "datum.kind === 'other sites'" }],
        mark: { type: "point", filled: true, size: 40, color: "#cccccc" },
        encoding: { x, y, tooltip: [{ field: "site" }] },
      },
      {
        transform: [{ filter: "datum.kind !== 'other sites'" }],
        mark: { type: "point", filled: true, opacity: 0.75 },
        encoding: {
          x,
          y,
          color,
          shape: {
            field: "kind",
            type: "nominal",
            title: "z of",
            scale: {
              domain: ["random K windows", "one year", "all windows"],
              range: ["circle", "square", "cross"],
            },
          },
          size: {
            field: "kind",
            type: "nominal",
            legend: null,
            scale: {
              domain: ["random K windows", "one year", "all windows"],
              range: [12, 40, 220],
            },
          },
          tooltip: [{ field: "site" }, { field: "kind" }, { field: "label" }],
        },
      },
    ],
  } as unknown as FigureSpec;
}
