/**
 * Plausible ranges of the daily drivers and fluxes, one definition for the training loader
 * (lib/data/fluxnet.ts) and prediction's input reader (lib/predict/inputs.ts). A value outside its
 * range is a unit mistake (TA_F in kelvin, SW_IN_F as a daily sum, VPD_F in Pa) or a corrupt cell
 * (99999), never weather: the limits are physical bounds of daily means with a wide margin.
 *
 * Extremes of the 183 FLUXNET2015 daily files (measured for issue 21): TA_F -51.5 .. 37.8 degC,
 * SW_IN_F 0 .. 431.9 W m-2, VPD_F 0 .. 58.4 hPa, NEE -26.0 .. 23.8, GPP_NT -13.3 .. 76.3 (CA-Man),
 * GPP_DT 0 .. 30.5, RECO -8.1 .. 76.5 gC m-2 d-1; QC fractions 0 .. 1.
 *
 * @module
 */

/** A plausible range and its unit. */
export interface PlausibleRange {
  min: number;
  max: number;
  unit: string;
}

/**
 * Plausible daily values by table column (the loader's names; FLUXNET2015's `NEE_VUT_REF`,
 * `GPP_NT_VUT_REF`, `GPP_DT_VUT_REF` and `RECO_NT_VUT_REF` map to NEE, GPP, GPP_DT and RECO).
 * - TA_F: the coldest and hottest daily means on Earth are about -70 and 40 degC;
 * - SW_IN_F: the daily mean top-of-atmosphere radiation is at most about 560 W m-2; -10 allows
 *   sensor offsets at night-long days;
 * - VPD_F: the saturation vapour pressure at a 50 degC daily mean is 123 hPa; -1 allows
 *   gap-filling noise;
 * - fluxes: the largest daily NEE of crops is about -25; GPP and RECO up to 100 allow the
 *   partitioning artefacts of the record (GPP_NT 76 at CA-Man);
 * - QC columns are fractions of good half-hours;
 * - P (precipitation, mm d-1, the monthly mean of daily sums in the MetaFlux monthly files, P_F
 *   and P_ERA): non-negative; the wettest calendar month on record (Cherrapunji, July 1861, about
 *   9300 mm) is 300 mm d-1. The 183 sites' monthly files: 0 .. 25.2 mm d-1 (AU-DaS, 2008-02).
 *
 * @example
 * ```ts
 * import { PLAUSIBLE_RANGES } from "./ranges.ts";
 * console.log(PLAUSIBLE_RANGES.TA_F); // { min: -70, max: 60, unit: "degC" }
 * ```
 */
export const PLAUSIBLE_RANGES = {
  TA_F: { min: -70, max: 60, unit: "degC" },
  SW_IN_F: { min: -10, max: 600, unit: "W m-2" },
  VPD_F: { min: -1, max: 120, unit: "hPa" },
  NEE: { min: -50, max: 50, unit: "gC m-2 d-1" },
  GPP: { min: -50, max: 100, unit: "gC m-2 d-1" },
  GPP_DT: { min: -50, max: 100, unit: "gC m-2 d-1" },
  RECO: { min: -50, max: 100, unit: "gC m-2 d-1" },
  TA_F_QC: { min: 0, max: 1, unit: "(fraction)" },
  SW_IN_F_QC: { min: 0, max: 1, unit: "(fraction)" },
  VPD_F_QC: { min: 0, max: 1, unit: "(fraction)" },
  NEE_QC: { min: 0, max: 1, unit: "(fraction)" },
  P: { min: 0, max: 300, unit: "mm d-1" },
} as const satisfies Record<string, PlausibleRange>;

/** A column with a plausible range. */
export type RangedColumn = keyof typeof PLAUSIBLE_RANGES;

/**
 * The first value of `values` outside the plausible range of `column` (NaN = missing is skipped),
 * as its index and a message naming the value, the range and the unit; null when all are
 * plausible.
 *
 * @example
 * ```ts
 * import { findImplausible } from "./ranges.ts";
 * console.log(findImplausible("TA_F", new Float64Array([12, 290]))?.index); // 1
 * ```
 */
export function findImplausible(
  column: RangedColumn,
  values: ArrayLike<number>,
): { index: number; message: string } | null {
  const { min, max, unit } = PLAUSIBLE_RANGES[column];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min || v > max) {
      const hint = column === "TA_F" && v > 200 && v < 340 ? " (kelvin? expected degC)" : "";
      return {
        index: i,
        message: `implausible value ${v}: outside the plausible range [${min}, ${max}] ${unit}` +
          hint,
      };
    }
  }
  return null;
}
