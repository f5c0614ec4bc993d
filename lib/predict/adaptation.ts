/**
 * `adaptation.json`: what a few-shot adapted member run (lib/predict/adapt.ts, `deno task adapt`)
 * records, and how prediction applies it. One file per member folder of an adapted run (each
 * member is otherwise a normal run folder: config.json, model.json, weights, scaler, static
 * encoding, copied from its source member or, for method "film", with the fine-tuned weights).
 *
 * Methods: "z" (the member's fixed task embedding z, learned by gradient steps on the site's
 * months with the decoder frozen, replaces the encoder at every window of the site); "film" (z
 * plus the FiLM and output layers fine-tuned, in weights/best.bin); "linear" (a per-flux map
 * y' = a y + b of the ensemble mean in physical units, GPP and RECO clipped at 0 after it, the
 * ensemble sd scaled by |a|). With zero months every method is the identity: no z, no map, the
 * source weights (the predictions are the source run's, bit for bit).
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { exists, readJson, writeJson } from "../train/runs.ts";

/** The adaptation methods (see the module doc). */
export const ADAPT_METHODS = ["z", "film", "linear"] as const;
/** One adaptation method. */
export type AdaptMethod = (typeof ADAPT_METHODS)[number];

const fluxNumbers = z.object({ GPP: z.number(), RECO: z.number(), NEE: z.number() }).strict();
const fluxMetrics = z.object({
  rmse: fluxNumbers,
  bias: fluxNumbers,
  n: z.number().int().nonnegative(),
}).strict();

/** The file name of a member's adaptation record. */
export const ADAPTATION_FILE = "adaptation.json";

/** Schema of `adaptation.json` (strict: a misspelt field is an error). */
export const AdaptationSchema = z.object({
  version: z.literal(1),
  method: z.enum(ADAPT_METHODS),
  site: z.string().min(1),
  /** What was asked: `--months N` or `--until YYYY-MM`. */
  request: z.object({
    months: z.number().int().nonnegative().nullable(),
    until: z.string().regex(/^\d{4}-\d{2}$/).nullable(),
  }).strict(),
  /** The calendar months used (YYYY-MM, each with at least one QC-good flux day). */
  months: z.array(z.string().regex(/^\d{4}-\d{2}$/)),
  /** First and last day of the months used (null with zero months). */
  firstDate: z.string().nullable(),
  lastDate: z.string().nullable(),
  /** Days with NEE and NEE_QC >= qcThreshold in the months used (the days the loss sees). */
  qcGoodDays: z.number().int().nonnegative(),
  qcThreshold: z.number(),
  /** Windows of the months, of which the last `validationWindows` early-stop method "film". */
  windows: z.number().int().nonnegative(),
  validationWindows: z.number().int().nonnegative(),
  source: z.object({
    run: z.string(),
    member: z.string(),
    weights: z.string(),
    /** SHA-256 (hex) of the source member's weight file bytes. */
    weightsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  }).strict(),
  seed: z.number().int(),
  lr: z.number().nonnegative(),
  steps: z.number().int().nonnegative(),
  patience: z.number().int().nonnegative(),
  /** The step whose parameters were kept (early stopping; the last step for "z"). */
  bestStep: z.number().int().nonnegative().nullable(),
  /** Method "z" and "film": this member's fixed z (null with zero months or method "linear"). */
  z: z.array(z.number()).nullable(),
  /** Method "linear": per flux [a, b] of y' = a y + b on the ensemble mean (same in every member). */
  linear: z.object({
    GPP: z.tuple([z.number(), z.number()]),
    RECO: z.tuple([z.number(), z.number()]),
    NEE: z.tuple([z.number(), z.number()]),
  }).strict().nullable(),
  /** Metrics on the adaptation days (loss days of the windows), zero-shot and adapted. */
  metrics: z.object({ before: fluxMetrics, after: fluxMetrics }).strict().nullable(),
}).strict();
/** The contents of `adaptation.json`. */
export type Adaptation = z.output<typeof AdaptationSchema>;

/**
 * Read a member folder's `adaptation.json` (null when there is none: a plain run).
 *
 * @example
 * ```ts ignore
 * const a = await readAdaptation("runs/adapted/seed0");
 * console.log(a?.method, a?.months);
 * ```
 */
export async function readAdaptation(dir: string): Promise<Adaptation | null> {
  const path = join(dir, ADAPTATION_FILE);
  if (!await exists(path)) return null;
  const parsed = AdaptationSchema.safeParse(await readJson(path));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Write a member folder's `adaptation.json` (validated, atomic).
 *
 * @example
 * ```ts ignore
 * await writeAdaptation("runs/adapted/seed0", adaptation);
 * ```
 */
export async function writeAdaptation(dir: string, adaptation: Adaptation): Promise<void> {
  await writeJson(join(dir, ADAPTATION_FILE), AdaptationSchema.parse(adaptation));
}

/** What predict's report says about an adapted run (null for a plain run). */
export interface AdaptationSummary {
  method: AdaptMethod;
  site: string;
  months: string[];
  firstDate: string | null;
  lastDate: string | null;
  qcGoodDays: number;
}

/**
 * The ensemble-level adaptation of the members' records: null when no member is adapted; an
 * error when only some are, or when they disagree on method, site, months or linear map.
 *
 * @example
 * ```ts ignore
 * const a = ensembleAdaptation(ens.adaptations, ens.dirs);
 * ```
 */
export function ensembleAdaptation(
  records: readonly (Adaptation | null)[],
  dirs: readonly string[],
): Adaptation | null {
  const first = records[0] ?? null;
  for (const [i, r] of records.entries()) {
    if ((r === null) !== (first === null)) {
      throw new Error(
        `${dirs[i]}: ${r === null ? "no" : "an"} ${ADAPTATION_FILE}, unlike ${dirs[0]}: an ` +
          `adapted run's members are all adapted, together`,
      );
    }
    if (r === null || first === null) continue;
    const key = (a: Adaptation) =>
      JSON.stringify([a.method, a.site, a.months, a.qcThreshold, a.linear]);
    if (key(r) !== key(first)) {
      throw new Error(
        `${dirs[i]}/${ADAPTATION_FILE}: method, site, months or linear map differ from ` +
          `${dirs[0]}: the members were not adapted together`,
      );
    }
  }
  return first;
}

/**
 * The summary of an adaptation for predict's report and console.
 *
 * @example
 * ```ts ignore
 * const s = adaptationSummary(adaptation);
 * ```
 */
export function adaptationSummary(a: Adaptation): AdaptationSummary {
  return {
    method: a.method,
    site: a.site,
    months: a.months,
    firstDate: a.firstDate,
    lastDate: a.lastDate,
    qcGoodDays: a.qcGoodDays,
  };
}
