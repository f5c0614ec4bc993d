/**
 * `deno task train --config configs/<name>.json [--model lstm|ctlstm|tamlstm|tamrl|mlp]
 *   [--seed N] [--resume] [--run-dir DIR]`
 *
 * Builds the dataset of the config, then trains one run per seed (all seeds of the config, or the
 * one given) into `runs/<name>/<model>/seed<N>/` (or DIR, or DIR/seed<N> for several runs):
 * config.json, split.json, scaler.json, model.json, weights/, checkpoint.tfw, log.jsonl,
 * metrics.json (validation), provenance.json. A config with `fallbackFeatureSet` (e.g.
 * configs/production.json) also trains every seed on that feature set, into
 * `<featureSet>_seed<N>/` of the same ensemble folder, from its own dataset (same sites, same
 * split seed). With several seeds, each feature set's ensemble validation metrics go to
 * `<parent>/ensemble.json` (`ensemble_<featureSet>.json` for the fallback). Ctrl-C stops after the
 * current step; `--resume` continues from the last finished epoch and ends where an unbroken run
 * ends.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
import { useBackend } from "../lib/backend.ts";
import { buildDataset, type Dataset } from "../lib/data/dataset.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { buildModel, countParameters, transferPretrained } from "../lib/models/mod.ts";
import {
  type EnsembleGroup,
  ensembleGroups,
  exists,
  type FluxModel,
  gitCommit,
  loadExperimentConfig,
  loadRunModel,
  MODEL_NAMES_FOR_CLI,
  pooledMetrics,
  predictEnsemble,
  readJson,
  runConfigHash,
  runPaths,
  terminalProgress,
  trainModel,
  withOverrides,
  writeJson,
  writeReferenceSites,
  writeRunFolder,
} from "../lib/train/mod.ts";

const TASK = defineTask({
  name: "train",
  description: "trains one model into `runs/`",
  options: {
    config: opt.string("experiment config", { arg: "configs/<name>.json", required: true }),
    model: opt.choice(MODEL_NAMES_FOR_CLI, "the model (overrides the config's)", {
      defaultText: "the config's",
    }),
    seed: opt.int("train this seed only", { min: 0, defaultText: "every seed of the config" }),
    resume: opt.flag("continue an interrupted run from its last finished epoch"),
    "run-dir": opt.string("the run folder (DIR/<prefix>seed<N> with several runs)", {
      arg: "DIR",
      defaultText: "runs/<config>/<model>/seed<N>",
    }),
  },
  examples: [
    "deno task train --config configs/quick.json --model tamrl",
    "deno task train --config configs/quick.json --model lstm --seed 1 --resume",
    "deno task train --config configs/production.json",
  ],
  notes: ["Ctrl-C stops after the current step; --resume continues."],
});

const values = cli(TASK);
const seedArg = values.seed;

const base = await loadExperimentConfig(values.config);
const config = withOverrides(base, { model: values.model });
const seeds = seedArg !== undefined ? [seedArg] : config.seeds;
const model = config.model.name;
const groups = ensembleGroups(config);
const nRuns = groups.length * seeds.length;
const runDirOf = (group: EnsembleGroup, seed: number) => {
  const leaf = `${group.prefix}seed${seed}`;
  if (values["run-dir"]) return nRuns === 1 ? values["run-dir"] : join(values["run-dir"], leaf);
  return join(PROJECT_ROOT, "runs", config.name, model, leaf);
};

// refuse to overwrite a run unless resuming
for (const group of groups) {
  for (const seed of seeds) {
    const p = runPaths(runDirOf(group, seed));
    if (!values.resume && (await exists(p.checkpoint) || await exists(p.log))) {
      console.error(
        `train: ${p.dir} already holds a run; continue it with --resume, or choose another ` +
          `--run-dir (or remove the folder)`,
      );
      Deno.exit(1);
    }
  }
}

const started = new Date().toISOString();
const backend = await useBackend(config.backend);
const commit = await gitCommit(PROJECT_ROOT);
console.error(
  `train: ${config.name} / ${model}, seeds [${seeds.join(", ")}], feature sets ` +
    `${groups.map((g) => g.featureSet).join(", ")}, backend ${backend}`,
);

const controller = new AbortController();
const onSigint = () => {
  if (controller.signal.aborted) Deno.exit(130); // a second Ctrl-C: stop at once
  console.error(
    "\ntrain: interrupted, stopping after this step; the unfinished epoch is dropped " +
      "(continue with --resume; Ctrl-C again to quit at once)",
  );
  controller.abort();
};
Deno.addSignalListener("SIGINT", onSigint);

for (const group of groups) {
  const t0 = performance.now();
  const ds = await buildDataset(group.config.data);
  const datasetSeconds = (performance.now() - t0) / 1000;
  const windows = { train: ds.train.windows, val: ds.val.windows, test: ds.test.windows };
  const valSites = ds.split.val ? `, ${ds.split.val.length} validation sites` : "";
  console.error(
    `dataset (${group.featureSet}, split ${ds.split.kind}): ${ds.split.train.length} train sites` +
      `${valSites}, ${ds.split.test.length} test sites; windows ` +
      `train ${windows.train}, val ${windows.val}, test ${windows.test}; ` +
      `${ds.train.dims.nDyn} dynamic + ${ds.train.dims.nStatic} static features; ` +
      `${datasetSeconds.toFixed(1)} s`,
  );
  const finished: string[] = [];
  for (const seed of seeds) {
    const dir = runDirOf(group, seed);
    await trainRun(dir, withOverrides(group.config, { seed }), { ds, seed, datasetSeconds });
    finished.push(dir);
  }
  if (finished.length > 1) {
    const file = group.prefix ? `ensemble_${group.featureSet}.json` : "ensemble.json";
    await writeEnsembleMetrics(join(finished[0], "..", file), finished, ds);
  }
}
Deno.removeSignalListener("SIGINT", onSigint);

/** Train one run into `dir` (resuming when asked), then write its metrics and provenance. */
async function trainRun(
  dir: string,
  runConfig: typeof config,
  context: { ds: Dataset; seed: number; datasetSeconds: number },
): Promise<void> {
  const { ds, seed, datasetSeconds } = context;
  const windows = { train: ds.train.windows, val: ds.val.windows, test: ds.test.windows };
  const paths = runPaths(dir);
  const hash = await runConfigHash(runConfig);
  const resuming = values.resume && await exists(paths.checkpoint);
  if (resuming && await exists(paths.config)) {
    const saved = await runConfigHash(await readJson(paths.config) as { seeds?: unknown });
    if (saved !== hash) {
      console.error(`train: ${paths.config} differs from the config given; cannot resume`);
      Deno.exit(1);
    }
  }
  // config, split, scaler, static encoding and model.json: what `deno task predict` needs
  await writeRunFolder(dir, { config: runConfig, data: ds });
  console.error(`run ${dir} (seed ${seed})${resuming ? ", resuming" : ""}`);

  const callStart = performance.now();
  const result = await trainModel({ train: ds.train, val: ds.val }, runConfig, {
    seed,
    buildModel,
    transfer: transferPretrained,
    runDir: dir,
    resume: values.resume,
    signal: controller.signal,
    ...terminalProgress(),
  });
  const trainSeconds = (performance.now() - callStart) / 1000;
  if (!result.completed) {
    result.model.dispose();
    console.error(`train: stopped; ${result.history.length} epochs saved in ${dir}`);
    Deno.exit(130);
  }

  const predicted = predictEnsemble([result.model], ds.val, {
    lossDays: ds.config.stride,
    batchSize: runConfig.train.evalBatchSize,
  });
  const last = result.stages.at(-1)!;
  const bestRecord = result.history.find((r) =>
    r.stageIndex === result.stages.length - 1 && r.epoch === last.bestEpoch
  )!;
  const metrics = {
    split: "val",
    model,
    seed,
    bestEpoch: last.bestEpoch,
    loss: bestRecord.val,
    pooled: pooledMetrics(predicted.days),
    days: predicted.days.length,
    duplicateDays: predicted.duplicates,
  };
  await writeJson(paths.metrics, metrics);
  // the training sites' static vectors and mean z: predict's out-of-distribution warning
  await writeReferenceSites(dir, { model: result.model, data: ds });
  const epochSeconds = result.history.map((r) => r.seconds);
  await writeJson(paths.provenance, {
    seed,
    configHash: hash,
    gitCommit: commit,
    backend,
    versions: { deno: Deno.version.deno, tfjs: tf.version.tfjs },
    cores: navigator.hardwareConcurrency,
    parameters: countParameters(result.model),
    windows,
    sites: {
      train: ds.split.train.length,
      ...(ds.split.val ? { val: ds.split.val.length } : {}),
      test: ds.split.test.length,
    },
    started,
    finished: new Date().toISOString(),
    resumed: resuming,
    timings: {
      datasetSeconds,
      trainSecondsThisCall: trainSeconds,
      epochs: epochSeconds.length,
      epochSecondsMean: epochSeconds.reduce((a, b) => a + b, 0) / Math.max(1, epochSeconds.length),
      stages: result.stages,
    },
  });
  const m = metrics.pooled;
  console.error(
    `done seed ${seed}: best epoch ${last.bestEpoch}/${last.epochsRun}, val loss ` +
      `${bestRecord.val?.total.toFixed(4)}; val RMSE GPP ${m.GPP.rmse.toFixed(3)} RECO ` +
      `${m.RECO.rmse.toFixed(3)} NEE ${m.NEE.rmse.toFixed(3)}, R2 GPP ${
        m.GPP.r2.toFixed(3)
      } RECO ` +
      `${m.RECO.r2.toFixed(3)} NEE ${m.NEE.r2.toFixed(3)} (gC m-2 d-1)`,
  );
  result.model.dispose();
}

/** The validation metrics of the ensemble of `dirs` (one feature set), written to `path`. */
async function writeEnsembleMetrics(path: string, dirs: string[], ds: Dataset): Promise<void> {
  const models: FluxModel[] = [];
  try {
    for (const dir of dirs) models.push((await loadRunModel(dir)).model);
    const predicted = predictEnsemble(models, ds.val, {
      lossDays: ds.config.stride,
      batchSize: config.train.evalBatchSize,
    });
    const meanSd = (k: "GPP_sd" | "RECO_sd" | "NEE_sd") =>
      predicted.days.reduce((a, d) => a + d[k], 0) / Math.max(1, predicted.days.length);
    await writeJson(path, {
      split: "val",
      model,
      featureSet: ds.config.featureSet,
      members: dirs,
      pooled: pooledMetrics(predicted.days),
      meanEnsembleSd: { GPP: meanSd("GPP_sd"), RECO: meanSd("RECO_sd"), NEE: meanSd("NEE_sd") },
    });
    console.error(`ensemble of ${models.length}: ${path}`);
  } finally {
    for (const m of models) m.dispose();
  }
}
