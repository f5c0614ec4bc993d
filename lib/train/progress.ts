/**
 * Progress of a training run: a one-line terminal progress bar (stage, epoch, step, loss terms,
 * ETA) with one summary line per epoch, and a live-updating HTML table for any display that can
 * replace what it showed (notebooks/nb.ts wires it to Jupyter). Both are plain
 * `onStep`/`onEpoch` callbacks for {@link trainModel}.
 *
 * @module
 */
import type { LossValues } from "./loss.ts";
import type { EpochRecord, StepInfo } from "./trainer.ts";

/** The callbacks {@link trainModel} accepts. */
export interface ProgressCallbacks {
  onStep: (info: StepInfo) => void;
  onEpoch: (record: EpochRecord) => void;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(4);
}

/** "1h02m", "3m05s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** "total 0.41 (data 0.39, balance 0.21, mse 0.40)". */
export function formatLoss(v: LossValues): string {
  return `total ${fmt(v.total)} (data ${fmt(v.data)}, balance ${fmt(v.balance)}, mse ${
    fmt(v.mse)
  })`;
}

/**
 * One line summing up a finished epoch.
 *
 * @example
 * ```ts ignore
 * console.log(formatEpoch(record));
 * // main tamrl epoch 3/20 | train total 0.41 (...) | val total 0.39 (...) * best | 12s
 * ```
 */
export function formatEpoch(r: EpochRecord): string {
  const off = [
    r.terms.balance ? "" : "balance off",
    r.terms.qc ? "" : "qc off",
    r.terms.classWeights ? "" : "class weights off",
  ].filter(Boolean);
  return [
    `${r.stage} ${r.model} epoch ${r.epoch}/${r.epochs}`,
    `lr ${r.lr.toExponential(1)}`,
    `train ${formatLoss(r.train)}`,
    r.val ? `val ${formatLoss(r.val)}` : "no val",
    (r.improved ? "* best" : `best ${r.bestEpoch}`) + (r.earlyStop ? ", early stop" : ""),
    ...(off.length ? [off.join(", ")] : []),
    formatDuration(r.seconds),
  ].join(" | ");
}

/** Seconds left in the current stage if every remaining epoch runs (an upper bound). */
export function stageEta(info: StepInfo): number {
  if (info.step === 0) return NaN;
  const perStep = info.seconds / info.step;
  const left = (info.steps - info.step) + (info.epochs - info.epoch) * info.steps;
  return left * perStep;
}

/** Options of {@link terminalProgress}. */
export interface TerminalProgressOptions {
  /** Where text goes (default: stderr). */
  write?: (text: string) => void;
  /** Redraw one line with `\r` (default: whether stderr is a terminal). */
  live?: boolean;
  /** Bar width in characters (default 24). */
  width?: number;
}

/**
 * A terminal progress bar: a live line per step (when on a terminal) and a line per epoch.
 *
 * @example
 * ```ts ignore
 * const progress = terminalProgress();
 * await trainModel(data, config, { ...options, ...progress });
 * ```
 */
export function terminalProgress(options: TerminalProgressOptions = {}): ProgressCallbacks {
  const encoder = new TextEncoder();
  const write = options.write ?? ((t: string) => Deno.stderr.writeSync(encoder.encode(t)));
  const live = options.live ?? Deno.stderr.isTerminal();
  const width = options.width ?? 24;
  let drawn = false;
  let last = 0;
  return {
    onStep(info) {
      if (!live) return;
      const now = performance.now();
      if (info.step < info.steps && now - last < 100) return;
      last = now;
      const done = Math.round((info.step / info.steps) * width);
      const bar = "#".repeat(done) + "-".repeat(width - done);
      const line = `[${info.stageIndex + 1}/${info.stages} ${info.model}] epoch ${info.epoch}/` +
        `${info.epochs} [${bar}] ${info.step}/${info.steps} loss ${fmt(info.loss.total)} ` +
        `(data ${fmt(info.loss.data)}, bal ${fmt(info.loss.balance)}) ETA <= ${
          formatDuration(stageEta(info))
        }`;
      write(`\r${line}\x1b[K`);
      drawn = true;
    },
    onEpoch(record) {
      write(`${drawn ? "\r\x1b[K" : ""}${formatEpoch(record)}\n`);
      drawn = false;
    },
  };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A display bundle: the same progress as HTML and as plain text (MIME type -> content). */
export interface ProgressBundle {
  "text/html": string;
  "text/plain": string;
}

/**
 * Shows a bundle; `update` is false for the first call and true for later calls, which should
 * replace what the first call showed (e.g. a Jupyter display with a `display_id`).
 */
export type ProgressDisplay = (
  bundle: ProgressBundle,
  options: { update: boolean },
) => void | Promise<void>;

/**
 * The HTML of a progress display: a status line and one table row per finished epoch (train and
 * validation loss terms, best-epoch mark, seconds).
 *
 * @example
 * ```ts
 * import { progressHtml } from "./progress.ts";
 * const html = progressHtml([], "starting");
 * console.log(html.includes("<table>")); // true
 * ```
 */
export function progressHtml(rows: readonly EpochRecord[], status: string): string {
  const cell = (v: number | undefined) => (v === undefined ? "" : fmt(v));
  const body = rows.map((r) =>
    `<tr><td>${r.stage}</td><td>${r.model}</td><td>${r.epoch}</td><td>${cell(r.train.total)}</td>` +
    `<td>${cell(r.train.data)}</td><td>${cell(r.train.balance)}</td><td>${
      cell(r.val?.total)
    }</td>` +
    `<td>${cell(r.val?.data)}</td><td>${cell(r.val?.balance)}</td><td>${
      r.improved ? "*" : ""
    }</td>` +
    `<td>${r.seconds.toFixed(1)}</td></tr>`
  ).join("");
  return `<div><pre>${escapeHtml(status)}</pre><table><tr><th>stage</th><th>model</th>` +
    `<th>epoch</th><th>train</th><th>data</th><th>balance</th><th>val</th><th>data</th>` +
    `<th>balance</th><th>best</th><th>s</th></tr>${body}</table></div>`;
}

/**
 * A live progress display that does not know where it is shown: it builds an HTML table (one row
 * per epoch with the train and validation loss terms) and a status line (stage, epoch, step, loss,
 * ETA), and hands them to `display`, at most every `everyMs` (default 500) during an epoch and
 * after every epoch. Notebooks pass a function that updates one Jupyter display in place
 * (`progress()` in notebooks/nb.ts); `lib/` itself never touches `Deno.jupyter`.
 *
 * @example
 * ```ts
 * import { htmlProgress } from "./progress.ts";
 * const shown: string[] = [];
 * const progress = htmlProgress((bundle) => {
 *   shown.push(bundle["text/plain"]);
 * });
 * // await trainModel(data, config, { ...options, ...progress });
 * ```
 */
export function htmlProgress(
  display: ProgressDisplay,
  options: { everyMs?: number } = {},
): ProgressCallbacks {
  const rows: EpochRecord[] = [];
  let status = "starting";
  let shown = false;
  let last = -Infinity;
  const every = options.everyMs ?? 500;
  const render = () => {
    const bundle = { "text/html": progressHtml(rows, status), "text/plain": status };
    const update = shown;
    shown = true;
    void display(bundle, { update });
  };
  return {
    onStep(info) {
      const now = performance.now();
      status =
        `[${info.stageIndex + 1}/${info.stages} ${info.model}] epoch ${info.epoch}/${info.epochs}` +
        ` step ${info.step}/${info.steps} loss ${fmt(info.loss.total)} ETA <= ${
          formatDuration(stageEta(info))
        }`;
      if (now - last >= every) {
        last = now;
        render();
      }
    },
    onEpoch(record) {
      rows.push(record);
      status = formatEpoch(record);
      render();
    },
  };
}
