import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend.ts";
import {
  type Batch,
  type BatchSource,
  disposeBatch,
  drawSupport,
  type SourceData,
  WindowBatchSource,
} from "../lib/data/batches.ts";
import { classWeights } from "../lib/data/dataset.ts";
import { seededRng } from "../lib/data/random.ts";
import { enumerateWindows, type SiteSeries } from "../lib/data/windows.ts";
import type { BatchSource as TrainBatchSource } from "../lib/train/contracts.ts";
import { fixtureDataset } from "./_dataset_fixtures.ts";

await useBackend("cpu");

const T = 10, STRIDE = 5, K = 3, F = 2, S = 2;

/** A site whose dyn value encodes (site, row, feature) so windows can be identified. */
function makeSeries(site: number, n: number, yValue = (i: number) => i): SiteSeries {
  const dyn = new Float32Array(n * F);
  for (let i = 0; i < n; i++) {
    dyn[i * F] = site * 1000 + i;
    dyn[i * F + 1] = -1;
  }
  const y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) y.fill(yValue(i), 3 * i, 3 * i + 3);
  return {
    site: `S${site}-Aaa`,
    days: Int32Array.from({ length: n }, (_, i) => 15000 + i),
    dyn,
    nDyn: F,
    y,
    qc: new Float32Array(n).fill(0.75),
  };
}

function makeData(yValue?: (i: number) => number): SourceData {
  const series = [makeSeries(1, 60, yValue), makeSeries(2, 40, yValue)];
  const windows = series.flatMap((s, k) =>
    enumerateWindows(s, k, { window: T, stride: STRIDE, requireTarget: false }).windows
  );
  const pools = series.map((_s, k) => windows.filter((w) => w.series === k));
  return {
    series,
    statics: [Float32Array.of(1, 0), Float32Array.of(0, 1)],
    weights: [0.5, 2],
    windows,
    pools,
  };
}

const options = {
  window: T,
  stride: STRIDE,
  supportK: K,
  nStatic: S,
  targetScale: {
    mean: [0, 0, 0] as [number, number, number],
    std: [1, 1, 1] as [number, number, number],
  },
};

function firstBatch(
  source: BatchSource,
  opts: { batchSize: number; shuffle: boolean; seed: number },
): Batch {
  const next = source.batches(opts).next();
  if (next.done) throw new Error("no batch");
  return next.value;
}

function collect(source: BatchSource, seed: number, shuffle = true): Batch[] {
  return [...source.batches({ batchSize: 4, shuffle, seed })];
}

Deno.test("batches have the ARCHITECTURE.md shapes and cover every window once", () => {
  const source = new WindowBatchSource(makeData(), options);
  const asContract: TrainBatchSource = source; // the trainer's view of the seam type-checks
  assert.equal(asContract.windows, 11 + 7);
  assert.deepEqual(source.dims, { nDyn: F, nStatic: S, window: T, supportK: K });
  const batches = collect(source, 1);
  assert.equal(batches.length, 5);
  const seen: string[] = [];
  for (const b of batches) {
    const B = b.meta.site.length;
    assert.deepEqual(b.xDyn.shape, [B, T, F]);
    assert.deepEqual(b.xStatic.shape, [B, S]);
    assert.deepEqual(b.support.shape, [B, K, T, F + S]);
    assert.deepEqual(b.y.shape, [B, T, 3]);
    assert.deepEqual(b.mask.shape, [B, T, 3]);
    assert.deepEqual(b.qc.shape, [B, T]);
    assert.deepEqual(b.weight.shape, [B]);
    b.meta.site.forEach((s, i) => seen.push(`${s} ${b.meta.start[i]}`));
  }
  assert.equal(new Set(seen).size, 18);
  batches.forEach(disposeBatch);
});

Deno.test("support: same site, other non-overlapping windows, drivers + statics only", () => {
  const source = new WindowBatchSource(makeData(), options);
  for (const b of collect(source, 2)) {
    const xd = b.xDyn.arraySync(), sup = b.support.arraySync(), xs = b.xStatic.arraySync();
    xd.forEach((win, i) => {
      const site = Math.floor(win[0][0] / 1000);
      const qStart = win[0][0] % 1000;
      for (const w of sup[i]) {
        assert.equal(Math.floor(w[0][0] / 1000), site, "support from the same site");
        const sStart = w[0][0] % 1000;
        assert.ok(Math.abs(sStart - qStart) >= T, "support does not overlap the query");
        for (let t = 0; t < T; t++) {
          assert.equal(w[t][0], site * 1000 + sStart + t); // consecutive driver rows
          assert.deepEqual(w[t].slice(F), xs[i]); // the static vector on every step
        }
      }
    });
    disposeBatch(b);
  }
});

Deno.test("support never reads targets: identical with different or missing targets", () => {
  const a = new WindowBatchSource(makeData(), options);
  const b = new WindowBatchSource(makeData(() => NaN), options);
  const ba = collect(a, 5), bb = collect(b, 5);
  ba.forEach((x, i) => {
    assert.deepEqual(x.support.arraySync(), bb[i].support.arraySync());
    assert.equal(bb[i].mask.sum().arraySync(), 0); // no target -> nothing in the loss
    assert.equal(bb[i].y.abs().sum().arraySync(), 0); // missing -> 0
  });
  [...ba, ...bb].forEach(disposeBatch);
});

Deno.test("mask: 1 only on the last `stride` days; weight and qc per window", () => {
  const source = new WindowBatchSource(makeData(), options);
  for (const b of collect(source, 3, false)) {
    const mask = b.mask.arraySync(), w = b.weight.arraySync(), qc = b.qc.arraySync();
    mask.forEach((win, i) => {
      win.forEach((day, t) => assert.deepEqual(day, t >= T - STRIDE ? [1, 1, 1] : [0, 0, 0]));
      assert.equal(w[i], b.meta.site[i] === "S1-Aaa" ? 0.5 : 2);
      assert.ok(qc[i].every((q) => q === 0.75));
    });
    disposeBatch(b);
  }
});

Deno.test("same seed -> same batches; shuffle off -> source order; no tensor leak", () => {
  const before = tf.memory().numTensors;
  const source = new WindowBatchSource(makeData(), options);
  const a = collect(source, 9), b = collect(source, 9), c = collect(source, 10);
  assert.deepEqual(a.map((x) => x.meta), b.map((x) => x.meta));
  assert.deepEqual(a[0].support.arraySync(), b[0].support.arraySync());
  assert.notDeepEqual(a.map((x) => x.meta), c.map((x) => x.meta));
  const ordered = collect(source, 9, false).flatMap((x) => {
    const m = x.meta.start;
    disposeBatch(x);
    return m;
  });
  assert.deepEqual(ordered, source.windowList().map((w) => w.start));
  [...a, ...b, ...c].forEach(disposeBatch);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("drawSupport falls back to overlapping windows, then to the query itself", () => {
  const rng = seededRng(1);
  const q = { series: 0, start: 10 };
  const near = drawSupport([q, { series: 0, start: 15 }], q, { k: 3, window: 10, rng });
  assert.deepEqual(near.map((w) => w.start), [15, 15, 15]);
  assert.deepEqual(drawSupport([q], q, { k: 2, window: 10, rng }).map((w) => w.start), [10, 10]);
  const many = drawSupport(
    Array.from({ length: 8 }, (_, i) => ({ series: 0, start: i * 10 })),
    q,
    { k: 5, window: 10, rng },
  );
  assert.equal(new Set(many.map((w) => w.start)).size, 5); // without replacement when possible
  assert.ok(many.every((w) => Math.abs(w.start - 10) >= 10));
});

Deno.test("class weights: balanced IGBP x Köppen, mean 1 over training windows", () => {
  const sites = [
    { SITE_ID: "a", IGBP: "ENF", KOPPEN_MAIN: "D" },
    { SITE_ID: "b", IGBP: "ENF", KOPPEN_MAIN: "D" },
    { SITE_ID: "c", IGBP: "ENF", KOPPEN_MAIN: "C" },
    { SITE_ID: "d", IGBP: "GRA", KOPPEN_MAIN: "C" },
  ];
  const windows = new Map([["a", 10], ["b", 20], ["c", 30], ["d", 40]]);
  const w = classWeights(sites, windows);
  // raw: ENF 4/(2*3), GRA 4/(2*1); D 4/(2*2), C 4/(2*2) -> a,b,c = 2/3, d = 2
  assert.ok(Math.abs(w.a / w.d - 1 / 3) < 1e-12);
  assert.ok(Math.abs(w.a - w.c) < 1e-12);
  const mean = [...windows].reduce((s, [k, n]) => s + w[k] * n, 0) / 100;
  assert.ok(Math.abs(mean - 1) < 1e-12);
});

Deno.test("fixture dataset: test support comes from the test site's own non-overlapping windows", async () => {
  const ds = await fixtureDataset({ supportK: 4 });
  assert.equal(ds.report.testSupportPool, 12); // AU-Lox: floor(365 / 30) non-overlapping windows
  const batch = firstBatch(ds.test, { batchSize: 23, shuffle: false, seed: 0 });
  assert.deepEqual(batch.support.shape, [
    23,
    4,
    30,
    ds.featureNames.dyn.length + ds.featureNames.static.length,
  ]);
  assert.ok(batch.meta.site.every((s) => s === "AU-Lox"));
  assert.ok(batch.weight.arraySync().every((w) => w === 1));
  const train = firstBatch(ds.train, { batchSize: 64, shuffle: true, seed: 0 });
  assert.ok(train.weight.arraySync().every((w) => Math.abs(w - 1) < 1e-6)); // one training site
  assert.equal(train.mask.sum().arraySync(), 18 * 15 * 3);
  disposeBatch(batch);
  disposeBatch(train);
});
