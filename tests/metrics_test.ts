import assert from "node:assert/strict";
import {
  bias,
  nmae,
  r2,
  r2Clipped,
  rae,
  rmse,
  scoreSeries,
  validPairs,
} from "../lib/metrics/metrics.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `expected ${b}, got ${a}`);

// obs = [1, 2, 3, 4], pred = [1.5, 2, 2, 5]; errors p - o = [0.5, 0, -1, 1]
// SSE = 2.25; mean obs = 2.5; SST = 2.25 + 0.25 + 0.25 + 2.25 = 5
// MAE = 2.5 / 4 = 0.625; mean |o - ō| = (1.5 + 0.5 + 0.5 + 1.5) / 4 = 1
const obs = [1, 2, 3, 4];
const pred = [1.5, 2, 2, 5];

Deno.test("R2 = 1 - SSE/SST against a hand-computed value", () => {
  close(r2(obs, pred), 1 - 2.25 / 5); // 0.55
  close(r2Clipped(obs, pred), 0.55);
});

Deno.test("R2 can be negative; the clipped variant is 0 then, and at most 1", () => {
  // obs [1,2,3], pred [3,2,1]: SSE = 8, SST = 2 -> R2 = -3
  close(r2([1, 2, 3], [3, 2, 1]), -3);
  assert.equal(r2Clipped([1, 2, 3], [3, 2, 1]), 0);
  assert.equal(r2Clipped([1, 2, 3], [1, 2, 3]), 1);
});

Deno.test("RMSE, nMAE, RAE and bias against hand-computed values", () => {
  close(rmse(obs, pred), 0.75); // sqrt(2.25 / 4)
  close(nmae(obs, pred), 0.625 / 2.5); // 0.25
  close(rae(obs, pred), 0.625 / 1);
  close(bias(obs, pred), 0.5 / 4); // 0.125
});

Deno.test("nMAE normalises by the absolute site mean (negative NEE)", () => {
  // obs [-2, -4], pred [-3, -3]: MAE 1, |mean| 3
  close(nmae([-2, -4], [-3, -3]), 1 / 3);
  close(bias([-2, -4], [-3, -3]), 0);
});

Deno.test("missing values drop the pair; no pair or zero variance gives NaN", () => {
  const o = [1, null, 2, 3, NaN];
  const p = [1, 5, NaN, 3, 2];
  assert.deepEqual(validPairs(o, p), { obs: [1, 3], pred: [1, 3] });
  const m = scoreSeries(o, p);
  assert.equal(m.n, 2);
  assert.equal(m.rmse, 0);
  assert.equal(m.r2, 1);
  assert.ok(Number.isNaN(r2([2, 2, 2], [1, 2, 3])));
  assert.ok(Number.isNaN(r2Clipped([2, 2, 2], [1, 2, 3])));
  assert.ok(Number.isNaN(rae([2, 2], [1, 3])));
  assert.ok(Number.isNaN(nmae([1, -1], [0, 0])));
  assert.ok(Number.isNaN(rmse([], [])));
  assert.equal(scoreSeries([null], [1]).n, 0);
});

Deno.test("series of different lengths are an error", () => {
  assert.throws(() => rmse([1, 2], [1]), /differ in length/);
});

Deno.test("scoreSeries returns every metric consistently", () => {
  const m = scoreSeries(obs, pred);
  assert.equal(m.n, 4);
  close(m.r2, 0.55);
  close(m.r2_clipped, 0.55);
  close(m.rmse, 0.75);
  close(m.nmae, 0.25);
  close(m.rae, 0.625);
  close(m.bias, 0.125);
});
