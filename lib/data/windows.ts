/**
 * Training windows over a site's daily series.
 *
 * A window is `window` consecutive days starting every `stride` days from the start of a
 * segment; the loss is taken on its last `stride` days (so with stride < window the first
 * `window - stride` days only warm the model up, and every day of a segment past the first warm-up
 * is a loss day of exactly one window). A window is dropped, and counted under the first rule that
 * applies, when:
 * 1. `gap`: its days are not consecutive calendar days;
 * 2. `nullDriver`: one of its dynamic drivers is null on any day (counted per the first such
 *    driver in feature order);
 * 3. `noTarget` (only with `requireTarget`): none of GPP, RECO, NEE exists on its loss days.
 * Missing targets inside a kept window are not dropped: they are masked in the loss.
 *
 * @module
 */

/** One site's daily arrays (row i = day `days[i]`). NaN = null. */
export interface SiteSeries {
  site: string;
  /** Days since 1970-01-01, ascending. */
  days: Int32Array;
  /** Dynamic features, row-major [n, nDyn]. */
  dyn: Float32Array;
  nDyn: number;
  /** Targets, row-major [n, 3] (GPP, RECO, NEE). */
  y: Float32Array;
  /** NEE_VUT_REF_QC per day. */
  qc: Float32Array;
}

/** A window: the series it belongs to and its first row. */
export interface WindowRef {
  series: number;
  start: number;
}

/** Window geometry. */
export interface WindowOptions {
  window: number;
  stride: number;
  /** Drop windows without any target on their loss days (default true). */
  requireTarget?: boolean;
  /** Names of the dynamic features, for the drop report. */
  dynNames?: readonly string[];
}

/** Why windows were dropped. */
export interface WindowDrops {
  gap: number;
  nullDriver: Record<string, number>;
  noTarget: number;
}

/** An empty drop report. */
export function emptyDrops(): WindowDrops {
  return { gap: 0, nullDriver: {}, noTarget: 0 };
}

/** Add `b` into `a`. */
export function addDrops(a: WindowDrops, b: WindowDrops): WindowDrops {
  a.gap += b.gap;
  a.noTarget += b.noTarget;
  for (const [k, v] of Object.entries(b.nullDriver)) a.nullDriver[k] = (a.nullDriver[k] ?? 0) + v;
  return a;
}

/** Total windows dropped. */
export function totalDrops(d: WindowDrops): number {
  return d.gap + d.noTarget + Object.values(d.nullDriver).reduce((s, v) => s + v, 0);
}

/** How many window starts a segment of `length` rows has (before any drop). */
export function windowCount(length: number, window: number, stride: number): number {
  return length < window ? 0 : Math.floor((length - window) / stride) + 1;
}

function validate(options: WindowOptions): void {
  const { window, stride } = options;
  if (!Number.isInteger(window) || window < 1) throw new Error(`window must be a positive integer`);
  if (!Number.isInteger(stride) || stride < 1 || stride > window) {
    throw new Error(`stride must be an integer in 1..window (got ${stride}, window ${window})`);
  }
}

/**
 * The windows of rows [from, to) of one series, and the windows dropped by each rule.
 *
 * @example
 * ```ts
 * import { enumerateWindows } from "./windows.ts";
 * const { windows, dropped } = enumerateWindows(series, 0, { window: 30, stride: 15 });
 * ```
 */
export function enumerateWindows(
  series: SiteSeries,
  index: number,
  options: WindowOptions & { from?: number; to?: number },
): { windows: WindowRef[]; dropped: WindowDrops; candidates: number } {
  validate(options);
  const { window, stride, nDyn } = { ...options, nDyn: series.nDyn };
  const requireTarget = options.requireTarget ?? true;
  const n = series.days.length;
  const from = Math.max(0, options.from ?? 0);
  const to = Math.min(n, options.to ?? n);
  const dropped = emptyDrops();
  const windows: WindowRef[] = [];
  if (to - from < window) return { windows, dropped, candidates: 0 };
  // prefix counts over rows: rows with a null driver, day breaks, rows with a target
  const bad = new Int32Array(n + 1);
  const brk = new Int32Array(n + 1);
  const tgt = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    let isBad = 0;
    for (let f = 0; f < nDyn; f++) if (Number.isNaN(series.dyn[i * nDyn + f])) isBad = 1;
    bad[i + 1] = bad[i] + isBad;
    brk[i + 1] = brk[i] + (i > 0 && series.days[i] - series.days[i - 1] !== 1 ? 1 : 0);
    const y = series.y;
    const has = Number.isNaN(y[3 * i]) && Number.isNaN(y[3 * i + 1]) && Number.isNaN(y[3 * i + 2])
      ? 0
      : 1;
    tgt[i + 1] = tgt[i] + has;
  }
  let candidates = 0;
  for (let s = from; s + window <= to; s += stride) {
    candidates++;
    const e = s + window;
    if (brk[e] - brk[s + 1] > 0) {
      dropped.gap++;
      continue;
    }
    if (bad[e] - bad[s] > 0) {
      let name = "?";
      outer: for (let f = 0; f < nDyn; f++) {
        for (let i = s; i < e; i++) {
          if (Number.isNaN(series.dyn[i * nDyn + f])) {
            name = options.dynNames?.[f] ?? `dyn${f}`;
            break outer;
          }
        }
      }
      dropped.nullDriver[name] = (dropped.nullDriver[name] ?? 0) + 1;
      continue;
    }
    if (requireTarget && tgt[e] - tgt[e - stride] === 0) {
      dropped.noTarget++;
      continue;
    }
    windows.push({ series: index, start: s });
  }
  return { windows, dropped, candidates };
}

/**
 * Fill the target, mask and QC arrays of one window: y is 0 where missing, mask is 1 where the
 * target exists and the day is one of the last `stride` days, qc is 0 where missing.
 * `yOut`/`maskOut` are [window, 3] at `offset3`, `qcOut` is [window] at `offset1`.
 *
 * @example
 * ```ts
 * import { fillTargets } from "./windows.ts";
 * const y = new Float32Array(90), mask = new Float32Array(90), qc = new Float32Array(30);
 * fillTargets(series, { series: 0, start: 0 }, { window: 30, stride: 15 }, { y, mask, qc });
 * ```
 */
export function fillTargets(
  series: SiteSeries,
  ref: WindowRef,
  options: { window: number; stride: number },
  out: {
    y: Float32Array;
    mask: Float32Array;
    qc: Float32Array;
    offset3?: number;
    offset1?: number;
  },
): void {
  const { window, stride } = options;
  const o3 = out.offset3 ?? 0;
  const o1 = out.offset1 ?? 0;
  const lossFrom = window - stride;
  for (let t = 0; t < window; t++) {
    const row = ref.start + t;
    for (let j = 0; j < 3; j++) {
      const v = series.y[3 * row + j];
      const ok = !Number.isNaN(v);
      out.y[o3 + 3 * t + j] = ok ? v : 0;
      out.mask[o3 + 3 * t + j] = ok && t >= lossFrom ? 1 : 0;
    }
    const q = series.qc[row];
    out.qc[o1 + t] = Number.isNaN(q) ? 0 : q;
  }
}
