/**
 * Atomic file writes (temporary file in the same folder, then rename) and clean-up of the
 * temporary files an interrupted run leaves behind. Every writer of tamflux (cache, splits,
 * scalers, run folders, fetched data, results) goes through this module.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** Marker inside the names of temporary files written by {@linkcode writeFileAtomic}. */
export const TEMP_MARKER = ".tmp-tamflux-";

/**
 * Write bytes or text to `path` atomically: readers see either the old file or the complete new
 * one, never a partial file, even if the process is killed.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("cache/example.csv", "a,b\n1,2\n");
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = join(
    dirname(path),
    `.${basename(path)}${TEMP_MARKER}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  );
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Remove temporary files of {@linkcode writeFileAtomic} left in `dir` by a killed run.
 * Returns how many were removed.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./atomic.ts";
 * await removeStaleTemps("cache");
 * ```
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.startsWith(".") && entry.name.includes(TEMP_MARKER)) {
        await Deno.remove(join(dir, entry.name));
        removed++;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}

/**
 * The synchronous form of {@linkcode writeFileAtomic}, for code paths that cannot await (the
 * Parquet cache).
 *
 * @example
 * ```ts
 * import { writeFileAtomicSync } from "./atomic.ts";
 * writeFileAtomicSync("cache/example.json", JSON.stringify({ ok: true }));
 * ```
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const temp = join(
    dirname(path),
    `.${basename(path)}${TEMP_MARKER}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  );
  try {
    if (typeof data === "string") Deno.writeTextFileSync(temp, data);
    else Deno.writeFileSync(temp, data);
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch { /* already gone */ }
    throw error;
  }
}

/**
 * Write a value as pretty JSON (2-space indent, trailing newline), atomically.
 *
 * @example
 * ```ts
 * import { writeJsonAtomic } from "./atomic.ts";
 * await writeJsonAtomic("cache/example.json", { ok: true });
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
