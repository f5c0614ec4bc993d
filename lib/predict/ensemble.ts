/**
 * Loading a trained run, or an ensemble of runs, for prediction.
 *
 * `--run` may name one run folder (it holds model.json), an ensemble folder: a folder whose
 * sub-folders are runs (e.g. `runs/quick/tamrl` with seed0/, seed1/, ...), or a reproduce run
 * folder `results/<run>` (it holds `units/`): its seed ensemble of one model on one split, i.e.
 * the run folders `units/<unit-id>/run/` of every finished unit (with done.json) whose label is the
 * model (default `tamrl`; `tamrl:<ablation>` for an ablation) and whose split is the one asked for
 * (default: the only one, else koppen, said through `onLog`). Every member must share
 * the input layout (model.json dims, feature names, lossDays, targetScale), the scaler and the
 * split, so that one set of inputs serves them all; otherwise the error names the member and what
 * differs. An ensemble folder's sub-folder that holds run files but no model.json (an incomplete
 * run) is an error, and so is a member that the folder's `ensemble.json` (or
 * `ensemble_<featureSet>.json`, written by train) lists but that is missing or incomplete: the
 * ensemble never shrinks silently; a run no list names is a warning (through `onLog`). The data
 * options that shape inputs are read from config.json (`data`): feature set, `standardize` and,
 * through model.json's static names, `staticExtra`; a run folder written before those options
 * existed has none of them and loads with their defaults.
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { z } from "zod";
import { DatasetConfigSchema, type ResolvedDatasetConfig } from "../data/dataset.ts";
import { resolveDataDir } from "../data/paths.ts";
import { loadScaler, type Scaler } from "../data/scaler.ts";
import { loadSites, type Site } from "../data/sites.ts";
import { loadSplit, type Split } from "../data/splits.ts";
import type { FluxModel } from "../models/types.ts";
import {
  canonicalJson,
  exists,
  loadRunModel,
  readJson,
  type RunModelInfo,
  runPaths,
} from "../train/runs.ts";
import { readReferenceSites, type ReferenceSites } from "../train/reference.ts";
import { rebuildStaticEncoding, type RunStaticEncoding } from "./encoding.ts";
import { type Adaptation, ensembleAdaptation, readAdaptation } from "./adaptation.ts";

/** The part of a run's config.json prediction needs. */
const RunConfigSchema = z.object({
  name: z.string().optional(),
  data: DatasetConfigSchema,
  backend: z.enum(["wasm", "cpu"]).default("wasm"),
});

/** A loaded run or ensemble: its members and everything they share. */
export interface LoadedEnsemble {
  /** The member run folders, in order. */
  dirs: string[];
  models: FluxModel[];
  /** model.json (identical input layout for every member). */
  info: RunModelInfo;
  scaler: Scaler;
  split: Split;
  /** The dataset config of the run (window, stride, supportK, featureSet, MODIS gap rule). */
  data: ResolvedDatasetConfig;
  backend: "wasm" | "cpu";
  statics: RunStaticEncoding;
  /**
   * Each member's reference_sites.json (lib/train/reference.ts; null for a run from before the
   * file existed), in `dirs` order: predict's out-of-distribution warning (lib/predict/ood.ts).
   */
  references: (ReferenceSites | null)[];
  /** The weight file label the models were loaded from. */
  weights: string;
  /**
   * Each member's adaptation.json (lib/predict/adaptation.ts), in `dirs` order: absent or all
   * null for a plain run; a few-shot adapted run (`deno task adapt`) has one per member.
   */
  adaptations?: (Adaptation | null)[];
  /** The adaptation the members share (null or absent: a plain run). */
  adaptation?: Adaptation | null;
  /** Dispose every member model. */
  dispose(): void;
}

/** Options of {@link loadEnsemble}. */
export interface LoadEnsembleOptions {
  /** Weight file label (default "best"). */
  weights?: string;
  /**
   * The site table the run was trained with, for the static imputation values (default: the data
   * folder's sites.csv from resolveDataDir; null: none).
   */
  trainingSites?: string | null;
}

async function isRun(dir: string): Promise<boolean> {
  return await exists(runPaths(dir).model);
}

/** Options of {@link ensembleMembers}: the choice within a reproduce run folder. */
export interface EnsembleMembersOptions {
  /**
   * The model label of the units (default "tamrl"): lstm, ctlstm, tamlstm, tamrl, mlp, or a TAM-RL
   * ablation "tamrl:<variant>" (unit id prefix `tamrl-<variant>`).
   */
  model?: string;
  /** The split of the units (koppen, igbp); default: the run's only split, else koppen. */
  split?: string;
  /** Where the choices made (split picked, unfinished units skipped) are said. */
  onLog?: (line: string) => void;
}

/**
 * The part of a reproduce unit's done.json that member selection reads (the full schema is
 * lib/experiments' DoneMarkerSchema, which lib/predict may not import).
 */
const DoneUnitSchema = z.object({
  unit: z.object({
    id: z.string(),
    model: z.string(),
    split: z.string(),
    seed: z.number().int(),
    label: z.string(),
  }),
});

/** The run folders of a reproduce run's finished units of one model and split, by seed. */
async function reproduceMembers(
  runDir: string,
  options: EnsembleMembersOptions,
): Promise<string[]> {
  const label = (options.model ?? "tamrl").replace(/^tamrl-/, "tamrl:");
  const units: z.output<typeof DoneUnitSchema>["unit"][] = [];
  let unfinished = 0;
  const unitsDir = join(runDir, "units");
  const ids = [...Deno.readDirSync(unitsDir)].filter((e) => e.isDirectory).map((e) => e.name);
  for (const id of ids.sort()) {
    const done = join(unitsDir, id, "done.json");
    if (!await exists(done)) {
      unfinished++;
      continue;
    }
    const parsed = DoneUnitSchema.safeParse(await readJson(done));
    if (!parsed.success) throw new Error(`${done}: not a done marker of a reproduce unit`);
    units.push(parsed.data.unit);
  }
  if (label === "trees") {
    throw new Error(
      `${runDir}: the trees units have no neural run folder to predict with; choose --model ` +
        `lstm, ctlstm, tamlstm, tamrl or a TAM-RL ablation (tamrl:<variant>)`,
    );
  }
  const ofModel = units.filter((u) => u.label === label);
  if (ofModel.length === 0) {
    const labels = [...new Set(units.map((u) => u.label))].sort();
    throw new Error(
      `${runDir}: no finished unit of model ${label} (finished: ${labels.join(", ") || "none"}` +
        `${unfinished ? `; ${unfinished} unit(s) unfinished` : ""})`,
    );
  }
  const splits = [...new Set(ofModel.map((u) => u.split))].sort();
  let split = options.split;
  if (split === undefined) {
    if (splits.length === 1) split = splits[0];
    else if (splits.includes("koppen")) {
      split = "koppen";
      options.onLog?.(
        `${runDir}: ${label} ran on the splits ${splits.join(", ")}; using koppen (choose with ` +
          `--split)`,
      );
    } else {
      throw new Error(
        `${runDir}: ${label} ran on the splits ${splits.join(", ")}; choose one with --split`,
      );
    }
  }
  const chosen = ofModel.filter((u) => u.split === split).sort((a, b) => a.seed - b.seed);
  if (chosen.length === 0) {
    throw new Error(
      `${runDir}: no finished unit of ${label} on split ${split} (splits: ${splits.join(", ")})`,
    );
  }
  if (unfinished > 0) {
    options.onLog?.(`${runDir}: ${unfinished} unfinished unit(s) (no done.json) left out`);
  }
  const dirs: string[] = [];
  for (const u of chosen) {
    const dir = join(unitsDir, u.id, "run");
    if (!await isRun(dir)) {
      throw new Error(
        `${dir}: unit ${u.id} has no run folder with model.json (a run from before reproduce ` +
          `kept full run folders: run the unit again)`,
      );
    }
    dirs.push(dir);
  }
  options.onLog?.(
    `${runDir}: ${label} on split ${split}, seeds ${chosen.map((u) => u.seed).join(", ")}`,
  );
  return dirs;
}

/** The files of a run folder, any of which marks a sub-folder as a run (complete or not). */
const RUN_FILES = [
  "config.json",
  "split.json",
  "scaler.json",
  "weights",
  "log.jsonl",
  "checkpoint.tfw",
];

/** The first run file a folder without model.json holds (an incomplete run), or null. */
async function partialRunFile(dir: string): Promise<string | null> {
  for (const f of RUN_FILES) if (await exists(join(dir, f))) return f;
  return null;
}

/** The member lists train writes beside the members: ensemble.json, ensemble_<featureSet>.json. */
const EnsembleListSchema = z.object({ members: z.array(z.string()) });

/**
 * Check an ensemble folder's member runs against the member lists train wrote into it
 * (`ensemble.json`, `ensemble_<featureSet>.json`; none for a single-seed training): a listed
 * member that is missing or has no model.json is an error naming the folder, the file and the
 * list; a run that no list names (e.g. a seed trained later on its own) is said through `onLog`.
 */
async function checkListedMembers(
  dir: string,
  runs: readonly string[],
  options: EnsembleMembersOptions,
): Promise<void> {
  const lists = [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && /^ensemble(_[\w-]+)?\.json$/.test(e.name))
    .map((e) => join(dir, e.name)).sort();
  if (lists.length === 0) return;
  const listed = new Set<string>();
  for (const list of lists) {
    const parsed = EnsembleListSchema.safeParse(await readJson(list));
    if (!parsed.success) throw new Error(`${list}: no "members" list of run folders`);
    for (const m of parsed.data.members) {
      const name = basename(m);
      listed.add(name);
      const member = join(dir, name);
      if (!runs.includes(member)) {
        const what = await exists(member) ? "has no model.json" : "does not exist";
        throw new Error(
          `${member}: a member listed in ${list} ${what}: the ensemble would silently lose it ` +
            `(train the seed again, or give the remaining members as --run folders)`,
        );
      }
    }
  }
  for (const r of runs) {
    if (!listed.has(basename(r))) {
      options.onLog?.(`WARNING: ${r} is not listed in ${lists.join(", ")}; used as a member`);
    }
  }
}

/**
 * The member run folders of a run, ensemble or reproduce run folder (see the module doc); a list
 * of folders is taken as the members. `model` and `split` choose within a reproduce run folder and
 * are an error for any other folder.
 *
 * @example
 * ```ts ignore
 * const dirs = await ensembleMembers("runs/quick/tamrl"); // [".../seed0", ".../seed1"]
 * const lstm = await ensembleMembers("results/quick", { model: "lstm", split: "koppen" });
 * ```
 */
export async function ensembleMembers(
  run: string | readonly string[],
  options: EnsembleMembersOptions = {},
): Promise<string[]> {
  const list = typeof run === "string" ? [run] : [...run];
  if (list.length === 0) throw new Error("no run folder given");
  const out: string[] = [];
  for (const dir of list.map((d) => resolve(d))) {
    const reproduce = !await isRun(dir) && await exists(join(dir, "units"));
    if (reproduce) {
      out.push(...await reproduceMembers(dir, options));
      continue;
    }
    if (options.model !== undefined || options.split !== undefined) {
      throw new Error(
        `${dir}: --model and --split choose units of a reproduce run folder (results/<run>, ` +
          `with units/); this is a run or ensemble folder`,
      );
    }
    if (await isRun(dir)) {
      out.push(dir);
      continue;
    }
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (error) {
      throw new Error(`${dir}: cannot read the run folder (${(error as Error).message})`);
    }
    // a member may be a symbolic link to a run elsewhere (isRun checks what it points to)
    const subs = entries.filter((e) => e.isDirectory || e.isSymlink).map((e) => join(dir, e.name))
      .sort();
    const runs: string[] = [];
    for (const s of subs) {
      if (await isRun(s)) runs.push(s);
      else {
        const partial = await partialRunFile(s);
        if (partial) {
          throw new Error(
            `${s}: an incomplete member run (it has ${partial} but no model.json): train it ` +
              `again, or move it out of the ensemble folder ${dir}`,
          );
        }
      }
    }
    await checkListedMembers(dir, runs, options);
    if (runs.length === 0) {
      throw new Error(
        `${dir}: neither a run folder (no model.json), an ensemble folder (no sub-folder ` +
          `holds model.json) nor a reproduce run folder (no units/)`,
      );
    }
    out.push(...runs);
  }
  return out;
}

function layoutKey(info: RunModelInfo): string {
  return canonicalJson({
    dims: info.dims,
    featureNames: info.featureNames,
    lossDays: info.lossDays,
    targetScale: info.targetScale,
  });
}

/**
 * Load a run or ensemble folder (or a list of run folders): every member's model with its weights,
 * and the shared model.json, scaler, split, dataset config and static encoding.
 *
 * @example
 * ```ts ignore
 * import { loadEnsemble } from "./ensemble.ts";
 * const ens = await loadEnsemble("runs/quick/tamrl");
 * console.log(ens.dirs.length, ens.info.featureNames.dyn);
 * ens.dispose();
 * ```
 */
export async function loadEnsemble(
  run: string | readonly string[],
  options: LoadEnsembleOptions = {},
): Promise<LoadedEnsemble> {
  const dirs = await ensembleMembers(run);
  const models: FluxModel[] = [];
  const dispose = () => {
    for (const m of models) m.dispose();
  };
  try {
    let first: {
      info: RunModelInfo;
      scaler: Scaler;
      split: Split;
      data: ResolvedDatasetConfig;
      backend: "wasm" | "cpu";
    } | null = null;
    for (const dir of dirs) {
      const paths = runPaths(dir);
      const { model, info } = await loadRunModel(dir, { label: options.weights });
      models.push(model);
      const scaler = await loadScaler(paths.scaler);
      const split = await loadSplit(paths.split);
      const rawConfig = RunConfigSchema.safeParse(await readJson(paths.config));
      if (!rawConfig.success) {
        const issue = rawConfig.error.issues[0];
        throw new Error(`${paths.config}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
      }
      const data = rawConfig.data.data;
      if (data.stride !== info.lossDays || data.window !== info.dims.window) {
        throw new Error(`${dir}: config.json and model.json disagree on window/stride`);
      }
      if (!first) {
        first = { info, scaler, split, data, backend: rawConfig.data.backend };
        continue;
      }
      const differs = [
        layoutKey(info) !== layoutKey(first.info) ? "model.json input layout" : "",
        canonicalJson(scaler.columns) !== canonicalJson(first.scaler.columns) ? "scaler.json" : "",
        canonicalJson([...split.train].sort()) !== canonicalJson([...first.split.train].sort())
          ? "split.json training sites"
          : "",
        data.supportK !== first.data.supportK || data.featureSet !== first.data.featureSet ||
          data.modisMaxGapMonths !== first.data.modisMaxGapMonths ||
          (data.standardize ?? "global") !== (first.data.standardize ?? "global")
          ? "config.json data (supportK, featureSet, modisMaxGapMonths or standardize)"
          : "",
      ].filter(Boolean);
      if (differs.length > 0) {
        throw new Error(
          `ensemble member ${dir} differs from ${dirs[0]} in ${differs.join(", ")}: members must ` +
            `be seeds of one config`,
        );
      }
    }
    const { info, scaler, split, data, backend } = first!;
    let trainingSites: Site[] | null = null;
    const tablePath = options.trainingSites === undefined
      ? (() => {
        try {
          return resolveDataDir().sitesCsv;
        } catch {
          return null;
        }
      })()
      : options.trainingSites;
    if (tablePath) trainingSites = await loadSites(tablePath);
    const savedPath = join(dirs[0], "static_encoding.json");
    const saved = await exists(savedPath) ? await readJson(savedPath) : undefined;
    const statics = rebuildStaticEncoding(info.featureNames.static, {
      scaler,
      trainSites: split.train,
      trainingSites,
      saved,
    });
    const references: (ReferenceSites | null)[] = [];
    for (const dir of dirs) references.push(await readReferenceSites(dir));
    const adaptations: (Adaptation | null)[] = [];
    for (const dir of dirs) adaptations.push(await readAdaptation(dir));
    const adaptation = ensembleAdaptation(adaptations, dirs);
    return {
      adaptations,
      adaptation,
      dirs,
      models,
      info,
      scaler,
      split,
      data,
      backend,
      statics,
      references,
      weights: options.weights ?? "best",
      dispose,
    };
  } catch (error) {
    dispose();
    throw error;
  }
}
