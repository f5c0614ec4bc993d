/**
 * `deno task train` on a tiny version of configs/production.json (five real sites, H 8, one epoch
 * per stage, two seeds): one ensemble folder holding the config's feature set as `seed<N>` and the
 * meteo-only fallback as `meteo_seed<N>`, each a normal run folder that predict's loader reads, on
 * a split of kind `all` (no test site; validation sites held out, disjoint from training sites).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSplit } from "../lib/data/splits.ts";
import { ensembleMembers, loadEnsemble } from "../lib/predict/ensemble.ts";
import { useBackend } from "../lib/backend.ts";
import { readJson, runPaths } from "../lib/train/runs.ts";
import { readReferenceSites } from "../lib/train/reference.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { runTask } from "./_tasks.ts";

Deno.test("train --config production (tiny): seed and meteo members in one ensemble folder, split all", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-production-" });
  try {
    const production = JSON.parse(
      await Deno.readTextFile(join(PROJECT_ROOT, "configs", "production.json")),
    );
    const tiny = {
      ...production,
      name: "production_tiny",
      data: {
        ...production.data,
        sites: ["FR-Pue", "IT-Col", "BE-Bra", "DE-Tha", "US-MMS"], // Köppen C x3, D x2
      },
      model: { ...production.model, hidden: 8, latent: 4, mlpWidths: [8] },
      train: { ...production.train, epochs: 1, pretrain: { enabled: true, epochs: 1 } },
      seeds: [0, 1],
    };
    const configPath = join(tmp, "production_tiny.json");
    await Deno.writeTextFile(configPath, JSON.stringify(tiny));
    const out = join(tmp, "tamrl");
    const run = await runTask("train", ["--config", configPath, "--run-dir", out, "--jobs", "2"]);
    assert.ok(run.success, `train failed:\n${run.text.slice(-3000)}`);
    // four members, two worker processes at a time, each line prefixed with its member
    assert.match(run.text, /4 members .*0 finished before, 4 to train in 2 worker process/);
    for (const m of ["seed0", "seed1", "meteo_trailing_seed0", "meteo_trailing_seed1"]) {
      assert.match(run.text, new RegExp(`^\\[${m}\\] run .*${m} \\(seed \\d\\)$`, "m"), m);
    }

    const main = production.data.featureSet as string;
    const fallback = production.fallbackFeatureSet as string;
    const members = [`${fallback}_seed0`, `${fallback}_seed1`, "seed0", "seed1"].map((m) =>
      join(out, m)
    );
    assert.deepEqual(await ensembleMembers(out), members);
    const splits = [];
    for (const dir of members) {
      const p = runPaths(dir);
      for (const f of [p.config, p.split, p.scaler, p.staticEncoding, p.model, p.weights("best")]) {
        assert.ok((await Deno.stat(f)).isFile, `${f} is missing`);
      }
      const config = await readJson(p.config) as {
        data: { featureSet: string };
        fallbackFeatureSet?: string;
      };
      const meteo = dir.includes(`${fallback}_`);
      assert.equal(config.data.featureSet, meteo ? fallback : main, dir);
      assert.equal(config.fallbackFeatureSet, undefined, `${dir}: a plain run config`);
      const model = await readJson(p.model) as { featureNames: { dyn: string[] } };
      assert.equal(model.featureNames.dyn.includes("LAI"), !meteo, `${dir}: LAI input`);
      const split = await loadSplit(p.split);
      splits.push(split);
      // reference_sites.json: every training site (not the validation sites), mean z of TAM-RL
      const ref = await readReferenceSites(dir);
      assert.ok(ref, `${dir}: no reference_sites.json`);
      assert.deepEqual(ref.sites.map((s) => s.site), [...split.train].sort(), dir);
      assert.ok(ref.sites.every((s) => s.z?.length === 4 && s.windows > 0), dir);
      assert.ok(ref.thresholds.static! > 0 && ref.thresholds.z! > 0, dir);
    }
    for (const split of splits) {
      assert.equal(split.kind, "all");
      assert.deepEqual(split.test, []);
      // every site trains (valSites 0: validation on each site's last days, no held-out site)
      assert.deepEqual(split.val ?? [], [], `validation sites ${split.val}`);
      assert.deepEqual([...split.train].sort(), [...tiny.data.sites].sort());
      assert.deepEqual(split, splits[0], "every member has the same split");
    }
    for (const f of ["ensemble.json", `ensemble_${fallback}.json`]) {
      const e = await readJson(join(out, f)) as { members: string[]; featureSet: string };
      assert.equal(e.members.length, 2, f);
    }
    const provenance = await readJson(runPaths(members[2]).provenance) as {
      sites: { train: number; val: number; test: number };
    };
    assert.deepEqual(provenance.sites, { train: 5, val: 0, test: 0 });

    // running again skips the finished members and leaves their files alone
    const stamp = async () =>
      await Promise.all(
        [join(out, "ensemble.json"), ...members.map((d) => runPaths(d).weights("best"))].map(
          async (f) => (await Deno.stat(f)).mtime?.getTime(),
        ),
      );
    const before = await stamp();
    const again = await runTask("train", ["--config", configPath, "--run-dir", out]);
    assert.ok(again.success, again.text.slice(-2000));
    assert.equal(again.text.match(/is finished; skipped/g)?.length, 4, again.text);
    assert.match(again.text, /4 finished before, 0 to train/);
    assert.deepEqual(await stamp(), before);

    // predict's loader reads each feature set's members as one ensemble
    await useBackend("cpu");
    for (const group of [members.slice(0, 2), members.slice(2)]) {
      const ens = await loadEnsemble(group, { trainingSites: null });
      try {
        assert.equal(ens.models.length, 2);
        assert.equal(ens.split.kind, "all");
      } finally {
        ens.dispose();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("train without validation (valFraction 0, tiny): every site trains, fixed epochs, last weights; a lost member is redone", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-noval-train-" });
  try {
    const production = JSON.parse(
      await Deno.readTextFile(join(PROJECT_ROOT, "configs", "production.json")),
    );
    const { fallbackFeatureSet: _, ...plain } = production;
    const sites = ["FR-Pue", "IT-Col", "DE-Tha"];
    const tiny = {
      ...plain,
      name: "noval_tiny",
      data: { ...production.data, sites, valFraction: 0 },
      model: { ...production.model, hidden: 8, latent: 4, mlpWidths: [8] },
      train: {
        ...production.train,
        epochs: 2,
        patience: 1,
        pretrain: { enabled: true, epochs: 1 },
      },
      seeds: [0, 1],
    };
    const configPath = join(tmp, "noval_tiny.json");
    await Deno.writeTextFile(configPath, JSON.stringify(tiny));
    const out = join(tmp, "tamrl");
    const run = await runTask("train", ["--config", configPath, "--run-dir", out]);
    assert.ok(run.success, `train failed:\n${run.text.slice(-3000)}`);
    for (const seed of [0, 1]) {
      const dir = join(out, `seed${seed}`);
      const p = runPaths(dir);
      const split = await loadSplit(p.split);
      assert.deepEqual(split.train, [...sites].sort(), "every site trains");
      assert.deepEqual(split.val, []);
      const metrics = await readJson(p.metrics) as Record<string, unknown>;
      assert.equal(metrics.split, "none");
      assert.equal(metrics.bestEpoch, 2);
      assert.equal(metrics.pooled, null);
      assert.equal((metrics.train as { total: number }).total > 0, true);
      const log = (await Deno.readTextFile(p.log)).trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(log.map((r) => [r.stage, r.epoch, r.val]), [
        ["pretrain", 1, null],
        ["main", 1, null],
        ["main", 2, null],
      ]);
      assert.deepEqual(
        await Deno.readFile(p.weights("best")),
        await Deno.readFile(p.weights("last")),
      );
      const ref = await readReferenceSites(dir);
      assert.deepEqual(ref?.sites.map((s) => s.site), [...sites].sort());
    }
    const ensemble = await readJson(join(out, "ensemble.json")) as Record<string, unknown>;
    assert.equal(ensemble.split, "none");
    assert.equal((ensemble.members as string[]).length, 2);
    assert.equal(ensemble.pooled, null);

    // a member killed after its last epoch (no metrics.json): the re-run redoes only it
    await Deno.remove(runPaths(join(out, "seed1")).metrics);
    const again = await runTask("train", ["--config", configPath, "--run-dir", out, "--resume"]);
    assert.ok(again.success, again.text.slice(-2000));
    assert.match(again.text, /1 finished before, 1 to train/);
    assert.match(again.text, /\[seed1\] run .*seed1 \(seed 1\), resuming/);
    assert.equal(
      (await readJson(runPaths(join(out, "seed1")).metrics) as { split: string }).split,
      "none",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
