import assert from "node:assert/strict";
import {
  aggregateSites,
  quantile,
  seedSpread,
  siteMetrics,
  summarize,
} from "../lib/eval/aggregate.ts";
import { balanceTable, balanceViolation } from "../lib/eval/balance.ts";
import {
  alignPredictions,
  ensemblePredictions,
  parsePredictions,
} from "../lib/eval/predictions.ts";
import { monthlyPairs, multiScaleMetrics, seasonalCycle } from "../lib/eval/scales.ts";
import { day, row, syntheticTable } from "./eval_fixtures.ts";

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `expected ${b}, got ${a}`);

Deno.test("quantiles interpolate linearly between order statistics (numpy default)", () => {
  assert.equal(quantile([4, 1, 3, 2], 0.25), 1.75);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0.75), 3.25);
  assert.equal(quantile([5], 0.75), 5);
  assert.deepEqual(summarize([1, 2, 3, 4, NaN]), {
    n: 4,
    mean: 2.5,
    median: 2.5,
    q25: 1.75,
    q75: 3.25,
  });
  assert.ok(Number.isNaN(summarize([]).mean));
});

Deno.test("site metrics use only days with NEE QC >= threshold, for all three fluxes", () => {
  // Site A: two QC-1 days with error 1 on GPP, one QC-0.9 day with error 10.
  const rows = [
    row({ site: "A", date: day(0), GPP_obs: 1, GPP: 2, NEE_QC: 1 }),
    row({ site: "A", date: day(1), GPP_obs: 3, GPP: 4, NEE_QC: 1 }),
    row({ site: "A", date: day(2), GPP_obs: 5, GPP: 15, NEE_QC: 0.9 }),
    row({ site: "A", date: day(3), GPP_obs: 5, GPP: 5, NEE_QC: null }),
  ];
  const strict = siteMetrics(rows, { qcThreshold: 1.0, minDays: 1 });
  const gpp = strict.sites.find((s) => s.flux === "GPP")!;
  assert.equal(gpp.n, 2);
  assert.equal(gpp.rmse, 1);
  assert.equal(gpp.bias, 1);
  assert.equal(strict.report.droppedQc.tamrl, 2);
  assert.equal(strict.sites.find((s) => s.flux === "NEE")!.n, 2);

  const loose = siteMetrics(rows, { qcThreshold: 0.8, minDays: 1 });
  const g = loose.sites.find((s) => s.flux === "GPP")!;
  assert.equal(g.n, 3);
  close(g.rmse, Math.sqrt((1 + 1 + 100) / 3));
  assert.equal(loose.report.droppedQc.tamrl, 1);
  assert.match(strict.report.rules[0], /NEE_QC >= 1/);
});

Deno.test("sites with fewer than minDays valid days are excluded and listed", () => {
  const rows = [
    row({ site: "A", date: day(0) }),
    row({ site: "A", date: day(1) }),
    row({ site: "B", date: day(0) }),
    row({ site: "B", date: day(1), RECO_obs: null }),
  ];
  const { sites, report } = siteMetrics(rows, { minDays: 2 });
  assert.deepEqual(sites.map((s) => `${s.site}/${s.flux}`), [
    "A/GPP",
    "A/RECO",
    "A/NEE",
    "B/GPP",
    "B/NEE",
  ]);
  assert.deepEqual(report.excluded, [{
    model: "tamrl",
    seed: 0,
    site: "B",
    flux: "RECO",
    days: 1,
  }]);
});

Deno.test("aggregation over sites: mean, median, quartiles; by Köppen and IGBP", () => {
  const rows = syntheticTable({
    models: ["trees", "tamrl"],
    days: 60,
    noise: { trees: 1, tamrl: 0.5 },
  });
  const { sites } = siteMetrics(rows, { minDays: 10 });
  const all = aggregateSites(sites);
  assert.equal(all.length, 2 * 3);
  const tGpp = all.find((a) => a.model === "trees" && a.flux === "GPP")!;
  assert.equal(tGpp.sites, 4);
  const perSite = sites.filter((s) => s.model === "trees" && s.flux === "GPP").map((s) => s.rmse);
  close(tGpp.metrics.rmse.mean, perSite.reduce((a, b) => a + b) / 4);
  close(tGpp.metrics.rmse.median, quantile(perSite, 0.5));
  close(tGpp.metrics.rmse.q25, quantile(perSite, 0.25));
  // The noisier model has the larger RMSE.
  const aGpp = all.find((a) => a.model === "tamrl" && a.flux === "GPP")!;
  assert.ok(aGpp.metrics.rmse.mean < tGpp.metrics.rmse.mean);

  const byK = aggregateSites(sites, { by: "KOPPEN_MAIN" });
  assert.deepEqual([...new Set(byK.map((a) => a.group))].sort(), ["A", "B", "C", "D"]);
  assert.ok(byK.every((a) => a.sites === 1 && a.groupBy === "KOPPEN_MAIN"));
  const byI = aggregateSites(sites, { by: "IGBP" });
  assert.deepEqual([...new Set(byI.map((a) => a.group))].sort(), ["EBF", "ENF", "MF", "WSA"]);
});

Deno.test("ensemble: mean and population std over seeds; seeds must agree on observations", () => {
  const rows = [
    row({ seed: 0, GPP: 2, RECO: 1, NEE: 0 }),
    row({ seed: 1, GPP: 4, RECO: 3, NEE: -2 }),
    row({ seed: 0, date: day(5) }),
  ];
  const e = ensemblePredictions(rows);
  assert.equal(e.rows.length, 1);
  assert.equal(e.dropped.tamrl, 1);
  assert.deepEqual(e.seeds, { tamrl: [0, 1] });
  const r = e.rows[0];
  assert.equal(r.seed, -1);
  assert.equal(r.GPP, 3);
  assert.equal(r.GPP_sd, 1);
  assert.equal(r.NEE, -1);
  assert.equal(r.NEE_sd, 1);
  assert.throws(
    () => ensemblePredictions([row({ seed: 0 }), row({ seed: 1, GPP_obs: 99 })]),
    /disagree on GPP_obs/,
  );
});

Deno.test("alignment keeps only site-days every model predicted", () => {
  const rows = [
    row({ model: "a", date: day(0) }),
    row({ model: "b", date: day(0) }),
    row({ model: "a", date: day(1) }),
    row({ model: "b", site: "X", date: day(1) }),
  ];
  const al = alignPredictions(rows);
  assert.equal(al.siteDays, 1);
  assert.equal(al.rows.length, 2);
  assert.deepEqual(al.dropped, { a: 1, b: 1 });
});

Deno.test("prediction rows are validated with the file, row and column in the error", () => {
  assert.throws(
    () => parsePredictions([row(), { ...row(), GPP: -1 }], { source: "u.parquet" }),
    /u\.parquet, row 1, column GPP: GPP must be clipped at 0/,
  );
  assert.throws(
    () => parsePredictions([{ ...row(), date: "2010/01/01" }], { source: "f" }),
    /row 0, column date/,
  );
});

Deno.test("balance violation |NEE - (RECO - GPP)| of predictions and of observations", () => {
  assert.equal(balanceViolation({ GPP: 5, RECO: 3, NEE: -1 }), 1);
  const rows = [
    row({ GPP: 5, RECO: 3, NEE: -2 }), // 0
    row({ date: day(1), GPP: 5, RECO: 3, NEE: 0 }), // 2
    row({ date: day(2), GPP: 5, RECO: 3, NEE: -1 }), // 1
  ];
  const b = balanceTable(rows, { tolerance: 0.5 });
  const t = b.find((x) => x.model === "tamrl")!;
  assert.equal(t.days, 3);
  assert.equal(t.mean, 1);
  assert.equal(t.median, 1);
  assert.equal(t.max, 2);
  close(t.shareAbove, 2 / 3);
  const o = b.find((x) => x.model === "observed")!;
  assert.equal(o.mean, 0);
});

Deno.test("monthly means need the minimum number of valid days; MSC and anomalies", () => {
  const days = [
    { date: "2010-01-01", obs: 1, pred: 2 },
    { date: "2010-01-02", obs: 3, pred: 2 },
    { date: "2010-02-01", obs: 5, pred: 5 },
    { date: "2011-01-05", obs: 4, pred: 6 },
    { date: "2011-01-06", obs: 6, pred: 6 },
  ];
  const months = monthlyPairs(days, { minDays: 2 });
  assert.deepEqual(months, [
    { month: "2010-01", days: 2, obs: 2, pred: 2 },
    { month: "2011-01", days: 2, obs: 5, pred: 6 },
  ]);
  const msc = seasonalCycle(months);
  assert.deepEqual(msc[0], { obs: 3.5, pred: 4, years: 2 });
  assert.equal(msc[1], null);

  // Two years of daily data: every scale gets the four sites; the rules are stated.
  const rows = syntheticTable({ models: ["tamrl"], days: 730 });
  const ms = multiScaleMetrics(rows, { qcThreshold: 0.8, minDaysPerMonth: 15 });
  const get = (scale: string) => ms.rows.find((r) => r.flux === "GPP" && r.scale === scale)!;
  assert.equal(get("daily").sites, 4);
  assert.equal(get("monthly").sites, 4);
  assert.equal(get("seasonal").sites, 4);
  assert.equal(get("anomaly").sites, 4);
  assert.equal(get("across_site").sites, 4);
  assert.equal(get("across_site").pooled.n, 4);
  assert.equal(get("seasonal").pooled.n, 48);
  assert.ok(ms.rules.some((r) => r.includes(">= 15 valid days")));
  // With QC 1.0 only every other day counts: 15-16 days a month, so minDaysPerMonth 20 drops all.
  const strict = multiScaleMetrics(rows, { qcThreshold: 1.0, minDaysPerMonth: 20 });
  assert.equal(strict.rows.find((r) => r.scale === "monthly")!.sites, 0);
});

Deno.test("seed spread: mean and sd over seeds of the site-mean metric", () => {
  const rows = [
    ...syntheticTable({ models: ["tamrl"], days: 30, seed: 0, noise: { tamrl: 0.2 } }),
    ...syntheticTable({ models: ["tamrl"], days: 30, seed: 1, noise: { tamrl: 0.6 } }),
  ];
  const { sites } = siteMetrics(rows);
  const spread = seedSpread(sites, "rmse").find((s) => s.flux === "GPP")!;
  const per = aggregateSites(sites).filter((a) => a.flux === "GPP").map((a) => a.metrics.rmse.mean);
  assert.equal(spread.seeds, 2);
  close(spread.mean, (per[0] + per[1]) / 2);
  close(spread.sd, Math.abs(per[0] - per[1]) / 2);
});
