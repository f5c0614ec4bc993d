/**
 * What the TAM-RL task encoder learned: the task embedding z of every window and site, a PCA to
 * two dimensions, nearest-neighbour sites in z, and how much z moves when the support windows
 * change.
 *
 * The encoder averages the z of its K support windows (lib/models `encodeSupport`), so the z of
 * any set of windows is the mean of the z of its windows taken one at a time. {@link
 * windowEmbeddings} computes that per-window z once (a support set of one window: its drivers and
 * the site's static vector, never targets); every other function here averages those vectors. A
 * site's z is the mean over all its windows of a source: for training sites the training windows
 * (their support pool), for test sites every window with complete drivers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Batch, type BatchSource, disposeBatch } from "../data/batches.ts";
import { deriveSeed, permutation, seededRng } from "../data/random.ts";
import type { FluxModel } from "../models/types.ts";

/** The z of one window alone (a support set of K = 1). */
export interface WindowEmbedding {
  site: string;
  /** Window start, ISO yyyy-mm-dd. */
  start: string;
  z: number[];
}

/** The z of a site: the mean over its windows. */
export interface SiteEmbedding {
  site: string;
  /** Windows averaged. */
  windows: number;
  z: number[];
}

/**
 * The support tensor `[B, 1, T, F + S]` of each window of a batch taken alone: its dynamic drivers
 * with the static vector on every day (the layout of `Batch.support`).
 *
 * @example
 * ```ts ignore
 * const support = selfSupport(batch); // then model.embed!(support)
 * ```
 */
export function selfSupport(batch: Pick<Batch, "xDyn" | "xStatic">): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, t] = batch.xDyn.shape;
    const statics = tf.tile(tf.expandDims(batch.xStatic, 1), [1, t, 1]);
    const window = tf.concat([batch.xDyn, statics], 2);
    return tf.reshape(window, [
      b,
      1,
      t,
      batch.xDyn.shape[2] + batch.xStatic.shape[1],
    ]) as tf.Tensor4D;
  });
}

/**
 * The z of every window of a source, each window encoded alone (in source order).
 *
 * @example
 * ```ts ignore
 * const rows = windowEmbeddings(model, dataset.test);
 * console.log(rows[0].site, rows[0].start, rows[0].z.length);
 * ```
 */
export function windowEmbeddings(
  model: FluxModel,
  source: BatchSource,
  options: { batchSize?: number } = {},
): WindowEmbedding[] {
  const embed = model.embed?.bind(model);
  if (!embed) {
    throw new Error(`windowEmbeddings: model "${model.name}" has no task encoder (embed)`);
  }
  const out: WindowEmbedding[] = [];
  const batchSize = options.batchSize ?? 256;
  for (const batch of source.batches({ batchSize, shuffle: false, seed: 0 })) {
    try {
      const z = tf.tidy(() => embed(selfSupport(batch)));
      const values = z.arraySync();
      z.dispose();
      values.forEach((row, i) => {
        out.push({ site: batch.meta.site[i], start: batch.meta.start[i], z: row });
      });
    } finally {
      disposeBatch(batch);
    }
  }
  return out;
}

function meanOf(rows: readonly ArrayLike<number>[]): number[] {
  const d = rows[0]?.length ?? 0;
  const out = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) out[j] += r[j];
  return out.map((v) => v / Math.max(1, rows.length));
}

/** Euclidean distance. */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`distance: lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return Math.sqrt(s);
}

/**
 * Each site's z: the mean of the z of its windows (sites in first-seen order).
 *
 * @example
 * ```ts
 * import { siteEmbeddings } from "./embedding.ts";
 * const sites = siteEmbeddings([
 *   { site: "A", start: "2010-01-01", z: [0, 2] },
 *   { site: "A", start: "2010-01-16", z: [2, 0] },
 * ]);
 * console.log(sites[0].z); // [1, 1]
 * ```
 */
export function siteEmbeddings(windows: readonly WindowEmbedding[]): SiteEmbedding[] {
  const bySite = new Map<string, number[][]>();
  for (const w of windows) {
    let list = bySite.get(w.site);
    if (!list) bySite.set(w.site, list = []);
    list.push(w.z);
  }
  return [...bySite].map(([site, rows]) => ({ site, windows: rows.length, z: meanOf(rows) }));
}

/** A fitted principal component analysis. */
export interface Pca {
  /** Column means of the fitted rows. */
  mean: number[];
  /** Principal axes (unit vectors), largest variance first; the largest |entry| is positive. */
  components: number[][];
  /** Variance along each axis (sample variance, n - 1). */
  variance: number[];
  /** Share of the total variance along each axis. */
  explained: number[];
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi): values and column eigenvectors. */
function symmetricEigen(a: number[][]): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((row) => row.slice());
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => +(i === j)));
  const scale = Math.max(1e-300, ...m.map((row) => Math.max(...row.map(Math.abs))));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] ** 2;
    if (Math.sqrt(off) <= 1e-14 * scale) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) <= 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p], mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k], mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((row, i) => row[i]), vectors: v };
}

/**
 * Fit a PCA (eigenvectors of the sample covariance) with `components` axes (default 2).
 *
 * @example
 * ```ts
 * import { fitPca } from "./embedding.ts";
 * const pca = fitPca([[2, 0], [-2, 0], [0, 1], [0, -1]]);
 * console.log(pca.components[0], pca.explained); // [1, 0] [0.8, 0.2]
 * ```
 */
export function fitPca(
  rows: readonly ArrayLike<number>[],
  options: { components?: number } = {},
): Pca {
  const n = rows.length;
  if (n < 2) throw new Error(`fitPca: needs at least 2 rows, got ${n}`);
  const d = rows[0].length;
  for (const [i, r] of rows.entries()) {
    if (r.length !== d) throw new Error(`fitPca: row ${i} has ${r.length} values, row 0 has ${d}`);
  }
  const k = Math.min(options.components ?? 2, d);
  const mean = meanOf(rows);
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (const r of rows) {
    for (let i = 0; i < d; i++) {
      const di = r[i] - mean[i];
      for (let j = i; j < d; j++) cov[i][j] += di * (r[j] - mean[j]);
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) cov[j][i] = cov[i][j] = cov[i][j] / (n - 1);
  }
  const { values, vectors } = symmetricEigen(cov);
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const total = values.reduce((a, b) => a + Math.max(0, b), 0);
  const components = order.slice(0, k).map((c) => {
    const axis = vectors.map((row) => row[c]);
    const big = axis.reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0);
    return big < 0 ? axis.map((x) => -x) : axis;
  });
  const variance = order.slice(0, k).map((c) => Math.max(0, values[c]));
  return {
    mean,
    components,
    variance,
    explained: variance.map((v) => (total > 0 ? v / total : 0)),
  };
}

/**
 * Coordinates of rows on the axes of a fitted PCA.
 *
 * @example
 * ```ts
 * import { fitPca, projectPca } from "./embedding.ts";
 * const pca = fitPca([[2, 0], [-2, 0], [0, 1], [0, -1]]);
 * console.log(projectPca(pca, [[3, 1]])); // [[3, 1]]
 * ```
 */
export function projectPca(pca: Pca, rows: readonly ArrayLike<number>[]): number[][] {
  return rows.map((r) => {
    if (r.length !== pca.mean.length) {
      throw new Error(`projectPca: a row has ${r.length} values, the PCA ${pca.mean.length}`);
    }
    return pca.components.map((axis) => {
      let s = 0;
      for (let j = 0; j < axis.length; j++) s += (r[j] - pca.mean[j]) * axis[j];
      return s;
    });
  });
}

/** One neighbour of a query. */
export interface NeighbourRow {
  query: string;
  /** 1 = nearest. */
  rank: number;
  neighbour: string;
  distance: number;
}

/**
 * The `k` nearest items (Euclidean distance in z) of each query, the query itself excluded.
 *
 * @example
 * ```ts
 * import { nearestNeighbours } from "./embedding.ts";
 * const rows = nearestNeighbours(
 *   [{ site: "A", z: [0, 0] }, { site: "B", z: [1, 0] }, { site: "C", z: [5, 0] }],
 *   { k: 1, queries: ["C"] },
 * );
 * console.log(rows); // [{ query: "C", rank: 1, neighbour: "B", distance: 4 }]
 * ```
 */
export function nearestNeighbours(
  items: readonly { site: string; z: ArrayLike<number> }[],
  options: { k?: number; queries?: readonly string[]; among?: readonly string[] } = {},
): NeighbourRow[] {
  const k = options.k ?? 5;
  const bySite = new Map(items.map((it) => [it.site, it]));
  const queries = options.queries ?? items.map((it) => it.site);
  const among = options.among ? new Set(options.among) : null;
  const out: NeighbourRow[] = [];
  for (const q of queries) {
    const item = bySite.get(q);
    if (!item) throw new Error(`nearestNeighbours: no embedding for site ${q}`);
    const ranked = items
      .filter((it) => it.site !== q && (!among || among.has(it.site)))
      .map((it) => ({ neighbour: it.site, distance: distance(item.z, it.z) }))
      .sort((a, b) => a.distance - b.distance || a.neighbour.localeCompare(b.neighbour))
      .slice(0, k);
    ranked.forEach((r, i) => out.push({ query: q, rank: i + 1, ...r }));
  }
  return out;
}

/** How much one site's z moves with its support windows. */
export interface SiteSpread {
  site: string;
  /** Windows of the site. */
  windows: number;
  /** RMS distance from the site's z of the z of `draws` random support sets of K windows. */
  drawSpread: number;
  /** Calendar years with at least `minYearWindows` windows. */
  years: number;
  /** RMS distance from the site's z of the z of each such year's windows (null: < 2 years). */
  yearSpread: number | null;
  /** The other site whose z is nearest, and its distance. */
  nearestSite: string;
  nearestDistance: number;
  /** drawSpread / nearestDistance: below 1, K random windows stay nearer the site than its neighbour. */
  ratio: number;
}

/** A point of {@link supportSpread}: a site's z, one random draw, or one year. */
export interface SpreadPoint {
  site: string;
  kind: "site" | "draw" | "year";
  /** "all", "draw 3", or the year. */
  label: string;
  z: number[];
}

/** Options of {@link supportSpread}. */
export interface SpreadOptions {
  /** Support windows per draw (the config's supportK). */
  k: number;
  /** Random support sets per site (default 20). */
  draws?: number;
  /** Seed of the draws (default 0). */
  seed?: number;
  /** Sites to examine (default: all); the nearest site is sought among all sites. */
  sites?: readonly string[];
  /** Windows a year needs to count (default `k`). */
  minYearWindows?: number;
}

/**
 * How z moves when the support windows change: for each site, the z of random support sets of K
 * of its windows and the z of each calendar year's windows, against the distance to the nearest
 * other site. Also the median distance between the z of two sites, for scale.
 *
 * @example
 * ```ts
 * import { supportSpread } from "./embedding.ts";
 * const w = (site: string, start: string, z: number[]) => ({ site, start, z });
 * const { sites } = supportSpread([
 *   w("A", "2010-01-01", [0, 0]), w("A", "2011-01-01", [0, 2]),
 *   w("B", "2010-01-01", [10, 0]), w("B", "2011-01-01", [10, 2]),
 * ], { k: 1, draws: 4 });
 * console.log(sites[0].nearestSite, sites[0].nearestDistance); // B 10
 * ```
 */
export function supportSpread(
  windows: readonly WindowEmbedding[],
  options: SpreadOptions,
): { sites: SiteSpread[]; points: SpreadPoint[]; medianSiteDistance: number } {
  const k = options.k;
  if (!Number.isInteger(k) || k < 1) throw new Error(`supportSpread: k must be >= 1, got ${k}`);
  const draws = options.draws ?? 20;
  const seed = options.seed ?? 0;
  const minYear = options.minYearWindows ?? k;
  const bySite = new Map<string, WindowEmbedding[]>();
  for (const w of windows) {
    let list = bySite.get(w.site);
    if (!list) bySite.set(w.site, list = []);
    list.push(w);
  }
  const means = siteEmbeddings(windows);
  const meanOfSite = new Map(means.map((m) => [m.site, m.z]));
  const pairwise: number[] = [];
  for (let i = 0; i < means.length; i++) {
    for (let j = i + 1; j < means.length; j++) pairwise.push(distance(means[i].z, means[j].z));
  }
  pairwise.sort((a, b) => a - b);
  const medianSiteDistance = pairwise.length
    ? (pairwise[(pairwise.length - 1) >> 1] + pairwise[pairwise.length >> 1]) / 2
    : NaN;
  const rms = (zs: number[][], centre: number[]) =>
    Math.sqrt(zs.reduce((s, z) => s + distance(z, centre) ** 2, 0) / zs.length);

  const sites: SiteSpread[] = [];
  const points: SpreadPoint[] = [];
  for (const site of options.sites ?? means.map((m) => m.site)) {
    const list = bySite.get(site);
    if (!list) throw new Error(`supportSpread: no windows for site ${site}`);
    const centre = meanOfSite.get(site)!;
    points.push({ site, kind: "site", label: "all", z: centre });
    const rng = seededRng(deriveSeed(seed, `spread:${site}`));
    const drawn: number[][] = [];
    for (let d = 0; d < draws; d++) {
      const order = permutation(list.length, rng);
      const pick = Array.from({ length: k }, (_, i) => list[order[i % list.length]].z);
      const z = meanOf(pick);
      drawn.push(z);
      points.push({ site, kind: "draw", label: `draw ${d + 1}`, z });
    }
    const byYear = new Map<string, number[][]>();
    for (const w of list) {
      const y = w.start.slice(0, 4);
      let g = byYear.get(y);
      if (!g) byYear.set(y, g = []);
      g.push(w.z);
    }
    const yearly: number[][] = [];
    for (const [year, zs] of [...byYear].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (zs.length < minYear) continue;
      const z = meanOf(zs);
      yearly.push(z);
      points.push({ site, kind: "year", label: year, z });
    }
    let nearestSite = "", nearestDistance = Infinity;
    for (const m of means) {
      if (m.site === site) continue;
      const dist = distance(centre, m.z);
      if (dist < nearestDistance) [nearestSite, nearestDistance] = [m.site, dist];
    }
    const drawSpread = draws > 0 ? rms(drawn, centre) : NaN;
    sites.push({
      site,
      windows: list.length,
      drawSpread,
      years: yearly.length,
      yearSpread: yearly.length >= 2 ? rms(yearly, centre) : null,
      nearestSite,
      nearestDistance,
      ratio: drawSpread / nearestDistance,
    });
  }
  return { sites, points, medianSiteDistance };
}

/** The classes of a site, as the site table has them. */
export interface SiteClasses {
  SITE_ID: string;
  IGBP: string;
  KOPPEN_MAIN: string;
}

/**
 * Neighbour rows with the classes of both sites, ready for a table.
 *
 * @example
 * ```ts
 * import { neighbourTable } from "./embedding.ts";
 * const rows = neighbourTable(
 *   [{ query: "A", rank: 1, neighbour: "B", distance: 0.5 }],
 *   [{ SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "D" }, { SITE_ID: "B", IGBP: "ENF", KOPPEN_MAIN: "C" }],
 * );
 * console.log(rows[0]["same IGBP"]); // "yes"
 * ```
 */
export function neighbourTable(
  rows: readonly NeighbourRow[],
  sites: readonly SiteClasses[],
): Record<string, string | number>[] {
  const bySite = new Map(sites.map((s) => [s.SITE_ID, s]));
  const get = (id: string) => {
    const s = bySite.get(id);
    if (!s) throw new Error(`neighbourTable: site ${id} is not in the site table`);
    return s;
  };
  return rows.map((r) => {
    const q = get(r.query), n = get(r.neighbour);
    return {
      site: r.query,
      "site IGBP / Köppen": `${q.IGBP} / ${q.KOPPEN_MAIN}`,
      rank: r.rank,
      neighbour: r.neighbour,
      "neighbour IGBP / Köppen": `${n.IGBP} / ${n.KOPPEN_MAIN}`,
      "distance in z": r.distance,
      "same IGBP": q.IGBP === n.IGBP ? "yes" : "no",
      "same Köppen": q.KOPPEN_MAIN === n.KOPPEN_MAIN ? "yes" : "no",
    };
  });
}

/**
 * Share of queries whose nearest neighbour (rank 1) has the same IGBP class / Köppen group, and
 * the share expected if neighbours were drawn at random from the candidates (`among`, default:
 * every site in `sites` but the query).
 *
 * @example
 * ```ts
 * import { classAgreement } from "./embedding.ts";
 * const a = classAgreement(
 *   [{ query: "A", rank: 1, neighbour: "B", distance: 1 }],
 *   [
 *     { SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "D" },
 *     { SITE_ID: "B", IGBP: "ENF", KOPPEN_MAIN: "C" },
 *     { SITE_ID: "C", IGBP: "GRA", KOPPEN_MAIN: "D" },
 *   ],
 * );
 * console.log(a.igbp, a.igbpChance); // 1 0.5
 * ```
 */
export function classAgreement(
  rows: readonly NeighbourRow[],
  sites: readonly SiteClasses[],
  options: { among?: readonly string[] } = {},
): { queries: number; igbp: number; koppen: number; igbpChance: number; koppenChance: number } {
  const bySite = new Map(sites.map((s) => [s.SITE_ID, s]));
  const firsts = rows.filter((r) => r.rank === 1);
  let igbp = 0, koppen = 0, igbpChance = 0, koppenChance = 0;
  for (const r of firsts) {
    const q = bySite.get(r.query), n = bySite.get(r.neighbour);
    if (!q || !n) throw new Error(`classAgreement: ${r.query} or ${r.neighbour} has no classes`);
    igbp += +(q.IGBP === n.IGBP);
    koppen += +(q.KOPPEN_MAIN === n.KOPPEN_MAIN);
    const pool = (options.among ?? sites.map((s) => s.SITE_ID))
      .filter((id) => id !== r.query)
      .map((id) => bySite.get(id)!)
      .filter(Boolean);
    igbpChance += pool.filter((s) => s.IGBP === q.IGBP).length / Math.max(1, pool.length);
    koppenChance += pool.filter((s) => s.KOPPEN_MAIN === q.KOPPEN_MAIN).length /
      Math.max(1, pool.length);
  }
  const n = Math.max(1, firsts.length);
  return {
    queries: firsts.length,
    igbp: igbp / n,
    koppen: koppen / n,
    igbpChance: igbpChance / n,
    koppenChance: koppenChance / n,
  };
}

/**
 * One site per class (Köppen group by default): among `among` (default: every embedded site), the
 * site with the most windows in each class, classes in alphabetical order, at most `max`.
 *
 * @example
 * ```ts
 * import { onePerClass } from "./embedding.ts";
 * const picked = onePerClass(
 *   [{ site: "A", windows: 5, z: [0] }, { site: "B", windows: 9, z: [1] }, { site: "C", windows: 2, z: [2] }],
 *   [
 *     { SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "D" },
 *     { SITE_ID: "B", IGBP: "GRA", KOPPEN_MAIN: "D" },
 *     { SITE_ID: "C", IGBP: "EBF", KOPPEN_MAIN: "A" },
 *   ],
 * );
 * console.log(picked); // ["C", "B"]
 * ```
 */
export function onePerClass(
  embeddings: readonly SiteEmbedding[],
  sites: readonly SiteClasses[],
  options: { among?: readonly string[]; by?: "KOPPEN_MAIN" | "IGBP"; max?: number } = {},
): string[] {
  const by = options.by ?? "KOPPEN_MAIN";
  const among = options.among ? new Set(options.among) : null;
  const classOf = new Map(sites.map((s) => [s.SITE_ID, s[by]]));
  const best = new Map<string, SiteEmbedding>();
  for (const e of embeddings) {
    if (among && !among.has(e.site)) continue;
    const c = classOf.get(e.site);
    if (c === undefined) throw new Error(`onePerClass: site ${e.site} is not in the site table`);
    const cur = best.get(c);
    if (!cur || e.windows > cur.windows) best.set(c, e);
  }
  return [...best].sort((a, b) => a[0].localeCompare(b[0])).map(([, e]) => e.site)
    .slice(0, options.max ?? Infinity);
}
