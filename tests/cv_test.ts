/**
 * Site-level cross-validation (lib/experiments/cv.ts, tasks/cv.ts): fold names and split specs,
 * every site a test site exactly once on the real site table, the median bootstrap, and the CV
 * report on synthetic unit folders.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import { makeSplit } from "../lib/data/splits.ts";
import { writePredictions } from "../lib/eval/predictions.ts";
import { pairedStatistic } from "../lib/eval/significance.ts";
import {
  buildCvReport,
  CvConfigSchema,
  cvFolds,
  cvProfile,
  foldsOfSites,
  loadCvConfig,
} from "../lib/experiments/cv.ts";
import {
  buildPlan,
  runPlan,
  SplitNameSchema,
  splitSpecOf,
  type Unit,
} from "../lib/experiments/plan.ts";
import { unitExperimentConfig, unitSplitSpec } from "../lib/experiments/units.ts";
import { SITES, syntheticTable } from "./eval_fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("fold split names: cv<fold>of<k>, validated, mapped to kind kfold", () => {
  assert.deepEqual(cvFolds(3), ["cv0of3", "cv1of3", "cv2of3"]);
  assert.deepEqual(splitSpecOf("cv4of5"), { kind: "kfold", fold: 4, k: 5 });
  assert.deepEqual(splitSpecOf("koppen"), { kind: "koppen" });
  for (const bad of ["cv5of5", "cv0of1", "cvxofy", "kfold"]) {
    assert.equal(SplitNameSchema.safeParse(bad).success, false, bad);
  }
  // a fold drops forceTest: in a CV every site is tested exactly once
  assert.deepEqual(unitSplitSpec({ seed: 7, forceTest: ["DE-Tha"] }, { split: "cv1of5" }), {
    seed: 7,
    forceTest: [],
    kind: "kfold",
    fold: 1,
    k: 5,
  });
  assert.deepEqual(unitSplitSpec({ seed: 7, forceTest: ["DE-Tha"] }, { split: "igbp" }), {
    seed: 7,
    forceTest: ["DE-Tha"],
    kind: "igbp",
  });
});

Deno.test("the CV profile: models x folds x seeds, candidates on every fold, trees seeds apart", () => {
  const config = CvConfigSchema.parse({
    name: "t",
    trainConfig: "configs/quick.json",
    treesConfig: "configs/trees.json",
    models: ["trees", "tamrl"],
    seeds: [0, 1],
    treesSeeds: [0],
    candidates: { k8: { description: "K 8", overrides: { data: { supportK: 8 } } } },
  });
  const units = buildPlan(cvProfile(config, { folds: 3 }));
  const ids = units.map((u) => u.id);
  assert.equal(ids.filter((i) => i.startsWith("trees_")).length, 3); // one seed x 3 folds
  assert.equal(ids.filter((i) => i.startsWith("tamrl_")).length, 6); // two seeds x 3 folds
  assert.equal(ids.filter((i) => i.startsWith("tamrl-k8_")).length, 3); // first seed x 3 folds
  assert.ok(ids.includes("tamrl-k8_cv2of3_s0"));
  assert.ok(!ids.includes("trees_cv0of3_s1"));
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("real sites: the folds of the committed CV configs partition all 183 sites", async () => {
  const sites = await loadSites(resolveDataDir().sitesCsv);
  for (const file of ["configs/cv/screen.json", "configs/cv/final.json"]) {
    const config = await loadCvConfig(join(ROOT, file));
    const profile = cvProfile(config);
    const units = buildPlan(profile).filter((u) => u.model === "tamrl" && u.variant === null);
    const tested = new Map<string, string>();
    for (const unit of units.filter((u) => u.seed === config.seeds[0])) {
      const exp = await unitExperimentConfig({ profile, root: ROOT }, unit);
      const split = makeSplit(sites, exp.data.split);
      assert.equal(split.kind, "kfold");
      assert.deepEqual(split.spec.forceTest, []);
      for (const s of split.test) {
        assert.ok(!split.train.includes(s), `${s} in train and test of ${unit.split}`);
        assert.ok(!tested.has(s), `${s} tested in ${tested.get(s)} and ${unit.split}`);
        tested.set(s, unit.split);
      }
      assert.equal(split.train.length + split.test.length, sites.length);
    }
    assert.equal(tested.size, sites.length, `${file}: every site is a test site once`);
    // and the report's own check accepts these folds
    assert.equal(
      foldsOfSites(
        [...tested].map(([site, split]) => ({ label: "tamrl", seed: 0, split, testSites: [site] })),
      ).size,
      sites.length,
    );
  }
});

Deno.test("foldsOfSites: a site tested in two folds is an error naming it", () => {
  assert.throws(
    () =>
      foldsOfSites([
        { label: "tamrl", seed: 0, split: "cv0of2", testSites: ["A", "B"] },
        { label: "tamrl", seed: 0, split: "cv1of2", testSites: ["B"] },
      ]),
    /site B is a test site of folds cv0of2 and cv1of2/,
  );
});

Deno.test("pairedStatistic: median of a minus median of b, bootstrap interval, resolution", () => {
  const a = new Map([["A", 0.1], ["B", 0.5], ["C", 0.9], ["D", 0.2]]);
  const b = new Map([["A", 0.0], ["B", 0.4], ["C", 0.1], ["D", 0.3], ["E", 9]]);
  const med = pairedStatistic(a, b, { statistic: "median", resamples: 2000 });
  // common sites A-D: median(a) = 0.35, median(b) = 0.2
  assert.equal(med.n, 4);
  assert.ok(Math.abs(med.a - 0.35) < 1e-12 && Math.abs(med.b - 0.2) < 1e-12);
  assert.ok(Math.abs(med.difference - 0.15) < 1e-12);
  assert.ok(med.lo <= med.difference && med.difference <= med.hi);
  const mean = pairedStatistic(a, b, { statistic: "mean", resamples: 2000 });
  assert.ok(Math.abs(mean.difference - (0.1 + 0.1 + 0.8 - 0.1) / 4) < 1e-12);
  // identical models: difference 0, interval [0, 0], never resolved
  const same = pairedStatistic(a, a, { statistic: "median", resamples: 500 });
  assert.deepEqual([same.difference, same.lo, same.hi, same.resolved], [0, 0, 0, false]);
  // a clear shift over many sites is resolved
  const x = new Map<string, number>(), y = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    x.set(`s${i}`, 0.5 + 0.01 * i);
    y.set(`s${i}`, 0.3 + 0.01 * i + 0.02 * Math.sin(i));
  }
  const shift = pairedStatistic(x, y, { statistic: "median", resamples: 2000 });
  assert.ok(shift.resolved && shift.lo > 0, JSON.stringify(shift));
});

Deno.test("CV report: synthetic folds -> summary, vs trees, candidates, per-site tables", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_cv_" });
  try {
    const noise: Record<string, number> = { trees: 1.5, tamrl: 0.3, "tamrl:better": 0.1 };
    const folds = cvFolds(2);
    const testOf = (fold: number) => SITES.filter((_, i) => i % 2 === fold).map((s) => s.site);
    const units: Unit[] = [];
    for (const label of Object.keys(noise)) {
      const [model, variant] = label.split(":");
      const seeds = label === "tamrl" ? [0, 1] : [0];
      for (const [f, split] of folds.entries()) {
        for (const seed of seeds) {
          units.push({
            id: `${label.replace(":", "-")}_${split}_s${seed}`,
            model: model as Unit["model"],
            split,
            seed,
            variant: variant ?? null,
            label,
            overrides: { fold: f },
          });
        }
      }
    }
    const report = await runPlan(units, {
      runDir,
      log: () => {},
      runner: async (unit, { dir }) => {
        const test = testOf(unit.overrides.fold as number);
        const rows = syntheticTable({ models: [unit.label], days: 200, seed: unit.seed, noise })
          .filter((r) => test.includes(r.site));
        await writePredictions(join(dir, "predictions.parquet"), rows);
        return {
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "h",
          dataSummary: "synthetic",
          testSites: test,
          extra: {},
        };
      },
    });
    assert.equal(report.failed.length, 0);
    const config = CvConfigSchema.parse({
      name: "syn",
      trainConfig: "configs/quick.json",
      models: ["trees", "tamrl"],
      seeds: [0, 1],
      candidates: { better: { description: "less noise", overrides: {} } },
      candidateSeeds: [0],
      eval: { resamples: 500, minDays: 5 },
    });
    const out = await buildCvReport(runDir, {
      sites: await loadSites(resolveDataDir().sitesCsv),
      config,
      log: () => {},
    });
    const names = out.tables.map((p) => p.split("/").pop());
    for (const n of ["cv_summary.md", "cv_vs_trees.csv", "cv_candidates.json", "cv_sites.csv"]) {
      assert.ok(names.includes(n), `missing ${n}`);
    }
    assert.equal(out.foldOf.size, SITES.length);
    // entries: every label (tamrl = the 2-seed ensemble) plus tamrl at seed 0 alone
    assert.deepEqual(out.entries.map((e) => e.name).sort(), [
      "tamrl",
      "tamrl:better",
      "tamrl@s0",
      "trees",
    ]);
    const gppRmse = out.vsTrees.find((c) => c.flux === "GPP" && c.metric === "rmse")!;
    assert.ok(gppRmse.difference < 0 && gppRmse.a < gppRmse.b);
    assert.equal(gppRmse.n, SITES.length);
    const cand = out.candidates.find((c) =>
      c.a_name === "tamrl:better" && c.b_name === "tamrl@s0" && c.flux === "GPP" &&
      c.metric === "rmse"
    );
    assert.ok(cand && cand.difference < 0, "the candidate is compared with plain TAM-RL seed 0");
    assert.ok(out.candidates.some((c) => c.a_name === "tamrl" && c.b_name === "tamrl@s0"));
    const md = await Deno.readTextFile(join(runDir, "tables", "cv_vs_trees.md"));
    assert.match(md, /site-median R2/);
    assert.match(md, /doi:10\.18140/);
    const sitesCsv = await Deno.readTextFile(join(runDir, "tables", "cv_sites.csv"));
    assert.match(sitesCsv, /cv1of2/);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("every committed CV config parses, and so does every unit's merged config", async () => {
  const files = [...Deno.readDirSync(join(ROOT, "configs", "cv"))].filter((e) =>
    e.name.endsWith(".json")
  );
  assert.ok(files.length >= 2);
  for (const f of files) {
    const config = await loadCvConfig(join(ROOT, "configs", "cv", f.name));
    const profile = cvProfile(config);
    for (const unit of buildPlan(profile)) {
      if (unit.model === "trees") continue;
      await unitExperimentConfig({ profile, root: ROOT }, unit); // throws naming the unit
    }
  }
});

Deno.test("deno task cv --dry-run lists the units and claims no run folder", async () => {
  const run = `cv_dry_run_test_${Deno.pid}`;
  const runDir = join(ROOT, "results", run);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "cv",
      "--config",
      "configs/cv/final.json",
      "--run",
      run,
      "--dry-run",
      "--no-estimate",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /todo {2}tamrl_cv0of5_s0/);
  // nothing written: neither the run folder nor a leftover temporary profile
  await assert.rejects(Deno.stat(runDir), Deno.errors.NotFound);
  const left = [...Deno.readDirSync(join(ROOT, "results"))].filter((e) =>
    e.name.startsWith(".cv_dry_run_")
  );
  assert.deepEqual(left, []);
});
