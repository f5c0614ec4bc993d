/**
 * Writing predict's outputs (the prediction table, CSV or Parquet by the file's extension, and the
 * report) safely:
 *
 * - atomically: a temp file `<out>.tmp-<pid>` beside the output, renamed over it only when
 *   complete ({@link writeOutputFile}); polars serializes into memory and Deno writes the bytes,
 *   so a write error is one line naming the path, never a library panic;
 * - guarded ({@link guardOutputs}), before any work: the output's folder must be writable (a probe
 *   file is created and removed), the output is locked (`<out>.lock`, a claim file of
 *   lib/data/claims.ts: a second predict to the same file is refused while the first one lives, a
 *   killed one's lock is taken over), temp files a killed run left beside the output are named
 *   and removed, and SIGINT/SIGTERM remove the temp file and the lock before the process exits.
 *
 * @module
 */
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import type pl from "polars";
import { TEMP_MARKER } from "../data/atomic.ts";
import { claimFile, type HeldClaim, readClaim } from "../data/claims.ts";

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
 * The temp file a write of `path` goes through: `<path>.tmp-<pid>`, derivable from the output so
 * that a later run to the same output finds what a killed one left.
 *
 * @example
 * ```ts
 * import { outputTempPath } from "./output.ts";
 * outputTempPath("out/predictions.csv"); // "out/predictions.csv.tmp-<this process's pid>"
 * ```
 */
export function outputTempPath(path: string, options: { pid?: number } = {}): string {
  return `${path}.tmp-${options.pid ?? Deno.pid}`;
}

/** The lock file of an output: `<path>.lock`. */
export function outputLockPath(path: string): string {
  return `${path}.lock`;
}

/** An error's first line, without Deno's trailing `: <op> '<path>'` (the caller names the path). */
function firstLine(error: unknown): string {
  const m = error instanceof Error ? error.message : String(error);
  return (m.split("\n").find((l) => l.trim() !== "") ?? m).trim().replace(/: \w+ '[^']*'$/, "");
}

/**
 * Write bytes or text to `path` atomically through {@link outputTempPath}: nothing is left at
 * `path` unless the whole file was written, and the temp file is removed on error. The error
 * names the path.
 *
 * @example
 * ```ts
 * import { writeOutputFile } from "./output.ts";
 * await writeOutputFile("results/predict/report.json", "{}\n");
 * ```
 */
export async function writeOutputFile(path: string, data: string | Uint8Array): Promise<void> {
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
  } catch (error) {
    throw new Error(`${path}: cannot create the folder ${dirname(path)} (${firstLine(error)})`);
  }
  const tmp = outputTempPath(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`${path}: cannot write the output (${firstLine(error)})`);
  }
}

/**
 * Write a table as CSV or Parquet (by extension), atomically: nothing is left at `path` unless the
 * whole table was written. polars serializes the table into memory; the bytes are written by
 * {@link writeOutputFile}, so an unwritable path is an error naming it (no polars panic).
 *
 * @example
 * ```ts ignore
 * await writePredictionTable(frame, "results/predict/test_sites.parquet");
 * ```
 */
export async function writePredictionTable(frame: pl.DataFrame, path: string): Promise<void> {
  const format = outputFormat(path);
  let bytes: Uint8Array;
  try {
    bytes = format === "csv" ? frame.writeCSV() : frame.writeParquet();
  } catch (error) {
    throw new Error(`${path}: cannot serialize the table as ${format} (${firstLine(error)})`);
  }
  await writeOutputFile(path, bytes);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The temp files beside `path` that writes of it leave when killed: `<base>.tmp-<pid>`
 * ({@link writeOutputFile}), `<base>.<hex>.tmp` (predict before the lock existed),
 * `.<base>[.lock].tmp-tamflux-*` (lib/data/atomic.ts, e.g. the lock's heartbeat) and the lock's
 * `<base>.lock.<pid>.<hex>.new`, and the writability probe `.<base>.probe-<pid>`.
 *
 * @example
 * ```ts
 * import { leftoverTemps } from "./output.ts";
 * console.log(leftoverTemps("results/predict/out.csv")); // [] when nothing was left
 * ```
 */
export function leftoverTemps(path: string): string[] {
  const dir = dirname(path);
  const b = escapeRegExp(basename(path));
  const patterns = [
    new RegExp(`^${b}\\.tmp-\\d+$`),
    new RegExp(`^${b}\\.[0-9a-f]{8}\\.tmp$`),
    new RegExp(`^\\.${b}(\\.lock)?${escapeRegExp(TEMP_MARKER)}`),
    new RegExp(`^${b}\\.lock\\.\\d+\\.[0-9a-f]{8}\\.new$`),
    new RegExp(`^\\.${b}\\.probe-\\d+$`),
  ];
  const found: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && patterns.some((p) => p.test(e.name))) found.push(join(dir, e.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort();
}

/** One output to guard: the flag that named it and its path. */
export interface GuardedOutput {
  flag: string;
  path: string;
}

/** Options of {@link guardOutputs}. */
export interface GuardOutputsOptions {
  /** Where taken-over locks and removed leftovers are said. */
  onLog?: (line: string) => void;
  /**
   * Called on SIGINT or SIGTERM after the temp files and locks were removed (e.g. to print a line
   * and exit 130/143); without it no signal listener is installed.
   */
  onSignal?: (signal: "SIGINT" | "SIGTERM", removed: string[]) => void;
}

/** Outputs held by {@link guardOutputs}. */
export interface OutputGuard {
  /** Remove the signal listeners, the locks and the folders created for outputs never written. */
  release(): Promise<void>;
}

/**
 * Before any work, for each output: create its folder (if missing) and check that it is writable
 * with a probe file, lock the output (`<path>.lock`; refused with an error naming the holder while
 * another live process holds it, taken over from a killed one), and remove the temp files a killed
 * run left beside it ({@link leftoverTemps}), naming them through `onLog`. With `onSignal`,
 * SIGINT/SIGTERM remove this process's temp files and the locks, then call it. Errors name the
 * flag and the path.
 *
 * @example
 * ```ts ignore
 * const guard = await guardOutputs([{ flag: "--out", path: "out/p.csv" }], {
 *   onLog: console.error, onSignal: (sig) => Deno.exit(sig === "SIGINT" ? 130 : 143),
 * });
 * try { await writePredictionTable(frame, "out/p.csv"); } finally { await guard.release(); }
 * ```
 */
export async function guardOutputs(
  outputs: readonly GuardedOutput[],
  options: GuardOutputsOptions = {},
): Promise<OutputGuard> {
  const created: string[] = []; // folders made here, removed again if left empty
  const held: { output: GuardedOutput; claim: HeldClaim }[] = [];
  const listeners: [Deno.Signal, () => void][] = [];
  const removeCreated = () => {
    for (const dir of [...created].reverse()) {
      try {
        Deno.removeSync(dir); // only an empty folder
      } catch { /* not empty or gone */ }
    }
  };
  const release = async () => {
    for (const [sig, f] of listeners.splice(0)) Deno.removeSignalListener(sig, f);
    for (const h of held.splice(0)) await h.claim.release();
    removeCreated();
  };
  // listening before the first lock is taken: a signal between taking it and listening would
  // kill the process with the lock left behind
  if (options.onSignal) {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const f = () => {
        const removed: string[] = [];
        for (const { output, claim } of held) {
          for (const p of [outputTempPath(output.path), claim.path]) {
            try {
              Deno.removeSync(p);
              if (p !== claim.path) removed.push(p);
            } catch { /* not there */ }
          }
          claim.stop();
        }
        removeCreated();
        options.onSignal!(sig, removed);
      };
      Deno.addSignalListener(sig, f);
      listeners.push([sig, f]);
    }
  }
  try {
    for (const output of outputs) {
      const { flag, path } = output;
      const dir = dirname(resolve(path));
      const missing: string[] = [];
      for (let d = dir; !existsSync(d); d = dirname(d)) {
        missing.unshift(d);
        if (dirname(d) === d) break;
      }
      for (const d of missing) {
        try {
          Deno.mkdirSync(d);
          created.push(d);
        } catch (error) {
          throw new Error(`${flag} ${path}: cannot create the folder ${d} (${firstLine(error)})`);
        }
      }
      const probe = join(dir, `.${basename(path)}.probe-${Deno.pid}`);
      try {
        Deno.writeFileSync(probe, new Uint8Array(), { createNew: true });
        Deno.removeSync(probe);
      } catch (error) {
        throw new Error(`${flag} ${path}: cannot write in the folder ${dir} (${firstLine(error)})`);
      }
      const lock = outputLockPath(path);
      const claim = await claimFile(lock, { name: resolve(path) });
      if (!claim) {
        const c = readClaim(lock);
        throw new Error(
          `${flag} ${path} is being written by another predict (process ${c?.pid} on ${c?.host} ` +
            `since ${c?.startedAt}; lock ${lock}): wait for it, or choose another ${flag}`,
        );
      }
      held.push({ output, claim });
      if (claim.tookOver) {
        options.onLog?.(`${lock}: took over the lock of a run that was killed (${claim.tookOver})`);
      }
      for (const f of leftoverTemps(path)) {
        await Deno.remove(f).catch(() => {});
        options.onLog?.(`removed ${f}, a partial ${flag} file left by a run that was killed`);
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { release };
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
