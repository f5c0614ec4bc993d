import assert from "node:assert/strict";
import pl from "polars";
import {
  addTreePredictionsBinned,
  applyBins,
  binOf,
  crossValidateTrees,
  type FeatureMatrix,
  fitBins,
  fitGbm,
  gbmFromJson,
  gbmToJson,
  matrixFromColumns,
  predictGbm,
  predictTrees,
  rowsOfSites,
  trailingMean,
  trainTrees,
  treeTable,
} from "../lib/models/trees/mod.ts";
import { seededRng } from "../lib/data/random.ts";

/** n rows of `f` uniform features in [0, 1) from a seeded generator. */
function uniform(n: number, f: number, seed: number): FeatureMatrix {
  const rng = seededRng(seed);
  const data = new Float32Array(n * f);
  for (let i = 0; i < data.length; i++) data[i] = rng();
  return { data, nRows: n, nCols: f, names: Array.from({ length: f }, (_, j) => `x${j}`) };
}

function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

Deno.test("binning: distinct values get their own bins, NaN goes to bin 0", () => {
  const x = matrixFromColumns({ a: [3, 1, 2, 2, NaN, 4] });
  const e = fitBins(x);
  assert.deepEqual(Array.from(e.edges[0]), [1.5, 2.5, 3.5]);
  const b = applyBins(x, e);
  assert.deepEqual(Array.from(b.bins), [3, 1, 2, 2, 0, 4]);
  assert.equal(b.binCount[0], 5);
  // "bin <= t" is "v <= edges[t - 1]" for any value
  const edges = Float64Array.from([0.25, 0.5, 0.75]);
  for (const v of [-1, 0.25, 0.3, 0.5, 0.74, 0.75, 0.76, 9]) {
    const bin = binOf(v, edges);
    for (let t = 1; t <= edges.length; t++) assert.equal(bin <= t, v <= edges[t - 1], `${v} ${t}`);
  }
});

Deno.test("binning: quantile edges are capped at maxBins and ascending", () => {
  const x = uniform(5000, 1, 3);
  const e = fitBins(x, { maxBins: 16 });
  assert.ok(e.edges[0].length <= 14 && e.edges[0].length >= 12, `${e.edges[0].length} edges`);
  for (let k = 1; k < e.edges[0].length; k++) assert.ok(e.edges[0][k] > e.edges[0][k - 1]);
  const b = applyBins(x, e);
  const counts = new Array(16).fill(0);
  for (const v of b.bins) counts[v]++;
  assert.equal(counts[0], 0);
  // roughly equal-frequency bins
  for (let k = 1; k < b.binCount[0]; k++) {
    assert.ok(counts[k] > 200 && counts[k] < 500, `${counts}`);
  }
});

Deno.test("gbm: a step function is fit exactly by one split", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i);
  const y = xs.map((v) => (v < 50 ? -2 : 3));
  const x = matrixFromColumns({ a: xs });
  const { model } = fitGbm(x, y, {
    config: {
      nTrees: 1,
      maxDepth: 1,
      learningRate: 1,
      lambda: 0,
      minSamplesLeaf: 1,
      subsample: 1,
    },
  });
  assert.equal(model.trees.length, 1);
  const t = model.trees[0];
  assert.equal(t.feature.length, 3);
  assert.equal(t.feature[0], 0);
  assert.equal(t.threshold[0], 49.5);
  const p = predictGbm(model, x);
  for (let i = 0; i < 100; i++) assert.ok(Math.abs(p[i] - y[i]) < 1e-12, `row ${i}: ${p[i]}`);
});

Deno.test("gbm: constant target gives a constant prediction", () => {
  const x = uniform(500, 3, 1);
  const y = new Float64Array(500).fill(4.25);
  const { model, report } = fitGbm(x, y, { config: { nTrees: 20, minSamplesLeaf: 5 } });
  assert.equal(model.baseScore, 4.25);
  const p = predictGbm(model, uniform(100, 3, 2));
  for (const v of p) assert.equal(v, 4.25);
  assert.equal(report.leaves, 20); // no split has positive gain: every tree is one leaf
});

Deno.test("gbm: an additive smooth function is learned to low error", () => {
  const f = (r: ArrayLike<number>, i: number, n: number) =>
    Math.sin(6 * r[i * n]) + 2 * r[i * n + 1] ** 2 - r[i * n + 2];
  const train = uniform(8000, 5, 11);
  const test = uniform(2000, 5, 12);
  const y = Float64Array.from({ length: 8000 }, (_, i) => f(train.data, i, 5));
  const yt = Float64Array.from({ length: 2000 }, (_, i) => f(test.data, i, 5));
  const { model, report } = fitGbm(train, y, {
    config: { nTrees: 300, maxDepth: 3, learningRate: 0.1, minSamplesLeaf: 10, seed: 1 },
  });
  const p = predictGbm(model, test);
  let m = 0;
  for (const v of yt) m += v / yt.length;
  const sd = Math.sqrt(yt.reduce((s, v) => s + (v - m) ** 2, 0) / yt.length);
  const e = rmse(p, yt);
  assert.ok(e < 0.06 * sd, `test RMSE ${e} vs target sd ${sd}`);
  // the training curve falls
  assert.ok(report.trainRmse[299] < report.trainRmse[0] / 5);
  // irrelevant features carry (almost) no gain
  const total = model.importance.reduce((s, v) => s + v, 0);
  assert.ok((model.importance[3] + model.importance[4]) / total < 0.01);
});

Deno.test("gbm: the same seed gives the same model, another seed a different one", () => {
  const x = uniform(3000, 6, 5);
  const y = Float64Array.from({ length: 3000 }, (_, i) => x.data[i * 6] * 3 + x.data[i * 6 + 1]);
  const config = { nTrees: 30, subsample: 0.6, colsample: 0.5, minSamplesLeaf: 5 };
  const a = predictGbm(fitGbm(x, y, { config: { ...config, seed: 7 } }).model, x);
  const b = predictGbm(fitGbm(x, y, { config: { ...config, seed: 7 } }).model, x);
  const c = predictGbm(fitGbm(x, y, { config: { ...config, seed: 8 } }).model, x);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("gbm: missing values are routed to the side that fits them", () => {
  const a: number[] = [], y: number[] = [];
  for (let i = 0; i < 300; i++) {
    const missing = i % 3 === 0;
    a.push(missing ? NaN : i / 300);
    y.push(missing ? 10 : i / 300 < 0.5 ? 0 : 1);
  }
  const x = matrixFromColumns({ a });
  const { model } = fitGbm(x, y, {
    config: { nTrees: 1, maxDepth: 2, learningRate: 1, lambda: 0, minSamplesLeaf: 1, subsample: 1 },
  });
  const p = predictGbm(model, matrixFromColumns({ a: [NaN, 0.1, 0.9] }));
  assert.ok(
    Math.abs(p[0] - 10) < 1e-9 && Math.abs(p[1]) < 1e-9 && Math.abs(p[2] - 1) < 1e-9,
    `${p}`,
  );
});

Deno.test("gbm: missing targets and zero weights are left out and counted; weights count", () => {
  const x = matrixFromColumns({ a: [0, 1, 2, 3, 4] });
  const { model, report } = fitGbm(x, [1, NaN, 3, 100, 5], {
    weights: [1, 1, 3, 0, 1],
    config: { nTrees: 1, minSamplesLeaf: 10 },
  });
  assert.equal(report.droppedMissingTarget, 1);
  assert.equal(report.droppedZeroWeight, 1);
  assert.equal(report.rows, 3);
  assert.equal(model.baseScore, (1 + 9 + 5) / 5);
});

Deno.test("gbm: raw-value and binned predictions agree; JSON round trip is exact", () => {
  const x = uniform(2000, 4, 21);
  for (let i = 0; i < 2000; i += 7) x.data[i * 4 + 2] = NaN;
  const y = Float64Array.from(
    { length: 2000 },
    (_, i) => (Number.isNaN(x.data[i * 4 + 2]) ? 2 : x.data[i * 4 + 2]) + x.data[i * 4],
  );
  const binned = applyBins(x, fitBins(x, { maxBins: 64 }));
  const { model } = fitGbm(x, y, {
    binned,
    config: { nTrees: 25, maxBins: 64, minSamplesLeaf: 3 },
  });
  const raw = predictGbm(model, x);
  const viaBins = new Float64Array(2000).fill(model.baseScore);
  for (const t of model.trees) addTreePredictionsBinned(t, binned, viaBins);
  for (let i = 0; i < 2000; i++) assert.ok(Math.abs(raw[i] - viaBins[i]) < 1e-9, `row ${i}`);
  const copy = gbmFromJson(JSON.parse(JSON.stringify(gbmToJson(model))));
  assert.deepEqual(predictGbm(copy, x), raw);
  assert.deepEqual(
    Array.from(predictGbm(model, x, { nTrees: 0 })),
    new Array(2000).fill(model.baseScore),
  );
});

Deno.test("gbm: bad input is refused with a clear error", () => {
  const x = matrixFromColumns({ a: [1, 2], b: [3, 4] });
  assert.throws(() => fitGbm(x, [1]), /1 targets for 2 rows/);
  assert.throws(() => matrixFromColumns({ a: [1, Infinity] }), /column a, row 1: infinite/);
  const { model } = fitGbm(x, [1, 2], { config: { nTrees: 1, minSamplesLeaf: 1 } });
  assert.throws(() => predictGbm(model, matrixFromColumns({ b: [1], a: [2] })), /column 0 is b/);
  assert.throws(() => fitGbm(x, [1, 2], { config: { nTrees: 0 } }));
});

Deno.test("features: trailing means use past days of the same site only", () => {
  const v = Float64Array.from([1, 2, NaN, 4, 10, 20]);
  const day = Int32Array.from([0, 1, 2, 5, 0, 1]);
  const site = ["a", "a", "a", "a", "b", "b"];
  const m = trailingMean(v, day, site, 3);
  // a: day0 [1] -> 1; day1 [1,2] -> 1.5; day2 [1,2,NaN] -> 1.5; day5 [4] (days 3..5) -> 4
  // b starts over: 10, 15
  assert.deepEqual(Array.from(m), [1, 1.5, 1.5, 4, 10, 15]);
  assert.throws(() => trailingMean(v, Int32Array.from([0, 1, 1, 2, 0, 1]), site, 3), /ascending/);
});

function syntheticTable(): pl.DataFrame {
  // 12 sites x 200 days; GPP depends on TA_F and a site-level static; KOPPEN groups C/D
  const rng = seededRng(99);
  const cols: Record<string, unknown[]> = {
    site: [],
    date: [],
    segment: [],
    IGBP: [],
    KOPPEN_MAIN: [],
    TA_F: [],
    MAT: [],
    GPP: [],
    RECO: [],
    NEE: [],
    NEE_QC: [],
  };
  for (let s = 0; s < 12; s++) {
    const mat = s / 3;
    for (let d = 0; d < 200; d++) {
      const ta = 10 * Math.sin(d / 30) + rng();
      const gpp = Math.max(0, ta) * (1 + mat / 4);
      const reco = 1 + 0.1 * ta + mat / 4;
      cols.site.push(`S${String(s).padStart(2, "0")}`);
      cols.date.push(new Date(Date.UTC(2010, 0, 1 + d)));
      cols.segment.push(s < 10 ? "train" : "test");
      cols.IGBP.push(s % 2 ? "ENF" : "GRA");
      cols.KOPPEN_MAIN.push(s % 3 ? "C" : "D");
      cols.TA_F.push(ta);
      cols.MAT.push(mat);
      cols.GPP.push(d % 17 === 0 ? null : gpp);
      cols.RECO.push(reco);
      cols.NEE.push(reco - gpp);
      cols.NEE_QC.push(d % 5 === 0 ? 0.5 : 1);
    }
  }
  return pl.DataFrame(cols).withColumns(pl.col("date").cast(pl.Date));
}

Deno.test("pipeline: per-day table, training on train sites, prediction, CV choice", () => {
  const table = treeTable(syntheticTable(), ["TA_F", "MAT"], {
    rolling: { columns: ["TA_F"], windows: [7] },
  });
  assert.deepEqual(table.x.names, ["TA_F", "MAT", "TA_F_MEAN7"]);
  assert.equal(table.date[0], "2010-01-01");
  const trainSites = Array.from({ length: 10 }, (_, s) => `S${String(s).padStart(2, "0")}`);
  const fitted = trainTrees(table, trainSites, {
    config: { gbm: { nTrees: 80, maxDepth: 3, minSamplesLeaf: 5 } },
  });
  assert.equal(fitted.rows, 2000);
  assert.equal(fitted.reports.GPP.droppedMissingTarget, 10 * 12);
  const test = rowsOfSites(table, ["S10", "S11"]);
  const p = predictTrees(fitted, table, test);
  const obs = Float64Array.from(test, (i) => table.y.RECO[i]);
  assert.ok(rmse(p.RECO, obs) < 0.3, `RECO RMSE ${rmse(p.RECO, obs)}`);
  for (const v of p.GPP) assert.ok(v >= 0);
  const cv = crossValidateTrees(
    table,
    trainSites.map((s, k) => ({ SITE_ID: s, IGBP: "X", KOPPEN_MAIN: k % 3 ? "C" : "D" })),
    { config: { cv: { folds: 2, maxTrees: 40, maxDepth: [1, 3], rowStride: 1 } } },
  );
  assert.equal(cv.results.length, 6);
  for (const f of cv.folds) assert.equal(f.train.filter((s) => f.test.includes(s)).length, 0);
  // GPP = max(0, TA) * (1 + MAT/4) needs an interaction: depth 3 beats stumps
  assert.equal(cv.best.GPP.maxDepth, 3);
  assert.equal(cv.chosen.perTarget.GPP?.nTrees, cv.best.GPP.nTrees);
});
