import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseExperimentConfig } from "../lib/train/config.ts";
import { disposeBatch } from "../lib/train/contracts.ts";
import { predictEnsemble } from "../lib/train/predict.ts";
import { htmlProgress } from "../lib/train/progress.ts";
import {
  cachedRunDir,
  describeRun,
  findRun,
  isFinishedRun,
  openRun,
  patchConfig,
  trainOrLoad,
} from "../lib/train/run_cache.ts";
import { readReferenceSites } from "../lib/train/reference.ts";
import { capWindows } from "../lib/train/subsample.ts";
import { fixtureDataset } from "./_dataset_fixtures.ts";
import { fakeSource } from "./_fakes.ts";

await tf.setBackend("cpu");

const dataConfig = { window: 30, stride: 15, supportK: 2 };

function config() {
  return parseExperimentConfig({
    name: "cache-test",
    data: dataConfig,
    model: { name: "tamrl", hidden: 6, latent: 3, mlpWidths: [8] },
    train: { epochs: 2, batchSize: 8, lr: 0.01, pretrain: { enabled: true, epochs: 1 } },
  });
}

Deno.test("patchConfig merges objects key by key and validates again", () => {
  const c = config();
  const p = patchConfig(c, { train: { loss: { alpha: 0, useBalance: false } } });
  assert.equal(p.train.loss.alpha, 0);
  assert.equal(p.train.loss.useBalance, false);
  assert.equal(p.train.loss.useQc, true);
  assert.equal(p.train.lr, 0.01);
  assert.equal(c.train.loss.alpha, 0.1, "the original is unchanged");
  assert.throws(() => patchConfig(c, { train: { lr: -1 } }), /train\.lr/);
});

Deno.test("capWindows: at most max windows per pass; new subsets when shuffled, a fixed one otherwise", () => {
  const source = fakeSource({ sites: 4, windowsPerSite: 6 });
  const capped = capWindows(source, { max: 10 });
  assert.equal(capped.windows, 10);
  const pass = (shuffle: boolean, seed: number) => {
    const keys: string[] = [];
    for (const b of capped.batches({ batchSize: 4, shuffle, seed })) {
      assert.equal(b.xDyn.shape[0], b.meta.site.length);
      assert.equal(b.support.shape[0], b.meta.site.length);
      b.meta.site.forEach((s, i) => keys.push(`${s}@${b.meta.start[i]}`));
      disposeBatch(b);
    }
    return keys;
  };
  const before = tf.memory().numTensors;
  const a = pass(true, 1), b = pass(true, 2);
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  assert.equal(a.length, 10);
  assert.equal(new Set(a).size, 10);
  assert.notDeepEqual([...a].sort(), [...b].sort());
  assert.deepEqual(pass(false, 1), pass(false, 7));
  assert.equal(capWindows(source, { max: 100 }), source, "no cap needed: the source itself");
  assert.throws(() => capWindows(source, { max: 0 }), /positive integer/);
});

Deno.test("trainOrLoad trains once, then loads the same run; findRun and openRun see it", async () => {
  const ds = await fixtureDataset(dataConfig);
  const root = await Deno.makeTempDir({ prefix: "tamflux_cache_" });
  try {
    const c = config();
    const shown: string[] = [];
    const first = await trainOrLoad(ds, c, {
      runsDir: root,
      progress: htmlProgress((b) => {
        shown.push(b["text/plain"]);
      }),
    });
    assert.equal(first.loaded, false);
    assert.equal(first.completed, true);
    assert.equal(first.history.length, 3); // 1 pretrain + 2 main epochs
    assert.equal(first.dir, await cachedRunDir(root, c, { seed: 0, maxWindows: null }));
    assert.ok(await isFinishedRun(first.dir));
    const reference = await readReferenceSites(first.dir);
    assert.deepEqual(reference?.sites.map((s) => s.site), ["FR-Pue"], "reference_sites.json");
    assert.ok(shown.length >= 3);
    const summary = describeRun(first);
    assert.match(summary, /^Trained .*cache-test/);
    assert.match(summary, /pretrain \(lstm\): 1\/1 epochs/);
    assert.match(summary, /main \(tamrl\): 2\/2 epochs, best epoch [12] \(val total \d/);
    const predict = (m: typeof first.model) =>
      predictEnsemble([m], ds.test, { lossDays: 15 }).days.map((d) => d.NEE);
    const trained = predict(first.model);
    first.model.dispose();

    const epochs: number[] = [];
    const second = await trainOrLoad(ds, c, {
      runsDir: root,
      progress: { onStep: () => {}, onEpoch: (r) => epochs.push(r.epoch) },
    });
    assert.equal(second.loaded, true);
    assert.equal(second.dir, first.dir);
    assert.deepEqual(epochs, [1, 1, 2], "the saved log is replayed");
    assert.deepEqual(predict(second.model), trained);
    second.model.dispose();

    // another cap is another run; a run elsewhere with the same config is found by `search`
    const other = join(root, "other");
    const capped = await cachedRunDir(other, c, { seed: 0, maxWindows: 5 });
    assert.notEqual(capped, first.dir);
    assert.equal(await findRun(root, c, { seed: 0, split: ds.split }), first.dir);
    assert.equal(await findRun(root, c, { seed: 1 }), null);
    const alpha0 = patchConfig(c, { train: { loss: { alpha: 0 } } });
    assert.equal(await findRun(root, alpha0, { seed: 0 }), null);
    const found = await trainOrLoad(ds, c, { runsDir: other, search: [root] });
    assert.equal(found.loaded, true);
    assert.equal(found.dir, first.dir);
    found.model.dispose();

    const run = await openRun(first.dir);
    assert.deepEqual(run.split.test, ds.split.test);
    assert.equal(run.config.train.loss.alpha, 0.1);
    assert.equal(run.history.length, 3);
    assert.deepEqual(predict(run.model), trained);
    run.model.dispose();
    await assert.rejects(() => openRun(join(root, "nothing")), /config\.json does not exist/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
