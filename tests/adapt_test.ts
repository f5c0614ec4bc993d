/**
 * lib/predict/adapt.ts and `deno task adapt` on a fixture site (AU-Lox 2009): an ensemble of two
 * untrained TAM-RL members (train FR-Pue), synthetic fluxes = the run's zero-shot prediction plus
 * a known constant offset; adapting on the first months must remove most of the offset on the
 * held-out days after them, zero months must change nothing, and bad inputs are one-line errors.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { loadSites } from "../lib/data/sites.ts";
import {
  adaptationPeriod,
  type AdaptMethod,
  adaptRun,
  parseFluxDaily,
  predictSites,
  readAdaptation,
} from "../lib/predict/mod.ts";
import { fixtureDataset, paths } from "./_dataset_fixtures.ts";
import { writeFixtureRun } from "./_run_fixtures.ts";

await tf.setBackend("cpu");

const ROOT = new URL("..", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "tamflux_adapt_" });
const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 });
const FILE = "FLX_AU-Lox_FLUXNET2015_SUBSET_DD_2008-2009_1-4_only2009.csv";
const SITE = "AU-Lox";
const run = join(tmp, "runs", "tamrl");
for (const seed of [0, 1]) {
  await writeFixtureRun(join(run, `seed${seed}`), { name: "tamrl", seed, dataset: ds });
}

const monthly = join(tmp, "monthly");
await Deno.mkdir(monthly);
await Deno.copyFile(
  join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv"),
  join(monthly, `${SITE}_MM.csv`),
);
const COLS = ["SITE_ID", "LAT", "LON", "IGBP", "KOPPEN_MAIN", "ELEV", "MAT", "MAP", "P_OVER_PET"];
const allSites = await loadSites(paths.sitesCsv);
const sites = join(tmp, "sites.csv");
await Deno.writeTextFile(
  sites,
  [
    COLS.join(","),
    ...allSites.filter((s) => s.SITE_ID === SITE).map((s) =>
      COLS.map((c) => String((s as Record<string, unknown>)[c] ?? "")).join(",")
    ),
  ].join("\n") + "\n",
);

const original = (await Deno.readTextFile(join(paths.fixtures, FILE))).trim().split("\n")
  .map((l) => l.replace(/\r$/, "").split(","));

/** A data folder with the fixture file, its rows edited. */
async function folder(name: string, edit: (header: string[], rows: string[][]) => void) {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  const header = [...original[0]], rows = original.slice(1).map((r) => [...r]);
  edit(header, rows);
  await Deno.writeTextFile(join(dir, FILE), [header, ...rows].map((r) => r.join(",")).join("\n"));
  return dir;
}

const drivers = await folder("drivers", (h, rows) => {
  const keep = ["TIMESTAMP", "TA_F", "SW_IN_F", "VPD_F"].map((c) => h.indexOf(c));
  h.splice(0, h.length, ...keep.map((i) => h[i]));
  for (const r of rows) r.splice(0, r.length, ...keep.map((i) => r[i]));
});
const base = { data: drivers, sites, monthly };
const zeroShot = (await predictSites(run, base)).frame;

/** Per-day values of a prediction table, keyed by ISO date. */
function byDate(frame: pl.DataFrame): Map<string, { GPP: number; RECO: number; NEE: number }> {
  const out = new Map();
  for (const r of frame.select(pl.col("date").cast(pl.Utf8), "GPP", "RECO", "NEE").toRecords()) {
    if (r.GPP !== null) out.set(r.date as string, r);
  }
  return out;
}
const zs = byDate(zeroShot);

// synthetic fluxes: zero-shot + offset (NEE = RECO - GPP keeps the balance), QC 1
const OFFSET = { GPP: 1.5, RECO: 1.0, NEE: -0.5 };
const synthetic = await folder("synthetic", (h, rows) => {
  const iTs = h.indexOf("TIMESTAMP");
  const cols = {
    NEE: h.indexOf("NEE_VUT_REF"),
    GPP: h.indexOf("GPP_NT_VUT_REF"),
    RECO: h.indexOf("RECO_NT_VUT_REF"),
    QC: h.indexOf("NEE_VUT_REF_QC"),
  };
  assert.ok(Object.values(cols).every((i) => i >= 0));
  for (const r of rows) {
    const ts = r[iTs];
    const p = zs.get(`${ts.slice(0, 4)}-${ts.slice(4, 6)}-${ts.slice(6, 8)}`);
    for (const k of ["GPP", "RECO", "NEE"] as const) {
      r[cols[k]] = p ? (p[k] + OFFSET[k]).toFixed(5) : "-9999";
    }
    r[cols.QC] = p ? "1" : "0";
  }
});

/** Mean (prediction - synthetic obs) per flux over the days after `last`. */
function heldOutBias(frame: pl.DataFrame, last: string) {
  const pred = byDate(frame);
  const bias = { GPP: 0, RECO: 0, NEE: 0 };
  let n = 0;
  for (const [date, z] of zs) {
    const p = pred.get(date);
    if (date <= last || !p) continue;
    n++;
    for (const k of ["GPP", "RECO", "NEE"] as const) bias[k] += p[k] - (z[k] + OFFSET[k]);
  }
  for (const k of ["GPP", "RECO", "NEE"] as const) bias[k] /= n;
  return { bias, n };
}

async function adapt(method: AdaptMethod, months: number, name = `${method}_${months}`) {
  const out = join(tmp, "adapted", name);
  const r = await adaptRun(run, {
    data: synthetic,
    sites,
    monthly,
    out,
    adapt: { method, months },
  });
  return { out, ...r };
}

Deno.test("adapt: zero months gives the zero-shot predictions exactly, through predict", async () => {
  for (const method of ["z", "linear"] as const) {
    const { out, result } = await adapt(method, 0);
    assert.deepEqual(result.period.months, []);
    const { frame, report } = await predictSites(out, base);
    assert.deepEqual(frame.toRecords(), zeroShot.toRecords());
    assert.equal(report.adaptation?.method, method);
    assert.deepEqual(report.adaptation?.months, []);
  }
});

// Thresholds. The offset (1.5, 1.0, -0.5 gC m-2 d-1) is constant and the synthetic "truth" is the
// source run's own zero-shot output, so an exact intercept fit removes it entirely: "linear" fits
// b on the ensemble mean of the adaptation windows, whose support draws differ from predict's,
// so it is not exact but must remove > 90 %. "z" and "film" can only move the output through the
// FiLM modulation of an untrained decoder (Z = 4 for 3 fluxes), so a partial removal is the
// honest bar: > 50 % of the offset's size (the norm over the three fluxes) on held-out days.
for (const [method, share] of [["linear", 0.9], ["z", 0.5], ["film", 0.5]] as const) {
  Deno.test(`adapt ${method}: removes > ${share * 100} % of a constant offset on held-out days`, async () => {
    const { out, result } = await adapt(method, 4);
    assert.deepEqual(result.period.months, ["2009-01", "2009-02", "2009-03", "2009-04"]);
    const last = result.period.lastDate!;
    const before = heldOutBias(zeroShot, last);
    const { frame, report } = await predictSites(out, base);
    const after = heldOutBias(frame, last);
    assert.ok(after.n > 200, `held-out days ${after.n}`);
    const norm = (b: typeof OFFSET) => Math.hypot(b.GPP, b.RECO, b.NEE);
    const removed = 1 - norm(after.bias) / norm(before.bias);
    console.log(method, "removed", removed.toFixed(3), after.bias);
    assert.ok(removed > share, `${method}: removed ${removed.toFixed(3)} of the offset`);
    assert.equal(report.adaptation?.method, method);
    assert.equal(report.adaptation?.site, SITE);
    const a = await readAdaptation(join(out, "seed0"));
    assert.equal(a?.method, method);
    assert.equal(a?.qcGoodDays, result.period.qcGoodDays);
    assert.match(a!.source.weightsSha256, /^[0-9a-f]{64}$/);
    assert.ok(a!.metrics!.after.rmse.GPP < a!.metrics!.before.rmse.GPP);
  });
}

Deno.test("adapt: bad inputs are one-line errors naming the file, column or month", async () => {
  const fails = async (data: string, adapt: { months?: number; until?: string }, re: RegExp) => {
    const out = join(tmp, "adapted", `bad_${crypto.randomUUID()}`);
    const error = await adaptRun(run, {
      data,
      sites,
      monthly,
      out,
      adapt: { method: "z", ...adapt },
    })
      .then(() => null, (e: Error) => e);
    assert.ok(error, `no error for ${re}`);
    assert.match(error.message, re);
    assert.ok(!error.message.includes("\n"), error.message);
  };
  await fails(
    drivers,
    { months: 2 },
    /FLX_AU-Lox.*column NEE_VUT_REF, NEE_VUT_REF_QC, GPP_NT_VUT_REF.*no flux columns/,
  );
  // only 20 QC-good days
  const few = await folder("few_good", (h, rows) => {
    const qc = h.indexOf("NEE_VUT_REF_QC");
    rows.forEach((r, i) => (r[qc] = i < 20 ? "1" : "0.5"));
  });
  await fails(
    few,
    { months: 1 },
    /20 QC-good flux days in the months 2009-01\.\.2009-01, fewer than one window/,
  );
  await fails(
    synthetic,
    { months: 13 },
    /13 month\(s\) asked for.*only 12 month\(s\) \(2009-01\.\.2009-12\).*past the end of the record/,
  );
  await fails(
    synthetic,
    { until: "2010-02" },
    /column TIMESTAMP.*month 2010-02 is past the end of the record \(its last day is 2009-12-31\)/,
  );
  // drivers that do not match the run's feature set
  const noVpd = await folder("no_vpd", (h, rows) => {
    const i = h.indexOf("VPD_F");
    h.splice(i, 1);
    for (const r of rows) r.splice(i, 1);
  });
  await fails(noVpd, { months: 2 }, /column VPD_F.*required column is missing/);
  const pf = parseFluxDaily(
    "TIMESTAMP,NEE_VUT_REF,NEE_VUT_REF_QC,GPP_NT_VUT_REF\n20090101,1,1,2\n",
    {
      file: "f.csv",
      site: SITE,
      drivers: [],
    },
  );
  assert.throws(
    () => adaptationPeriod(pf, { months: 0, until: "2009-01", qcThreshold: 0.8 }),
    /exactly one of months and until/,
  );
});

Deno.test("deno task adapt, then deno task predict --run <adapted> names the adaptation", async () => {
  const task = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
  };
  const out = join(tmp, "adapted", "task_linear");
  const a = await task([
    "adapt",
    "--run",
    run,
    "--data",
    synthetic,
    "--sites",
    sites,
    "--monthly",
    monthly,
    "--until",
    "2009-03",
    "--method",
    "linear",
    "--out",
    out,
    "--backend",
    "cpu",
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /adapt: site AU-Lox, method linear: months 2009-01\.\.2009-03/);
  const report = join(tmp, "report.json");
  const p = await task([
    "predict",
    "--run",
    out,
    "--data",
    drivers,
    "--sites",
    sites,
    "--monthly",
    monthly,
    "--out",
    join(tmp, "adapted_pred.csv"),
    "--report",
    report,
    "--backend",
    "cpu",
  ]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(
    p.stderr,
    /predict: adapted run: method linear, site AU-Lox, months 2009-01\.\.2009-03/,
  );
  const r = JSON.parse(await Deno.readTextFile(report));
  assert.equal(r.adaptation.method, "linear");
  assert.deepEqual(r.adaptation.months, ["2009-01", "2009-02", "2009-03"]);
  // the same folder again: refused (not empty), one line
  const again = await task([
    "adapt",
    "--run",
    run,
    "--data",
    synthetic,
    "--sites",
    sites,
    "--monthly",
    monthly,
    "--months",
    "1",
    "--out",
    out,
    "--backend",
    "cpu",
  ]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not an empty folder/);
  const both = await task([
    "adapt",
    "--run",
    run,
    "--data",
    synthetic,
    "--sites",
    sites,
    "--out",
    out,
  ]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --months N and --until/);
});

Deno.test("adapt: no tensor is left behind (the optimizer's moments, snapshots, batches)", async () => {
  const before = tf.memory().numTensors;
  for (const [k, method] of (["z", "film", "film"] as const).entries()) {
    await adapt(method, 2, `memory_${k}`);
    assert.equal(tf.memory().numTensors, before, `after adapting with ${method} (${k + 1})`);
  }
});
