/**
 * Training on every site: split kind `all` with `valSites: 0` (validation on the last days of
 * each site, as kfold) and without validation at all (`valFraction: 0`): the split and the dataset
 * lose no site and no day, the trainer runs its fixed epochs and keeps the last weights, the CV
 * candidate patches parse, and `bestEpochs` reads each CV unit's best epoch from its run log.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { buildDataset } from "../lib/data/dataset.ts";
import { makeSplit, type SplitSite, validationMode } from "../lib/data/splits.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { CvConfigSchema, cvProfile } from "../lib/experiments/cv.ts";
import { bestEpochs, cvEpochsCsv, describeBestEpochs } from "../lib/experiments/cv_epochs.ts";
import { buildPlan, runPlan } from "../lib/experiments/plan.ts";
import { unitExperimentConfig } from "../lib/experiments/units.ts";
import { buildModel, transferPretrained } from "../lib/models/mod.ts";
import { parseExperimentConfig } from "../lib/train/config.ts";
import { mergePatch } from "../lib/train/merge_patch.ts";
import { runPaths } from "../lib/train/runs.ts";
import { trainModel } from "../lib/train/trainer.ts";
import { fixtureModis, loadFixtures } from "./_dataset_fixtures.ts";
import { epochRecord } from "./_epoch_record.ts";
import { fakeSource } from "./_fakes.ts";

await tf.setBackend("cpu");

function sitesOf(n: number): SplitSite[] {
  return Array.from({ length: n }, (_, i) => ({
    SITE_ID: `S-${String(i).padStart(3, "0")}`,
    IGBP: ["ENF", "GRA", "CRO"][i % 3],
    KOPPEN_MAIN: ["A", "B", "C", "D", "E"][i % 5],
  }));
}

Deno.test("validationMode: sites, days or none from the data config", () => {
  assert.equal(validationMode({ split: { kind: "all" }, valFraction: 0.2 }), "sites");
  assert.equal(validationMode({ split: { kind: "all", valSites: 0 }, valFraction: 0.2 }), "days");
  assert.equal(validationMode({ split: { kind: "all" }, valFraction: 0 }), "none");
  assert.equal(validationMode({ split: { kind: "all", valSites: 0.3 }, valFraction: 0 }), "sites");
  assert.equal(validationMode({ split: { kind: "kfold" }, valFraction: 0.2 }), "days");
  assert.equal(validationMode({ split: { kind: "kfold", valSites: 0.2 } }), "sites");
  assert.equal(validationMode({ split: { kind: "kfold" }, valFraction: 0 }), "none");
  assert.equal(validationMode({ split: { kind: "koppen" }, valFraction: 0 }), "none");
  assert.equal(validationMode({}), "days");
});

Deno.test("split all without held-out sites: every site trains, none lost; valSites as before", () => {
  const sites = sitesOf(40);
  for (
    const [spec, options] of [
      [{ kind: "all" as const, seed: 3 }, { valFraction: 0 }],
      [{ kind: "all" as const, seed: 3, valSites: 0 }, { valFraction: 0.2 }],
    ] as const
  ) {
    const split = makeSplit(sites, spec, options);
    assert.equal(split.train.length, 40, JSON.stringify(spec));
    assert.deepEqual(split.train, sites.map((s) => s.SITE_ID).sort());
    assert.deepEqual(split.val, []);
    assert.deepEqual(split.test, []);
  }
  // valSites > 0 on kind all draws the same sites as the valFraction share of before
  const before = makeSplit(sites, { kind: "all", seed: 3 }, { valFraction: 0.2 });
  const given = makeSplit(sites, { kind: "all", seed: 3, valSites: 0.2 }, { valFraction: 0 });
  assert.deepEqual(given.val, before.val);
  assert.deepEqual(given.train, before.train);
  assert.equal(before.val!.length, 5 * Math.round(8 * 0.2)); // 5 Köppen groups of 8 sites
  assert.ok(!("valSites" in before.spec), "absent stays absent in split.json");
  assert.throws(() => makeSplit(sites, { kind: "koppen", valSites: 0.2 }), /kfold and all/);
});

Deno.test("dataset without validation: every day of every site is train, val has no window", async () => {
  const loaded = await loadFixtures();
  const build = (data: Record<string, unknown>) =>
    buildDataset({ featureSet: "minimal", window: 30, stride: 15, supportK: 2, ...data }, {
      loaded: { frame: loaded.frame, sites: loaded.sites },
      modis: fixtureModis(),
    });
  const total = loaded.frame.height;
  // FR-Pue 2012 has 366 days, AU-Lox 2009 365
  assert.equal(total, 731);
  for (
    const data of [{ split: { kind: "all" }, valFraction: 0 }, {
      split: { kind: "kfold", k: 2 },
      valFraction: 0,
    }]
  ) {
    const ds = await build(data);
    const segments = ds.table.getColumn("segment").toArray() as string[];
    if (data.split.kind === "all") {
      assert.deepEqual(ds.split.train, ["AU-Lox", "FR-Pue"], "no site lost");
      assert.equal(segments.filter((s) => s === "train").length, total, "every day trains");
      assert.equal(ds.report.windows.train.rows, total);
      // each site: starts 0, 15, ..., 330 (330 + 30 <= 365/366) -> 23 windows
      assert.equal(ds.train.windows, 46);
    } else {
      assert.equal(ds.split.train.length, 1);
      const trainSite = ds.split.train[0];
      const rows = ds.table.filter(pl.col("site").eq(pl.lit(trainSite))).height;
      assert.equal(ds.report.windows.train.rows, rows, "the training site's every day trains");
    }
    assert.equal(segments.filter((s) => s === "val").length, 0);
    assert.equal(ds.report.windows.val.rows, 0);
    assert.equal(ds.val.windows, 0);
  }
  // valSites 0: every site trains, validation on its last round(0.2 n) days
  const days = await build({ split: { kind: "all", valSites: 0 }, valFraction: 0.2 });
  assert.deepEqual(days.split.train, ["AU-Lox", "FR-Pue"]);
  assert.equal(days.report.windows.val.rows, Math.round(0.2 * 366) + Math.round(0.2 * 365));
  assert.equal(days.report.windows.train.rows, total - days.report.windows.val.rows);
  assert.ok(days.val.windows > 0);
});

Deno.test("trainer without validation: the fixed epochs, the last weights are best", async () => {
  const train = fakeSource({ sites: 3, windowsPerSite: 6 });
  // minDelta so large that no epoch after the first improves: with validation (days) the run
  // stops early at epoch 2 and keeps epoch 1; without validation it runs all 4 and keeps the last
  const config = (valFraction: number) =>
    parseExperimentConfig({
      name: "noval",
      data: { valFraction },
      model: { name: "lstm", hidden: 8, dropout: 0 },
      train: { epochs: 4, batchSize: 6, lr: 0.01, patience: 1, minDelta: 1e9 },
    });
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-noval-" });
  try {
    const early = await trainModel({ train, val: train }, config(0.2), {
      seed: 1,
      buildModel,
      transfer: transferPretrained,
    });
    early.model.dispose();
    assert.equal(early.history.length, 2);
    assert.equal(early.stages[0].bestEpoch, 1);
    assert.ok(early.stages[0].earlyStop);

    const dir = join(tmp, "run");
    const fixed = await trainModel({ train }, config(0), {
      seed: 1,
      buildModel,
      transfer: transferPretrained,
      runDir: dir,
    });
    try {
      assert.equal(fixed.history.length, 4);
      assert.ok(fixed.history.every((r) => r.improved && r.val === null && !r.earlyStop));
      assert.deepEqual(fixed.history.map((r) => r.bestEpoch), [1, 2, 3, 4]);
      assert.deepEqual(fixed.stages.map((s) => [s.epochsRun, s.bestEpoch]), [[4, 4]]);
      assert.deepEqual(fixed.history.map((r) => r.lr), [0.01, 0.01, 0.01, 0.01]);
      const p = runPaths(dir);
      assert.deepEqual(
        await Deno.readFile(p.weights("best")),
        await Deno.readFile(p.weights("last")),
        "best = last",
      );
    } finally {
      fixed.model.dispose();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("CV and production patches for training on every site parse", async () => {
  const cv = CvConfigSchema.parse({
    name: "noval",
    trainConfig: "configs/quick.json",
    models: ["tamrl"],
    seeds: [0],
    candidates: {
      no_val: {
        description: "no validation, 6 epochs",
        overrides: { data: { valFraction: 0 }, train: { epochs: 6 } },
      },
    },
    folds: 2,
  });
  const profile = cvProfile(cv);
  const units = buildPlan(profile);
  const candidate = units.find((u) => u.variant === "no_val")!;
  const plain = units.find((u) => u.model === "tamrl" && u.variant === null)!;
  const c = await unitExperimentConfig({ profile, root: PROJECT_ROOT }, candidate);
  assert.equal(c.data.split.kind, "kfold");
  assert.equal(c.train.epochs, 6);
  assert.equal(validationMode(c.data), "none");
  const ref = await unitExperimentConfig({ profile, root: PROJECT_ROOT }, plain);
  assert.equal(validationMode(ref.data), "days");
  assert.ok(!("valSites" in ref.data.split));

  const production = JSON.parse(
    await Deno.readTextFile(join(PROJECT_ROOT, "configs", "production.json")),
  );
  const mode = (patch: Record<string, unknown>) =>
    validationMode(parseExperimentConfig(mergePatch(production, patch)).data);
  // production validates on the last days of every site (the CV measured held-out sites worse)
  assert.equal(mode({}), "days");
  assert.equal(mode({ data: { split: { valSites: null } } }), "sites");
  assert.equal(mode({ data: { valFraction: 0 }, train: { epochs: 6 } }), "none");
});

Deno.test("bestEpochs: the final stage's best epoch of every unit with a run log", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-cv-epochs-" });
  try {
    const cv = CvConfigSchema.parse({
      name: "e",
      trainConfig: "configs/quick.json",
      models: ["trees", "tamrl"],
      seeds: [0],
      folds: 2,
    });
    const units = buildPlan(cvProfile(cv));
    const best: Record<string, number> = { cv0of2: 3, cv1of2: 5 };
    await runPlan(units, {
      runDir: tmp,
      log: () => {},
      runner: async (unit, { dir }) => {
        if (unit.model === "tamrl") {
          await Deno.mkdir(join(dir, "run"));
          const pre = [1, 2].map((e) =>
            epochRecord({ stage: "pretrain", stageIndex: 0, epoch: e, bestEpoch: 2, epochs: 2 })
          );
          const n = best[unit.split] + 1; // one epoch past the best, then an early stop
          const main = Array.from({ length: n }, (_, i) =>
            epochRecord({
              epoch: i + 1,
              epochs: 8,
              bestEpoch: Math.min(i + 1, best[unit.split]),
              earlyStop: i === n - 1,
            }));
          await Deno.writeTextFile(
            join(dir, "run", "log.jsonl"),
            [...pre, ...main].map((r) => JSON.stringify(r)).join("\n") + "\n",
          );
        }
        await Deno.writeTextFile(join(dir, "predictions.parquet"), "");
        return {
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "x",
          dataSummary: "none",
          testSites: [],
          extra: {},
        };
      },
    });
    const rows = await bestEpochs(tmp);
    assert.deepEqual(
      rows.map((r) => [r.label, r.split, r.bestEpoch, r.epochsRun, r.epochs, r.earlyStop]),
      [["tamrl", "cv0of2", 3, 4, 8, true], ["tamrl", "cv1of2", 5, 6, 8, true]],
    );
    assert.deepEqual(describeBestEpochs(rows), [
      "tamrl: best epoch 3, 5 (median 4) of at most 8; epochs run 4, 6",
    ]);
    assert.equal(
      cvEpochsCsv(rows).split("\n")[1],
      "tamrl_cv0of2_s0,tamrl,cv0of2,0,3,4,8,true,true",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
