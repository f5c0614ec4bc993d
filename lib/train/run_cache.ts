/**
 * Train a run once, load it afterwards: what notebooks need so that re-running a cell (or the
 * next notebook with the same config) does not train again.
 *
 * A run trained here lives in `<runsDir>/<config name>/<model>/<key>/seed<N>/`, where `<key>` is
 * the first 12 hex digits of the hash of the run's config (as `runConfigHash`) and the window cap,
 * and has the files of `tasks/train.ts` runs (config.json, split.json, scaler.json, model.json,
 * weights/, checkpoint.tfw, log.jsonl, provenance.json), so `loadRunModel` and `openRun` read both.
 * A run is finished when model.json and weights/best.bin exist and the last line of log.jsonl
 * ends the last stage.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { Scaler } from "../data/scaler.ts";
import { loadScaler } from "../data/scaler.ts";
import { loadSplit, type Split } from "../data/splits.ts";
import { buildModel, transferPretrained } from "../models/build.ts";
import { type ExperimentConfig, parseExperimentConfig, withOverrides } from "./config.ts";
import type { BatchSource, FluxModel } from "./contracts.ts";
import type { ProgressCallbacks } from "./progress.ts";
import {
  configHash,
  exists,
  loadRunModel,
  readJson,
  readJsonl,
  runConfigHash,
  type RunModelInfo,
  runPaths,
  writeJson,
  writeRunFolder,
} from "./runs.ts";
import { mergePatch } from "./merge_patch.ts";
import { type ReferenceData, writeReferenceSites } from "./reference.ts";
import { capWindows } from "./subsample.ts";
import { type EpochRecord, planStages, trainModel } from "./trainer.ts";

/** What a run needs from the dataset (lib/data `Dataset` has all of it). */
export interface RunData {
  train: BatchSource;
  val: BatchSource;
  split: Split;
  scaler: Scaler;
  featureNames: { dyn: string[]; static: string[] };
  /** The static encoding (saved with the run for `deno task predict`; absent in older callers). */
  staticEncoding?: unknown;
  /** The dataset config; `stride` = the predicted days at the end of each window. */
  config: { stride: number };
}

/**
 * The data as {@link ReferenceData} when it has what reference_sites.json needs (a lib/data
 * `Dataset` has: a training source with `siteInputs` and a config with `window`), else null.
 */
function referenceDataOf(data: RunData): ReferenceData | null {
  const train = data.train as Partial<ReferenceData["train"]>;
  const config = data.config as Partial<ReferenceData["config"]>;
  return typeof train.siteInputs === "function" && typeof config.window === "number"
    ? data as unknown as ReferenceData
    : null;
}

/** A finished run, trained or loaded. */
export interface CachedRun {
  /** The run folder. */
  dir: string;
  /** The run's config (one seed). */
  config: ExperimentConfig;
  /** The final stage's model with its best weights (the caller disposes it). */
  model: FluxModel;
  info: RunModelInfo;
  /** Every epoch of every stage (log.jsonl). */
  history: EpochRecord[];
  /** True when loaded from disk, false when trained by this call. */
  loaded: boolean;
  /** False when training was stopped before the end (then nothing is cached as finished). */
  completed: boolean;
  /** Wall time of this call. */
  seconds: number;
}

/** Options of {@link trainOrLoad}. */
export interface TrainOrLoadOptions {
  /** Folder of the runs trained here. */
  runsDir: string;
  /** The seed (default: the config's first). */
  seed?: number;
  /** Train and validate on at most this many random windows per epoch (null: all). */
  maxWindows?: number | null;
  /** Also reuse a finished run with the same config found under these folders (uncapped only). */
  search?: string[];
  /** Train even when a finished run exists (an unfinished run is always continued otherwise). */
  retrain?: boolean;
  /** Progress callbacks; for a loaded run, `onEpoch` is replayed with the saved log. */
  progress?: ProgressCallbacks;
}

/**
 * A config with a partial config merged into it as a JSON merge patch ({@link mergePatch}:
 * objects merged key by key, `null` deletes a key so that its default applies, anything else
 * replaced), validated again.
 *
 * @example
 * ```ts
 * import { parseExperimentConfig } from "./config.ts";
 * import { patchConfig } from "./run_cache.ts";
 * const base = parseExperimentConfig({ name: "d", data: {}, model: { name: "tamrl" }, train: {} });
 * const noBalance = patchConfig(base, { train: { loss: { alpha: 0, useBalance: false } } });
 * console.log(noBalance.train.loss.alpha, noBalance.train.lr); // 0 0.001
 * ```
 */
export function patchConfig(config: ExperimentConfig, patch: unknown): ExperimentConfig {
  return parseExperimentConfig(mergePatch(structuredClone(config), patch), {
    source: "patched config",
  });
}

/**
 * Whether `dir` holds a finished run: model.json, weights/best.bin, and a log whose last epoch
 * ends the last stage of the run's config.
 *
 * @example
 * ```ts ignore
 * if (await isFinishedRun("runs/quick/tamrl/seed0")) console.log("done");
 * ```
 */
export async function isFinishedRun(dir: string): Promise<boolean> {
  const paths = runPaths(dir);
  if (!await exists(paths.model) || !await exists(paths.weights("best"))) return false;
  if (!await exists(paths.config)) return false;
  const config = parseExperimentConfig(await readJson(paths.config), { source: paths.config });
  const log = await readJsonl(paths.log) as EpochRecord[];
  const last = log.at(-1);
  return !!last && last.stageEnd && last.stageIndex === planStages(config).length - 1;
}

async function* runFolders(root: string, depth: number): AsyncGenerator<string> {
  if (depth < 0) return;
  let entries: Deno.DirEntry[];
  try {
    entries = [];
    for await (const e of Deno.readDir(root)) entries.push(e);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (entries.some((e) => e.isFile && e.name === "config.json")) yield root;
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.isDirectory) yield* runFolders(join(root, e.name), depth - 1);
  }
}

/**
 * The first finished run under `root` (searched 5 folders deep, in name order) whose config has
 * the same hash as `config` (seeds aside), whose seed is `options.seed`, and whose split (when
 * `options.split` is given) has the same train and test sites; null when there is none.
 *
 * @example
 * ```ts ignore
 * const config = await loadExperimentConfig("configs/quick.json");
 * const dir = await findRun("runs", config, { seed: 0 }); // e.g. "runs/quick/tamrl/seed0"
 * ```
 */
export async function findRun(
  root: string,
  config: ExperimentConfig,
  options: { seed: number; split?: Split },
): Promise<string | null> {
  const want = await runConfigHash(config);
  for await (const dir of runFolders(root, 5)) {
    const paths = runPaths(dir);
    let saved: ExperimentConfig;
    try {
      saved = parseExperimentConfig(await readJson(paths.config), { source: paths.config });
    } catch {
      continue; // not a run config (or an older schema): not a match
    }
    if (saved.seeds.length !== 1 || saved.seeds[0] !== options.seed) continue;
    if (await runConfigHash(saved) !== want) continue;
    if (!await isFinishedRun(dir)) continue;
    if (options.split && await exists(paths.split)) {
      const split = await loadSplit(paths.split);
      const same = (a: string[], b: string[]) =>
        a.length === b.length && [...a].sort().join() === [...b].sort().join();
      if (!same(split.train, options.split.train) || !same(split.test, options.split.test)) {
        continue;
      }
    }
    return dir;
  }
  return null;
}

/** A run folder's config, split, scaler, model (best weights) and log. */
export interface OpenedRun {
  dir: string;
  config: ExperimentConfig;
  split: Split;
  scaler: Scaler;
  model: FluxModel;
  info: RunModelInfo;
  history: EpochRecord[];
}

/**
 * Open a run folder (trained by `deno task train` or by {@link trainOrLoad}): its config, split
 * and scaler (to rebuild its dataset: `buildDataset(run.config.data, { split, scaler })`), its
 * model with the best weights (the caller disposes it) and its log.
 *
 * @example
 * ```ts ignore
 * const run = await openRun("runs/quick/tamrl/seed0");
 * const ds = await buildDataset(run.config.data, { split: run.split, scaler: run.scaler });
 * run.model.dispose();
 * ```
 */
export async function openRun(dir: string, options: { label?: string } = {}): Promise<OpenedRun> {
  const paths = runPaths(dir);
  if (!await exists(paths.config)) throw new Error(`openRun: ${paths.config} does not exist`);
  const config = parseExperimentConfig(await readJson(paths.config), { source: paths.config });
  const split = await loadSplit(paths.split);
  const scaler = await loadScaler(paths.scaler);
  const history = await readJsonl(paths.log) as EpochRecord[];
  const { model, info } = await loadRunModel(dir, options);
  return { dir, config, split, scaler, model, info, history };
}

/**
 * The run folder {@link trainOrLoad} uses for a config, seed and window cap.
 *
 * @example
 * ```ts ignore
 * const dir = await cachedRunDir("runs/notebooks", config, { seed: 0, maxWindows: null });
 * ```
 */
export async function cachedRunDir(
  runsDir: string,
  config: ExperimentConfig,
  options: { seed: number; maxWindows: number | null },
): Promise<string> {
  const run = withOverrides(config, { seed: options.seed });
  const key = await configHash({ run: await runConfigHash(run), maxWindows: options.maxWindows });
  return join(runsDir, config.name, config.model.name, key.slice(0, 12), `seed${options.seed}`);
}

/**
 * Train the model of `config` with one seed, or load it when a finished run of the same config,
 * seed and window cap exists (in `runsDir`, or uncapped under one of `search`). An unfinished run
 * in `runsDir` is continued from its last finished epoch.
 *
 * @example
 * ```ts ignore
 * const ds = await buildDataset(config.data);
 * const run = await trainOrLoad(ds, config, { runsDir: "runs/notebooks", search: ["runs"] });
 * console.log(run.loaded, run.history.length);
 * run.model.dispose();
 * ```
 */
export async function trainOrLoad(
  data: RunData,
  config: ExperimentConfig,
  options: TrainOrLoadOptions,
): Promise<CachedRun> {
  const t0 = performance.now();
  const seed = options.seed ?? config.seeds[0];
  const maxWindows = options.maxWindows ?? null;
  const runConfig = withOverrides(config, { seed });
  const dir = await cachedRunDir(options.runsDir, config, { seed, maxWindows });
  const paths = runPaths(dir);

  const load = async (from: string): Promise<CachedRun> => {
    const { model, info } = await loadRunModel(from);
    const history = await readJsonl(runPaths(from).log) as EpochRecord[];
    for (const record of history) options.progress?.onEpoch(record);
    return {
      dir: from,
      config: runConfig,
      model,
      info,
      history,
      loaded: true,
      completed: true,
      seconds: (performance.now() - t0) / 1000,
    };
  };
  if (!options.retrain) {
    if (await isFinishedRun(dir)) return await load(dir);
    if (maxWindows === null) {
      for (const root of options.search ?? []) {
        const found = await findRun(root, runConfig, { seed, split: data.split });
        if (found) return await load(found);
      }
    }
  }

  const { info } = await writeRunFolder(dir, { config: runConfig, data });
  const cap = (s: BatchSource) => maxWindows === null ? s : capWindows(s, { max: maxWindows });
  const result = await trainModel({ train: cap(data.train), val: cap(data.val) }, runConfig, {
    seed,
    buildModel,
    transfer: transferPretrained,
    runDir: dir,
    resume: !options.retrain,
    onStep: options.progress?.onStep,
    onEpoch: options.progress?.onEpoch,
  });
  // the training sites' static vectors and mean z: predict's out-of-distribution warning
  const reference = referenceDataOf(data);
  if (result.completed && reference) {
    await writeReferenceSites(dir, { model: result.model, data: reference });
  }
  const seconds = (performance.now() - t0) / 1000;
  await writeJson(paths.provenance, {
    seed,
    configHash: await runConfigHash(runConfig),
    maxWindows,
    backend: tf.getBackend(),
    windows: { train: data.train.windows, val: data.val.windows },
    completed: result.completed,
    epochsThisCall: result.epochsThisCall,
    secondsThisCall: seconds,
    finished: new Date().toISOString(),
  });
  return {
    dir,
    config: runConfig,
    model: result.model,
    info,
    history: result.history,
    loaded: false,
    completed: result.completed,
    seconds,
  };
}

/**
 * One paragraph about a run: trained or loaded, where, epochs per stage, best validation loss.
 *
 * @example
 * ```ts ignore
 * console.log(describeRun(run));
 * ```
 */
export function describeRun(
  run: Pick<CachedRun, "dir" | "loaded" | "history" | "seconds">,
): string {
  const stages = new Map<string, EpochRecord[]>();
  for (const r of run.history) {
    const key = `${r.stage} (${r.model})`;
    stages.set(key, [...stages.get(key) ?? [], r]);
  }
  const parts = [...stages].map(([name, records]) => {
    const last = records.at(-1)!;
    const best = records.find((r) => r.epoch === last.bestEpoch);
    const val = best?.val;
    return `${name}: ${records.length}/${last.epochs} epochs, best epoch ${last.bestEpoch}` +
      (val
        ? ` (val total ${val.total.toFixed(4)}, data ${val.data.toFixed(4)}, balance ` +
          `${val.balance.toFixed(4)})`
        : "") +
      (last.earlyStop ? ", stopped early" : "");
  });
  return `${run.loaded ? "Loaded" : "Trained"} ${run.dir} in ${run.seconds.toFixed(1)} s\n` +
    parts.join("\n");
}
