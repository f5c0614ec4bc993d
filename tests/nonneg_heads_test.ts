/**
 * `model.nonNegative: "softplus"` (lib/models/heads.ts): GPP and RECO non-negative in physical
 * units in the loss, the validation loss and inference; without the option, today's model bit for
 * bit.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyHeads,
  applyWithHeads,
  buildModel,
  encodeWeights,
  type FluxModel,
  type ModelConfigInput,
  parseModelConfig,
  readWeights,
  transferPretrained,
} from "../lib/models/mod.ts";
import { parseExperimentConfig } from "../lib/train/config.ts";
import { disposeBatch, type TargetScale } from "../lib/train/contracts.ts";
import {
  disposeSums,
  LossAccumulator,
  lossSums,
  lossTerms,
  termsFromSums,
} from "../lib/train/loss.ts";
import { Adam } from "../lib/train/optim.ts";
import { clipPhysical, predictEnsemble, predictPhysical } from "../lib/train/predict.ts";
import { loadRunModel, runConfigHash, runPaths, writeJson } from "../lib/train/runs.ts";
import { evaluateLoss, lossOptionsOf, trainModel, trainStep } from "../lib/train/trainer.ts";
import { fakeSource } from "./_fakes.ts";

await tf.setBackend("cpu");

const source = fakeSource({ sites: 2, windowsPerSite: 3, window: 8, lossDays: 4 });
const scale = source.targetScale; // mean [3, 4, 1], std [2, 1.5, 1]
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

function model(options: Omit<ModelConfigInput, "name"> = {}, name: "lstm" | "tamrl" = "lstm") {
  return buildModel(parseModelConfig({ name, hidden: 4, latent: 3, ...options }), source.dims, {
    seed: 7,
  });
}

/** Shift a model's head bias (standardized scale) so that its raw outputs are far below 0. */
function pushDown(m: FluxModel, shift: [number, number, number]): FluxModel {
  const bias = m.variables.get("head/bias")!;
  bias.assign(tf.tidy(() => tf.add(bias, tf.tensor1d(shift))));
  return m;
}

function firstBatch() {
  return source.batches({ batchSize: source.windows, shuffle: false, seed: 0 }).next().value!;
}

function physical(standardized: tf.Tensor3D, ts: TargetScale): number[][] {
  const v = standardized.dataSync();
  const out: number[][] = [];
  for (let i = 0; i < v.length; i += 3) {
    out.push([0, 1, 2].map((k) => v[i + k] * ts.std[k] + ts.mean[k]));
  }
  return out;
}

Deno.test("nonNegative: absent parses to no field (same hash), softplus accepted, other values rejected", async () => {
  const plain = parseModelConfig({ name: "tamrl" });
  assert.equal("nonNegative" in plain, false);
  assert.equal(parseModelConfig({ name: "mlp", nonNegative: "softplus" }).nonNegative, "softplus");
  assert.throws(
    () => parseModelConfig({ name: "lstm", nonNegative: "relu" }, { source: "c.json" }),
    /c\.json: invalid model config: nonNegative:/,
  );
  const base = { name: "x", data: {}, train: {} };
  const a = parseExperimentConfig({ ...base, model: { name: "tamrl" } });
  const b = parseExperimentConfig({ ...base, model: { name: "tamrl", nonNegative: "softplus" } });
  assert.equal(JSON.stringify(a).includes("nonNegative"), false);
  assert.notEqual(await runConfigHash(a), await runConfigHash(b));
});

Deno.test("applyHeads softplus: GPP, RECO = softplus(physical), NEE untouched, gradient sigmoid(p)", () => {
  const ts: TargetScale = { mean: [3, 4, 1], std: [2, 1.5, 0.5] };
  const raw = tf.tensor3d(
    [[[-40, -3, -40], [-2, -1, 9], [-1.5, -2.6, 0.3], [0, 0, 0], [5, 8, -7], [30, 30, 30]]],
  );
  const out = applyHeads(raw, ts, { nonNegative: "softplus" });
  const p = physical(raw, ts), q = physical(out, ts);
  for (let i = 0; i < p.length; i++) {
    for (const k of [0, 1]) {
      assert.ok(q[i][k] >= -1e-5, `day ${i} flux ${k}: ${q[i][k]}`);
      const want = softplus(p[i][k]);
      assert.ok(Math.abs(q[i][k] - want) < 1e-5 * (1 + want), `${p[i][k]} -> ${q[i][k]}, ${want}`);
      // near-identity for large positive p; strictly above p
      if (p[i][k] > 3) assert.ok(q[i][k] - p[i][k] < 0.05 && q[i][k] >= p[i][k]);
    }
  }
  // NEE: the raw value bit for bit
  const rawV = raw.dataSync(), outV = out.dataSync();
  for (let i = 2; i < rawV.length; i += 3) assert.equal(outV[i], rawV[i]);
  // monotone in the raw output
  const grid = tf.linspace(-10, 10, 41).reshape([1, 41, 1]).tile([1, 1, 3]) as tf.Tensor3D;
  const g = applyHeads(grid, ts, { nonNegative: "softplus" }).dataSync();
  for (let i = 3; i < g.length; i++) assert.ok(g[i] >= g[i - 3]);
  // d s' / d s = sigmoid(p) for GPP and RECO, 1 for NEE
  const grad = tf.grad((x: tf.Tensor) =>
    applyHeads(x as tf.Tensor3D, ts, { nonNegative: "softplus" }).sum()
  )(raw).dataSync();
  for (let i = 0; i < p.length; i++) {
    for (const k of [0, 1]) {
      const sig = 1 / (1 + Math.exp(-p[i][k]));
      assert.ok(Math.abs(grad[i * 3 + k] - sig) < 1e-5, `${grad[i * 3 + k]} vs ${sig}`);
    }
    assert.equal(grad[i * 3 + 2], 1);
  }
  // off: the raw tensor itself
  assert.equal(applyHeads(raw, ts), raw);
  tf.dispose([raw, out, grid]);
});

Deno.test("strongly negative raw outputs: no negative GPP or RECO through the inference path, unclipped", () => {
  // random weights, head bias -3 (standardized): raw GPP ~ -3 gC m-2 d-1, RECO ~ -0.5 and below
  const on = pushDown(model({ nonNegative: "softplus" }), [-3, -3, -3]);
  const off = pushDown(model(), [-3, -3, -3]);
  const batch = firstBatch();
  const raw = off.apply(batch, { training: false });
  const rawPhys = physical(raw, scale);
  assert.ok(rawPhys.some((d) => d[0] < -1) && rawPhys.every((d) => d[0] < 0 && d[1] < 1));
  const onDays = predictEnsemble([on], source, { lossDays: 4 }).days;
  const offDays = predictEnsemble([off], source, { lossDays: 4 }).days;
  assert.equal(onDays.length, offDays.length);
  let positive = 0;
  for (let i = 0; i < onDays.length; i++) {
    for (const k of ["GPP", "RECO"] as const) {
      assert.ok(onDays[i][k] >= 0 && Number.isFinite(onDays[i][k]));
      if (onDays[i][k] > 0) positive++;
    }
    assert.equal(offDays[i].GPP, 0); // today's model: clipped
    assert.ok(Math.abs(onDays[i].NEE - offDays[i].NEE) < 1e-5); // NEE stays linear
  }
  // softplus keeps the values above 0: the clip is a no-op
  assert.equal(positive, 2 * onDays.length);
  // the served value is softplus of the raw physical value, and the clip changes nothing
  const served = predictPhysical(on, batch, scale);
  const heads = applyWithHeads(on, batch, { targetScale: scale });
  const servedPhys = served.dataSync(), h = physical(heads, scale);
  for (let d = 0; d < rawPhys.length; d++) {
    for (const k of [0, 1]) {
      const want = softplus(rawPhys[d][k]);
      assert.ok(Math.abs(servedPhys[d * 3 + k] - want) < 1e-5, `${servedPhys[d * 3 + k]} ${want}`);
      assert.ok(Math.abs(servedPhys[d * 3 + k] - h[d][k]) < 1e-5);
    }
  }
  // far below zero (raw GPP ~ -200 gC m-2 d-1): still >= 0 and finite
  pushDown(on, [-100, -100, 0]);
  for (const d of predictEnsemble([on], source, { lossDays: 4 }).days) {
    assert.ok(d.GPP >= 0 && d.RECO >= 0 && Number.isFinite(d.GPP) && Number.isFinite(d.RECO));
  }
  tf.dispose([raw, heads, served]);
  disposeBatch(batch);
  on.dispose();
  off.dispose();
});

Deno.test("without the option, outputs, loss and inference are today's bit for bit", () => {
  for (const name of ["lstm", "tamrl"] as const) {
    const m = model({}, name);
    const batch = firstBatch();
    const raw = m.apply(batch, { training: false });
    const viaHeads = applyWithHeads(m, batch, { training: false, targetScale: scale });
    assert.deepEqual(viaHeads.dataSync(), raw.dataSync());
    // inference: exactly the old un-standardize-and-clip of model.apply
    const old = clipPhysical(raw, scale);
    const now = predictPhysical(m, batch, scale);
    assert.deepEqual(now.dataSync(), old.dataSync());
    // validation loss: exactly lossSums of model.apply
    const loss = lossOptionsOf(
      parseExperimentConfig({ name: "x", data: {}, model: { name }, train: {} }),
      source,
    );
    const sums = lossSums(raw, batch, loss);
    const acc = new LossAccumulator(loss);
    acc.add(sums);
    assert.deepEqual(evaluateLoss(m, source, { batchSize: source.windows, loss }), acc.values());
    // a training step: the same loss and gradient norm as the old step on model.apply
    const seed = 3;
    const rawTrain = m.apply(batch, { training: true, seed });
    const oldTotal = tf.tidy(() => lossTerms(rawTrain, batch, loss).total.dataSync()[0]);
    const opt = new Adam(m.variables, { lr: 0.01, clipNorm: 1, weightDecay: 0, kind: "adam" });
    const step = trainStep(m, opt, batch, { loss, epoch: 0, seed });
    assert.equal(tf.tidy(() => termsFromSums(step.sums, loss).total.dataSync()[0]), oldTotal);
    disposeSums(step.sums);
    disposeSums(sums);
    opt.dispose();
    tf.dispose([raw, viaHeads, old, now, rawTrain]);
    disposeBatch(batch);
    m.dispose();
  }
});

Deno.test("balance: zero when NEE = RECO - GPP on the non-negative values, not on the raw ones", () => {
  const ts = scale;
  const rawGppReco = [[-4, -6], [-1, 2], [0.5, -3], [2, 1]]; // standardized, some physical < 0
  const build = (neeOf: (g: number, r: number) => number, useHeads: boolean) => {
    const rows = rawGppReco.map(([g, r]) => {
      const pg = g * ts.std[0] + ts.mean[0], pr = r * ts.std[1] + ts.mean[1];
      const [gg, rr] = useHeads ? [softplus(pg), softplus(pr)] : [pg, pr];
      return [g, r, (neeOf(gg, rr) - ts.mean[2]) / ts.std[2]];
    });
    return tf.tensor3d([rows]);
  };
  const balanceOf = (raw: tf.Tensor3D) =>
    tf.tidy(() => {
      const pred = applyHeads(raw, ts, { nonNegative: "softplus" });
      const batch = {
        y: pred,
        mask: tf.onesLike(pred),
        qc: tf.ones([1, 4]) as tf.Tensor2D,
        weight: tf.ones([1]) as tf.Tensor1D,
      };
      const terms = lossTerms(pred, batch, { targetScale: ts });
      return terms.balance.dataSync()[0];
    });
  // NEE = RECO' - GPP' with GPP', RECO' the softplus values: balanced
  const balanced = build((g, r) => r - g, true);
  assert.ok(balanceOf(balanced) < 1e-8, `${balanceOf(balanced)}`);
  // NEE balanced on the raw (negative) values: the balance term sees the non-negative ones
  const rawBalanced = build((g, r) => r - g, false);
  assert.ok(balanceOf(rawBalanced) > 0.1, `${balanceOf(rawBalanced)}`);
  tf.dispose([balanced, rawBalanced]);
});

Deno.test("training with softplus heads lowers the loss, numTensors flat, GPP/RECO >= 0 in training", () => {
  // targets below the raw model's outputs: the softplus heads must be pushed down through sigmoid
  const src = fakeSource({ windowsPerSite: 8, targetScale: { mean: [1, 1.5, 0], std: [1, 1, 1] } });
  const c = parseExperimentConfig({
    name: "x",
    data: {},
    model: { name: "tamrl", hidden: 6, latent: 3, nonNegative: "softplus" },
    train: {},
  });
  const m = buildModel(c.model, src.dims, { seed: 2 });
  pushDown(m, [-2, -2, 0]);
  const loss = lossOptionsOf(c, src);
  const opt = new Adam(m.variables, { lr: 0.02, clipNorm: 1, weightDecay: 0, kind: "adam" });
  const before = evaluateLoss(m, src, { batchSize: 64, loss }).total;
  const counts: number[] = [];
  for (let epoch = 0; epoch < 6; epoch++) {
    for (const batch of src.batches({ batchSize: 8, shuffle: true, seed: epoch })) {
      const { sums, gradNorm } = trainStep(m, opt, batch, { loss, epoch: 0, seed: epoch });
      assert.ok(gradNorm > 0 && Number.isFinite(gradNorm));
      disposeSums(sums);
      // the training-mode output is non-negative too
      const phys = tf.tidy(() =>
        physical(
          applyWithHeads(m, batch, { training: true, seed: 1, targetScale: loss.targetScale }),
          loss.targetScale,
        )
      );
      assert.ok(phys.every((d) => d[0] >= -1e-5 && d[1] >= -1e-5));
      disposeBatch(batch);
      counts.push(tf.memory().numTensors);
    }
  }
  assert.ok(counts.every((n) => n === counts[0]), `numTensors per step: ${counts.join(",")}`);
  const after = evaluateLoss(m, src, { batchSize: 64, loss }).total;
  assert.ok(after < 0.7 * before, `${before} -> ${after}`);
  opt.dispose();
  m.dispose();
});

Deno.test("pretraining uses the same heads and stage 2 starts from the pretrained function", async () => {
  const src = fakeSource({ windowsPerSite: 4 });
  const c = parseExperimentConfig({
    name: "x",
    data: {},
    model: { name: "tamrl", hidden: 4, latent: 3, nonNegative: "softplus" },
    train: { epochs: 1, batchSize: 8, pretrain: { epochs: 1 } },
  });
  const built: (string | undefined)[] = [];
  let gap = Infinity;
  const result = await trainModel({ train: src }, c, {
    seed: 1,
    buildModel: (config, dims, options) => {
      built.push(`${config.name}:${config.nonNegative}`);
      return buildModel(config, dims, options);
    },
    transfer: (from, to) => {
      // push the pretrained lstm below 0 so the heads matter, then compare the two functions
      pushDown(from, [-3, -3, 0]);
      transferPretrained(from, to);
      const batch = firstBatchOf(src);
      gap = tf.tidy(() =>
        tf.max(tf.abs(tf.sub(
          applyWithHeads(from, batch, { targetScale: src.targetScale }),
          applyWithHeads(to, batch, { targetScale: src.targetScale }),
        ))).dataSync()[0]
      );
      disposeBatch(batch);
    },
  });
  assert.deepEqual(built, ["lstm:softplus", "tamrl:softplus"]);
  assert.ok(gap < 1e-5, `${gap}`);
  result.model.dispose();
});

function firstBatchOf(src: ReturnType<typeof fakeSource>) {
  return src.batches({ batchSize: src.windows, shuffle: false, seed: 0 }).next().value!;
}

Deno.test("the option round-trips through a run folder's model.json into inference", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tamflux_nonneg_" });
  try {
    const m = pushDown(model({ nonNegative: "softplus" }), [-3, -3, -3]);
    const p = runPaths(join(dir, "run"));
    await Deno.mkdir(p.weightsDir, { recursive: true });
    await Deno.writeFile(p.weights("best"), encodeWeights(readWeights(m.variables)));
    await writeJson(p.model, {
      model: m.config,
      dims: source.dims,
      targetScale: scale,
      lossDays: source.lossDays,
      featureNames: { dyn: ["a", "b", "c"], static: ["s", "t"] },
    });
    const { model: loaded, info } = await loadRunModel(join(dir, "run"));
    assert.equal(loaded.config.nonNegative, "softplus");
    const want = predictEnsemble([m], source, { lossDays: 4 }).days;
    const got = predictEnsemble([loaded], source, { lossDays: info.lossDays }).days;
    assert.deepEqual(got, want);
    assert.ok(got.every((d) => d.GPP > 0 && d.RECO > 0));
    loaded.dispose();
    m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
