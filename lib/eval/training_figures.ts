/**
 * Figures of training (vega-lite specs with their data inline; render with `renderSvg` from
 * `./figures.ts`): the loss terms per epoch from a run's log, and the carbon-balance violation of
 * predictions per test site.
 *
 * @module
 */
import type { EpochRecord } from "../train/trainer.ts";
import { balanceViolation } from "./balance.ts";
import type { FigureSpec } from "./figures.ts";
import type { PredictionRow } from "./predictions.ts";

/** A loss term of the run log. */
export type LossTerm = "total" | "data" | "balance" | "mse";

const TERM_TITLES: Record<LossTerm, string> = {
  total: "total (data + α·balance)",
  data: "data: weighted MSE (standardized)",
  balance: "balance: mean (NEE − (RECO − GPP))² [(gC m⁻² d⁻¹)²]",
  mse: "plain MSE (standardized)",
};

/** One point of a loss curve. */
export interface LossPoint {
  run: string;
  stage: string;
  /** Epoch counted over all stages (1-based). */
  epoch: number;
  /** Epoch within its stage. */
  stageEpoch: number;
  split: "train" | "val";
  term: string;
  value: number;
}

/**
 * The loss curves of runs as rows: one per run, epoch, split (train, val) and term.
 *
 * @example
 * ```ts
 * import { lossPoints } from "./training_figures.ts";
 * const rows = lossPoints([{ label: "run", history: [] }]);
 * console.log(rows.length); // 0
 * ```
 */
export function lossPoints(
  runs: readonly { label: string; history: readonly EpochRecord[] }[],
  options: { terms?: readonly LossTerm[] } = {},
): LossPoint[] {
  const terms = options.terms ?? ["data", "balance"];
  const out: LossPoint[] = [];
  for (const run of runs) {
    run.history.forEach((r, i) => {
      for (const split of ["train", "val"] as const) {
        const values = split === "train" ? r.train : r.val;
        if (!values) continue;
        for (const term of terms) {
          out.push({
            run: run.label,
            stage: `${r.stage} (${r.model})`,
            epoch: i + 1,
            stageEpoch: r.epoch,
            split,
            term: TERM_TITLES[term],
            value: values[term],
          });
        }
      }
    });
  }
  return out;
}

/**
 * Loss terms per epoch (one panel per term, independent y scales, log scale when every value is
 * positive): colour = run, dashed = validation, point shape = stage (pretraining of the LSTM,
 * then the main model).
 *
 * @example
 * ```ts
 * import { lossCurvesSpec } from "./training_figures.ts";
 * const spec = lossCurvesSpec([{ label: "tamrl", history: [] }]);
 * ```
 */
export function lossCurvesSpec(
  runs: readonly { label: string; history: readonly EpochRecord[] }[],
  options: { terms?: readonly LossTerm[]; width?: number } = {},
): FigureSpec {
  const values = lossPoints(runs, options);
  const log = values.length > 0 && values.every((v) => v.value > 0);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    data: { values: values as unknown as Record<string, unknown>[] },
    facet: {
      column: {
        field: "term",
        type: "nominal",
        title: null,
        sort: (options.terms ?? ["data", "balance"]).map((t) => TERM_TITLES[t]),
      },
    },
    spec: {
      width: options.width ?? 300,
      height: 220,
      layer: [
        {
          mark: { type: "line" },
          encoding: {
            strokeDash: {
              field: "split",
              type: "nominal",
              title: "split",
              scale: { domain: ["train", "val"], range: [[1, 0], [5, 3]] },
              legend: { symbolType: "stroke", symbolStrokeColor: "#444444", symbolStrokeWidth: 2 },
            },
          },
        },
        {
          mark: { type: "point", filled: true, size: 40 },
          encoding: { shape: { field: "stage", type: "nominal" } },
        },
      ],
      encoding: {
        x: {
          field: "epoch",
          type: "quantitative",
          title: "epoch (all stages)",
          axis: { tickMinStep: 1 },
        },
        y: {
          field: "value",
          type: "quantitative",
          title: "loss",
          scale: log ? { type: "log" } : { zero: false },
          axis: { format: "~g" },
        },
        color: { field: "run", type: "nominal", title: "run" },
        detail: { field: "split" },
        tooltip: [
          { field: "run" },
          { field: "stage" },
          { field: "stageEpoch", title: "epoch in stage" },
          { field: "split" },
          { field: "value", format: ".4g" },
        ],
      },
    },
    resolve: { scale: { y: "independent" } },
  } as unknown as FigureSpec;
}

/** Mean daily balance violation of one model at one site. */
export interface SiteBalance {
  model: string;
  site: string;
  days: number;
  /** Mean of |NEE − (RECO − GPP)|, gC m-2 d-1. */
  mean: number;
}

/**
 * Mean daily violation |NEE − (RECO − GPP)| per model and site (gC m-2 d-1), plus the observations
 * (model "observed") on the days where all three are observed, once per site-day.
 *
 * @example
 * ```ts
 * import { siteBalance } from "./training_figures.ts";
 * console.log(siteBalance([])); // []
 * ```
 */
export function siteBalance(rows: readonly PredictionRow[]): SiteBalance[] {
  const sums = new Map<string, { model: string; site: string; days: number; sum: number }>();
  const add = (model: string, site: string, v: number) => {
    const k = `${model}\u0000${site}`;
    let g = sums.get(k);
    if (!g) sums.set(k, g = { model, site, days: 0, sum: 0 });
    g.days++;
    g.sum += v;
  };
  const seen = new Set<string>();
  for (const r of rows) {
    add(r.model, r.site, balanceViolation(r));
    const day = `${r.site}\u0000${r.date}`;
    if (!seen.has(day) && r.GPP_obs !== null && r.RECO_obs !== null && r.NEE_obs !== null) {
      seen.add(day);
      add(
        "observed",
        r.site,
        balanceViolation({ GPP: r.GPP_obs, RECO: r.RECO_obs, NEE: r.NEE_obs }),
      );
    }
  }
  return [...sums.values()]
    .map((g) => ({ model: g.model, site: g.site, days: g.days, mean: g.sum / g.days }))
    .sort((a, b) => a.site.localeCompare(b.site) || a.model.localeCompare(b.model));
}

/**
 * Bars of the mean daily balance violation |NEE − (RECO − GPP)| (gC m-2 d-1) per test site, one
 * bar per model; the observations (≈ 0, see {@link siteBalance}) only with `observed: true`.
 *
 * @example
 * ```ts
 * import { balanceViolationSpec } from "./training_figures.ts";
 * const spec = balanceViolationSpec([]);
 * ```
 */
export function balanceViolationSpec(
  rows: readonly PredictionRow[],
  options: { width?: number; observed?: boolean } = {},
): FigureSpec {
  const values = siteBalance(rows).filter((v) => options.observed || v.model !== "observed");
  const sites = [...new Set(values.map((v) => v.site))];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: options.width ?? 460,
    height: { step: 14 },
    data: { values: values as unknown as Record<string, unknown>[] },
    title: "Carbon-balance violation of daily predictions at the test sites",
    mark: { type: "bar" },
    encoding: {
      y: { field: "site", type: "nominal", sort: sites, title: "test site" },
      yOffset: { field: "model", type: "nominal" },
      x: {
        field: "mean",
        type: "quantitative",
        title: "mean |NEE − (RECO − GPP)| (gC m⁻² d⁻¹)",
      },
      color: { field: "model", type: "nominal", title: "model" },
      tooltip: [
        { field: "site" },
        { field: "model" },
        { field: "days" },
        { field: "mean", format: ".4f" },
      ],
    },
  } as unknown as FigureSpec;
}
