/**
 * lib/experiments/adapt_curve.ts on a synthetic CV folder: two folds of untrained TAM-RL members
 * (H 8, the fixture run of tests/_run_fixtures.ts) and three test sites, each a copy of the AU-Lox
 * 2009 fixture with synthetic fluxes = the zero-shot prediction plus a constant offset. Checks: the
 * scoring days are the same for every method and N and start after the largest period; N = 0 is
 * the zero-shot prediction exactly; the scoring period's fluxes are never read; a rerun skips
 * finished files; shards partition the sites; the table's differences have the right sign.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { loadSites } from "../lib/data/sites.ts";
import {
  adaptCurveRows,
  curveFolds,
  curveJobs,
  readSiteCurves,
  runAdaptCurve,
  scoringDays,
  type SiteCurve,
  siteCurvePath,
  writeAdaptCurveReport,
} from "../lib/experiments/adapt_curve.ts";
import { predictSites } from "../lib/predict/mod.ts";
import { scoreSeries } from "../lib/metrics/metrics.ts";
import { fixtureDataset, paths } from "./_dataset_fixtures.ts";
import { writeFixtureRun } from "./_run_fixtures.ts";

await tf.setBackend("cpu");

const tmp = await Deno.makeTempDir({ prefix: "tamflux_adapt_curve_" });
const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 });
const FIXTURE = "FLX_AU-Lox_FLUXNET2015_SUBSET_DD_2008-2009_1-4_only2009.csv";
const SITES = ["ZZ-Aa1", "ZZ-Bb2", "ZZ-Cc3"];
const FOLDS = {
  cv0of2: { seeds: [0, 1], sites: ["ZZ-Aa1", "ZZ-Bb2"] },
  cv1of2: { seeds: [0], sites: ["ZZ-Cc3"] },
};
const OFFSET = { GPP: 1.5, RECO: 1.0, NEE: -0.5 };

// the CV folder: units/tamrl_<fold>_s<seed>/{done.json, run/}
const cv = join(tmp, "cv");
for (const [fold, f] of Object.entries(FOLDS)) {
  for (const seed of f.seeds) {
    const id = `tamrl_${fold}_s${seed}`;
    const dir = join(cv, "units", id);
    await writeFixtureRun(join(dir, "run"), {
      name: "tamrl",
      seed: seed + 10 * Number(fold[2]),
      dataset: ds,
    });
    await Deno.writeTextFile(
      join(dir, "done.json"),
      JSON.stringify({
        unit: {
          id,
          model: "tamrl",
          split: fold,
          seed,
          variant: null,
          label: "tamrl",
          overrides: {},
        },
        outcome: {
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "x",
          dataSummary: "fixture",
          testSites: f.sites,
          extra: {},
        },
        startedAt: "2026-01-01T00:00:00Z",
        finishedAt: "2026-01-01T00:00:01Z",
        wallSeconds: 1,
      }),
    );
  }
}
// a trees unit of the same fold is not part of the curve
await Deno.mkdir(join(cv, "units", "trees_cv0of2_s0"), { recursive: true });

// site table, monthly files and drivers-only files of the three sites (copies of AU-Lox)
const COLS = ["SITE_ID", "LAT", "LON", "IGBP", "KOPPEN_MAIN", "ELEV", "MAT", "MAP", "P_OVER_PET"];
const lox = (await loadSites(paths.sitesCsv)).find((s) => s.SITE_ID === "AU-Lox")!;
const sites = join(tmp, "sites.csv");
await Deno.writeTextFile(
  sites,
  [
    COLS.join(","),
    ...SITES.map((id) =>
      COLS.map((c) => (c === "SITE_ID" ? id : String((lox as Record<string, unknown>)[c] ?? "")))
        .join(",")
    ),
  ].join("\n") + "\n",
);
const monthly = join(tmp, "monthly");
await Deno.mkdir(monthly);
const original = (await Deno.readTextFile(join(paths.fixtures, FIXTURE))).trim().split("\n")
  .map((l) => l.replace(/\r$/, "").split(","));

async function dataFolder(
  name: string,
  edit: (header: string[], rows: string[][], site: string) => void,
): Promise<string> {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  for (const site of SITES) {
    const header = [...original[0]], rows = original.slice(1).map((r) => [...r]);
    edit(header, rows, site);
    await Deno.writeTextFile(
      join(dir, `FLX_${site}_FLUXNET2015_SUBSET_DD_2009-2009_1-4.csv`),
      [header, ...rows].map((r) => r.join(",")).join("\n"),
    );
  }
  return dir;
}
for (const site of SITES) {
  await Deno.copyFile(
    join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv"),
    join(monthly, `${site}_MM.csv`),
  );
}
const drivers = await dataFolder("drivers", (h, rows) => {
  const keep = ["TIMESTAMP", "TA_F", "SW_IN_F", "VPD_F"].map((c) => h.indexOf(c));
  h.splice(0, h.length, ...keep.map((i) => h[i]));
  for (const r of rows) r.splice(0, r.length, ...keep.map((i) => r[i]));
});

/** Zero-shot predictions of each fold's ensemble: site -> date -> fluxes. */
const zeroShot = new Map<string, Map<string, Record<"GPP" | "RECO" | "NEE", number>>>();
for (const fold of await curveFolds(cv)) {
  const { frame } = await predictSites(fold.runs, {
    data: drivers,
    sites,
    monthly,
    only: fold.testSites,
  });
  for (
    const r of frame.select("site", pl.col("date").cast(pl.Utf8), "GPP", "RECO", "NEE").toRecords()
  ) {
    if (r.GPP === null) continue;
    const m = zeroShot.get(r.site as string) ?? new Map();
    m.set(r.date as string, r as never);
    zeroShot.set(r.site as string, m);
  }
}

/** Fluxes = zero-shot + offset (+ `late` from `lateFrom` on), QC 1 where predicted. */
function synthetic(name: string, options: { late?: number; lateFrom?: string } = {}) {
  return dataFolder(name, (h, rows, site) => {
    const iTs = h.indexOf("TIMESTAMP");
    const cols = {
      NEE: h.indexOf("NEE_VUT_REF"),
      GPP: h.indexOf("GPP_NT_VUT_REF"),
      RECO: h.indexOf("RECO_NT_VUT_REF"),
      QC: h.indexOf("NEE_VUT_REF_QC"),
    };
    for (const r of rows) {
      const ts = r[iTs];
      const date = `${ts.slice(0, 4)}-${ts.slice(4, 6)}-${ts.slice(6, 8)}`;
      const p = zeroShot.get(site)!.get(date);
      const late = options.lateFrom && date >= options.lateFrom ? options.late ?? 0 : 0;
      for (const k of ["GPP", "RECO", "NEE"] as const) {
        r[cols[k]] = p ? (p[k] + OFFSET[k] + (k === "NEE" ? 0 : late)).toFixed(5) : "-9999";
      }
      r[cols.QC] = p ? "1" : "0";
    }
  });
}
const data = await synthetic("synthetic");
const OPTS = { data, sites, monthly, months: [0, 1, 3], steps: 15 } as const;
const out = join(tmp, "curve");

Deno.test("adapt_curve: shards partition the (fold, site) jobs", async () => {
  const folds = await curveFolds(cv);
  assert.deepEqual(folds.map((f) => [f.fold, f.runs.length, f.testSites]), [
    ["cv0of2", 2, ["ZZ-Aa1", "ZZ-Bb2"]],
    ["cv1of2", 1, ["ZZ-Cc3"]],
  ]);
  const all = curveJobs(folds).map((j) => `${j.fold}/${j.site}`);
  assert.equal(all.length, 3);
  for (const n of [1, 2, 3, 4]) {
    const parts = Array.from({ length: n }, (_, i) => curveJobs(folds, { index: i, count: n }));
    const flat = parts.flat().map((j) => `${j.fold}/${j.site}`);
    assert.equal(flat.length, all.length, `${n} shards`);
    assert.deepEqual([...flat].sort(), [...all].sort(), `${n} shards cover every job once`);
  }
});

Deno.test("adapt_curve: scoring days start after the largest period; too short a record is a reason", () => {
  // 2009-01-01 .. 2009-06-30, QC-good except February
  const start = Date.UTC(2009, 0, 1) / 86_400_000;
  const days = Int32Array.from({ length: 181 }, (_, i) => start + i);
  const iso = (d: number) => new Date(d * 86_400_000).toISOString().slice(0, 10);
  const qc = Float64Array.from(days, (d) => (iso(d).slice(5, 7) === "02" ? 0.5 : 1));
  const ones = new Float64Array(days.length).fill(1);
  const daily = { days, file: "f.csv", fluxes: { GPP: ones, RECO: ones, NEE: ones, NEE_QC: qc } };
  const opts = { qcThreshold: 1, adaptQcThreshold: 0.8, minDays: 10 };
  const s = scoringDays(daily, { maxMonths: 3, ...opts });
  assert.ok(typeof s !== "string");
  // months with QC-good days: Jan, Mar, Apr (February has none): scoring from May
  assert.equal(s.afterMonth, "2009-04");
  assert.equal(iso(days[s.start]), "2009-05-01");
  assert.equal(s.days, 61);
  assert.equal(s.score.subarray(0, s.start).indexOf(1), -1);
  const r = scoringDays(daily, { maxMonths: 6, ...opts });
  assert.ok(typeof r === "string");
  assert.match(r, /fewer than 6 months with QC-good fluxes/);
  const short = scoringDays(daily, { maxMonths: 5, ...opts });
  assert.equal(short, "0 scoring day(s) (NEE_QC >= 1) after 2009-06, fewer than 10");
});

Deno.test("adapt_curve: same scoring days for every cell, N = 0 is zero-shot, rerun skips", async () => {
  const first = await runAdaptCurve(cv, { ...OPTS, out, methods: ["z", "linear"] });
  assert.equal(first.ran.length, 3);
  assert.equal(first.skipped.length, 0);
  const curves = await readSiteCurves(out);
  assert.deepEqual(curves.map((c) => c.site), SITES);
  for (const c of curves) {
    assert.equal(c.unscored, null);
    assert.equal(c.scoring?.afterMonth, "2009-03");
    assert.equal(c.scoring?.firstDate, "2009-04-01");
    assert.deepEqual(c.cells.map((x) => `${x.method}${x.months}`), [
      "zero-shot0",
      "z1",
      "z3",
      "linear1",
      "linear3",
    ]);
    // the same days for every method and N: the same n, the number of scoring days
    for (const cell of c.cells) {
      assert.equal(cell.reason, null, cell.reason ?? "");
      for (const flux of ["GPP", "RECO", "NEE"] as const) {
        assert.equal(cell.metrics?.[flux]?.n, c.scoring!.days, `${c.site} ${cell.method}`);
      }
    }
    assert.deepEqual(c.cells.find((x) => x.method === "linear" && x.months === 3)?.period, [
      "2009-01",
      "2009-02",
      "2009-03",
    ]);
    // N = 0: the zero-shot prediction's metrics on the scoring days, exactly
    const z = zeroShot.get(c.site)!;
    const dates = [...z.keys()].filter((d) => d >= "2009-04-01").sort();
    for (const flux of ["GPP", "RECO", "NEE"] as const) {
      const pred = dates.map((d) => z.get(d)![flux]);
      const obs = pred.map((p) => Number((p + OFFSET[flux]).toFixed(5)));
      const m = scoreSeries(obs, pred);
      const cell = c.cells[0].metrics![flux]!;
      assert.equal(cell.n, m.n);
      assert.equal(cell.rmse, m.rmse);
      assert.equal(cell.r2, m.r2);
    }
    // the offset is constant: the linear map removes most of it on the later days
    const lin = c.cells.find((x) => x.method === "linear" && x.months === 3)!;
    assert.ok(lin.metrics!.GPP!.rmse! < 0.2 * c.cells[0].metrics!.GPP!.rmse!);
  }
  // a rerun: nothing recomputed, the files untouched
  const path = siteCurvePath(out, { fold: "cv0of2", site: "ZZ-Aa1" });
  const before = (await Deno.stat(path)).mtime?.getTime();
  const text = await Deno.readTextFile(path);
  const again = await runAdaptCurve(cv, { ...OPTS, out, methods: ["z", "linear"] });
  assert.equal(again.ran.length, 0);
  assert.equal(again.skipped.length, 3);
  assert.equal((await Deno.stat(path)).mtime?.getTime(), before);
  assert.equal(await Deno.readTextFile(path), text);
  // another curve in the same folder: refused
  await assert.rejects(
    () => runAdaptCurve(cv, { ...OPTS, out, months: [0, 1], methods: ["z", "linear"] }),
    /written with other months, methods or thresholds.*use another --out/,
  );
  // the report: the linear map's RMSE difference is negative at every site, so its interval too
  const report = await writeAdaptCurveReport(out, { resamples: 500 });
  for (const ext of ["csv", "md", "json", "vl.json", "svg"]) {
    assert.ok(report.files.some((f) => f.endsWith(`adapt_curve.${ext}`)), ext);
  }
  const row = report.rows.find((r) => r.method === "linear" && r.months === 3 && r.flux === "GPP")!;
  assert.equal(row.sites, 3);
  assert.ok(row.dRmse!.difference < 0);
  assert.ok(row.dRmse!.hi < 0);
  const svg = await Deno.readTextFile(join(out, "adapt_curve.svg"));
  assert.match(svg, /<svg/);
});

Deno.test("adapt_curve: nothing of the scoring period is read (changing its fluxes changes no fit)", async () => {
  const late = await synthetic("synthetic_late", { late: 3, lateFrom: "2009-04-01" });
  const outA = join(tmp, "curve_a"), outB = join(tmp, "curve_b");
  const opts = { ...OPTS, shard: { index: 2, count: 3 }, methods: ["linear", "film"] as const };
  const tensors = tf.memory().numTensors;
  await runAdaptCurve(cv, { ...opts, out: outA, methods: [...opts.methods] });
  await runAdaptCurve(cv, { ...opts, data: late, out: outB, methods: [...opts.methods] });
  // film's fine-tuned weights are assigned and restored, the members disposed: no tensor left
  assert.equal(tf.memory().numTensors, tensors);
  const [a] = await readSiteCurves(outA), [b] = await readSiteCurves(outB);
  assert.equal(a.site, "ZZ-Cc3"); // shard 2/3: the third job
  for (const [k, cell] of a.cells.entries()) {
    assert.deepEqual(b.cells[k].linear, cell.linear, `${cell.method} ${cell.months}`);
    assert.deepEqual(b.cells[k].period, cell.period);
    // the scores move (the observations of the scoring days differ), the fits do not
    assert.notEqual(b.cells[k].metrics!.GPP!.rmse, cell.metrics!.GPP!.rmse);
  }
  // NEE's observations did not move (the late change is on GPP and RECO alike), so equal NEE
  // scores mean equal predictions: film's fit (weights, early stopping) did not see the change
  for (const [k, cell] of a.cells.entries()) {
    assert.equal(b.cells[k].metrics!.NEE!.rmse, cell.metrics!.NEE!.rmse, `${cell.method}`);
  }
});

Deno.test("adapt_curve: a site without max N months of QC-good fluxes is unscored, with the reason", async () => {
  const o = join(tmp, "curve_13");
  const r = await runAdaptCurve(cv, {
    ...OPTS,
    months: [0, 13],
    out: o,
    shard: { index: 0, count: 3 },
  });
  assert.equal(r.ran.length, 1);
  const [c] = await readSiteCurves(o);
  assert.equal(c.site, "ZZ-Aa1");
  assert.equal(c.scoring, null);
  assert.deepEqual(c.cells, []);
  assert.match(
    c.unscored!,
    /fewer than 13 months with QC-good fluxes: .*FLX_ZZ-Aa1.*13 month\(s\) asked for/,
  );
});

Deno.test("adapt_curve: the table's differences have the sign of the constructed change", () => {
  const site = (name: string, zero: number, z3: number, r2z: number, r23: number): SiteCurve => {
    const m = (rmse: number, r2: number) => ({
      GPP: { n: 50, rmse, r2 },
      RECO: { n: 50, rmse: rmse * 2, r2 },
      NEE: { n: 50, rmse, r2 },
    });
    const cell = (method: "zero-shot" | "z", months: number, rmse: number, r2: number) => ({
      method,
      months,
      period: [],
      qcGoodDays: 0,
      reason: null,
      metrics: m(rmse, r2),
      linear: null,
    });
    return {
      version: 1,
      fold: "cv0of2",
      site: name,
      members: [],
      months: [0, 3],
      methods: ["z"],
      qcThreshold: 1,
      adaptQcThreshold: 0.8,
      minDays: 10,
      scoring: { afterMonth: "2009-03", firstDate: "2009-04-01", lastDate: "2009-12-31", days: 50 },
      unscored: null,
      cells: [cell("zero-shot", 0, zero, r2z), cell("z", 3, z3, r23)],
      backend: "cpu",
      seconds: 1,
    };
  };
  // z lowers RMSE by 0.5 at every site and raises R2 by 0.2
  const curves = Array.from(
    { length: 8 },
    (_, i) => site(`S${i}`, 2 + i * 0.1, 1.5 + i * 0.1, 0.3 + i * 0.05, 0.5 + i * 0.05),
  );
  // an unscored site enters no statistic
  curves.push({ ...site("U", 0, 0, 0, 0), scoring: null, unscored: "too short", cells: [] });
  const rows = adaptCurveRows(curves, { resamples: 500 });
  const zero = rows.find((r) => r.months === 0 && r.flux === "GPP")!;
  assert.equal(zero.dRmse, null);
  assert.equal(zero.sites, 8);
  const gpp = rows.find((r) => r.months === 3 && r.flux === "GPP")!;
  assert.ok(Math.abs(gpp.dRmse!.difference + 0.5) < 1e-12);
  assert.ok(gpp.dRmse!.lo < 0 && gpp.dRmse!.hi < 0);
  assert.equal(gpp.dRmse!.resolved, true);
  assert.ok(Math.abs(gpp.dMedianR2!.difference - 0.2) < 1e-12);
  assert.equal(gpp.dMedianR2!.resolved, true);
  const reco = rows.find((r) => r.months === 3 && r.flux === "RECO")!;
  assert.ok(Math.abs(reco.dRmse!.difference + 1.0) < 1e-12);
  assert.ok(Math.abs(reco.meanRmse - 2 * gpp.meanRmse) < 1e-12);
});
