/**
 * Lazy batches of windows as TF.js tensors: the `BatchSource` seam of ARCHITECTURE.md.
 *
 * Only the per-site daily arrays are kept in memory (a few floats per site-day); each batch's
 * tensors are built when the generator is advanced and must be freed by the consumer with
 * {@link disposeBatch}.
 *
 * Support sets (for the task encoder): for every window, `supportK` windows of the same site drawn
 * from its support pool, carrying dynamic drivers and the static vector only - never targets.
 * Pool windows overlapping the query window are avoided; with fewer than K left, the draw repeats
 * pool windows (then overlapping ones, then the query itself as a last resort). Pools:
 * - training windows: the site's other training windows;
 * - validation windows (end of a training site's record): the site's training windows;
 * - test windows: the site's own non-overlapping windows of drivers (no target is read).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { deriveSeed, permutation, type Rng, seededRng } from "./random.ts";
import { fillTargets, type SiteSeries, type WindowRef } from "./windows.ts";

/** Mean and standard deviation of the three targets (physical = standardized * std + mean). */
export interface TargetScale {
  mean: [number, number, number];
  std: [number, number, number];
}

/** One batch of windows (ARCHITECTURE.md). */
export interface Batch {
  /** [B, T, F] standardized dynamic features. */
  xDyn: tf.Tensor3D;
  /** [B, S] standardized static descriptors (0/1 indicators unchanged). */
  xStatic: tf.Tensor2D;
  /** [B, K, T, F + S] K windows of the same site: drivers and the static vector on every step. */
  support: tf.Tensor4D;
  /** [B, T, 3] standardized targets (GPP, RECO, NEE); 0 where missing. */
  y: tf.Tensor3D;
  /** [B, T, 3] 1 where the target exists and the day is in the last `stride` days, else 0. */
  mask: tf.Tensor3D;
  /** [B, T] NEE_VUT_REF_QC of each day, 0 where missing. */
  qc: tf.Tensor2D;
  /** [B] class weight of the window's site. */
  weight: tf.Tensor1D;
  /** Site and start date (ISO yyyy-mm-dd) of each window. */
  meta: { site: string[]; start: string[] };
}

/** A lazy source of batches (ARCHITECTURE.md). */
export interface BatchSource {
  readonly windows: number;
  readonly dims: { nDyn: number; nStatic: number; window: number; supportK: number };
  readonly targetScale: TargetScale;
  batches(options: { batchSize: number; shuffle: boolean; seed: number }): Generator<Batch>;
  /**
   * Optional: every window of a site's support pool, as support tensors `[1, n, T, F + S]` of at
   * most `chunk` windows each (drivers and the static vector, as in a batch's `support`); yields
   * nothing for a site without a pool. The consumer disposes each tensor.
   */
  poolWindows?(site: string, options: { chunk: number }): Generator<tf.Tensor4D>;
}

/**
 * Dispose every tensor of a batch.
 *
 * @example
 * ```ts
 * import { disposeBatch } from "./batches.ts";
 * for (const b of source.batches({ batchSize: 64, shuffle: true, seed: 1 })) disposeBatch(b);
 * ```
 */
export function disposeBatch(batch: Batch): void {
  for (
    const t of [
      batch.xDyn,
      batch.xStatic,
      batch.support,
      batch.y,
      batch.mask,
      batch.qc,
      batch.weight,
    ]
  ) {
    if (!t.isDisposed) t.dispose();
  }
}

/** The arrays a source draws from. */
export interface SourceData {
  /** Per-site daily arrays; `dyn` and `y` already standardized. */
  series: SiteSeries[];
  /** Standardized static vector of each series. */
  statics: Float32Array[];
  /** Class weight of each series. */
  weights: ArrayLike<number>;
  /** The windows of this source. */
  windows: WindowRef[];
  /** Support pool of each series (windows whose drivers may be shown to the encoder). */
  pools: WindowRef[][];
}

/** Geometry of a source. */
export interface SourceOptions {
  window: number;
  stride: number;
  supportK: number;
  nStatic: number;
  targetScale: TargetScale;
  /** A name for error messages and reports ("train", "val", "test"). */
  role?: string;
}

/** How support sets had to be filled, counted over the windows of a source. */
export interface SupportStats {
  /** Windows whose non-overlapping pool has at least K windows. */
  full: number;
  /** Windows that had to repeat or use overlapping pool windows. */
  repeated: number;
  /** Windows whose only support is themselves (a site with one window). */
  selfOnly: number;
}

function isoDay(day: number): string {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

/** Draw `k` support windows for `query` from `pool` (see module doc). */
export function drawSupport(
  pool: readonly WindowRef[],
  query: WindowRef,
  options: { k: number; window: number; rng: Rng },
): WindowRef[] {
  const { k, window, rng } = options;
  const apart = pool.filter((w) => Math.abs(w.start - query.start) >= window);
  let source = apart;
  if (source.length === 0) source = pool.filter((w) => w.start !== query.start);
  if (source.length === 0) source = [query];
  const out: WindowRef[] = [];
  // without replacement while possible, then again from a fresh shuffle
  let order = permutation(source.length, rng);
  let j = 0;
  for (let i = 0; i < k; i++) {
    if (j === order.length) {
      order = permutation(source.length, rng);
      j = 0;
    }
    out.push(source[order[j++]]);
  }
  return out;
}

/** A {@link BatchSource} over windows of standardized site series. */
export class WindowBatchSource implements BatchSource {
  readonly windows: number;
  readonly dims: { nDyn: number; nStatic: number; window: number; supportK: number };
  readonly targetScale: TargetScale;
  readonly role: string;
  readonly #data: SourceData;
  readonly #options: SourceOptions;

  constructor(data: SourceData, options: SourceOptions) {
    const nDyn = data.series[0]?.nDyn ?? 0;
    for (const s of data.series) {
      if (s.nDyn !== nDyn) {
        throw new Error(`series ${s.site}: ${s.nDyn} features, expected ${nDyn}`);
      }
    }
    for (const [i, st] of data.statics.entries()) {
      if (st.length !== options.nStatic) {
        throw new Error(
          `series ${data.series[i]?.site}: static length ${st.length} != ${options.nStatic}`,
        );
      }
    }
    if (options.supportK < 1) throw new Error("supportK must be >= 1");
    this.#data = data;
    this.#options = options;
    this.windows = data.windows.length;
    this.role = options.role ?? "source";
    this.dims = {
      nDyn,
      nStatic: options.nStatic,
      window: options.window,
      supportK: options.supportK,
    };
    this.targetScale = options.targetScale;
  }

  /**
   * The standardized inputs of one site as this source holds them: its series, static vector
   * and support pool (undefined when the site is not in the source).
   */
  siteInputs(
    site: string,
  ): { series: SiteSeries; statics: Float32Array; pool: readonly WindowRef[] } | undefined {
    const k = this.#data.series.findIndex((s) => s.site === site);
    if (k < 0) return undefined;
    return {
      series: this.#data.series[k],
      statics: this.#data.statics[k],
      pool: this.#data.pools[k] ?? [],
    };
  }

  /**
   * Every window of `site`'s support pool, in pool order, as `[1, n, T, F + S]` tensors of at most
   * `chunk` windows (see {@link BatchSource.poolWindows}).
   */
  *poolWindows(site: string, options: { chunk: number }): Generator<tf.Tensor4D> {
    const { chunk } = options;
    if (!Number.isInteger(chunk) || chunk < 1) throw new Error("chunk must be >= 1");
    const k = this.#data.series.findIndex((s) => s.site === site);
    const pool = k < 0 ? [] : this.#data.pools[k] ?? [];
    const { window: T, nStatic: S } = this.#options;
    const FS = this.dims.nDyn + S;
    for (let i0 = 0; i0 < pool.length; i0 += chunk) {
      const part = pool.slice(i0, i0 + chunk);
      const out = new Float32Array(part.length * T * FS);
      part.forEach((w, j) => this.#fillSupport(out, j * T * FS, { series: k, start: w.start }));
      yield tf.tensor4d(out, [1, part.length, T, FS]);
    }
  }

  /** Write one support window (drivers, then the static vector, on every step) at `offset`. */
  #fillSupport(out: Float32Array, offset: number, w: WindowRef): void {
    const T = this.#options.window;
    const F = this.dims.nDyn;
    const FS = F + this.#options.nStatic;
    const s = this.#data.series[w.series];
    const st = this.#data.statics[w.series];
    // drivers and statics only: the support never reads s.y or s.qc
    for (let t = 0; t < T; t++) {
      const o = offset + t * FS;
      out.set(s.dyn.subarray((w.start + t) * F, (w.start + t + 1) * F), o);
      out.set(st, o + F);
    }
  }

  /** Site and ISO start date of every window, in source order. */
  windowList(): { site: string; start: string; series: number; row: number }[] {
    return this.#data.windows.map((w) => ({
      site: this.#data.series[w.series].site,
      start: isoDay(this.#data.series[w.series].days[w.start]),
      series: w.series,
      row: w.start,
    }));
  }

  /** Windows per site. */
  windowsPerSite(): Map<string, number> {
    const out = new Map<string, number>();
    for (const w of this.#data.windows) {
      const site = this.#data.series[w.series].site;
      out.set(site, (out.get(site) ?? 0) + 1);
    }
    return out;
  }

  /** How support sets are filled for the windows of this source. */
  supportStats(): SupportStats {
    const { window, supportK } = this.#options;
    const stats: SupportStats = { full: 0, repeated: 0, selfOnly: 0 };
    for (const q of this.#data.windows) {
      const pool = this.#data.pools[q.series] ?? [];
      const apart = pool.filter((w) => Math.abs(w.start - q.start) >= window).length;
      if (apart >= supportK) stats.full++;
      else if (pool.some((w) => w.start !== q.start)) stats.repeated++;
      else stats.selfOnly++;
    }
    return stats;
  }

  /** Lazily yield batches; the last one may be smaller. */
  *batches(options: { batchSize: number; shuffle: boolean; seed: number }): Generator<Batch> {
    const { batchSize, shuffle, seed } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error("batchSize must be >= 1");
    const n = this.#data.windows.length;
    const order = shuffle ? permutation(n, seededRng(deriveSeed(seed, "order"))) : null;
    const rng = seededRng(deriveSeed(seed, `support:${this.role}`));
    for (let b0 = 0; b0 < n; b0 += batchSize) {
      const idx: number[] = [];
      for (let i = b0; i < Math.min(n, b0 + batchSize); i++) idx.push(order ? order[i] : i);
      yield this.#build(idx, rng);
    }
  }

  #build(idx: number[], rng: Rng): Batch {
    const { window: T, stride, supportK: K, nStatic: S } = this.#options;
    const F = this.dims.nDyn;
    const B = idx.length;
    const { series, statics, weights, windows, pools } = this.#data;
    const xDyn = new Float32Array(B * T * F);
    const xStatic = new Float32Array(B * S);
    const support = new Float32Array(B * K * T * (F + S));
    const y = new Float32Array(B * T * 3);
    const mask = new Float32Array(B * T * 3);
    const qc = new Float32Array(B * T);
    const weight = new Float32Array(B);
    const site: string[] = [];
    const start: string[] = [];
    const FS = F + S;
    idx.forEach((wi, b) => {
      const w = windows[wi];
      const s = series[w.series];
      xDyn.set(s.dyn.subarray(w.start * F, (w.start + T) * F), b * T * F);
      xStatic.set(statics[w.series], b * S);
      fillTargets(s, w, { window: T, stride }, { y, mask, qc, offset3: b * T * 3, offset1: b * T });
      weight[b] = weights[w.series];
      site.push(s.site);
      start.push(isoDay(s.days[w.start]));
      const chosen = drawSupport(pools[w.series] ?? [], w, { k: K, window: T, rng });
      chosen.forEach((c, k) =>
        this.#fillSupport(support, ((b * K + k) * T) * FS, { series: w.series, start: c.start })
      );
    });
    return {
      xDyn: tf.tensor3d(xDyn, [B, T, F]),
      xStatic: tf.tensor2d(xStatic, [B, S]),
      support: tf.tensor4d(support, [B, K, T, FS]),
      y: tf.tensor3d(y, [B, T, 3]),
      mask: tf.tensor3d(mask, [B, T, 3]),
      qc: tf.tensor2d(qc, [B, T]),
      weight: tf.tensor1d(weight),
      meta: { site, start },
    };
  }
}
