/**
 * Carbon-balance violation of predictions: |NEE - (RECO - GPP)| per day, in gC m-2 d-1.
 *
 * A model trained with the balance term should keep it small. Clipping GPP and RECO at 0 at
 * prediction time can by itself add violation on days where a raw prediction was negative. The
 * observations are the reference: in FLUXNET2015 night-time partitioning RECO = GPP + NEE holds
 * for each half-hour, so their violation is ~0 (exactly 0 where RECO was derived).
 *
 * @module
 */
import { quantile } from "./aggregate.ts";
import type { PredictionRow } from "./predictions.ts";

/** Summary of the daily balance violation of one model (and seed). */
export interface BalanceRow {
  model: string;
  seed: number;
  /** Days scored. */
  days: number;
  mean: number;
  median: number;
  p95: number;
  max: number;
  /** Share of days with violation above `tolerance`. */
  shareAbove: number;
}

/**
 * The daily violation |NEE - (RECO - GPP)|.
 *
 * @example
 * ```ts
 * import { balanceViolation } from "./balance.ts";
 * balanceViolation({ GPP: 5, RECO: 3, NEE: -1 }); // |-1 - (3 - 5)| = 1
 * ```
 */
export function balanceViolation(fluxes: { GPP: number; RECO: number; NEE: number }): number {
  return Math.abs(fluxes.NEE - (fluxes.RECO - fluxes.GPP));
}

function summarizeViolations(
  model: string,
  seed: number,
  v: number[],
  tolerance: number,
): BalanceRow {
  const n = v.length;
  return {
    model,
    seed,
    days: n,
    mean: n ? v.reduce((a, b) => a + b, 0) / n : NaN,
    median: quantile(v, 0.5),
    p95: quantile(v, 0.95),
    max: n ? v.reduce((a, b) => Math.max(a, b), 0) : NaN,
    shareAbove: n ? v.filter((x) => x > tolerance).length / n : NaN,
  };
}

/**
 * Summarise the balance violation of each model's predictions (all predicted days), plus one row
 * for the observations (model "observed", seed -1) over the days where all three are observed,
 * taken once per site-day.
 *
 * @example
 * ```ts
 * import { balanceTable } from "./balance.ts";
 * const rows = balanceTable([], { tolerance: 0.01 });
 * ```
 */
export function balanceTable(
  rows: readonly PredictionRow[],
  options: { tolerance?: number; qcThreshold?: number } = {},
): BalanceRow[] {
  const tolerance = options.tolerance ?? 0.01;
  const qc = options.qcThreshold ?? 0;
  const groups = new Map<string, number[]>();
  const seen = new Set<string>();
  const obs: number[] = [];
  for (const r of rows) {
    if (qc > 0 && (r.NEE_QC === null || r.NEE_QC < qc)) continue;
    const k = `${r.model}\u0000${r.seed}`;
    let g = groups.get(k);
    if (!g) groups.set(k, g = []);
    g.push(balanceViolation(r));
    const day = `${r.site}\u0000${r.date}`;
    if (
      !seen.has(day) && r.GPP_obs !== null && r.RECO_obs !== null && r.NEE_obs !== null
    ) {
      seen.add(day);
      obs.push(balanceViolation({ GPP: r.GPP_obs, RECO: r.RECO_obs, NEE: r.NEE_obs }));
    }
  }
  const out: BalanceRow[] = [];
  for (const [k, v] of groups) {
    const [model, seed] = k.split("\u0000");
    out.push(summarizeViolations(model, Number(seed), v, tolerance));
  }
  out.sort((a, b) => a.model.localeCompare(b.model) || a.seed - b.seed);
  if (obs.length) out.push(summarizeViolations("observed", -1, obs, tolerance));
  return out;
}
