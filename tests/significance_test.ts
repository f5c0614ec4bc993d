import assert from "node:assert/strict";
import {
  bootstrapMean,
  pairedComparison,
  quantileSorted,
  wilcoxonSignedRank,
} from "../lib/eval/significance.ts";

Deno.test("wilcoxon: exact p of five positive differences is 2/32", () => {
  const r = wilcoxonSignedRank([1, 2, 3, 4, 5]);
  assert.equal(r.method, "exact");
  assert.equal(r.wPlus, 15);
  assert.equal(r.wMinus, 0);
  assert.ok(Math.abs(r.p - 2 / 32) < 1e-12);
});

Deno.test("wilcoxon: exact p counted by hand (n = 6, W- = 7)", () => {
  // Subsets of {1..6} with rank sum <= 7: 1+1+1+2+2+3+4+4 = 18 of 64; two-sided p = 36/64.
  const r = wilcoxonSignedRank([1, -2, 3, 4, -5, 6]);
  assert.equal(r.wMinus, 7);
  assert.equal(r.wPlus, 14);
  assert.ok(Math.abs(r.p - 36 / 64) < 1e-12);
  // symmetric: the sign of every difference flipped gives the same p
  assert.ok(Math.abs(wilcoxonSignedRank([-1, 2, -3, -4, 5, -6]).p - r.p) < 1e-12);
});

Deno.test("wilcoxon: ties use the normal approximation with tie and continuity corrections", () => {
  // |d| ranks 1.5 1.5 3 4 5.5 5.5 7 8; W- = 4, W+ = 32; mean 18, var 51 - (6 + 6) / 48 = 50.75;
  // z = (14 - 0.5) / sqrt(50.75) = 1.89503; p = erfc(z / sqrt 2) = 0.0580886 (python math.erfc).
  const r = wilcoxonSignedRank([1, 1, 2, -3, 4, 4, 5, 6]);
  assert.equal(r.method, "normal");
  assert.equal(r.wPlus, 32);
  assert.ok(Math.abs(r.p - 0.05808862639856331) < 1e-6, `p ${r.p}`);
});

Deno.test("wilcoxon: zero differences are dropped; none left gives NaN", () => {
  assert.equal(wilcoxonSignedRank([0, 1, 2, 3, 4, 5]).n, 5);
  assert.ok(Number.isNaN(wilcoxonSignedRank([0, 0]).p));
});

Deno.test("quantile type 7 matches numpy's default", () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantileSorted([1, 2, 3, 4], 0.025) - 1.075) < 1e-12);
});

Deno.test("bootstrap: constant values give a zero-width interval", () => {
  const ci = bootstrapMean([0.3, 0.3, 0.3], { resamples: 500 });
  assert.ok(Math.abs(ci.lo - 0.3) < 1e-12 && Math.abs(ci.hi - 0.3) < 1e-12);
});

Deno.test("bootstrap: two values [0, 1] resample to means 0, 0.5, 1 with odds 1:2:1", () => {
  // The 2.5 % and 97.5 % quantiles of that distribution are its ends, 0 and 1.
  const ci = bootstrapMean([0, 1], { resamples: 20_000, seed: 3 });
  assert.equal(ci.mean, 0.5);
  assert.equal(ci.lo, 0);
  assert.equal(ci.hi, 1);
});

Deno.test("bootstrap: interval of [0, 1, 5] is the exact resampling distribution's", () => {
  // The 27 equally likely resamples of three values, by hand: the smallest mean, 0, has
  // probability 1/27 = 3.7 % >= 2.5 %, and the largest, 5, also 1/27; so the exact 2.5 % and 97.5 %
  // quantiles (inverse CDF) are 0 and 5, while the next means inward (1/3 and 11/3, each 3/27) are
  // not. The bootstrap's interval must land exactly on the ends.
  const v = [0, 1, 5];
  const means: number[] = [];
  for (const a of v) for (const b of v) for (const c of v) means.push((a + b + c) / 3);
  means.sort((x, y) => x - y);
  const inverseCdf = (q: number) => means[Math.ceil(q * means.length) - 1];
  assert.equal(inverseCdf(0.025), 0);
  assert.equal(inverseCdf(0.975), 5);
  const ci = bootstrapMean(v, { resamples: 50_000, seed: 7 });
  assert.equal(ci.lo, 0);
  assert.equal(ci.hi, 5);
});

Deno.test("bootstrap: same seed, same interval; different seed, slightly different", () => {
  const v = [0.1, -0.2, 0.4, 0.05, 0.3, -0.1, 0.2];
  assert.deepEqual(bootstrapMean(v, { seed: 1 }), bootstrapMean(v, { seed: 1 }));
  assert.notDeepEqual(bootstrapMean(v, { seed: 1 }).lo, bootstrapMean(v, { seed: 2 }).lo);
});

Deno.test("paired comparison: only common, finite sites; resolved when the interval excludes 0", () => {
  const a = new Map([["A", 1], ["B", 1], ["C", 1], ["D", 1], ["E", 1], ["F", NaN]]);
  const b = new Map([["A", 2], ["B", 2.1], ["C", 1.9], ["D", 2.2], ["E", 2], ["G", 0]]);
  const c = pairedComparison(a, b, { resamples: 2000 });
  assert.deepEqual(c.sites, ["A", "B", "C", "D", "E"]);
  assert.ok(c.hi < 0);
  assert.equal(c.resolved, true);
  const tie = pairedComparison(new Map([["A", 1], ["B", 2]]), new Map([["A", 2], ["B", 1]]));
  assert.equal(tie.resolved, false);
});
