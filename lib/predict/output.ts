/**
 * Writing the prediction table: CSV or Parquet by the file's extension, atomically (a temp file in
 * the same folder, renamed over the target only when complete).
 *
 * @module
 */
import { basename, dirname, extname, join, relative, resolve } from "node:path";
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

/** A path with symbolic links resolved as far as it exists (the rest appended as given). */
function realPath(path: string): string {
  const abs = resolve(path);
  try {
    return Deno.realPathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realPath(parent), basename(abs));
  }
}

function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}

/**
 * Refuse an output path that would overwrite an input, before any work: `path` must not be one of
 * `files` (e.g. the site tables), must not lie inside one of `folders` (the run folders, the daily
 * and monthly folders), and must not be an existing folder. Symbolic links are resolved. Throws
 * an error naming the flag and the input.
 *
 * @example
 * ```ts
 * import { checkOutputPath } from "./output.ts";
 * checkOutputPath("results/predict/out.csv", {
 *   flag: "--out", files: ["my_sites/sites.csv"], folders: ["my_sites/daily", "runs/quick"],
 * });
 * ```
 */
export function checkOutputPath(
  path: string,
  options: { flag: string; files: readonly string[]; folders: readonly string[] },
): void {
  const out = realPath(path);
  try {
    if (Deno.statSync(out).isDirectory) {
      throw new Error(`${options.flag} ${path} is an existing folder; give a file name`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const f of options.files) {
    if (realPath(f) === out) {
      throw new Error(`${options.flag} ${path} is an input (${f}); refusing to overwrite it`);
    }
  }
  for (const d of options.folders) {
    if (isInside(out, realPath(d))) {
      throw new Error(
        `${options.flag} ${path} lies inside the input folder ${d}; write the output elsewhere`,
      );
    }
  }
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
