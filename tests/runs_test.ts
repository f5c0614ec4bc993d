import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildModel, decodeWeights, transferPretrained } from "../lib/models/mod.ts";
import { parseExperimentConfig } from "../lib/train/config.ts";
import {
  atomicWrite,
  canonicalJson,
  configHash,
  decodeTensors,
  encodeTensors,
  loadRunModel,
  readJson,
  readJsonl,
  RunModelInfoSchema,
  runPaths,
  writeJson,
  writeRunFolder,
} from "../lib/train/runs.ts";
import { type EpochRecord, trainModel } from "../lib/train/trainer.ts";
import { fakeSource } from "./_fakes.ts";
import { fixtureDataset } from "./_dataset_fixtures.ts";
import { loadScaler } from "../lib/data/scaler.ts";
import { loadSplit } from "../lib/data/splits.ts";

await tf.setBackend("cpu");

Deno.test("tensor files round-trip names, shapes, dtypes, values and meta", () => {
  const a = tf.tensor2d([[1.5, -2], [3, 4e-8]]);
  const b = tf.tensor1d([7, -1], "int32");
  const bytes = encodeTensors(new Map<string, tf.Tensor>([["x/a", a], ["b", b]]), {
    epoch: 3,
    s: "é",
  });
  const { tensors, meta } = decodeTensors(bytes);
  assert.deepEqual(meta, { epoch: 3, s: "é" });
  assert.deepEqual([...tensors.keys()], ["x/a", "b"]);
  assert.deepEqual(tensors.get("x/a")!.arraySync(), a.arraySync());
  assert.equal(tensors.get("b")!.dtype, "int32");
  assert.deepEqual(tensors.get("b")!.arraySync(), [7, -1]);
  assert.throws(
    () => decodeTensors(bytes.subarray(0, bytes.length - 4), "f.tfw"),
    /f.tfw: truncated/,
  );
  assert.throws(() => decodeTensors(new Uint8Array(20), "g.tfw"), /g.tfw: not a tamflux/);
});

Deno.test("atomic writes leave no temp files; config hashes ignore key order", async () => {
  const dir = await Deno.makeTempDir();
  await atomicWrite(join(dir, "sub", "a.json"), "1");
  await atomicWrite(join(dir, "sub", "a.json"), "2");
  assert.equal(await Deno.readTextFile(join(dir, "sub", "a.json")), "2");
  const names = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name);
  assert.deepEqual(names, ["a.json"]);
  assert.equal(
    canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } }),
    '{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}',
  );
  assert.equal(await configHash({ b: 1, a: 2 }), await configHash({ a: 2, b: 1 }));
  assert.notEqual(await configHash({ a: 1 }), await configHash({ a: 2 }));
  await Deno.remove(dir, { recursive: true });
});

// A tiny real tamrl run (two stages, dropout on, AdamW, step decay, clipping): interrupted after an
// epoch and resumed, it must end with exactly the weights and log of an unbroken run.
const tiny = parseExperimentConfig({
  name: "resume",
  data: {},
  model: { name: "tamrl", hidden: 6, latent: 3, dropout: 0.2 },
  train: {
    epochs: 3,
    batchSize: 5,
    lr: 0.01,
    optimizer: "adamw",
    weightDecay: 0.01,
    decay: { step: 2, gamma: 0.5 },
    clipNorm: 1,
    patience: 10,
    pretrain: { enabled: true, epochs: 2 },
  },
});

async function run(
  dir: string,
  options: { stopAfter?: number; resume?: boolean; signalAt?: number },
) {
  const train = fakeSource({ sites: 3, windowsPerSite: 5 });
  const val = fakeSource({ sites: 2, windowsPerSite: 3, seed: 7 });
  let epochs = 0;
  let steps = 0;
  const controller = new AbortController();
  const result = await trainModel({ train, val }, tiny, {
    seed: 11,
    buildModel,
    transfer: transferPretrained,
    runDir: dir,
    resume: options.resume,
    signal: controller.signal,
    onStep: () => {
      if (++steps === options.signalAt) controller.abort();
    },
    onEpoch: () => ++epochs !== options.stopAfter,
  });
  const weights = Object.fromEntries(
    [...result.model.variables].map(([n, v]) => [n, [...v.dataSync()]]),
  );
  result.model.dispose();
  return { result, weights };
}

function withoutTimes(records: unknown[]): unknown[] {
  return (records as EpochRecord[]).map((r) => ({ ...r, seconds: 0 }));
}

Deno.test("resume: a run interrupted after epoch 1 ends with the weights of an unbroken run", async () => {
  const base = await Deno.makeTempDir();
  const whole = await run(join(base, "whole"), {});
  assert.ok(whole.result.completed);
  assert.equal(whole.result.history.length, 5);

  // interrupted after the first epoch (stage 1), then resumed
  const cut = join(base, "cut");
  const first = await run(cut, { stopAfter: 1 });
  assert.equal(first.result.completed, false);
  assert.equal((await readJsonl(runPaths(cut).log)).length, 1);
  const resumed = await run(cut, { resume: true });
  assert.ok(resumed.result.completed);
  assert.equal(resumed.result.epochsThisCall, 4);
  assert.deepEqual(resumed.weights, whole.weights);
  assert.deepEqual(
    withoutTimes(await readJsonl(runPaths(cut).log)),
    withoutTimes(await readJsonl(runPaths(join(base, "whole")).log)),
  );

  // interrupted in stage 2 (after epoch 1 of the main stage), then resumed
  const cut2 = join(base, "cut2");
  await run(cut2, { stopAfter: 3 });
  const resumed2 = await run(cut2, { resume: true });
  assert.deepEqual(resumed2.weights, whole.weights);

  // aborted in the middle of an epoch: the unfinished epoch is redone
  const cut3 = join(base, "cut3");
  const aborted = await run(cut3, { signalAt: 5 });
  assert.equal(aborted.result.completed, false);
  assert.equal((await readJsonl(runPaths(cut3).log)).length, 1);
  const resumed3 = await run(cut3, { resume: true });
  assert.deepEqual(resumed3.weights, whole.weights);

  // resuming a finished run trains nothing and returns the same model
  const again = await run(cut, { resume: true });
  assert.equal(again.result.epochsThisCall, 0);
  assert.deepEqual(again.weights, whole.weights);

  // the weights files: per stage best and last, plus best and last of the final stage
  const files = [...Deno.readDirSync(runPaths(cut).weightsDir)].map((e) => e.name).sort();
  assert.deepEqual(files, [
    "best.bin",
    "last.bin",
    "main_best.bin",
    "main_last.bin",
    "pretrain_best.bin",
    "pretrain_last.bin",
  ]);
  const best = decodeWeights(await Deno.readFile(runPaths(cut).weights("best")));
  assert.deepEqual(
    Object.fromEntries(best.map((w) => [w.name, [...w.data]])),
    whole.weights,
  );
  // model.json + weights rebuild the model (what prediction and ensembles use)
  const source = fakeSource({ sites: 3, windowsPerSite: 5 });
  await writeJson(runPaths(cut).model, {
    model: tiny.model,
    dims: source.dims,
    targetScale: source.targetScale,
    lossDays: source.lossDays,
    featureNames: { dyn: ["a", "b", "c"], static: ["s1", "s2"] },
  });
  const loaded = await loadRunModel(cut);
  assert.equal(loaded.model.name, "tamrl");
  assert.deepEqual(
    Object.fromEntries([...loaded.model.variables].map(([n, v]) => [n, [...v.dataSync()]])),
    whole.weights,
  );
  loaded.model.dispose();
  const leftovers = [...Deno.readDirSync(cut)].filter((e) => e.name.endsWith(".tmp"));
  assert.deepEqual(leftovers, []);
  await Deno.remove(base, { recursive: true });
});

Deno.test("resume refuses a checkpoint of another config or seed", async () => {
  const dir = await Deno.makeTempDir();
  await run(dir, { stopAfter: 1 });
  const other = parseExperimentConfig({ ...tiny, train: { ...tiny.train, lr: 0.02 } });
  await assert.rejects(
    () =>
      trainModel({ train: fakeSource({ sites: 3, windowsPerSite: 5 }) }, other, {
        seed: 11,
        buildModel,
        transfer: transferPretrained,
        runDir: dir,
        resume: true,
      }),
    /written with another config/,
  );
  await assert.rejects(
    () =>
      trainModel({ train: fakeSource({ sites: 3, windowsPerSite: 5 }) }, tiny, {
        seed: 12,
        buildModel,
        transfer: transferPretrained,
        runDir: dir,
        resume: true,
      }),
    /written with seed 11, not 12/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeRunFolder: config, split, scaler, static encoding and model.json of a dataset", async () => {
  const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 });
  const config = parseExperimentConfig({
    name: "fixture",
    seeds: [4],
    data: ds.config,
    model: { name: "tamrl", hidden: 8, latent: 4 },
    train: tiny.train,
  }, { source: "test" });
  const dir = await Deno.makeTempDir({ prefix: "tamflux_runfolder_" });
  try {
    const { paths, info } = await writeRunFolder(join(dir, "run"), { config, data: ds });
    assert.equal(paths.dir, join(dir, "run"));
    const files = [...Deno.readDirSync(paths.dir)].map((e) => e.name).sort();
    assert.deepEqual(files, [
      "config.json",
      "model.json",
      "scaler.json",
      "split.json",
      "static_encoding.json",
    ]);
    assert.deepEqual(await readJson(paths.config), JSON.parse(JSON.stringify(config)));
    assert.deepEqual(RunModelInfoSchema.parse(await readJson(paths.model)), info);
    assert.deepEqual(info.dims, ds.train.dims);
    assert.equal(info.lossDays, 15);
    assert.deepEqual(info.featureNames, ds.featureNames);
    assert.deepEqual(await loadSplit(paths.split), ds.split);
    assert.deepEqual(await loadScaler(paths.scaler), ds.scaler);
    assert.deepEqual(
      await readJson(paths.staticEncoding),
      JSON.parse(JSON.stringify(ds.staticEncoding)),
    );

    // without a static encoding (older callers of trainOrLoad) the file is not written
    const bare = await writeRunFolder(join(dir, "bare"), {
      config,
      data: { ...ds, staticEncoding: undefined },
    });
    assert.equal(
      [...Deno.readDirSync(bare.paths.dir)].some((e) => e.name === "static_encoding.json"),
      false,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
