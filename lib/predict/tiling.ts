/**
 * Which window predicts which day.
 *
 * A day can be predicted when it lies in a run of at least `window` consecutive calendar days
 * whose drivers are all complete. Windows are laid on training's grid: a test site's windows in
 * training (lib/data `enumerateWindows`) start at rows 0, `stride`, 2 `stride`, ... of the site's
 * record and report their last `stride` days (the loss days); those of them that lie inside a run
 * are used here too, so a day a training grid window reports gets the same value as in training's
 * test predictions (same window, same inputs). Around them, every other day of the run is covered
 * exactly once:
 * - a run that does not start on the grid gets a head window at the run's first day, which reports
 *   the days before the first grid window's loss days (the first window also reports its first
 *   `window - stride` days: they carry less context, `context` = position in the window + 1);
 * - when the run's end is not on the stride grid, one more window, ending on the run's last day,
 *   reports the days after the last grid window.
 *
 * (Before, the grid started at each run's first day, so at a site whose record starts with an
 * incomplete day, e.g. before MODIS, every window was shifted against training's and every day
 * differed from the run's own test predictions.)
 *
 * @module
 */

/** The windows of one site and, for every row, the window whose value is used. */
export interface WindowPlan {
  /** First row of each window. */
  starts: number[];
  /** Per row: index into `starts` of the window used, -1 when the day cannot be predicted. */
  window: Int32Array;
  /** Per row: days of drivers the model has seen up to and including the day (0 = none). */
  context: Int32Array;
  /** Per row: length of the run of complete consecutive days the row is in (0: incomplete). */
  runLength: Int32Array;
}

/**
 * Plan the windows of one site (see the module doc).
 *
 * @example
 * ```ts
 * import { planWindows } from "./tiling.ts";
 * const days = Int32Array.from({ length: 50 }, (_, i) => 15000 + i);
 * const plan = planWindows(days, new Uint8Array(50).fill(1), { window: 30, stride: 15 });
 * console.log(plan.starts); // [0, 15, 20]
 * ```
 */
export function planWindows(
  days: Int32Array,
  complete: Uint8Array,
  options: { window: number; stride: number },
): WindowPlan {
  const { window: T, stride } = options;
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(stride) || stride < 1 || stride > T) {
    throw new Error(`planWindows: need 1 <= stride <= window (got ${stride}, ${T})`);
  }
  const n = days.length;
  const starts: number[] = [];
  const win = new Int32Array(n).fill(-1);
  const context = new Int32Array(n);
  const runLength = new Int32Array(n);
  const assign = (w: number, from: number, to: number) => {
    for (let r = from; r < to; r++) {
      win[r] = w;
      context[r] = r - starts[w] + 1;
    }
  };
  let i = 0;
  while (i < n) {
    if (!complete[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && complete[j] && days[j] - days[j - 1] === 1) j++;
    runLength.fill(j - i, i, j);
    if (j - i >= T) {
      // the first grid start (row = 0 mod stride) at or after the run's start
      const g0 = Math.ceil(i / stride) * stride;
      let covered = i;
      if (g0 !== i) {
        // head window: its days up to the first grid window's loss days (or all T days when no
        // grid window fits in the run)
        starts.push(i);
        const until = g0 + T <= j ? g0 + T - stride : i + T;
        assign(starts.length - 1, i, until);
        covered = until;
      }
      for (let s = g0; s + T <= j; s += stride) {
        starts.push(s);
        assign(starts.length - 1, covered, s + T);
        covered = s + T;
      }
      if (covered < j) {
        starts.push(j - T);
        assign(starts.length - 1, covered, j);
      }
    }
    i = j;
  }
  return { starts, window: win, context, runLength };
}
