/**
 * Synthetic prediction tables for the lib/eval tests (no real data, fully deterministic).
 *
 * @module
 */
import type { PredictionRow } from "../lib/eval/predictions.ts";

/** One prediction row with defaults (a perfect prediction of a balanced observation). */
export function row(overrides: Partial<PredictionRow> = {}): PredictionRow {
  return {
    model: "tamrl",
    seed: 0,
    site: "DE-Tha",
    date: "2010-06-01",
    GPP: 8,
    RECO: 5,
    NEE: -3,
    GPP_obs: 8,
    RECO_obs: 5,
    NEE_obs: -3,
    NEE_QC: 1,
    IGBP: "ENF",
    KOPPEN_MAIN: "C",
    ...overrides,
  };
}

/** ISO date `offset` days after 2009-01-01. */
export function day(offset: number): string {
  return new Date(Date.UTC(2009, 0, 1 + offset)).toISOString().slice(0, 10);
}

/** Sites of different classes used by the synthetic tables (real ids and classes of sites.csv). */
export const SITES = [
  { site: "DE-Tha", IGBP: "ENF", KOPPEN_MAIN: "D" },
  { site: "AU-Cum", IGBP: "EBF", KOPPEN_MAIN: "C" },
  { site: "AU-Ade", IGBP: "WSA", KOPPEN_MAIN: "A" },
  { site: "AR-SLu", IGBP: "MF", KOPPEN_MAIN: "B" },
];

/**
 * A predictions table: every model x site x day for `days` days from 2009-01-01, observations a
 * seasonal sine per site, predictions = observations + a model-specific error, QC alternating
 * 1.0 / 0.9 on odd days.
 */
export function syntheticTable(
  options: { models: string[]; days: number; seed?: number; noise?: Record<string, number> },
): PredictionRow[] {
  const out: PredictionRow[] = [];
  for (const m of options.models) {
    const e = options.noise?.[m] ?? 0.5;
    for (const [si, s] of SITES.entries()) {
      for (let d = 0; d < options.days; d++) {
        const season = Math.sin((2 * Math.PI * d) / 365);
        const gppObs = Math.max(0, 6 + 5 * season + si);
        const recoObs = Math.max(0, 4 + 2 * season);
        const err = e * Math.sin(d * 1.7 + si + (options.seed ?? 0));
        const gpp = Math.max(0, gppObs + err);
        const reco = Math.max(0, recoObs - err / 2);
        out.push(row({
          model: m,
          seed: options.seed ?? 0,
          ...s,
          date: day(d),
          GPP: gpp,
          RECO: reco,
          NEE: reco - gpp + err / 10,
          GPP_obs: gppObs,
          RECO_obs: recoObs,
          NEE_obs: recoObs - gppObs,
          NEE_QC: d % 2 ? 0.9 : 1,
        }));
      }
    }
  }
  return out;
}
