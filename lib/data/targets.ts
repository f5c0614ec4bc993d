/**
 * The three target fluxes and the predicted-day row, defined once for every floor: lib/models
 * (the trees), lib/train (neural predictions), lib/eval (the predictions table, which adds the
 * model, seed and site classes) and lib/predict.
 *
 * @module
 */
import { z } from "zod";

/** Target fluxes in the order used everywhere (tensors, tables): 0 = GPP, 1 = RECO, 2 = NEE. */
export const TARGETS = ["GPP", "RECO", "NEE"] as const;
/** One target flux. */
export type Target = typeof TARGETS[number];

const num = z.number().refine(Number.isFinite, "must be a finite number");
const numOrNull = num.nullable();

/**
 * One predicted site-day in physical units (gC m-2 d-1), GPP and RECO clipped at 0 (zod schema).
 * `*_sd`: ensemble standard deviation over seeds (absent for a single model without one);
 * `*_obs`: observed, null where missing; `NEE_QC`: the day's NEE_VUT_REF_QC, null where none of
 * the three targets exists.
 *
 * @example
 * ```ts
 * import { PredictedDaySchema } from "./targets.ts";
 * PredictedDaySchema.parse({
 *   site: "DE-Tha", date: "2010-06-01", GPP: 8, RECO: 5, NEE: -3,
 *   GPP_obs: 7.5, RECO_obs: null, NEE_obs: -2.9, NEE_QC: 1,
 * });
 * ```
 */
export const PredictedDaySchema = z.object({
  site: z.string().min(1),
  /** The day, ISO yyyy-mm-dd. */
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be an ISO date yyyy-mm-dd"),
  GPP: num.refine((v) => v >= 0, "GPP must be clipped at 0"),
  RECO: num.refine((v) => v >= 0, "RECO must be clipped at 0"),
  NEE: num,
  GPP_sd: numOrNull.optional(),
  RECO_sd: numOrNull.optional(),
  NEE_sd: numOrNull.optional(),
  GPP_obs: numOrNull,
  RECO_obs: numOrNull,
  NEE_obs: numOrNull,
  NEE_QC: numOrNull,
});
/** One predicted site-day (see {@link PredictedDaySchema}). */
export type PredictedDay = z.infer<typeof PredictedDaySchema>;
