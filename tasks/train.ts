/**
 * `deno task train --config configs/<name>.json [--model lstm|ctlstm|tamlstm|tamrl|mlp]
 *   [--seed N] [--feature-set F] [--jobs n] [--resume] [--run-dir DIR]`
 *
 * Builds the dataset of the config, then trains one run per seed (all seeds of the config, or the
 * one given) into `runs/<name>/<model>/seed<N>/` (or DIR, or DIR/seed<N> for several runs):
 * config.json, split.json, scaler.json, model.json, weights/, checkpoint.tfw, log.jsonl,
 * metrics.json (validation), provenance.json. A config with `fallbackFeatureSet` (e.g.
 * configs/production.json) also trains every seed on that feature set, into
 * `<featureSet>_seed<N>/` of the same ensemble folder, from its own dataset (same sites, same
 * split seed).
 *
 * Several members (seeds x feature sets, no `--seed`) train in parallel worker processes, `--jobs`
 * at a time (default: one per core; TF.js wasm is single-threaded), each this task with
 * `--seed N --feature-set F --run-dir <member>` and the task's own deno.json permissions
 * (lib/experiments/workers.ts; SIGINT/SIGTERM are forwarded, workers exit with their parent). A
 * finished member (complete run folder with metrics.json and provenance.json) is skipped, so
 * running again resumes a killed train (`--resume` continues members stopped mid-way). When every
 * member is done, each feature set's ensemble validation metrics go to `<parent>/ensemble.json`
 * (`ensemble_<featureSet>.json` for the fallback). `--seed N` (or a config with one member) trains
 * in this process. Ctrl-C stops after the current step; `--resume` continues from the last
 * finished epoch and ends where an unbroken run ends.
 *
 * Without validation data (lib/data `validationMode` "none", e.g. `data.valFraction: 0`; the
 * trainer then runs every epoch and keeps the last weights), metrics.json holds `split: "none"`,
 * the last epoch's training loss (`train`) and `pooled: null`, and ensemble.json `split: "none"`
 * with its members and `pooled: null`.
 */
import * as tf from "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { cli, defineTask, opt, taskCommandArgs, usageError } from "../lib/cli/mod.ts";
import { useBackend } from "../lib/backend.ts";
import { buildDataset, type Dataset } from "../lib/data/dataset.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { validationMode } from "../lib/data/splits.ts";
import { exitWithParent } from "../lib/experiments/claims.ts";
import { runWorkers } from "../lib/experiments/workers.ts";
import { buildModel, countParameters, transferPretrained } from "../lib/models/mod.ts";
import {
  type EnsembleGroup,
  ensembleGroups,
  exists,
  type FluxModel,
  gitCommit,
  isFinishedRun,
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
    seed: opt.int("train this seed only, in this process", {
      min: 0,
      defaultText: "every seed of the config",
    }),
    "feature-set": opt.string("train the members of this feature set only (config's or fallback)", {
      arg: "F",
      defaultText: "every feature set of the config",
    }),
    jobs: opt.int("members trained at once, each in its own worker process", {
      min: 1,
      defaultText: "one per core",
    }),
    resume: opt.flag("continue an interrupted run from its last finished epoch"),
    "run-dir": opt.string("the run folder (DIR/<prefix>seed<N> with several runs)", {
      arg: "DIR",
      defaultText: "runs/<config>/<model>/seed<N>",
    }),
    /** Internal: one member trained by a worker process of the parallel train. */
    worker: opt.flag("internal: one worker of the parallel train", { hidden: true }),
  },
  examples: [
    "deno task train --config configs/quick.json --model tamrl",
    "deno task train --config configs/quick.json --model lstm --seed 1 --resume",
    "deno task train --config configs/production.json --jobs 2",
  ],
  notes: [
    "Several members train in parallel worker processes; finished members are skipped.",
    "Ctrl-C stops after the current step; --resume continues.",
  ],
});

const values = cli(TASK);
// a worker leaves as soon as its parent is gone (stdin is a pipe from the parent)
if (values.worker) exitWithParent();
const seedArg = values.seed;
if (seedArg !== undefined && values.jobs !== undefined) {
  usageError(TASK, "--jobs goes with several members (--seed trains one seed in this process)");
}

const base = await loadExperimentConfig(values.config);
const config = withOverrides(base, { model: values.model });
const seeds = seedArg !== undefined ? [seedArg] : config.seeds;
const model = config.model.name;
const allGroups = ensembleGroups(config);
const groups = allGroups.filter((g) =>
  values["feature-set"] === undefined || g.featureSet === values["feature-set"]
);
if (groups.length === 0) {
  usageError(
    TASK,
    `--feature-set ${values["feature-set"]}: the config's feature sets are ` +
      allGroups.map((g) => g.featureSet).join(", "),
  );
}
const nRuns = groups.length * seeds.length;
const runDirOf = (group: EnsembleGroup, seed: number) => {
  const leaf = `${group.prefix}seed${seed}`;
  const dir = values["run-dir"];
  if (dir) return resolve(nRuns === 1 ? dir : join(dir, leaf));
  return join(PROJECT_ROOT, "runs", config.name, model, leaf);
};

if (seedArg === undefined && nRuns > 1) {
  await trainMembers();
  Deno.exit(0);
}

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
  for (const seed of seeds) {
    const dir = runDirOf(group, seed);
    await trainRun(dir, withOverrides(group.config, { seed }), { ds, seed, datasetSeconds });
  }
}
Deno.removeSignalListener("SIGINT", onSigint);
if (values.worker) Deno.exit(0); // the stdin watch would keep a worker alive

/** Whether a member's run folder is complete: every stage trained, metrics and provenance. */
async function memberFinished(dir: string): Promise<boolean> {
  const p = runPaths(dir);
  return await isFinishedRun(dir) && await exists(p.metrics) && await exists(p.provenance);
}

/**
 * Train every member (seeds x feature sets) not finished before in worker processes, `--jobs` at
 * a time, then write each feature set's ensemble.json.
 */
async function trainMembers(): Promise<void> {
  const members = groups.flatMap((group) =>
    seeds.map((seed) => ({ group, seed, dir: runDirOf(group, seed) }))
  );
  const todo: (typeof members[number] & { resume: boolean })[] = [];
  for (const m of members) {
    if (await memberFinished(m.dir)) {
      console.error(`train: ${m.dir} is finished; skipped`);
      continue;
    }
    const p = runPaths(m.dir);
    const started = await exists(p.checkpoint) || await exists(p.log);
    if (started && !values.resume) {
      console.error(
        `train: ${p.dir} holds an unfinished run; continue it with --resume, or choose another ` +
          `--run-dir (or remove the folder)`,
      );
      Deno.exit(1);
    }
    todo.push({ ...m, resume: started });
  }
  const jobs = Math.min(values.jobs ?? navigator.hardwareConcurrency ?? 1, todo.length);
  console.error(
    `train: ${config.name} / ${model}, ${members.length} members (seeds [${seeds.join(", ")}] x ` +
      `feature sets ${groups.map((g) => g.featureSet).join(", ")}); ` +
      `${members.length - todo.length} finished before, ${todo.length} to train in ` +
      `${jobs} worker process(es)`,
  );
  const configPath = resolve(values.config);
  const workerJobs = await Promise.all(todo.map(async (m) => ({
    label: `${m.group.prefix}seed${m.seed}`,
    args: await taskCommandArgs("train", [
      "--config",
      configPath,
      "--seed",
      String(m.seed),
      "--feature-set",
      m.group.featureSet,
      "--run-dir",
      m.dir,
      "--worker",
      ...(values.model ? ["--model", values.model] : []),
      ...(m.resume ? ["--resume"] : []),
    ], { root: PROJECT_ROOT }),
  })));
  // the workers get this task's deno.json permissions; cwd: its relative folders resolve there
  const { statuses, signal } = await runWorkers(workerJobs, {
    parallel: jobs,
    cwd: PROJECT_ROOT,
    task: "train",
  });
  if (signal) {
    console.error(
      `train: interrupted by ${signal}; finished members are kept. Run again with --resume to ` +
        `continue the others.`,
    );
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  }
  const failed = todo.filter((_, i) => !statuses[i]?.success);
  if (failed.length) {
    console.error(
      `train: ${failed.length} of ${todo.length} members failed (${
        failed.map((m) => m.dir).join(", ")
      }); see the lines above. Run again to retry them (with --resume)`,
    );
    Deno.exit(1);
  }
  for (const group of groups) {
    const dirs = seeds.map((seed) => runDirOf(group, seed));
    if (dirs.length < 2) continue;
    const file = join(
      dirs[0],
      "..",
      group.prefix ? `ensemble_${group.featureSet}.json` : "ensemble.json",
    );
    if (!todo.some((m) => m.group === group) && await exists(file)) continue;
    await writeEnsembleMetrics(file, dirs, group);
  }
}

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

  const last = result.stages.at(-1)!;
  const bestRecord = result.history.find((r) =>
    r.stageIndex === result.stages.length - 1 && r.epoch === last.bestEpoch
  )!;
  // without validation data: the last (= best) epoch's training loss, no validation metrics
  const predicted = ds.val.windows > 0
    ? predictEnsemble([result.model], ds.val, {
      lossDays: ds.config.stride,
      batchSize: runConfig.train.evalBatchSize,
    })
    : null;
  const metrics = predicted
    ? {
      split: "val",
      model,
      seed,
      bestEpoch: last.bestEpoch,
      loss: bestRecord.val,
      pooled: pooledMetrics(predicted.days),
      days: predicted.days.length,
      duplicateDays: predicted.duplicates,
    }
    : {
      split: "none",
      model,
      seed,
      bestEpoch: last.bestEpoch,
      loss: null,
      train: bestRecord.train,
      pooled: null,
      days: 0,
      duplicateDays: 0,
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
    m
      ? `done seed ${seed}: best epoch ${last.bestEpoch}/${last.epochsRun}, val loss ` +
        `${bestRecord.val?.total.toFixed(4)}; val RMSE GPP ${m.GPP.rmse.toFixed(3)} RECO ` +
        `${m.RECO.rmse.toFixed(3)} NEE ${m.NEE.rmse.toFixed(3)}, R2 GPP ${
          m.GPP.r2.toFixed(3)
        } RECO ` +
        `${m.RECO.r2.toFixed(3)} NEE ${m.NEE.r2.toFixed(3)} (gC m-2 d-1)`
      : `done seed ${seed}: ${last.epochsRun} epochs without validation (last weights), ` +
        `train loss ${bestRecord.train.total.toFixed(4)}`,
  );
  result.model.dispose();
}

/**
 * The validation metrics of the ensemble of `dirs` (one feature set), written to `path`; without
 * validation data, `split: "none"` and no metrics.
 */
async function writeEnsembleMetrics(
  path: string,
  dirs: string[],
  group: EnsembleGroup,
): Promise<void> {
  const plain = { model, featureSet: group.featureSet, members: dirs };
  const ds = validationMode(group.config.data) === "none"
    ? null
    : await buildDataset(group.config.data);
  if (!ds || ds.val.windows === 0) {
    await writeJson(path, { split: "none", ...plain, pooled: null, meanEnsembleSd: null });
    console.error(`ensemble of ${dirs.length} (no validation data): ${path}`);
    return;
  }
  await useBackend(config.backend);
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
      ...plain,
      pooled: pooledMetrics(predicted.days),
      meanEnsembleSd: { GPP: meanSd("GPP_sd"), RECO: meanSd("RECO_sd"), NEE: meanSd("NEE_sd") },
    });
    console.error(`ensemble of ${models.length}: ${path}`);
  } finally {
    for (const m of models) m.dispose();
  }
}
