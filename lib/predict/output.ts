/**
 * Writing the prediction table: CSV or Parquet by the file's extension, atomically (a temp file in
 * the same folder, renamed over the target only when complete).
 *
 * @module
 */
import { dirname, extname } from "node:path";
import type pl from "polars";

/** The output formats, by extension. */
export type PredictionFormat = "csv" | "parquet";

/**
 * The format of an output path; throws for any other extension.
 *
 * @example
 * ```ts
 * import { outputFormat } from "./output.ts";
 * console.log(outputFormat("results/predict/out.parquet")); // "parquet"
 * ```
 */
export function outputFormat(path: string): PredictionFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".parquet") return "parquet";
  throw new Error(`${path}: the output must end in .csv or .parquet (got "${ext || "none"}")`);
}

/**
 * Write a table as CSV or Parquet (by extension), atomically: nothing is left at `path` unless the
 * whole table was written.
 *
 * @example
 * ```ts ignore
 * await writePredictionTable(frame, "results/predict/test_sites.parquet");
 * ```
 */
export async function writePredictionTable(frame: pl.DataFrame, path: string): Promise<void> {
  const format = outputFormat(path);
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (format === "csv") frame.writeCSV(tmp);
    else frame.writeParquet(tmp);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}
