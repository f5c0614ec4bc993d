import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { buildModel, parseModelConfig } from "../lib/models/mod.ts";
import {
  clipPhysical,
  type FluxModel,
  pooledMetrics,
  type PredictedDay,
  predictEnsemble,
} from "../lib/train/mod.ts";
import { fakeSource } from "./_fakes.ts";

await tf.setBackend("cpu");

const source = fakeSource({ sites: 2, windowsPerSite: 3, window: 8, lossDays: 4 });
const lstm = (seed: number) =>
  buildModel(parseModelConfig({ name: "lstm", hidden: 4 }), source.dims, { seed });

/** A model whose output is the constant `bias` (standardized scale). */
function constantModel(bias: [number, number, number]): FluxModel {
  const model = lstm(1);
  const kernel = model.variables.get("head/kernel")!;
  kernel.assign(tf.zerosLike(kernel));
  model.variables.get("head/bias")!.assign(tf.tensor1d(bias));
  return model;
}

Deno.test("GPP and RECO are clipped at 0 in physical units, NEE is not", () => {
  const scale = source.targetScale; // mean [3, 4, 1], std [2, 1.5, 1]
  const model = constantModel([-10, 1, -10]);
  const { days } = predictEnsemble([model], source, { lossDays: 4 });
  for (const d of days) {
    assert.equal(d.GPP, 0); // -10 * 2 + 3 < 0
    assert.ok(Math.abs(d.RECO - (1 * scale.std[1] + scale.mean[1])) < 1e-5);
    assert.ok(Math.abs(d.NEE - (-10 * scale.std[2] + scale.mean[2])) < 1e-5);
  }
  const direct = clipPhysical(tf.tensor3d([[[-1, -5, -5]]]), scale).arraySync();
  assert.deepEqual(direct, [[[1, 0, -4]]]);
  model.dispose();
});

Deno.test("predicted days: the last lossDays of each window, dated, with observations", () => {
  const model = lstm(2);
  const { days, duplicates, members } = predictEnsemble([model], source, { lossDays: 4 });
  assert.equal(members, 1);
  assert.equal(duplicates, 0);
  assert.equal(days.length, source.windows * 4);
  // fake windows of a site start 4 days apart: 2010-01-01, -05, -09; the loss days are days 4..7
  const s0 = days.filter((d) => d.site === "S0").map((d) => d.date);
  assert.deepEqual(s0.slice(0, 5), [
    "2010-01-05",
    "2010-01-06",
    "2010-01-07",
    "2010-01-08",
    "2010-01-09",
  ]);
  assert.equal(new Set(s0).size, s0.length);
  // observations are physical and null where the target is missing (the fake drops 10%)
  const nulls = days.filter((d) => d.GPP_obs === null).length;
  assert.ok(nulls > 0 && nulls < days.length);
  assert.throws(
    () => predictEnsemble([model], source, { lossDays: 9 }),
    /lossDays 9 must be in 1..8/,
  );
  model.dispose();
});

Deno.test("ensemble: std is zero for one member, positive for several; mean of clipped members", () => {
  const a = lstm(11);
  const b = lstm(12);
  const c = lstm(13);
  const one = predictEnsemble([a], source, { lossDays: 4 }).days;
  assert.ok(one.every((d) => d.GPP_sd === 0 && d.RECO_sd === 0 && d.NEE_sd === 0));
  const pb = predictEnsemble([b], source, { lossDays: 4 }).days;
  const pc = predictEnsemble([c], source, { lossDays: 4 }).days;
  const three = predictEnsemble([a, b, c], source, { lossDays: 4 }).days;
  assert.ok(three.every((d) => d.GPP_sd > 0 && d.RECO_sd > 0 && d.NEE_sd > 0));
  for (let i = 0; i < three.length; i += 7) {
    for (const k of ["GPP", "RECO", "NEE"] as const) {
      const xs = [one[i][k], pb[i][k], pc[i][k]];
      const mean = (xs[0] + xs[1] + xs[2]) / 3;
      const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / 3); // population std
      assert.ok(Math.abs(three[i][k] - mean) < 1e-5, `${k} mean`);
      assert.ok(
        Math.abs(three[i][`${k}_sd`] - sd) < 1e-4,
        `${k} sd ${three[i][`${k}_sd`]} vs ${sd}`,
      );
    }
  }
  // identical members: std 0
  const same = predictEnsemble([a, a], source, { lossDays: 4 }).days;
  assert.ok(same.every((d) => d.GPP_sd < 1e-6));
  for (const m of [a, b, c]) m.dispose();
});

Deno.test("pooled metrics by hand", () => {
  const day = (pred: number, obs: number | null): PredictedDay => ({
    site: "X",
    date: "2010-01-01",
    GPP: pred,
    RECO: pred,
    NEE: pred,
    GPP_sd: 0,
    RECO_sd: 0,
    NEE_sd: 0,
    GPP_obs: obs,
    RECO_obs: obs,
    NEE_obs: obs,
    NEE_QC: 1,
  });
  const m = pooledMetrics([day(1, 1), day(3, 2), day(2, 3), day(9, null)]);
  // errors 0, 1, -1: rmse sqrt(2/3); obs mean 2, SST 2 -> r2 = 1 - 2/2 = 0; bias 0
  assert.ok(Math.abs(m.GPP.rmse - Math.sqrt(2 / 3)) < 1e-12);
  assert.equal(m.GPP.r2, 0);
  assert.equal(m.GPP.bias, 0);
  assert.equal(m.GPP.n, 3);
});
