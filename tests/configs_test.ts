/**
 * Every committed config parses, and every config schema rejects unknown keys (a typo such as
 * `"windw": 30` must not be dropped silently).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetConfigSchema } from "../lib/data/dataset.ts";
import { SplitSchema, SplitSpecSchema } from "../lib/data/splits.ts";
import { buildPlan, loadProfile, ProfileSchema } from "../lib/experiments/plan.ts";
import { mergePatch } from "../lib/train/merge_patch.ts";
import { TreesConfigSchema } from "../lib/models/trees/pipeline.ts";
import { GbmConfigSchema } from "../lib/models/trees/config.ts";
import { ModelConfigSchema } from "../lib/models/config.ts";
import { ensembleGroups, parseExperimentConfig, TrainConfigSchema } from "../lib/train/config.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const readJson = async (path: string) =>
  JSON.parse(await Deno.readTextFile(join(ROOT, path))) as Record<string, unknown>;

Deno.test("every committed config parses, and so does every unit's merged config", async () => {
  const experiment = ["configs/quick.json", "configs/paper.json", "configs/production.json"];
  for (const file of experiment) parseExperimentConfig(await readJson(file), { source: file });
  TreesConfigSchema.parse(await readJson("configs/trees.json"));
  const profiles = [...Deno.readDirSync(join(ROOT, "configs", "profiles"))]
    .filter((e) => e.name.endsWith(".json")).map((e) => e.name);
  assert.ok(profiles.length >= 4, `${profiles}`);
  for (const name of profiles) {
    const { profile } = await loadProfile(join(ROOT, "configs", "profiles", name), { root: ROOT });
    const base = await readJson(profile.trainConfig);
    const trees = profile.treesConfig ? await readJson(profile.treesConfig) : {};
    for (const unit of buildPlan(profile)) {
      if (unit.model === "trees") TreesConfigSchema.parse(mergePatch(trees, unit.overrides));
      else {
        parseExperimentConfig(mergePatch(base, unit.overrides), { source: `${name} ${unit.id}` });
      }
    }
  }
});

Deno.test("unknown keys are rejected with a message naming the key", () => {
  assert.throws(
    () =>
      parseExperimentConfig({ name: "x", data: { windw: 30 }, model: { name: "lstm" }, train: {} }),
    /data: Unrecognized key: "windw"/,
  );
  const cases: [
    string,
    { safeParse: (v: unknown) => { success: boolean; error?: unknown } },
    unknown,
  ][] = [
    ["data", DatasetConfigSchema, { windw: 30 }],
    ["split spec", SplitSpecSchema, { knd: "igbp" }],
    ["split", SplitSchema, {
      kind: "koppen",
      seed: 1,
      spec: {},
      train: [],
      test: [],
      strata: {},
      extra: 1,
    }],
    ["model", ModelConfigSchema, { name: "lstm", hiden: 3 }],
    ["train", TrainConfigSchema, { epochz: 3 }],
    ["trees", TreesConfigSchema, { gbm: { nTree: 3 } }],
    ["gbm", GbmConfigSchema, { nTree: 3 }],
    ["profile", ProfileSchema, {
      name: "p",
      trainConfig: "configs/quick.json",
      models: ["lstm"],
      splits: ["koppen"],
      seeds: [0],
      seed: 1,
    }],
  ];
  for (const [what, schema, value] of cases) {
    const r = schema.safeParse(value);
    assert.equal(r.success, false, `${what}: an unknown key was accepted`);
    assert.match(String(r.error), /Unrecognized key/, what);
  }
});

Deno.test("production config: split all, a seed ensemble plus meteo-only members of the same settings", async () => {
  const config = parseExperimentConfig(await readJson("configs/production.json"));
  assert.equal(config.data.split.kind, "all");
  assert.deepEqual(config.data.split.forceTest, []);
  assert.ok(config.seeds.length >= 3);
  const groups = ensembleGroups(config);
  // what the site cross-validation measured to help (README "Generalization")
  assert.deepEqual(groups.map((g) => [g.featureSet, g.prefix]), [["minimal_trailing", ""], [
    "meteo_trailing",
    "meteo_trailing_",
  ]]);
  assert.equal(config.model.inferenceSupport, "all");
  for (const g of groups) {
    assert.equal(g.config.fallbackFeatureSet, undefined, "each member is a plain run config");
    assert.deepEqual(g.config.model, config.model);
    assert.deepEqual(g.config.train, config.train);
    assert.deepEqual({ ...g.config.data, featureSet: "x" }, { ...config.data, featureSet: "x" });
  }
  assert.throws(
    () => parseExperimentConfig({ ...config, fallbackFeatureSet: config.data.featureSet }),
    /fallbackFeatureSet: must differ from data.featureSet/,
  );
  assert.throws(
    () =>
      parseExperimentConfig({
        ...config,
        data: { ...config.data, split: { kind: "all", forceTest: ["DE-Tha"] } },
      }),
    /forceTest/,
  );
});
