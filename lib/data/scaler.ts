/**
 * Standardization (z-scores) fitted on training sites only, saved as JSON with a run and applied
 * to validation and test sites. Columns of kind `identity` (0/1 indicators) pass unchanged.
 *
 * @module
 */
import { writeJsonAtomic } from "./atomic.ts";
import pl from "polars";
import { z } from "zod";

/** One column's statistics. */
export const ScalerColumnSchema = z.object({
  name: z.string(),
  kind: z.enum(["standard", "identity"]),
  mean: z.number(),
  std: z.number().positive(),
  /** Non-null values the statistics were computed from. */
  count: z.number().int().nonnegative(),
});
/** One column's statistics. */
export type ScalerColumn = z.infer<typeof ScalerColumnSchema>;

/** A fitted scaler, as saved in `scaler.json`. */
export const ScalerSchema = z.object({
  version: z.literal(1),
  columns: z.array(ScalerColumnSchema),
  /** The sites whose rows were used (sorted). */
  fittedOn: z.array(z.string()),
  /** Rows used. */
  rows: z.number().int().nonnegative(),
});
/** A fitted scaler. */
export type Scaler = z.infer<typeof ScalerSchema>;

/** Options of {@link fitScaler}. */
export interface FitScalerOptions {
  /** Only rows of these sites are used. Required: a scaler is never fitted on all sites by default. */
  trainSites: readonly string[];
  /** Columns passed unchanged (mean 0, std 1), e.g. one-hot indicators. */
  identity?: readonly string[];
  /** The column with the site id (default "site"). */
  siteColumn?: string;
}

/** A numeric column as Float64Array with NaN for null. */
export function columnAsFloat64(frame: pl.DataFrame, name: string): Float64Array {
  if (!frame.columns.includes(name)) throw new Error(`column ${name} not in the table`);
  const s = frame.select(pl.col(name).cast(pl.Float64).fillNull(pl.lit(NaN)).alias(name))
    .getColumn(name);
  if (s.length === 0) return new Float64Array(0);
  return Float64Array.from(s.toTypedArray() as Float64Array);
}

/**
 * Mean and population standard deviation of the finite values of `values` (NaN and infinities
 * ignored; with `keep`, only the indices it accepts); mean 0 without a value, std 1 when it is 0,
 * not finite or there is no value (a constant column passes centred, never divided by 0). The
 * statistics of {@link fitScaler} and of the per-site standardization of lib/data/preprocess.ts.
 *
 * @example
 * ```ts
 * import { finiteMeanStd } from "./scaler.ts";
 * finiteMeanStd(Float64Array.from([1, NaN, 3])); // { mean: 2, std: 1, count: 2 }
 * ```
 */
export function finiteMeanStd(
  values: ArrayLike<number>,
  keep?: (index: number) => boolean,
): { mean: number; std: number; count: number } {
  const use = (i: number) => Number.isFinite(values[i]) && (!keep || keep(i));
  let n = 0, sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (use(i)) {
      n++;
      sum += values[i];
    }
  }
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < values.length; i++) if (use(i)) ss += (values[i] - mean) * (values[i] - mean);
  const std = n > 0 ? Math.sqrt(ss / n) : 0;
  return { mean, std: std > 1e-12 && Number.isFinite(std) ? std : 1, count: n };
}

/**
 * Fit mean and standard deviation (population) of `columns` on the rows of the training sites.
 * Nulls and NaN are ignored; a column with std 0 or no value gets std 1.
 *
 * @example
 * ```ts
 * import pl from "polars";
 * import { fitScaler } from "./scaler.ts";
 * const df = pl.DataFrame({ site: ["a", "a", "b"], TA_F: [1, 3, 100] });
 * const scaler = fitScaler(df, ["TA_F"], { trainSites: ["a"] }); // mean 2, std 1
 * ```
 */
export function fitScaler(
  frame: pl.DataFrame,
  columns: readonly string[],
  options: FitScalerOptions,
): Scaler {
  const siteColumn = options.siteColumn ?? "site";
  if (!frame.columns.includes(siteColumn)) throw new Error(`fitScaler: no column ${siteColumn}`);
  const train = new Set(options.trainSites);
  const rows = frame.filter(pl.col(siteColumn).isIn([...train]));
  const identity = new Set(options.identity ?? []);
  const fittedOn = (rows.getColumn(siteColumn).unique().toArray() as string[]).sort();
  const out: ScalerColumn[] = columns.map((name) => {
    const values = columnAsFloat64(rows, name);
    if (identity.has(name)) {
      return { name, kind: "identity" as const, mean: 0, std: 1, count: values.length };
    }
    return { name, kind: "standard" as const, ...finiteMeanStd(values) };
  });
  return { version: 1, columns: out, fittedOn, rows: rows.height };
}

/** The statistics of one column, or an error naming it. */
export function scalerColumn(scaler: Scaler, name: string): ScalerColumn {
  const c = scaler.columns.find((x) => x.name === name);
  if (!c) throw new Error(`scaler has no column ${name}`);
  return c;
}

/**
 * Standardize values of one column: (v - mean) / std; NaN stays NaN.
 *
 * @example
 * ```ts
 * import { standardize } from "./scaler.ts";
 * const z = standardize(scaler, "TA_F", new Float64Array([1, 2, 3]));
 * ```
 */
export function standardize(scaler: Scaler, name: string, values: ArrayLike<number>): Float64Array {
  const { mean, std } = scalerColumn(scaler, name);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] - mean) / std;
  return out;
}

/**
 * Back to physical units: z * std + mean.
 *
 * @example
 * ```ts
 * import { unstandardize } from "./scaler.ts";
 * const v = unstandardize(scaler, "GPP", new Float64Array([0, 1]));
 * ```
 */
export function unstandardize(
  scaler: Scaler,
  name: string,
  values: ArrayLike<number>,
): Float64Array {
  const { mean, std } = scalerColumn(scaler, name);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * std + mean;
  return out;
}

/**
 * Save a scaler as JSON (atomic write).
 *
 * @example
 * ```ts
 * import { saveScaler } from "./scaler.ts";
 * await saveScaler("runs/x/scaler.json", scaler);
 * ```
 */
export async function saveScaler(path: string, scaler: Scaler): Promise<void> {
  await writeJsonAtomic(path, ScalerSchema.parse(scaler));
}

/**
 * Load and validate a scaler saved by {@link saveScaler}.
 *
 * @example
 * ```ts
 * import { loadScaler } from "./scaler.ts";
 * const scaler = await loadScaler("runs/x/scaler.json");
 * ```
 */
export async function loadScaler(path: string): Promise<Scaler> {
  const parsed = ScalerSchema.safeParse(JSON.parse(await Deno.readTextFile(path)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: invalid scaler at ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
