/**
 * The predictions table: the one seam between training (neural models, trees) and evaluation.
 *
 * One row per model x seed x site x day. Predicted fluxes are in physical units (gC m-2 d-1) with
 * GPP and RECO clipped at 0; observed fluxes and NEE QC come from the loaded FLUXNET2015 table.
 * `seed` is the training seed; the ensemble mean over seeds has `seed = -1` and then carries the
 * ensemble standard deviation (population std over seeds, as the authors' `np.std`) in `*_sd`.
 * Units store it as Parquet (`predictions.parquet`) through nodejs-polars.
 *
 * @module
 */
import pl from "polars";
import { z } from "zod";
import { dirname } from "node:path";
import { PredictedDaySchema, type Target, TARGETS } from "../data/targets.ts";

/** Target fluxes, in the order used everywhere (lib/data/targets.ts `TARGETS`). */
export const FLUXES = TARGETS;
/** One flux name. */
export type Flux = Target;

/** The seed value of an ensemble-mean row. */
export const ENSEMBLE_SEED = -1;

/**
 * One row of the predictions table (zod schema): a predicted day (lib/data/targets.ts
 * `PredictedDaySchema`) with the model label, the seed and the site's classes.
 */
export const PredictionRowSchema = z.object({
  /** Model label: "trees", "lstm", "ctlstm", "tamlstm", "tamrl", "mlp" or an ablation "tamrl:<variant>". */
  model: z.string().min(1),
  /** Training seed (integer), or -1 for an ensemble mean over seeds. */
  seed: z.number().int().min(-1),
  ...PredictedDaySchema.shape,
  IGBP: z.string().min(1),
  KOPPEN_MAIN: z.string().min(1),
});

/** One row of the predictions table. */
export type PredictionRow = z.infer<typeof PredictionRowSchema>;

/** Column order of a stored predictions table. */
export const PREDICTION_COLUMNS = [
  "model",
  "seed",
  "site",
  "date",
  "GPP",
  "RECO",
  "NEE",
  "GPP_sd",
  "RECO_sd",
  "NEE_sd",
  "GPP_obs",
  "RECO_obs",
  "NEE_obs",
  "NEE_QC",
  "IGBP",
  "KOPPEN_MAIN",
] as const;

const STRING_COLUMNS = new Set(["model", "site", "date", "IGBP", "KOPPEN_MAIN"]);
const OPTIONAL_COLUMNS = new Set(["GPP_sd", "RECO_sd", "NEE_sd"]);

/**
 * Validate raw records as prediction rows. Throws on the first bad row, naming the source, the
 * row (0-based) and the column.
 *
 * @example
 * ```ts
 * import { parsePredictions } from "./predictions.ts";
 * const rows = parsePredictions([{
 *   model: "tamrl", seed: 0, site: "DE-Tha", date: "2010-06-01", GPP: 8, RECO: 5, NEE: -3,
 *   GPP_obs: 9, RECO_obs: 5.5, NEE_obs: -3.5, NEE_QC: 1, IGBP: "ENF", KOPPEN_MAIN: "C",
 * }], { source: "example" });
 * ```
 */
export function parsePredictions(
  records: readonly unknown[],
  options: { source: string },
): PredictionRow[] {
  const out: PredictionRow[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = PredictionRowSchema.safeParse(records[i]);
    if (!r.success) {
      const issue = r.error.issues[0];
      const column = issue.path.join(".") || "(row)";
      const value = (records[i] as Record<string, unknown> | null)?.[String(issue.path[0])];
      throw new Error(
        `tamflux predictions: ${options.source}, row ${i}, column ${column}: ${issue.message}` +
          ` (value ${JSON.stringify(value)})`,
      );
    }
    out[i] = r.data;
  }
  return out;
}

async function atomicWrite(path: string, write: (tmp: string) => void | Promise<void>) {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await write(tmp);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Write prediction rows to a Parquet file atomically (temp file, then rename).
 *
 * @example
 * ```ts
 * import { writePredictions } from "./predictions.ts";
 * await writePredictions("results/x/units/u/predictions.parquet", []);
 * ```
 */
export async function writePredictions(
  path: string,
  rows: readonly PredictionRow[],
): Promise<void> {
  const columns: Record<string, pl.Series> = {};
  for (const c of PREDICTION_COLUMNS) {
    if (STRING_COLUMNS.has(c)) {
      columns[c] = pl.Series(c, rows.map((r) => r[c] as string), pl.Utf8);
    } else if (c === "seed") {
      columns[c] = pl.Series(c, rows.map((r) => r.seed), pl.Int32);
    } else {
      columns[c] = pl.Series(c, rows.map((r) => r[c] ?? null), pl.Float64);
    }
  }
  const df = pl.DataFrame(Object.values(columns));
  await atomicWrite(path, (tmp) => {
    df.writeParquet(tmp);
  });
}

/**
 * Read and validate a Parquet predictions file written by {@link writePredictions} (or by any
 * producer with the same columns; the `*_sd` columns may be absent).
 *
 * @example
 * ```ts
 * import { readPredictions } from "./predictions.ts";
 * const rows = readPredictions("results/quick/units/tamrl-koppen-s0/predictions.parquet");
 * ```
 */
export function readPredictions(path: string): PredictionRow[] {
  const df = pl.readParquet(path);
  const names = new Set(df.columns);
  const arrays: Record<string, unknown[]> = {};
  for (const c of PREDICTION_COLUMNS) {
    if (!names.has(c)) {
      if (OPTIONAL_COLUMNS.has(c)) continue;
      throw new Error(`tamflux predictions: ${path} has no column ${c}`);
    }
    arrays[c] = df.getColumn(c).toArray() as unknown[];
  }
  const records = new Array(df.height);
  for (let i = 0; i < df.height; i++) {
    const r: Record<string, unknown> = {};
    for (const c in arrays) {
      const v = arrays[c][i];
      r[c] = typeof v === "bigint" ? Number(v) : v;
    }
    records[i] = r;
  }
  return parsePredictions(records, { source: path });
}

function key(site: string, date: string): string {
  return `${site}\u0000${date}`;
}

/**
 * Average the seeds of each model at each site-day: predicted fluxes become the ensemble mean,
 * `*_sd` the population standard deviation over seeds, `seed` becomes -1. Observations are taken
 * from the first seed; the function throws if seeds disagree on an observed value (they came from
 * different data). Site-days that not every seed of the model predicted are dropped and counted.
 *
 * @example
 * ```ts
 * import { ensemblePredictions } from "./predictions.ts";
 * const { rows, seeds, dropped } = ensemblePredictions([]);
 * ```
 */
export function ensemblePredictions(
  rows: readonly PredictionRow[],
): { rows: PredictionRow[]; seeds: Record<string, number[]>; dropped: Record<string, number> } {
  const byModel = new Map<string, PredictionRow[]>();
  for (const r of rows) {
    if (r.seed === ENSEMBLE_SEED) {
      throw new Error(`tamflux ensemble: model ${r.model} already has ensemble rows (seed -1)`);
    }
    let list = byModel.get(r.model);
    if (!list) byModel.set(r.model, list = []);
    list.push(r);
  }
  const out: PredictionRow[] = [];
  const seeds: Record<string, number[]> = {};
  const dropped: Record<string, number> = {};
  for (const [model, list] of byModel) {
    const seedSet = [...new Set(list.map((r) => r.seed))].sort((a, b) => a - b);
    seeds[model] = seedSet;
    const groups = new Map<string, PredictionRow[]>();
    for (const r of list) {
      const k = key(r.site, r.date);
      let g = groups.get(k);
      if (!g) groups.set(k, g = []);
      g.push(r);
    }
    let lost = 0;
    for (const g of groups.values()) {
      if (new Set(g.map((r) => r.seed)).size !== seedSet.length || g.length !== seedSet.length) {
        lost += g.length;
        continue;
      }
      const first = g[0];
      for (const r of g) {
        for (const c of ["GPP_obs", "RECO_obs", "NEE_obs", "NEE_QC"] as const) {
          if (r[c] !== first[c]) {
            throw new Error(
              `tamflux ensemble: model ${model}, site ${r.site}, ${r.date}: seeds ${first.seed} and ` +
                `${r.seed} disagree on ${c} (${first[c]} vs ${r[c]})`,
            );
          }
        }
      }
      const row: PredictionRow = { ...first, seed: ENSEMBLE_SEED };
      for (const f of FLUXES) {
        let s = 0;
        for (const r of g) s += r[f];
        const m = s / g.length;
        let v = 0;
        for (const r of g) v += (r[f] - m) ** 2;
        row[f] = m;
        row[`${f}_sd`] = Math.sqrt(v / g.length);
      }
      out.push(row);
    }
    dropped[model] = lost;
  }
  return { rows: out, seeds, dropped };
}

/**
 * Keep only the site-days that every model (label) in `rows` predicted, so that all models are
 * scored on exactly the same days. Returns the kept rows and, per model, how many rows were
 * dropped.
 *
 * @example
 * ```ts
 * import { alignPredictions } from "./predictions.ts";
 * const { rows, dropped } = alignPredictions([]);
 * ```
 */
export function alignPredictions(
  rows: readonly PredictionRow[],
): { rows: PredictionRow[]; dropped: Record<string, number>; siteDays: number } {
  const models = [...new Set(rows.map((r) => `${r.model}\u0000${r.seed}`))];
  const counts = new Map<string, number>();
  for (const r of rows) {
    const k = key(r.site, r.date);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  // A site-day is kept when each (model, seed) has exactly one row for it.
  const perKey = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = key(r.site, r.date);
    let s = perKey.get(k);
    if (!s) perKey.set(k, s = new Set());
    s.add(`${r.model}\u0000${r.seed}`);
  }
  const keep = new Set<string>();
  for (const [k, s] of perKey) {
    if (s.size === models.length && counts.get(k) === models.length) keep.add(k);
  }
  const out: PredictionRow[] = [];
  const dropped: Record<string, number> = {};
  for (const r of rows) {
    if (keep.has(key(r.site, r.date))) out.push(r);
    else dropped[r.model] = (dropped[r.model] ?? 0) + 1;
  }
  return { rows: out, dropped, siteDays: keep.size };
}
