import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { loadExperimentConfig, parseExperimentConfig } from "../lib/train/config.ts";
import { terminalProgress } from "../lib/train/progress.ts";
import { disposeBatch } from "../lib/train/contracts.ts";
import { disposeSums } from "../lib/train/loss.ts";
import { Adam } from "../lib/train/optim.ts";
import {
  evaluateLoss,
  lossOptionsOf,
  planStages,
  trainModel,
  trainStep,
  type Transfer,
} from "../lib/train/trainer.ts";
import { buildModel, transferPretrained } from "../lib/models/mod.ts";
import { fakeSource } from "./_fakes.ts";

await tf.setBackend("cpu");

function config(over: Record<string, unknown> = {}, train: Record<string, unknown> = {}) {
  return parseExperimentConfig({
    name: "t",
    data: {},
    model: { name: "lstm", hidden: 8, dropout: 0.1 },
    train: { epochs: 4, batchSize: 6, lr: 0.01, patience: 10, ...train },
    ...over,
  });
}

function weightsOf(vars: Map<string, tf.Variable>): Record<string, number[]> {
  return Object.fromEntries([...vars].map(([n, v]) => [n, [...v.dataSync()]]));
}

Deno.test("tf.memory().numTensors is flat across 20 training steps", () => {
  const source = fakeSource({ windowsPerSite: 10 });
  const c = config();
  const model = buildModel({ ...c.model, name: "tamrl", latent: 4 }, source.dims, { seed: 1 });
  const opt = new Adam(model.variables, {
    lr: 0.01,
    clipNorm: 1,
    weightDecay: 0.01,
    kind: "adamw",
  });
  const loss = lossOptionsOf(c, source);
  const counts: number[] = [];
  let step = 0;
  while (step < 20) {
    for (const batch of source.batches({ batchSize: 4, shuffle: true, seed: step })) {
      const { sums } = trainStep(model, opt, batch, { loss, epoch: 0, seed: step });
      disposeSums(sums);
      disposeBatch(batch);
      counts.push(tf.memory().numTensors);
      if (++step >= 20) break;
    }
  }
  assert.equal(counts.length, 20);
  assert.ok(counts.every((n) => n === counts[0]), `numTensors per step: ${counts.join(",")}`);
  const before = tf.memory().numTensors;
  evaluateLoss(model, source, { batchSize: 7, loss });
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  model.dispose();
});

Deno.test("a whole two-stage training leaks no tensors", async () => {
  const source = fakeSource();
  const val = fakeSource({ seed: 2, sites: 2 });
  const before = tf.memory().numTensors;
  const c = config({ model: { name: "tamrl", hidden: 4 } }, { epochs: 2, pretrain: { epochs: 2 } });
  const result = await trainModel({ train: source, val }, c, {
    seed: 1,
    buildModel,
    transfer: transferPretrained,
  });
  const held = [...result.model.variables.values()].length;
  assert.equal(tf.memory().numTensors, before + held);
  result.model.dispose();
});

Deno.test("training on a learnable signal lowers train and validation loss", async () => {
  const train = fakeSource({ sites: 6, windowsPerSite: 8 });
  // validation: other days of the same sites
  const val = fakeSource({ sites: 6, windowsPerSite: 8, timeOffset: 3.7 });
  const c = config({ model: { name: "lstm", hidden: 16, dropout: 0 } }, { epochs: 15, lr: 0.02 });
  const result = await trainModel({ train, val }, c, {
    seed: 3,
    buildModel,
    transfer: transferPretrained,
  });
  const h = result.history;
  assert.equal(h.length, 15);
  assert.ok(
    h.at(-1)!.train.total < 0.5 * h[0].train.total,
    `${h[0].train.total} -> ${h.at(-1)!.train.total}`,
  );
  assert.ok(
    h.at(-1)!.val!.total < 0.8 * h[0].val!.total,
    `${h[0].val!.total} -> ${h.at(-1)!.val!.total}`,
  );
  result.model.dispose();
});

Deno.test("tamrl trains two stages, the second starting from the transferred stage-1 weights", async () => {
  const train = fakeSource();
  const val = fakeSource({ seed: 4, sites: 2 });
  const c = config({ model: { name: "tamrl", hidden: 6 } }, { epochs: 2, pretrain: { epochs: 3 } });
  assert.deepEqual(planStages(c).map((s) => [s.name, s.model, s.epochs]), [
    ["pretrain", "lstm", 3],
    ["main", "tamrl", 2],
  ]);
  const calls: string[] = [];
  let stage1Best: Record<string, number[]> = {};
  let stage2Start: Record<string, number[]> = {};
  const transfer: Transfer = (from, to) => {
    calls.push(`${from.name}->${to.name}`);
    stage1Best = weightsOf(from.variables);
    transferPretrained(from, to);
    stage2Start = weightsOf(to.variables);
  };
  const result = await trainModel({ train, val }, c, { seed: 5, buildModel, transfer });
  assert.deepEqual(calls, ["lstm->tamrl"]);
  assert.deepEqual(stage2Start["decoder/input/kernel"], stage1Best["decoder/input/kernel"]);
  assert.deepEqual(stage2Start["head/kernel"], stage1Best["head/kernel"]);
  assert.deepEqual(result.history.map((r) => [r.stage, r.model, r.epoch]), [
    ["pretrain", "lstm", 1],
    ["pretrain", "lstm", 2],
    ["pretrain", "lstm", 3],
    ["main", "tamrl", 1],
    ["main", "tamrl", 2],
  ]);
  assert.equal(result.model.name, "tamrl");
  result.model.dispose();

  // pretraining switched off: one stage, no transfer
  calls.length = 0;
  const one = config({ model: { name: "tamrl", hidden: 6 } }, {
    epochs: 2,
    pretrain: { enabled: false, epochs: 3 },
  });
  const r2 = await trainModel({ train, val }, one, { seed: 5, buildModel, transfer });
  assert.deepEqual(calls, []);
  assert.deepEqual(r2.history.map((r) => r.stage), ["main", "main"]);
  r2.model.dispose();
  for (const name of ["lstm", "ctlstm", "mlp", "tamlstm"] as const) {
    const p = planStages(config({ model: { name } }));
    assert.equal(p.length, name === "tamlstm" ? 2 : 1, name);
  }
});

Deno.test("early stopping stops after `patience` worse epochs and restores the best epoch", async () => {
  const train = fakeSource({ sites: 4, windowsPerSite: 8 });
  // validation targets of opposite sign: learning the training signal makes validation worse
  const val = fakeSource({ sites: 2, windowsPerSite: 8, seed: 4, targetSign: -1 });
  const c = config({ model: { name: "lstm", hidden: 8, dropout: 0 } }, {
    epochs: 30,
    lr: 0.02,
    patience: 3,
  });
  const result = await trainModel({ train, val }, c, {
    seed: 2,
    buildModel,
    transfer: transferPretrained,
  });
  const h = result.history;
  const best = h.reduce((a, r) => (r.val!.total < a.val!.total ? r : a));
  assert.ok(h.length < 30, `ran ${h.length} epochs`);
  assert.equal(h.length, best.epoch + 3);
  assert.ok(h.at(-1)!.earlyStop && h.at(-1)!.stageEnd);
  assert.equal(result.stages[0].bestEpoch, best.epoch);
  // the returned model is the best epoch's: its validation loss is the best one
  const again = evaluateLoss(result.model, val, { batchSize: 256, loss: lossOptionsOf(c, train) });
  assert.ok(Math.abs(again.total - best.val!.total) < 1e-6, `${again.total} vs ${best.val!.total}`);
  result.model.dispose();
});

Deno.test("the log shows every loss term every epoch, also when switched off", async () => {
  const train = fakeSource();
  const val = fakeSource({ seed: 3, sites: 2 });
  const c = config({}, {
    epochs: 2,
    loss: { alpha: 0.1, useBalance: false, useQc: false, useClassWeights: true },
  });
  const result = await trainModel({ train, val }, c, {
    seed: 1,
    buildModel,
    transfer: transferPretrained,
  });
  for (const r of result.history) {
    assert.deepEqual(r.terms, { balance: false, qc: false, classWeights: true, alpha: 0.1 });
    for (const v of [r.train, r.val!]) {
      assert.ok(v.balance > 0, "balance value reported although off");
      assert.ok(v.data > 0 && v.mse > 0);
      assert.equal(v.total, v.data);
    }
  }
  result.model.dispose();
  // switched on (the default): total = data + 0.1 * balance
  const on = await trainModel({ train, val }, config({}, { epochs: 1 }), {
    seed: 1,
    buildModel,
    transfer: transferPretrained,
  });
  const v = on.history[0].val!;
  assert.ok(Math.abs(v.total - (v.data + 0.1 * v.balance)) < 1e-9);
  assert.equal(on.history[0].terms.balance, true);
  on.model.dispose();
});

Deno.test("the same seed gives the same weights; another seed does not", async () => {
  const train = fakeSource();
  const c = config({}, { epochs: 2 });
  const run = async (seed: number) => {
    const r = await trainModel({ train }, c, { seed, buildModel, transfer: transferPretrained });
    const w = weightsOf(r.model.variables);
    r.model.dispose();
    return w;
  };
  const a = await run(7);
  assert.deepEqual(await run(7), a);
  assert.notDeepEqual(await run(8), a);
});

Deno.test("the balance term acts on training: on, it drives the carbon-balance residual down", async () => {
  const train = fakeSource({ sites: 4, windowsPerSite: 8 });
  const run = async (useBalance: boolean) => {
    const c = config({ model: { name: "lstm", hidden: 8, dropout: 0 } }, {
      epochs: 6,
      lr: 0.02,
      loss: { alpha: 1, useBalance, useQc: true, useClassWeights: true },
    });
    const r = await trainModel({ train }, c, { seed: 4, buildModel, transfer: transferPretrained });
    r.model.dispose();
    return r.history.at(-1)!.train;
  };
  const on = await run(true);
  const off = await run(false);
  assert.ok(
    on.balance < 0.25 * off.balance,
    `balance with the term ${on.balance}, without ${off.balance}`,
  );
});

Deno.test("progress: a live line per step with ETA, and a line per epoch naming switched-off terms", async () => {
  const out: string[] = [];
  const progress = terminalProgress({ write: (t) => out.push(t), live: true });
  const c = config({}, {
    epochs: 1,
    loss: { alpha: 0.1, useBalance: false, useQc: true, useClassWeights: true },
  });
  const r = await trainModel({ train: fakeSource() }, c, {
    seed: 1,
    buildModel,
    transfer: transferPretrained,
    ...progress,
  });
  r.model.dispose();
  const text = out.join("");
  assert.match(text, /\r\[1\/1 lstm\] epoch 1\/1 \[#+-*\] \d+\/4 loss [\d.]+ .*ETA <= \d+s/);
  assert.match(
    text,
    /main lstm epoch 1\/1 \| lr 1\.0e-2 \| train total [\d.]+ \(data [\d.]+, balance [\d.e-]+, mse [\d.]+\) \| no val \| \* best \| balance off \| \d+s\n$/,
  );
});

Deno.test("the shipped configs train with every loss term on", async () => {
  for (const file of ["configs/quick.json", "configs/paper.json"]) {
    const c = await loadExperimentConfig(new URL(`../${file}`, import.meta.url).pathname);
    assert.deepEqual(c.train.loss, {
      alpha: 0.1,
      useQc: true,
      useClassWeights: true,
      useBalance: true,
    }, file);
    assert.equal(c.model.name, "tamrl", file);
    assert.equal(c.train.pretrain.enabled, true, file);
  }
  const paper = await loadExperimentConfig(
    new URL("../configs/paper.json", import.meta.url).pathname,
  );
  assert.equal(paper.model.hidden, 128);
  assert.equal(paper.model.latent, 32);
  assert.equal(paper.data.window, 30);
  assert.equal(paper.seeds.length, 10);
  assert.equal(paper.train.epochs, 100);
});
