import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  classAgreement,
  distance,
  fitPca,
  nearestNeighbours,
  neighbourTable,
  onePerClass,
  projectPca,
  selfSupport,
  siteEmbeddings,
  supportSpread,
  type WindowEmbedding,
  windowEmbeddings,
} from "../lib/embedding/embedding.ts";
import {
  embeddingMapSpec,
  embeddingPoints,
  supportSpreadSpec,
} from "../lib/embedding/embedding_figures.ts";
import { renderSvg } from "../lib/eval/figures.ts";
import { buildModel, parseModelConfig } from "../lib/models/mod.ts";
import { fakeSource } from "./_fakes.ts";

await tf.setBackend("cpu");

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);

Deno.test("fitPca: axis-aligned cross gives the axes, variances and shares exactly", () => {
  const pca = fitPca([[2, 0], [-2, 0], [0, 1], [0, -1]]);
  assert.deepEqual(pca.mean, [0, 0]);
  close(pca.components[0][0], 1);
  close(pca.components[0][1], 0);
  close(Math.abs(pca.components[1][1]), 1);
  close(pca.variance[0], 8 / 3);
  close(pca.variance[1], 2 / 3);
  close(pca.explained[0], 0.8);
  close(pca.explained[1], 0.2);
  assert.deepEqual(projectPca(pca, [[3, 0]])[0].map((v) => Math.round(v * 1e9) / 1e9), [3, 0]);
});

Deno.test("fitPca: a rotated, shifted cloud gives back the rotation and the mean", () => {
  const angle = Math.PI / 6;
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const base = [[3, 0], [-3, 0], [0, 1], [0, -1], [1, 0], [-1, 0]]; // uncorrelated u, v
  const rows = base.map(([u, v]) => [10 + c * u - s * v, -5 + s * u + c * v, 7]);
  const pca = fitPca(rows, { components: 3 });
  close(pca.mean[0], 10, 1e-12);
  close(pca.mean[1], -5, 1e-12);
  close(pca.mean[2], 7, 1e-12);
  // first axis = the rotated x axis, sign fixed so its largest entry is positive
  close(pca.components[0][0], c, 1e-9);
  close(pca.components[0][1], s, 1e-9);
  close(pca.components[0][2], 0, 1e-9);
  close(pca.variance[2], 0, 1e-9);
  const total = pca.variance.reduce((a, b) => a + b, 0);
  close(pca.explained[0], pca.variance[0] / total, 1e-12);
  // projections keep distances in the plane of the data
  const xy = projectPca(pca, rows);
  close(distance(xy[0], xy[1]), 6, 1e-9);
  close(Math.abs(xy[0][0]), 3, 1e-9);
});

Deno.test("fitPca: rejects ragged and too-short input", () => {
  assert.throws(() => fitPca([[1, 2]]), /at least 2 rows/);
  assert.throws(() => fitPca([[1, 2], [1]]), /row 1 has 1 values/);
});

Deno.test("nearestNeighbours: ranks by Euclidean distance, excludes the query, honours `among`", () => {
  const items = [
    { site: "A", z: [0, 0] },
    { site: "B", z: [3, 4] },
    { site: "C", z: [1, 0] },
    { site: "D", z: [0, -2] },
  ];
  const rows = nearestNeighbours(items, { k: 2, queries: ["A", "B"] });
  assert.deepEqual(rows, [
    { query: "A", rank: 1, neighbour: "C", distance: 1 },
    { query: "A", rank: 2, neighbour: "D", distance: 2 },
    { query: "B", rank: 1, neighbour: "C", distance: Math.sqrt(20) },
    { query: "B", rank: 2, neighbour: "A", distance: 5 },
  ]);
  const onlyTrain = nearestNeighbours(items, { k: 1, queries: ["A"], among: ["B", "D"] });
  assert.equal(onlyTrain[0].neighbour, "D");
  assert.throws(() => nearestNeighbours(items, { queries: ["X"] }), /no embedding for site X/);
});

Deno.test("siteEmbeddings and supportSpread: means, draws, years and the nearest site", () => {
  const w = (site: string, start: string, z: number[]): WindowEmbedding => ({ site, start, z });
  const windows = [
    w("A", "2010-01-01", [0, 0]),
    w("A", "2010-06-01", [2, 0]),
    w("A", "2011-01-01", [0, 2]),
    w("A", "2011-06-01", [2, 2]),
    w("B", "2010-01-01", [11, 1]),
    w("B", "2011-01-01", [11, 1]),
  ];
  const sites = siteEmbeddings(windows);
  assert.deepEqual(sites, [
    { site: "A", windows: 4, z: [1, 1] },
    { site: "B", windows: 2, z: [11, 1] },
  ]);
  const { sites: spread, points, medianSiteDistance } = supportSpread(windows, {
    k: 4,
    draws: 3,
    minYearWindows: 2,
  });
  assert.equal(medianSiteDistance, 10);
  const a = spread[0];
  // K = all 4 windows: every draw is the site mean
  close(a.drawSpread, 0);
  // years: 2010 -> [1, 0], 2011 -> [1, 2]; both 1 away from [1, 1]
  assert.equal(a.years, 2);
  close(a.yearSpread!, 1);
  assert.equal(a.nearestSite, "B");
  close(a.nearestDistance, 10);
  assert.equal(spread[1].years, 0);
  assert.equal(spread[1].yearSpread, null);
  assert.deepEqual(
    points.filter((p) => p.site === "A" && p.kind === "year").map((p) => [p.label, p.z]),
    [["2010", [1, 0]], ["2011", [1, 2]]],
  );
  // K = 1: each draw is one window, at distance sqrt(2) from the mean
  const one = supportSpread(windows, { k: 1, draws: 5, sites: ["A"] });
  assert.equal(one.sites.length, 1);
  close(one.sites[0].drawSpread, Math.SQRT2);
  close(one.sites[0].ratio, Math.SQRT2 / 10);
  // reproducible for a seed
  assert.deepEqual(
    supportSpread(windows, { k: 2, draws: 4, seed: 3 }).points,
    supportSpread(windows, { k: 2, draws: 4, seed: 3 }).points,
  );
});

Deno.test("windowEmbeddings: z of a support set is the mean of its windows' z; selfSupport layout", () => {
  const source = fakeSource({ sites: 3, windowsPerSite: 4, nDyn: 3, nStatic: 2, window: 6 });
  const model = buildModel(
    parseModelConfig({ name: "tamrl", hidden: 8, latent: 4 }),
    source.dims,
    { seed: 2 },
  );
  try {
    const rows = windowEmbeddings(model, source, { batchSize: 5 });
    assert.equal(rows.length, source.windows);
    assert.ok(rows.every((r) => r.z.length === 4 && r.z.every(Number.isFinite)));
    const batch = source.batches({ batchSize: 4, shuffle: false, seed: 0 }).next().value!;
    const support = selfSupport(batch);
    assert.deepEqual(support.shape, [4, 1, 6, 5]);
    const s = support.arraySync() as number[][][][];
    const x = batch.xDyn.arraySync() as number[][][];
    const st = batch.xStatic.arraySync() as number[][];
    for (let t = 0; t < 6; t++) {
      assert.deepEqual(s[2][0][t], [...x[2][t], ...st[2]]);
    }
    // the four windows of site S0 as one support set [1, 4, T, F + S]
    const joint = tf.tidy(() =>
      model.embed!(tf.reshape(support, [1, 4, 6, 5]) as tf.Tensor4D).arraySync()[0]
    );
    const mean = siteEmbeddings(rows.filter((r) => r.site === "S0"))[0].z;
    for (let j = 0; j < 4; j++) close(joint[j], mean[j], 1e-5);
    for (const t of Object.values(batch)) if (t instanceof tf.Tensor) t.dispose();
    support.dispose();
    const lstm = buildModel(parseModelConfig({ name: "lstm", hidden: 4 }), source.dims, {
      seed: 1,
    });
    assert.throws(() => windowEmbeddings(lstm, source), /has no task encoder/);
    lstm.dispose();
  } finally {
    model.dispose();
  }
});

Deno.test("embedding figures render to SVG with every site", async () => {
  const emb = [
    { site: "A", windows: 2, z: [0, 0, 1] },
    { site: "B", windows: 2, z: [1, 0, 0] },
    { site: "C", windows: 2, z: [0, 2, 0] },
  ];
  const pca = fitPca(emb.map((e) => e.z));
  const points = embeddingPoints(emb, pca, {
    sites: [
      { SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "D" },
      { SITE_ID: "B", IGBP: "GRA", KOPPEN_MAIN: "C" },
      { SITE_ID: "C", IGBP: "EBF", KOPPEN_MAIN: "A" },
    ],
    test: ["C"],
  });
  assert.deepEqual(points.map((p) => p.split), ["train", "train", "test"]);
  const svg = await renderSvg(embeddingMapSpec(points, { pca }));
  assert.ok(svg.includes("<svg") && svg.includes("% of variance"));
  assert.ok(svg.includes(">C<"), "test sites are labelled");
  assert.throws(
    () => embeddingPoints(emb, pca, { sites: [], test: [] }),
    /site A is not in the site table/,
  );
  const w = (site: string, start: string, z: number[]) => ({ site, start, z });
  const spread = supportSpread([
    w("A", "2010-01-01", [0, 0, 1]),
    w("A", "2011-01-01", [0, 1, 1]),
    w("B", "2010-01-01", [1, 0, 0]),
  ], { k: 1, draws: 3 });
  const svg2 = await renderSvg(supportSpreadSpec(spread.points, { pca, embeddings: emb }));
  assert.ok(svg2.includes("one year") && svg2.includes("all windows"), "kinds in the legend");
});

Deno.test("neighbourTable and classAgreement: classes of both sites, agreement against chance", () => {
  const sites = [
    { SITE_ID: "T1", IGBP: "ENF", KOPPEN_MAIN: "D" },
    { SITE_ID: "T2", IGBP: "GRA", KOPPEN_MAIN: "B" },
    { SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "C" },
    { SITE_ID: "B", IGBP: "GRA", KOPPEN_MAIN: "B" },
    { SITE_ID: "C", IGBP: "CRO", KOPPEN_MAIN: "D" },
  ];
  const rows = [
    { query: "T1", rank: 1, neighbour: "A", distance: 0.1 },
    { query: "T1", rank: 2, neighbour: "C", distance: 0.2 },
    { query: "T2", rank: 1, neighbour: "A", distance: 0.3 },
  ];
  const table = neighbourTable(rows, sites);
  assert.equal(table.length, 3);
  assert.deepEqual(table[0], {
    site: "T1",
    "site IGBP / Köppen": "ENF / D",
    rank: 1,
    neighbour: "A",
    "neighbour IGBP / Köppen": "ENF / C",
    "distance in z": 0.1,
    "same IGBP": "yes",
    "same Köppen": "no",
  });
  const a = classAgreement(rows, sites, { among: ["A", "B", "C"] });
  assert.equal(a.queries, 2);
  assert.equal(a.igbp, 0.5); // T1 -> A same IGBP, T2 -> A not
  assert.equal(a.koppen, 0);
  close(a.igbpChance, (1 / 3 + 1 / 3) / 2); // one ENF of 3, one GRA of 3
  close(a.koppenChance, (1 / 3 + 1 / 3) / 2);
  assert.throws(() => neighbourTable([{ ...rows[0], neighbour: "X" }], sites), /site X/);
});

Deno.test("onePerClass: the site with most windows per class, classes in order, capped", () => {
  const emb = [
    { site: "A", windows: 5, z: [0] },
    { site: "B", windows: 9, z: [1] },
    { site: "C", windows: 2, z: [2] },
    { site: "D", windows: 7, z: [3] },
  ];
  const sites = [
    { SITE_ID: "A", IGBP: "ENF", KOPPEN_MAIN: "D" },
    { SITE_ID: "B", IGBP: "GRA", KOPPEN_MAIN: "D" },
    { SITE_ID: "C", IGBP: "EBF", KOPPEN_MAIN: "A" },
    { SITE_ID: "D", IGBP: "ENF", KOPPEN_MAIN: "C" },
  ];
  assert.deepEqual(onePerClass(emb, sites), ["C", "D", "B"]);
  assert.deepEqual(onePerClass(emb, sites, { among: ["A", "C"], max: 1 }), ["C"]);
  assert.deepEqual(onePerClass(emb, sites, { by: "IGBP" }), ["C", "D", "B"]);
  assert.throws(() => onePerClass(emb, sites.slice(1)), /site A is not in the site table/);
});
