import assert from "node:assert/strict";
import {
  type DatasetShape,
  estimateLines,
  jsonMemo,
  type Measurer,
  measureUnits,
  neuralSteps,
  planWall,
  slurmTime,
  suggestArray,
  summarizeEstimate,
  treesDepthWork,
  unitSeconds,
} from "../lib/experiments/cost.ts";
import { buildPlan, ProfileSchema } from "../lib/experiments/plan.ts";
import { parseExperimentConfig } from "../lib/train/config.ts";

const config = (model: string, pretrain: boolean) =>
  parseExperimentConfig({
    name: "t",
    data: { window: 30, stride: 15, supportK: 3, split: { kind: "koppen", seed: 1 } },
    model: { name: model, hidden: 16, latent: 4 },
    train: { epochs: 4, batchSize: 10, pretrain: { enabled: pretrain, epochs: 2 } },
    seeds: [0],
  });

Deno.test("cost: steps are epochs x ceil(windows / batch) per stage; pretraining adds a stage", () => {
  const w = { train: 95, val: 30, test: 60 };
  const plain = neuralSteps(config("lstm", true), w);
  assert.deepEqual(plain.stages.map((s) => [s.name, s.model, s.steps]), [["main", "lstm", 40]]);
  // evaluation: val windows every epoch and the test windows once, as forward passes
  assert.ok(Math.abs(plain.evalSteps - (30 * 4 + 60) / 10 / 3) < 1e-12);
  const tam = neuralSteps(config("tamrl", true), w);
  assert.deepEqual(tam.stages.map((s) => [s.name, s.model, s.steps]), [
    ["pretrain", "lstm", 20],
    ["main", "tamrl", 40],
  ]);
  assert.equal(neuralSteps(config("tamrl", false), w).stages.length, 1);
});

Deno.test("cost: a unit's seconds add up its stages, evaluation, trees and dataset build", () => {
  const s = unitSeconds({
    id: "u",
    stages: [
      { name: "pretrain", model: "lstm", epochs: 1, steps: 10, secondsPerStep: 0.5 },
      { name: "main", model: "tamrl", epochs: 1, steps: 10, secondsPerStep: 1 },
    ],
    evalSteps: 6,
    trees: { work: 100, secondsPerWork: 0.01, rows: 10, secondsPerRow: 0.1 },
    datasetSeconds: 2,
  });
  assert.equal(s, 2 + 5 + 10 + 6 + 1 + 1);
});

Deno.test("cost: wall time of a queue and of shards; never below the longest unit or the mean", () => {
  const secs = [5, 1, 1, 1, 4, 4];
  assert.equal(planWall(secs, 1, "queue"), 16);
  assert.equal(planWall(secs, 1, "shard"), 16);
  assert.equal(planWall(secs, 2, "shard"), 10); // [5, 1, 4] and [1, 1, 4]
  assert.equal(planWall(secs, 2, "queue"), 8); // [5, 1, 1, 1] and [4, 4]
  for (const n of [1, 2, 3, 4, 6, 9]) {
    for (const mode of ["queue", "shard"] as const) {
      const w = planWall(secs, n, mode);
      assert.ok(w >= 5 && w >= 16 / n - 1e-9, `${mode} ${n}: ${w}`);
    }
  }
  assert.throws(() => planWall(secs, 0, "queue"));
});

Deno.test("cost: the suggested array stops adding tasks when the longest unit bounds the wall", () => {
  assert.equal(suggestArray([10, 10, 10, 10]).tasks, 4);
  // one long unit: two shards already finish with it
  const s = suggestArray([100, 5, 5, 5, 5]);
  assert.equal(s.tasks, 2); // [100, 5, 5] is within 10% of the longest unit
  assert.equal(s.shardSeconds, 110);
  assert.equal(s.timeLimitSeconds, Math.ceil((110 * 1.5 + 600) / 60) * 60);
  assert.equal(suggestArray([100, 5, 5, 5, 5, 5, 5, 5, 5]).tasks, 3);
  assert.equal(suggestArray([1, 1, 1], { maxTasks: 2 }).tasks, 2);
});

Deno.test("cost: Slurm time limits", () => {
  assert.equal(slurmTime(59), "00:00:59");
  assert.equal(slurmTime(3600 * 25 + 61), "1-01:01:01");
});

Deno.test("cost: measureUnits times each stage's model at the unit's shapes; totals in lines", async () => {
  const profile = ProfileSchema.parse({
    name: "t",
    trainConfig: "c.json",
    models: ["trees", "lstm", "tamrl"],
    splits: ["koppen"],
    seeds: [0],
  });
  const units = buildPlan(profile);
  const shape: DatasetShape = {
    windows: { train: 100, val: 20, test: 30 },
    nDyn: 9,
    nStatic: 12,
    trainDays: 1500,
    seconds: 3,
  };
  const asked: string[] = [];
  const measurer: Measurer = {
    config: (u) => Promise.resolve(config(u.model === "trees" ? "lstm" : u.model, true)),
    dataset: () => Promise.resolve(shape),
    step: (model, shapes) => {
      asked.push(`${model.name} B${shapes.B} T${shapes.T} F${shapes.F} S${shapes.S} K${shapes.K}`);
      return Promise.resolve(model.name === "lstm" ? 0.01 : 0.04);
    },
    treesRate: (nCols) =>
      Promise.resolve({ perWork: nCols === 9 + 12 + 2 ? 1e-6 : NaN, perRow: 1e-4 }),
    treesConfig: () =>
      Promise.resolve({
        gbm: { nTrees: 10, maxDepth: 2 },
        perTarget: { GPP: { nTrees: 20 } },
        rolling: { columns: ["a"], windows: [7, 30] },
      }),
  };
  const works = await measureUnits(units, measurer);
  assert.deepEqual(asked, [
    "lstm B10 T30 F9 S12 K3",
    "lstm B10 T30 F9 S12 K3",
    "tamrl B10 T30 F9 S12 K3",
  ]);
  assert.equal(
    treesDepthWork({ gbm: { nTrees: 10, maxDepth: 2 }, perTarget: { GPP: { nTrees: 20 } } }),
    80,
  );
  assert.deepEqual(works[0].trees, {
    work: 1500 * 80,
    secondsPerWork: 1e-6,
    rows: 1500,
    secondsPerRow: 1e-4,
  });
  assert.ok(Math.abs(unitSeconds(works[0]) - (3 + 1500 * 80 * 1e-6 + 1500 * 1e-4)) < 1e-9);
  const e = summarizeEstimate(works);
  // tamrl: pretrain 2 x 10 steps at 0.01, main 4 x 10 at 0.04, eval (20 x 6 + 30) / 10 / 3 at 0.04
  assert.ok(Math.abs(e.units[2].seconds - (3 + 0.2 + 1.6 + 5 * 0.04)) < 1e-9);
  assert.ok(Math.abs(e.coreHours * 3600 - e.units.reduce((a, u) => a + u.seconds, 0)) < 1e-9);
  const lines = estimateLines(e, { workers: 2 });
  assert.equal(lines.length, 4);
  assert.match(lines[3], /^estimate: [0-9.]+ core-hours; wall .* with 2 workers/);
});

Deno.test("cost: measurements are memoised in a JSON file", async () => {
  const dir = await Deno.makeTempDir();
  let calls = 0;
  const measure = () => Promise.resolve(++calls);
  assert.equal(await jsonMemo(`${dir}/m.json`).get("k", measure), 1);
  assert.equal(await jsonMemo(`${dir}/m.json`).get("k", measure), 1); // a new memo reads the file
  assert.equal(await jsonMemo(`${dir}/m.json`).peek("other"), undefined);
  assert.equal(await jsonMemo(`${dir}/m.json`).get("other", measure), 2);
  await Deno.remove(dir, { recursive: true });
});
