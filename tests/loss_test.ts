import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { LossAccumulator, type LossBatch, lossSums, lossTerms } from "../lib/train/loss.ts";
import type { TargetScale } from "../lib/train/contracts.ts";

await tf.setBackend("cpu");

const scale: TargetScale = { mean: [3, 4, 1], std: [2, 1.5, 0.5] };

/** Standardize physical [B, T, 3] values. */
function standardize(phys: number[][][]): tf.Tensor3D {
  return tf.tensor3d(
    phys.map((w) => w.map((d) => d.map((v, k) => (v - scale.mean[k]) / scale.std[k]))),
  );
}

function value(t: tf.Tensor): number {
  return t.dataSync()[0];
}

function batchOf(y: tf.Tensor3D, over: Partial<LossBatch> = {}): LossBatch {
  const [b, t] = y.shape;
  return {
    y,
    mask: over.mask ?? tf.onesLike(y),
    qc: over.qc ?? tf.ones([b, t]) as tf.Tensor2D,
    weight: over.weight ?? tf.ones([b]) as tf.Tensor1D,
  };
}

Deno.test("balance is zero when NEE = RECO - GPP in physical units", () => {
  // GPP, RECO, NEE with NEE = RECO - GPP exactly
  const pred = standardize([[[5, 6, 1], [0, 2, 2]], [[8, 3, -5], [1.5, 1, -0.5]]]);
  const terms = lossTerms(pred, batchOf(pred), { targetScale: scale });
  assert.ok(Math.abs(value(terms.balance)) < 1e-9, `balance ${value(terms.balance)}`);
  // the same numbers on the standardized scale are NOT balanced: the term must use physical units
  const raw = tf.tensor3d([[[5, 6, 1], [0, 2, 2]], [[8, 3, -5], [1.5, 1, -0.5]]]);
  const unit: TargetScale = { mean: [0, 0, 0], std: [1, 1, 1] };
  const rawTerms = lossTerms(raw, batchOf(raw), { targetScale: unit });
  assert.ok(Math.abs(value(rawTerms.balance)) < 1e-9);
  const misread = lossTerms(raw, batchOf(raw), { targetScale: scale });
  assert.ok(value(misread.balance) > 0.1);
});

Deno.test("balance is positive otherwise and equals the hand value", () => {
  // residuals NEE - (RECO - GPP): day1 1 - (6 - 5) + 2 = 2 ; day2 2 - (2 - 0) - 1 = -1
  const pred = standardize([[[5, 6, 3], [0, 2, 1]]]);
  const terms = lossTerms(pred, batchOf(pred), { targetScale: scale });
  assert.ok(Math.abs(value(terms.balance) - (4 + 1) / 2) < 1e-5, `${value(terms.balance)}`);
  // total = data + alpha * balance; data is 0 because pred = y
  assert.ok(Math.abs(value(terms.data)) < 1e-12);
  assert.ok(Math.abs(value(terms.total) - 0.1 * 2.5) < 1e-6);
  const alpha = lossTerms(pred, batchOf(pred), { targetScale: scale, alpha: 2 });
  assert.ok(Math.abs(value(alpha.total) - 5) < 1e-5);
});

Deno.test("a switched-off balance term is still reported but not added", () => {
  const pred = standardize([[[5, 6, 3], [0, 2, 1]]]);
  const off = lossTerms(pred, batchOf(pred), { targetScale: scale, useBalance: false });
  assert.ok(Math.abs(value(off.balance) - 2.5) < 1e-5);
  assert.equal(value(off.total), value(off.data));
});

Deno.test("masked days carry no loss and no gradient", () => {
  const y = tf.tensor3d([[[0, 0, 0], [1, 1, 1], [2, 2, 2]]]);
  const mask = tf.tensor3d([[[1, 1, 1], [0, 0, 0], [1, 0, 1]]]);
  const base = tf.tensor3d([[[0.5, 0, 0], [1, 1, 1], [2, 3, 2]]]);
  // change the prediction only on masked-out entries (day 2 fully, day 3 RECO)
  const other = tf.tensor3d([[[0.5, 0, 0], [9, -9, 9], [2, 30, 2]]]);
  const a = lossTerms(base, batchOf(y, { mask }), { targetScale: scale });
  const b = lossTerms(other, batchOf(y, { mask }), { targetScale: scale });
  assert.equal(value(a.data), value(b.data));
  assert.ok(Math.abs(value(a.data) - 0.25 / 5) < 1e-7); // one error 0.5^2 over 5 masked entries
  assert.equal(value(a.mse), value(b.mse));
  // day 2 (no masked target) is not a loss day for the balance term
  const g = tf.grad((p: tf.Tensor) =>
    lossTerms(p as tf.Tensor3D, batchOf(y, { mask }), { targetScale: scale }).total
  )(base);
  const grad = g.arraySync() as number[][][];
  assert.deepEqual(grad[0][1], [0, 0, 0]);
  assert.ok(grad[0][0].some((v) => v !== 0));
});

Deno.test("qc and class weights multiply each day's and window's squared error", () => {
  // two windows, one day, error 1 on GPP only
  const y = tf.zeros([2, 1, 3]) as tf.Tensor3D;
  const pred = tf.tensor3d([[[1, 0, 0]], [[1, 0, 0]]]);
  const qc = tf.tensor2d([[0.5], [1]]);
  const weight = tf.tensor1d([2, 0.25]);
  const batch = batchOf(y, { qc, weight });
  const opts = { targetScale: scale, useBalance: false };
  const both = lossTerms(pred, batch, opts);
  assert.ok(Math.abs(value(both.data) - (0.5 * 2 + 1 * 0.25) / 6) < 1e-7);
  const noQc = lossTerms(pred, batch, { ...opts, useQc: false });
  assert.ok(Math.abs(value(noQc.data) - (2 + 0.25) / 6) < 1e-7);
  const noW = lossTerms(pred, batch, { ...opts, useClassWeights: false });
  assert.ok(Math.abs(value(noW.data) - (0.5 + 1) / 6) < 1e-7);
  const none = lossTerms(pred, batch, { ...opts, useQc: false, useClassWeights: false });
  assert.ok(Math.abs(value(none.data) - 2 / 6) < 1e-7);
  // the plain mse ignores both factors
  assert.ok(Math.abs(value(both.mse) - 2 / 6) < 1e-7);
});

Deno.test("sums over batches give the loss of their union", () => {
  const y1 = tf.randomNormal([2, 4, 3], 0, 1, "float32", 1) as tf.Tensor3D;
  const y2 = tf.randomNormal([3, 4, 3], 0, 1, "float32", 2) as tf.Tensor3D;
  const p1 = tf.randomNormal([2, 4, 3], 0, 1, "float32", 3) as tf.Tensor3D;
  const p2 = tf.randomNormal([3, 4, 3], 0, 1, "float32", 4) as tf.Tensor3D;
  const m1 = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i % 3 ? 1 : 0), [2, 4, 3]);
  const m2 = tf.tensor3d(Array.from({ length: 36 }, (_, i) => i % 4 ? 1 : 0), [3, 4, 3]);
  const qc1 = tf.tensor2d(Array.from({ length: 8 }, (_, i) => 0.5 + i / 16), [2, 4]);
  const qc2 = tf.tensor2d(Array.from({ length: 12 }, (_, i) => 1 - i / 24), [3, 4]);
  const w1 = tf.tensor1d([0.5, 2]);
  const w2 = tf.tensor1d([1, 1.5, 0.7]);
  const opts = { targetScale: scale };
  const acc = new LossAccumulator(opts);
  acc.add(lossSums(p1, { y: y1, mask: m1, qc: qc1, weight: w1 }, opts));
  acc.add(lossSums(p2, { y: y2, mask: m2, qc: qc2, weight: w2 }, opts));
  const whole = lossTerms(tf.concat([p1, p2]), {
    y: tf.concat([y1, y2]),
    mask: tf.concat([m1, m2]),
    qc: tf.concat([qc1, qc2]),
    weight: tf.concat([w1, w2]),
  }, opts);
  const v = acc.values();
  assert.ok(Math.abs(v.total - value(whole.total)) < 1e-5);
  assert.ok(Math.abs(v.data - value(whole.data)) < 1e-5);
  assert.ok(Math.abs(v.balance - value(whole.balance)) < 1e-4);
  assert.ok(Math.abs(v.mse - value(whole.mse)) < 1e-5);
});

Deno.test("shape mismatches are clear errors", () => {
  const y = tf.zeros([1, 2, 3]) as tf.Tensor3D;
  assert.throws(
    () =>
      lossTerms(y, { ...batchOf(y), qc: tf.ones([1, 3]) as tf.Tensor2D }, { targetScale: scale }),
    /qc is \[1,3\], expected \[1, 2\]/,
  );
});
