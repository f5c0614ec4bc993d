/**
 * The real unit runners of the reproduction plan: a neural unit builds (or reuses) the dataset of
 * its split and feature set, trains its model with lib/train, predicts the test sites and writes
 * `predictions.parquet`; a trees unit does the same with the gradient-boosted trees.
 *
 * Datasets and the loaded FLUXNET2015 table are cached in the process, so a plan run in one
 * process loads the data once and builds each (split, feature set) dataset once.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { useBackend } from "../backend.ts";
import { buildDataset, type Dataset } from "../data/dataset.ts";
import { loadFluxnet } from "../data/fluxnet.ts";
import { saveSplit } from "../data/splits.ts";
import type { Site } from "../data/sites.ts";
import { buildModel, transferPretrained } from "../models/build.ts";
import type { PredictedDay } from "../data/targets.ts";
import { type ExperimentConfig, parseExperimentConfig } from "../train/config.ts";
import { predictEnsemble } from "../train/predict.ts";
import {
  canonicalJson,
  configHash,
  runConfigHash,
  writeJson,
  writeRunFolder,
} from "../train/runs.ts";
import { trainModel } from "../train/trainer.ts";
import { writeReferenceSites } from "../train/reference.ts";
import { mergePatch } from "../train/merge_patch.ts";
import { type Profile, splitSpecOf, type Unit, type UnitOutcome, type UnitRunner } from "./plan.ts";
import { type PredictionRow, writePredictions } from "../eval/predictions.ts";

/** Where and how units run. */
export interface UnitEnvironment {
  profile: Profile;
  /** Project root: config paths in the profile are relative to it. */
  root: string;
  /** Data folder (else resolveDataDir). */
  dataDir?: string;
}

/** A function that trains the trees of a unit and returns its predictions (see units.ts). */
export type TreesUnitFn = (
  /** The unit (its seed seeds the booster's sampling). */
  unit: Unit,
  context: {
    dir: string;
    dataset: Dataset;
    config: Record<string, unknown>;
    log: (message: string) => void;
  },
) => Promise<{ rows: PredictionRow[]; extra: Record<string, unknown>; configHash: string }>;

interface Cache {
  loaded?: Promise<{ frame: Awaited<ReturnType<typeof loadFluxnet>>["frame"]; sites: Site[] }>;
  datasets: Map<string, Promise<Dataset>>;
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`tamflux reproduce: cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * The in-process cache key of a dataset config: its canonical JSON (keys sorted at every level).
 * (A `JSON.stringify` with the top-level keys as the replacer list dropped every nested key, so
 * `split: { kind: "igbp" }` and `split: { kind: "koppen" }` shared one key: a process running
 * units of both splits gave the IGBP units the Köppen dataset.)
 *
 * @example
 * ```ts
 * import { datasetKey } from "./units.ts";
 * datasetKey({ window: 30, split: { kind: "igbp" } }) === datasetKey({ split: { kind: "koppen" }, window: 30 }); // false
 * ```
 */
export function datasetKey(data: Record<string, unknown>): string {
  return canonicalJson(data);
}

/** The prediction rows of predicted days, with the unit's label, seed and the sites' classes. */
export function toPredictionRows(
  days: readonly PredictedDay[],
  context: { label: string; seed: number; sites: readonly Site[] },
): PredictionRow[] {
  const bySite = new Map(context.sites.map((s) => [s.SITE_ID, s]));
  return days.map((d) => {
    const s = bySite.get(d.site);
    if (!s) throw new Error(`tamflux reproduce: predicted site ${d.site} is not in sites.csv`);
    return {
      model: context.label,
      seed: context.seed,
      site: d.site,
      date: d.date,
      GPP: Math.max(0, d.GPP),
      RECO: Math.max(0, d.RECO),
      NEE: d.NEE,
      GPP_sd: null,
      RECO_sd: null,
      NEE_sd: null,
      GPP_obs: d.GPP_obs,
      RECO_obs: d.RECO_obs,
      NEE_obs: d.NEE_obs,
      NEE_QC: d.NEE_QC,
      IGBP: s.IGBP,
      KOPPEN_MAIN: s.KOPPEN_MAIN,
    };
  });
}

function dataSummary(ds: Dataset): string {
  const r = ds.report;
  return `${r.sites.train} training / ${r.sites.test} test sites, feature set ` +
    `${ds.config.featureSet}, window ${ds.config.window}/stride ${ds.config.stride}, ` +
    `${r.windows.train.kept} train / ${r.windows.val.kept} val / ${r.windows.test.kept} test windows`;
}

/**
 * The dataset split spec of a unit: the config's spec with the unit's split kind; for a
 * cross-validation fold (`cv<fold>of<k>`) kind `kfold` with that fold and k, and no `forceTest`
 * (in a cross-validation every site is a test site exactly once).
 *
 * @example
 * ```ts
 * import { unitSplitSpec } from "./units.ts";
 * unitSplitSpec({ seed: 42, forceTest: ["DE-Tha"] }, { split: "cv0of5" });
 * // { seed: 42, forceTest: [], kind: "kfold", fold: 0, k: 5 }
 * ```
 */
export function unitSplitSpec(
  spec: Record<string, unknown> | undefined,
  unit: Pick<Unit, "split">,
): Record<string, unknown> {
  const named = splitSpecOf(unit.split);
  return named.kind === "kfold"
    ? { ...(spec ?? {}), forceTest: [], ...named }
    : { ...(spec ?? {}), kind: named.kind };
}

/**
 * The experiment config a unit trains with: the profile's train config patched with the unit's
 * overrides, its seed, model and split (a trees unit gets the profile's data patch only, and
 * the `lstm` model as a placeholder: its data config is what matters).
 *
 * @example
 * ```ts ignore
 * import { unitExperimentConfig } from "./units.ts";
 * const config = await unitExperimentConfig({ profile, root: "." }, unit);
 * ```
 */
export async function unitExperimentConfig(
  env: UnitEnvironment,
  unit: Unit,
): Promise<ExperimentConfig> {
  const base = await readJsonFile(resolve(env.root, env.profile.trainConfig));
  // a trees unit's own overrides patch the trees config; the profile's data patch (sites,
  // feature set, ...) applies to it too, so that every model sees the same data
  const profileData = (env.profile.overrides as { data?: Record<string, unknown> }).data ?? {};
  let raw = mergePatch(base, unit.model === "trees" ? { data: profileData } : unit.overrides);
  const data = (raw.data ?? {}) as Record<string, unknown>;
  raw = mergePatch(raw, {
    name: unit.id,
    seeds: [unit.seed],
    model: { name: unit.model === "trees" ? "lstm" : unit.model },
    data: { split: unitSplitSpec(data.split as Record<string, unknown> | undefined, unit) },
  });
  const config = parseExperimentConfig(raw, {
    source: `${env.profile.trainConfig} + unit ${unit.id}`,
  });
  return config;
}

/**
 * The unit runner of a profile: neural units train with lib/train, trees units call `trees`
 * (when the plan has trees units and no `trees` function is given, those units fail with a clear
 * message).
 *
 * @example
 * ```ts ignore
 * import { createUnitRunner } from "./units.ts";
 * import { buildPlan, loadProfile, runPlan } from "./plan.ts";
 * const { profile } = await loadProfile("quick", { root: "." });
 * await runPlan(buildPlan(profile), {
 *   runDir: "results/quick", runner: createUnitRunner({ profile, root: "." }),
 * });
 * ```
 */
export function createUnitRunner(
  env: UnitEnvironment,
  options: { trees?: TreesUnitFn } = {},
): UnitRunner {
  const cache: Cache = { datasets: new Map() };
  const loaded = () => {
    cache.loaded ??= loadFluxnet({ dataDir: env.dataDir }).then((l) => ({
      frame: l.frame,
      sites: l.sites,
    }));
    return cache.loaded;
  };
  const dataset = (data: Record<string, unknown>, log: (m: string) => void) => {
    const key = datasetKey(data);
    let p = cache.datasets.get(key);
    if (!p) {
      p = (async () => {
        const t = performance.now();
        const ds = await buildDataset(data, { loaded: await loaded(), dataDir: env.dataDir });
        log(
          `dataset built in ${((performance.now() - t) / 1000).toFixed(1)} s: ${dataSummary(ds)}`,
        );
        return ds;
      })();
      cache.datasets.set(key, p);
      p.catch(() => cache.datasets.delete(key));
    } else {
      log("dataset reused from this process");
    }
    return p;
  };

  return async (unit, { dir, log }): Promise<UnitOutcome> => {
    const config = await unitExperimentConfig(env, unit);
    const backend = await useBackend(config.backend);
    const ds = await dataset(config.data as Record<string, unknown>, log);
    const expected = splitSpecOf(unit.split);
    if (
      ds.split.kind !== expected.kind ||
      ("fold" in expected &&
        (ds.split.spec.fold !== expected.fold || ds.split.spec.k !== expected.k))
    ) {
      throw new Error(
        `tamflux reproduce: unit ${unit.id} got a dataset of the ${ds.split.kind} split`,
      );
    }
    await saveSplit(join(dir, "split.json"), ds.split);

    if (unit.model === "trees") {
      if (!options.trees) {
        throw new Error(
          "tamflux reproduce: the trees baseline is not wired into this runner (no trees function)",
        );
      }
      const treesBase = env.profile.treesConfig
        ? await readJsonFile(resolve(env.root, env.profile.treesConfig))
        : {};
      const treesConfig = mergePatch(treesBase, unit.overrides);
      await writeJson(join(dir, "config.json"), treesConfig);
      const out = await options.trees(unit, { dir, dataset: ds, config: treesConfig, log });
      await writePredictions(join(dir, "predictions.parquet"), out.rows);
      return {
        predictions: "predictions.parquet",
        backend: "cpu (trees, plain TypeScript)",
        configHash: out.configHash,
        dataSummary: dataSummary(ds),
        testSites: ds.split.test,
        extra: { ...out.extra, predictedDays: out.rows.length },
      };
    }

    await writeJson(join(dir, "config.json"), config);
    // the same run folder as `deno task train` writes, so `deno task predict --run <unit>/run` works
    await writeRunFolder(join(dir, "run"), { config, data: ds });
    const result = await trainModel({ train: ds.train, val: ds.val }, config, {
      seed: unit.seed,
      buildModel,
      transfer: transferPretrained,
      runDir: join(dir, "run"),
      onEpoch: (r) =>
        log(
          `${r.stage} ${r.model} epoch ${r.epoch}/${r.epochs}: train ${r.train.total.toFixed(4)}` +
            (r.val ? ` val ${r.val.total.toFixed(4)}` : "") + ` (${r.seconds.toFixed(1)} s)` +
            (r.improved ? " *" : ""),
        ),
    });
    let rows: PredictionRow[];
    let duplicates = 0;
    try {
      // the training sites' static vectors and mean z: predict's out-of-distribution warning
      await writeReferenceSites(join(dir, "run"), { model: result.model, data: ds });
      const pred = predictEnsemble([result.model], ds.test, {
        lossDays: ds.config.stride,
        label: `unit ${unit.id}`,
      });
      duplicates = pred.duplicates;
      rows = toPredictionRows(pred.days, { label: unit.label, seed: unit.seed, sites: ds.sites });
    } finally {
      result.model.dispose();
    }
    await writePredictions(join(dir, "predictions.parquet"), rows);
    return {
      predictions: "predictions.parquet",
      backend,
      configHash: (await runConfigHash(config)).slice(0, 16),
      dataSummary: dataSummary(ds),
      testSites: ds.split.test,
      extra: {
        stages: result.stages,
        trainSeconds: result.seconds,
        predictedDays: rows.length,
        duplicateDays: duplicates,
        profileHash: (await configHash(env.profile)).slice(0, 16),
      },
    };
  };
}
