/**
 * lib/predict and `deno task predict` on the two real fixture site-years (FR-Pue 2012, AU-Lox
 * 2009): a run folder is written from a dataset built on the fixtures (train FR-Pue, test AU-Lox)
 * and untrained models of two seeds, so the tests do not depend on runs/.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import pl from "polars";
import { loadSites } from "../lib/data/sites.ts";
import { type ModelConfigInput, type readWeights, tamrlOptions } from "../lib/models/mod.ts";
import { loadModisMonthly } from "../lib/data/modis.ts";
import {
  loadEnsemble,
  loadPredictionSites,
  parseDriverDaily,
  planWindows,
  PREDICT_OUTPUT_COLUMNS,
  predictSites,
  type PredictSitesOptions,
  siteInputs,
  STATUS_NO_MODIS,
  STATUS_NO_MONTHLY,
  STATUS_OK_METEO,
  STATUS_OK_NO_WATER,
  STATUS_OK_SEASONAL,
  STATUS_OK_SEASONAL_P,
} from "../lib/predict/mod.ts";
import { predictEnsemble, runPaths } from "../lib/train/mod.ts";
import { fixtureDataset, paths } from "./_dataset_fixtures.ts";
import { writeFixtureRun } from "./_run_fixtures.ts";

await tf.setBackend("cpu");

const ROOT = new URL("..", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "tamflux_predict_" });
const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 });
const dsMeteo = await fixtureDataset({ featureSet: "meteo", window: 30, stride: 15, supportK: 3 });
const FIXTURE_FILES = [
  "FLX_FR-Pue_FLUXNET2015_SUBSET_DD_2000-2014_2-4_only2012.csv",
  "FLX_AU-Lox_FLUXNET2015_SUBSET_DD_2008-2009_1-4_only2009.csv",
];

/** Write a run folder of `name` with untrained weights of `seed`. */
async function writeRun(
  dir: string,
  name: "tamrl" | "lstm",
  seed: number,
  edit: (weights: ReturnType<typeof readWeights>) => void = () => {},
  dataset: typeof ds = ds,
  modelOptions: Omit<ModelConfigInput, "name"> = {},
): Promise<string> {
  return await writeFixtureRun(dir, { name, seed, edit, dataset, modelOptions });
}

const ensembleDir = join(tmp, "runs", "tamrl");
const seed0 = await writeRun(join(ensembleDir, "seed0"), "tamrl", 0);
const seed1 = await writeRun(join(ensembleDir, "seed1"), "tamrl", 1);
const lstmRun = await writeRun(join(tmp, "runs", "lstm", "seed0"), "lstm", 3);
// an ensemble folder laid out as runs/production/tamrl: members with MODIS and meteo-only members
const mixedDir = join(tmp, "runs", "mixed");
const mixedModis = [
  await writeRun(join(mixedDir, "seed0"), "tamrl", 0),
  await writeRun(join(mixedDir, "seed1"), "tamrl", 1),
];
const meteoRun = await writeRun(join(mixedDir, "meteo_seed0"), "tamrl", 2, () => {}, dsMeteo);

/** A folder of daily files, each `edit`ed (header + rows as arrays of cells). */
async function dataFolder(
  name: string,
  edit: (site: string, header: string[], rows: string[][]) => void = () => {},
): Promise<string> {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  for (const f of FIXTURE_FILES) {
    const text = await Deno.readTextFile(join(paths.fixtures, f));
    const lines = text.trim().split("\n").map((l) => l.replace(/\r$/, "").split(","));
    const header = lines[0], rows = lines.slice(1);
    edit(f.slice(4, 10), header, rows);
    await Deno.writeTextFile(
      join(dir, f),
      [header, ...rows].map((r) => r.join(",")).join("\n") + "\n",
    );
  }
  return dir;
}

/** Keep only the given columns. */
function keepColumns(keep: string[]) {
  return (_site: string, header: string[], rows: string[][]) => {
    const idx = keep.map((c) => header.indexOf(c));
    header.splice(0, header.length, ...keep);
    for (const r of rows) r.splice(0, r.length, ...idx.map((i) => r[i]));
  };
}

/** Apply `fn` to column `column` of `site`'s rows. */
function mapColumn(site: string, column: string, fn: (v: number, row: number) => number) {
  return (s: string, header: string[], rows: string[][]) => {
    if (s !== site) return;
    const i = header.indexOf(column);
    rows.forEach((r, k) => (r[i] = String(fn(Number(r[i]), k))));
  };
}

const data = await dataFolder("full");
const driversOnly = await dataFolder(
  "drivers_only",
  keepColumns(["TIMESTAMP", "TA_F", "SW_IN_F", "VPD_F"]),
);

// monthly MODIS: the fixture file holds both sites; one <SITE>_MM.csv per site
const monthly = join(tmp, "monthly");
await Deno.mkdir(monthly);
for (const site of ["FR-Pue", "AU-Lox"]) {
  await Deno.copyFile(
    join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv"),
    join(monthly, `${site}_MM.csv`),
  );
}

// a prediction site table from sites.csv, optionally edited
const allSites = await loadSites(paths.sitesCsv);
const SITE_COLS = [
  "SITE_ID",
  "LAT",
  "LON",
  "IGBP",
  "KOPPEN_MAIN",
  "ELEV",
  "MAT",
  "MAP",
  "P_OVER_PET",
];
async function siteTable(
  name: string,
  edit: (row: Record<string, string>) => Record<string, string> | null = (r) => r,
): Promise<string> {
  const rows = allSites.filter((s) => ["FR-Pue", "AU-Lox"].includes(s.SITE_ID)).map((s) => {
    const r = Object.fromEntries(
      SITE_COLS.map((c) => [c, String((s as Record<string, unknown>)[c] ?? "")]),
    );
    return edit(r);
  }).filter((r): r is Record<string, string> => r !== null);
  const path = join(tmp, `${name}.csv`);
  await Deno.writeTextFile(
    path,
    [SITE_COLS.join(","), ...rows.map((r) => SITE_COLS.map((c) => r[c]).join(","))].join("\n") +
      "\n",
  );
  return path;
}
const sites = await siteTable("sites");
const base: PredictSitesOptions = { data, sites, monthly };

function rowsOf(frame: pl.DataFrame): Record<string, unknown>[] {
  return frame.select(
    pl.col("site"),
    pl.col("date").cast(pl.Utf8),
    pl.all().exclude("site", "date"),
  )
    .toRecords() as Record<string, unknown>[];
}

async function inputDays(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of FIXTURE_FILES) {
    const d = parseDriverDaily(await Deno.readTextFile(join(dir, f)), {
      file: f,
      site: f.slice(4, 10),
      drivers: [],
    });
    for (const day of d.days) {
      out.push(`${d.site}|${new Date(day * 86400000).toISOString().slice(0, 10)}`);
    }
  }
  return out.sort();
}

Deno.test("planWindows: every day of a complete run >= window is covered once, else none", () => {
  const T = 30, stride = 15;
  const n = 200;
  const days = Int32Array.from({ length: n }, (_, i) => 10000 + i + (i >= 150 ? 5 : 0)); // gap
  const complete = new Uint8Array(n).fill(1);
  for (let i = 40; i < 43; i++) complete[i] = 0; // run 0..39 (40), run 43..149 (107)
  complete[170] = 0; // run 150..169 (20 < T), run 171..199 (29 < T)
  const plan = planWindows(days, complete, { window: T, stride });
  for (let i = 0; i < n; i++) {
    const inLongRun = (i < 40) || (i >= 43 && i < 150);
    assert.equal(plan.window[i] >= 0, inLongRun, `row ${i}`);
    if (!inLongRun) continue;
    const s = plan.starts[plan.window[i]];
    assert.ok(s <= i && i < s + T, `row ${i} inside its window`);
    assert.equal(plan.context[i], i - s + 1);
    // every window lies inside one run
    const runStart = i < 40 ? 0 : 43, runEnd = i < 40 ? 40 : 150;
    assert.ok(s >= runStart && s + T <= runEnd);
  }
  // after the first window, a day has at least T - stride + 1 days of context
  for (let i = 43 + T; i < 150; i++) assert.ok(plan.context[i] >= T - stride + 1, `row ${i}`);
  assert.equal(plan.runLength[160], 20);
  assert.equal(plan.runLength[41], 0);
});

Deno.test("planWindows: windows lie on training's grid (rows 0, stride, ...), head window before", () => {
  const T = 30, stride = 15, n = 120;
  const days = Int32Array.from({ length: n }, (_, i) => 20000 + i);
  const complete = new Uint8Array(n).fill(1);
  complete.fill(0, 0, 7); // the record starts with 7 incomplete days (e.g. before MODIS)
  const plan = planWindows(days, complete, { window: T, stride });
  // head window at the run's start, then the grid of enumerateWindows (15, 30, ...), then a tail
  assert.deepEqual(plan.starts, [7, 15, 30, 45, 60, 75, 90]);
  // a grid window reports its last `stride` days, as in training's test predictions
  for (let w = 1; w < plan.starts.length; w++) {
    const s = plan.starts[w];
    for (let r = s + T - stride; r < s + T; r++) assert.equal(plan.window[r], w, `row ${r}`);
  }
  // the head window reports the days before the first grid window's loss days, once each
  for (let r = 7; r < 30; r++) assert.equal(plan.window[r], 0, `row ${r}`);
  for (let r = 0; r < 7; r++) assert.equal(plan.window[r], -1);
  // a run too short for a grid window: head window, then a tail window ending on the run's end
  const short = new Uint8Array(n).fill(0);
  short.fill(1, 16, 56); // 40 days: the first grid start (30) does not fit (30 + 30 > 56)
  const p2 = planWindows(days, short, { window: T, stride });
  assert.deepEqual(p2.starts, [16, 26]);
  for (let r = 16; r < 56; r++) assert.ok(p2.window[r] >= 0);
});

/** predict's inputs of FR-Pue (train) and AU-Lox (test) equal the dataset's, value for value. */
async function assertInputsEqualDataset(run: string, dataset: typeof ds, sitesFile: string) {
  const ens = await loadEnsemble(run);
  try {
    const table = await loadPredictionSites(sitesFile);
    const modis = loadModisMonthly(monthly, ["FR-Pue", "AU-Lox"]).monthly;
    for (const [id, source] of [["FR-Pue", dataset.train], ["AU-Lox", dataset.test]] as const) {
      const f = FIXTURE_FILES.find((x) => x.includes(id))!;
      const daily = parseDriverDaily(await Deno.readTextFile(join(data, f)), {
        file: f,
        site: id,
        drivers: ["TA_F", "SW_IN_F", "VPD_F"],
      });
      const site = table.find((s) => s.SITE_ID === id)!;
      const got = siteInputs(ens, { site, daily }, modis);
      const want = source.siteInputs(id)!;
      assert.ok(want, `${id} not in the dataset source`);
      assert.deepEqual([...got.series.days], [...want.series.days], `${id} days`);
      assert.equal(got.series.nDyn, want.series.nDyn);
      // value for value (NaN equal to NaN)
      assert.deepEqual([...got.series.dyn], [...want.series.dyn], `${id} dynamic features`);
      assert.deepEqual([...got.statics], [...want.statics], `${id} static vector`);
      if (id === "AU-Lox") {
        // a test site draws its support from the same pool as a new site
        assert.deepEqual(got.pool.map((w) => w.start), want.pool.map((w) => w.start));
        assert.ok(got.pool.length > 5);
      }
    }
  } finally {
    ens.dispose();
  }
}

Deno.test("predict's inputs equal the dataset's: training site value for value, test site pool", async () => {
  await assertInputsEqualDataset(lstmRun, ds, sites);
});

Deno.test("predict's inputs equal the dataset's with minimal_trailing, standardize site and staticExtra", async () => {
  const dsX = await fixtureDataset({
    featureSet: "minimal_trailing",
    standardize: "site",
    staticExtra: ["CANOPY_HEIGHT", "WHC"],
    window: 30,
    stride: 15,
    supportK: 3,
  });
  assert.ok(dsX.featureNames.dyn.includes("VPD_F_MEAN30"));
  assert.ok(dsX.featureNames.static.includes("WHC_MISSING"));
  const run = await writeRun(join(tmp, "runs", "options", "seed0"), "tamrl", 4, () => {}, dsX);
  // the prediction site table with the extra columns (AU-Lox's cells empty: imputed)
  const cols = [...SITE_COLS, "CANOPY_HEIGHT", "WHC"];
  const withExtra = join(tmp, "sites_extra.csv");
  const rows = allSites.filter((s) => ["FR-Pue", "AU-Lox"].includes(s.SITE_ID))
    .map((s) => cols.map((c) => String((s as Record<string, unknown>)[c] ?? "")).join(","));
  await Deno.writeTextFile(withExtra, [cols.join(","), ...rows].join("\n") + "\n");
  await assertInputsEqualDataset(run, dsX, withExtra);
  const { report } = await predictSites(run, { ...base, sites: withExtra });
  assert.equal(report.total.predicted, report.total.days);
  // a site table without the run's extra columns is refused, naming the column
  await assert.rejects(() => predictSites(run, base), /CANOPY_HEIGHT column/);
});

/** A prediction site table of FR-Pue and AU-Lox with the extra columns (AU-Lox's WHC empty). */
async function siteTableWithExtra(name: string): Promise<string> {
  const cols = [...SITE_COLS, "CANOPY_HEIGHT", "WHC"];
  const path = join(tmp, `${name}.csv`);
  const rows = allSites.filter((s) => ["FR-Pue", "AU-Lox"].includes(s.SITE_ID))
    .map((s) => cols.map((c) => String((s as Record<string, unknown>)[c] ?? "")).join(","));
  await Deno.writeTextFile(path, [cols.join(","), ...rows].join("\n") + "\n");
  return path;
}

/** A monthly folder from the fixture file, each line edited (header: cells of line 0). */
async function monthlyFolder(
  name: string,
  edit: (site: string, header: string[], cells: string[]) => void,
): Promise<string> {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  for (const site of ["FR-Pue", "AU-Lox"]) {
    const lines = (await Deno.readTextFile(join(monthly, `${site}_MM.csv`))).trim().split("\n");
    const header = lines[0].split(",");
    const out = lines.map((l, i) => {
      const cells = l.split(",");
      if (i > 0) edit(site, header, cells);
      return cells.join(",");
    });
    await Deno.writeTextFile(join(dir, `${site}_MM.csv`), out.join("\n") + "\n");
  }
  return dir;
}

const dsWater = await fixtureDataset({
  featureSet: "minimal_trailing_water",
  window: 30,
  stride: 15,
  supportK: 3,
});
const waterRun = await writeRun(join(tmp, "runs", "water", "seed0"), "tamrl", 5, () => {}, dsWater);

Deno.test("predict's inputs equal the dataset's with minimal_trailing_water (P, P_MEAN30/90, SWI)", async () => {
  assert.deepEqual(dsWater.featureNames.dyn.slice(-4), ["P", "P_MEAN30", "P_MEAN90", "SWI"]);
  const withWhc = await siteTableWithExtra("sites_whc");
  await assertInputsEqualDataset(waterRun, dsWater, withWhc);
  const { report } = await predictSites(waterRun, { ...base, sites: withWhc });
  assert.equal(report.total.predicted, report.total.days);
  for (const s of report.sites) assert.deepEqual(Object.keys(s.reasons), ["ok"]);
  // no --monthly and no member without monthly data: refused, naming precipitation
  await assert.rejects(
    () => predictSites(waterRun, { ...base, sites: withWhc, monthly: undefined }),
    /uses MODIS LAI and EVI and precipitation \(P_F\/P_ERA\) .*--monthly/,
  );
});

Deno.test("water members: P filled from the seasonal cycle is said; a site without P goes to the others", async () => {
  const withWhc = await siteTableWithExtra("sites_whc2");
  // FR-Pue: no P in July 2012; AU-Lox: no precipitation at all
  const holes = await monthlyFolder("monthly_holes", (site, header, cells) => {
    const ts = cells[header.indexOf("TIMESTAMP")];
    const row = cells[header.indexOf("Site")];
    if ((site === "FR-Pue" && row === "FR-Pue" && ts === "201207") || site === "AU-Lox") {
      for (const c of ["P_F", "P_ERA"]) cells[header.indexOf(c)] = "";
    }
  });
  const options = { ...base, sites: withWhc, monthly: holes, only: ["FR-Pue"] };
  const { frame, report } = await predictSites(waterRun, options);
  const rows = rowsOf(frame);
  for (const r of rows) {
    const d = String(r.date);
    // July and the 89 days after its last day (to 10-28) have P from the cycle in a window
    const filled = d >= "2012-07-01" && d <= "2012-10-28";
    assert.equal(r.status, filled ? STATUS_OK_SEASONAL_P : "ok", d);
    assert.ok(Number.isFinite(r.GPP), d);
  }
  assert.equal(report.sites[0].reasons[STATUS_OK_SEASONAL_P], 31 + 89);
  // AU-Lox (no P): no group of the water run alone can predict it
  const lox = await predictSites(waterRun, { ...options, only: ["AU-Lox"] });
  assert.equal(lox.report.sites[0].group, null);
  assert.ok(rowsOf(lox.frame).every((r) => r.status === STATUS_NO_MONTHLY && r.GPP === null));
  // a mixed ensemble (water members and minimal ones): AU-Lox goes to the minimal members
  const mixed = await predictSites([seed0, waterRun], { ...options, only: undefined });
  assert.deepEqual(mixed.report.groups.map((g) => g.featureSet), [
    "minimal_trailing_water",
    "minimal",
  ]);
  const site = (id: string) => mixed.report.sites.find((s) => s.site === id)!;
  assert.equal(site("FR-Pue").group, "minimal_trailing_water");
  assert.equal(site("AU-Lox").group, "minimal");
  assert.deepEqual(site("AU-Lox").reasons, { [STATUS_OK_NO_WATER]: site("AU-Lox").days });
});

Deno.test("every input day appears exactly once, sorted, with the documented columns", async () => {
  const { frame, report } = await predictSites(seed0, base);
  assert.deepEqual(frame.columns, [...PREDICT_OUTPUT_COLUMNS]);
  const keys = rowsOf(frame).map((r) => `${r.site}|${r.date}`);
  assert.deepEqual(keys, [...keys].sort());
  assert.deepEqual(keys, await inputDays(data));
  assert.equal(new Set(keys).size, keys.length);
  // fixtures: complete drivers and MODIS on every day -> every day predicted
  assert.equal(report.total.days, keys.length);
  assert.equal(report.total.predicted, keys.length);
  const nulls = frame.filter(pl.col("status").eq(pl.lit("ok")).and(pl.col("GPP").isNull()));
  assert.equal(nulls.height, 0);
  const neg = frame.filter(pl.col("GPP").lt(0).or(pl.col("RECO").lt(0)));
  assert.equal(neg.height, 0, "GPP and RECO are clipped at 0");
});

Deno.test("days without a full window of drivers get null values and the reason", async () => {
  // AU-Lox: TA_F missing on rows 100-104, and on row 120 (leaving a 15-day run 105-119)
  const gappy = await dataFolder(
    "gappy",
    mapColumn("AU-Lox", "TA_F", (v, k) => ((k >= 100 && k < 105) || k === 120 ? -9999 : v)),
  );
  const { frame, report } = await predictSites(seed0, { ...base, data: gappy });
  const lox = rowsOf(frame.filter(pl.col("site").eq(pl.lit("AU-Lox"))));
  for (let k = 0; k < lox.length; k++) {
    const r = lox[k];
    if ((k >= 100 && k < 105) || k === 120) {
      assert.equal(r.status, "missing driver TA_F", `row ${k}`);
      assert.equal(r.GPP, null);
    } else if (k >= 105 && k < 120) {
      assert.match(String(r.status), /^not enough days for a window \(a run of 15 /);
      assert.equal(r.NEE, null);
      assert.equal(r.context_days, null);
    } else {
      assert.equal(r.status, "ok", `row ${k} has a full window of drivers`);
      assert.equal(typeof r.GPP, "number");
    }
  }
  const rep = report.sites.find((s) => s.site === "AU-Lox")!;
  assert.deepEqual(rep.reasons, {
    ok: lox.length - 21,
    "missing driver": 6,
    "not enough days for a window": 15,
  });
});

Deno.test("before MODIS: LAI/EVI from the seasonal cycle, status says so; error without --monthly", async () => {
  // shift FR-Pue's MODIS months by 13 years: 2012 is before the first value
  const late = join(tmp, "monthly_late");
  await Deno.mkdir(late, { recursive: true });
  const text = await Deno.readTextFile(join(monthly, "FR-Pue_MM.csv"));
  const shifted = text.split("\n").map((line, i) => {
    if (i === 0 || !line.trim()) return line;
    const cells = line.split(",");
    const ts = cells.findIndex((c) => /^\d{6}$/.test(c));
    cells[ts] = String(Number(cells[ts]) + 1300);
    return cells.join(",");
  }).join("\n");
  await Deno.writeTextFile(join(late, "FR-Pue_MM.csv"), shifted);
  await Deno.copyFile(join(monthly, "AU-Lox_MM.csv"), join(late, "AU-Lox_MM.csv"));
  const { frame, report } = await predictSites(seed0, { ...base, monthly: late });
  const pue = frame.filter(pl.col("site").eq(pl.lit("FR-Pue")));
  const statuses = new Set(pue.getColumn("status").toArray() as string[]);
  assert.deepEqual([...statuses], [STATUS_OK_SEASONAL]);
  assert.equal(pue.getColumn("GPP").nullCount(), 0);
  const rep = report.sites.find((s) => s.site === "FR-Pue")!;
  assert.deepEqual(rep.reasons, { [STATUS_OK_SEASONAL]: pue.height });
  assert.equal(rep.coverage, 1);
  await assert.rejects(
    () => predictSites(seed0, { ...base, monthly: undefined }),
    /uses MODIS LAI and EVI .*--monthly/,
  );
});

/** FR-Pue 2012's drivers also in 1996 and 2000 (leap years, so every date exists): 1098 days. */
const early = await dataFolder("early", (site, header, rows) => {
  keepColumns(["TIMESTAMP", "TA_F", "SW_IN_F", "VPD_F"])(site, header, rows);
  if (site !== "FR-Pue") return;
  const at = (year: number) => rows.map((r) => [String(year) + r[0].slice(4), ...r.slice(1)]);
  rows.unshift(...at(1996), ...at(2000));
});

Deno.test("driver-only files: 100 % of the days with drivers predicted, before 2000 included", async () => {
  const { frame, report } = await predictSites(mixedDir, { ...base, data: early });
  const pue = rowsOf(frame.filter(pl.col("site").eq(pl.lit("FR-Pue"))));
  assert.equal(pue.length, 3 * 366);
  for (const r of pue) {
    const year = Number(String(r.date).slice(0, 4));
    // MODIS LAI starts in 2001 (EVI in 2000-02): 1996 and 2000 from the seasonal cycle
    assert.equal(r.status, year < 2001 ? STATUS_OK_SEASONAL : "ok", String(r.date));
    for (const k of ["GPP", "RECO", "NEE", "GPP_sd"]) {
      assert.ok(Number.isFinite(r[k]), `${r.date} ${k}`);
    }
  }
  const rep = report.sites.find((s) => s.site === "FR-Pue")!;
  assert.equal(rep.group, "minimal");
  assert.deepEqual(rep.reasons, { [STATUS_OK_SEASONAL]: 2 * 366, ok: 366 });
  assert.equal(rep.daysWithDrivers, 3 * 366);
  assert.equal(rep.predicted, 3 * 366);
  assert.equal(rep.coverage, 1);
  assert.equal(report.total.coverage, 1);
  assert.equal(report.total.predicted, report.total.daysWithDrivers);
  // the CLI on the ensemble folder: coverage per site and in total
  const out = join(tmp, "out_early", "early.csv");
  const r = await predictTask(
    ["--data", early, "--sites", sites, "--monthly", monthly, "--out", out],
    mixedDir,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /FR-Pue: 1098\/1098 days predicted \(100\.0%\), 1098\/1098 days with drivers \(100\.0%\) by the minimal members \(732 with LAI\/EVI from the seasonal cycle\)/,
  );
  assert.match(
    r.stderr,
    /predict: \d+\/\d+ days predicted \(100\.0%\); \d+\/\d+ days with drivers \(100\.0%\) at 2 site\(s\)/,
  );
  assert.equal(pl.readCSV(out).filter(pl.col("GPP").isNull()).height, 0);
});

Deno.test("a site without MODIS is predicted by the meteo-only members of a mixed ensemble", async () => {
  const partial = join(tmp, "monthly_partial");
  await Deno.mkdir(partial, { recursive: true });
  await Deno.copyFile(join(monthly, "AU-Lox_MM.csv"), join(partial, "AU-Lox_MM.csv"));
  const options = { ...base, data: driversOnly, monthly: partial };
  const mixed = await predictSites(mixedDir, options);
  assert.deepEqual(
    mixed.report.groups.map((g) => [g.featureSet, g.members.length, g.modis]),
    [["minimal", 2, ["LAI", "EVI"]], ["meteo", 1, []]],
  );
  const site = (id: string) => mixed.report.sites.find((s) => s.site === id)!;
  assert.equal(site("FR-Pue").group, "meteo");
  assert.equal(site("AU-Lox").group, "minimal");
  assert.equal(site("FR-Pue").coverage, 1);
  assert.deepEqual(site("FR-Pue").reasons, { [STATUS_OK_METEO]: site("FR-Pue").days });
  // FR-Pue's values are the meteo member's, AU-Lox's the MODIS members'
  const alone = await predictSites(meteoRun, { ...options, only: ["FR-Pue"] });
  const modisOnly = await predictSites(mixedModis, { ...options, only: ["AU-Lox"] });
  const got = rowsOf(mixed.frame);
  const want = [...rowsOf(modisOnly.frame), ...rowsOf(alone.frame)].map((
    r,
  ): Record<string, unknown> => ({
    ...r,
    status: r.site === "FR-Pue" ? STATUS_OK_METEO : r.status,
  }));
  assert.ok(want.every((r) => r.GPP !== null));
  assert.deepEqual(got, want);
  // without a meteo-only member: the site's days say why, nothing is thrown
  const noMeteo = await predictSites(ensembleDir, options);
  const pue = rowsOf(noMeteo.frame.filter(pl.col("site").eq(pl.lit("FR-Pue"))));
  assert.ok(pue.every((r) => r.status === STATUS_NO_MODIS && r.GPP === null));
  const rep = noMeteo.report.sites.find((s) => s.site === "FR-Pue")!;
  assert.equal(rep.group, null);
  assert.deepEqual(rep.reasons, { "no MODIS": pue.length });
  assert.equal(noMeteo.report.sites.find((s) => s.site === "AU-Lox")!.coverage, 1);
});

Deno.test("predictions do not change when flux and QC columns are removed", async () => {
  const full = await predictSites([seed0, seed1], base);
  const bare = await predictSites([seed0, seed1], { ...base, data: driversOnly });
  const header = (await Deno.readTextFile(join(driversOnly, FIXTURE_FILES[0]))).split("\n")[0];
  assert.equal(header, "TIMESTAMP,TA_F,SW_IN_F,VPD_F");
  assert.deepEqual(rowsOf(bare.frame), rowsOf(full.frame));
});

Deno.test("ensemble sd: 0 for one member, positive for two; mean and sd of the members", async () => {
  const one = await predictSites(seed0, base);
  const other = await predictSites(seed1, base);
  const two = await predictSites(ensembleDir, base);
  assert.equal(two.report.members.length, 2);
  const a = rowsOf(one.frame), b = rowsOf(other.frame), e = rowsOf(two.frame);
  let ok = 0;
  for (let i = 0; i < e.length; i++) {
    if (e[i].status !== "ok") continue;
    ok++;
    for (const k of ["GPP", "RECO", "NEE"]) {
      assert.equal(a[i][`${k}_sd`], 0);
      const x = a[i][k] as number, y = b[i][k] as number;
      assert.ok(Math.abs((e[i][k] as number) - (x + y) / 2) < 1e-4, `${k} mean, row ${i}`);
      assert.ok(Math.abs((e[i][`${k}_sd`] as number) - Math.abs(x - y) / 2) < 1e-4, `${k} sd`);
    }
    assert.ok((e[i].NEE_sd as number) > 0, `NEE_sd > 0 on row ${i}`);
  }
  assert.ok(ok > 700);
});

/** predict at the test site AU-Lox gives the values of predictEnsemble on the test set (1e-4). */
async function assertPredictsTestSet(ens: Awaited<ReturnType<typeof loadEnsemble>>) {
  const { days } = predictEnsemble(ens.models, ds.test, { lossDays: ds.config.stride });
  const { frame } = await predictSites(ens, { ...base, only: ["AU-Lox"] });
  const byDate = new Map(rowsOf(frame).map((r) => [r.date as string, r]));
  assert.ok(days.length > 300);
  for (const d of days) {
    const r = byDate.get(d.date)!;
    assert.equal(r.status, "ok");
    for (const k of ["GPP", "RECO", "NEE"] as const) {
      assert.ok(Math.abs((r[k] as number) - d[k]) < 1e-4, `${d.date} ${k}: ${r[k]} vs ${d[k]}`);
    }
  }
}

Deno.test("inputs are built as in training: an LSTM run reproduces the test-set predictions", async () => {
  const ens = await loadEnsemble(lstmRun);
  try {
    await assertPredictsTestSet(ens);
  } finally {
    ens.dispose();
  }
});

Deno.test("inferenceSupport all: predict gives the test-set predictions of the run, TAM-RL too", async () => {
  // z over the whole pool has no random draw left: predict and predictEnsemble (reproduce) agree
  const allRun = await writeRun(join(tmp, "runs", "all", "seed0"), "tamrl", 0, () => {}, ds, {
    inferenceSupport: "all",
    encoderStatic: false,
  });
  const ens = await loadEnsemble(allRun);
  try {
    // the options round-trip through the run folder's model.json
    assert.equal(ens.models[0].config.inferenceSupport, "all");
    assert.equal(ens.models[0].config.encoderStatic, false);
    await assertPredictsTestSet(ens);
  } finally {
    ens.dispose();
  }
  // an older run folder, whose model.json has none of the fields, loads with the defaults
  const old = await loadEnsemble(seed0);
  assert.deepEqual(tamrlOptions(old.models[0].config), {
    zNoise: 0,
    zDropout: 0,
    encoderStatic: true,
    inferenceSupport: "sampled",
  });
  old.dispose();
  // "sampled" (the default) differs by the support draw
  const sampled = await predictSites(seed0, { ...base, only: ["AU-Lox"] });
  const pooled = await predictSites(
    await writeRun(join(tmp, "runs", "all2", "seed0"), "tamrl", 0, () => {}, ds, {
      inferenceSupport: "all",
    }),
    { ...base, only: ["AU-Lox"] },
  );
  const a = rowsOf(sampled.frame), b = rowsOf(pooled.frame);
  assert.ok(
    a.some((r, i) =>
      r.status === "ok" && Math.abs((r.NEE as number) - (b[i].NEE as number)) > 1e-6
    ),
  );
});

Deno.test("bad inputs: each gets an error naming the file and the column", async () => {
  const unknownIgbp = await siteTable(
    "igbp",
    (r) => r.SITE_ID === "AU-Lox" ? { ...r, IGBP: "DNF" } : r,
  );
  await assert.rejects(
    () => predictSites(seed0, { ...base, sites: unknownIgbp }),
    /igbp\.csv, column IGBP, line \d: site AU-Lox: IGBP class DNF is unknown to the run/,
  );
  const notIgbp = await siteTable(
    "igbp2",
    (r) => r.SITE_ID === "AU-Lox" ? { ...r, IGBP: "XYZ" } : r,
  );
  await assert.rejects(
    () => predictSites(seed0, { ...base, sites: notIgbp }),
    /igbp2\.csv, column IGBP, line \d: site AU-Lox: unknown IGBP code "XYZ"/,
  );
  const noLox = await siteTable("no_lox", (r) => r.SITE_ID === "AU-Lox" ? null : r);
  await assert.rejects(
    () => predictSites(seed0, { ...base, sites: noLox }),
    /FLX_AU-Lox\S*\.csv, column SITE_ID: site AU-Lox \(from the file name\) is not in the site table/,
  );
  const noColumn = await siteTable("no_col", (r) => r);
  await Deno.writeTextFile(
    noColumn,
    (await Deno.readTextFile(noColumn)).replace("KOPPEN_MAIN", "KOPPEN_X"),
  );
  await assert.rejects(
    () => predictSites(seed0, { ...base, sites: noColumn }),
    /no_col\.csv, column KOPPEN_MAIN, line 1: required column is missing/,
  );
  const cases: [string, Parameters<typeof dataFolder>[1], RegExp][] = [
    [
      "sw_mj",
      mapColumn("FR-Pue", "SW_IN_F", (v) => v * 0.0864),
      /FLX_FR-Pue\S*\.csv, column SW_IN_F: implausible values: .*MJ m-2 d-1/,
    ],
    [
      "ta_k",
      mapColumn("AU-Lox", "TA_F", (v) => v + 273.15),
      /FLX_AU-Lox\S*\.csv, column TA_F: implausible values: .*kelvin/,
    ],
    [
      "vpd_kpa",
      mapColumn("FR-Pue", "VPD_F", (v) => v / 10),
      /FLX_FR-Pue\S*\.csv, column VPD_F: implausible values: .*kPa/,
    ],
    [
      "no_vpd",
      keepColumns(["TIMESTAMP", "TA_F", "SW_IN_F", "NEE_VUT_REF"]),
      /FLX_\S*\.csv, column VPD_F, line 1: required column is missing/,
    ],
    [
      "bad_value",
      mapColumn("AU-Lox", "SW_IN_F", (v, k) => (k === 9 ? NaN : v)),
      /FLX_AU-Lox\S*\.csv, column SW_IN_F, line 11: non-numeric value "NaN"/,
    ],
    [
      "overflow",
      (site, header, rows) => {
        if (site === "FR-Pue") rows[4][header.indexOf("VPD_F")] = "1e999";
      },
      /FLX_FR-Pue\S*\.csv, column VPD_F, line 6: non-finite value "1e999"/,
    ],
  ];
  for (const [name, edit, pattern] of cases) {
    const dir = await dataFolder(name, edit);
    await assert.rejects(() => predictSites(seed0, { ...base, data: dir }), pattern, name);
  }
  // an empty static cell whose training imputation cannot be recovered
  await assert.rejects(
    () => predictSites(seed0, { ...base, load: { trainingSites: null } }),
    /sites\.csv, column ELEV, line \d: site AU-Lox: the cell is empty and the run's imputation/,
  );
});

Deno.test("deno task predict: writes the table; on bad input exits 1 and writes nothing", async () => {
  const run = (dataDir: string, out: string) =>
    predictTask(["--data", dataDir, "--sites", sites, "--monthly", monthly, "--out", out]);
  const good = join(tmp, "out", "good.csv");
  const ok = await run(data, good);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /\[2\/2\] FR-Pue: \d+\/\d+ days predicted/);
  const table = pl.readCSV(good);
  assert.deepEqual(table.columns, [...PREDICT_OUTPUT_COLUMNS]);
  assert.equal(table.height, (await inputDays(data)).length);

  const bad = await dataFolder("task_bad", mapColumn("FR-Pue", "SW_IN_F", (v) => v * 0.0864));
  const out = join(tmp, "out", "bad.parquet");
  const failed = await run(bad, out);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /column SW_IN_F: implausible values/);
  const left = [...Deno.readDirSync(join(tmp, "out"))].map((e) => e.name);
  assert.deepEqual(left, [basename(good)]);
});

/** Run `deno task predict` on the fixture run with extra arguments. */
async function predictTask(
  args: string[],
  run = ensembleDir,
): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    // through deno.json, so with the task's own permissions
    args: ["task", "-q", "predict", "--run", run, "--backend", "cpu", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test("predict refuses an --out that is an input or a folder, before any work, inputs intact", async () => {
  const dir = await dataFolder("out_guard");
  const dailyFile = join(dir, FIXTURE_FILES[0]);
  const monthlyFile = join(monthly, "FR-Pue_MM.csv");
  const folder = join(tmp, "a_folder.csv");
  await Deno.mkdir(folder, { recursive: true });
  const inputs = [sites, dailyFile, monthlyFile];
  const before = await Promise.all(inputs.map((f) => Deno.readFile(f)));
  const cases: [string, RegExp][] = [
    [sites, /--out \S+sites\.csv is an input/],
    [dailyFile, /--out \S+FR-Pue\S+\.csv lies inside the input folder/],
    [monthlyFile, /--out \S+FR-Pue_MM\.csv lies inside the input folder/],
    [join(seed0, "pred.csv"), /--out \S+pred\.csv lies inside the input folder/],
    [folder, /--out \S+a_folder\.csv is an existing folder/],
  ];
  const results = await Promise.all(
    cases.map(([out]) =>
      predictTask(["--data", dir, "--sites", sites, "--monthly", monthly, "--out", out])
    ),
  );
  results.forEach((r, i) => {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, cases[i][1]);
    assert.doesNotMatch(r.stderr, /backend|members|days predicted/, "refused before any work");
  });
  const after = await Promise.all(inputs.map((f) => Deno.readFile(f)));
  inputs.forEach((f, i) => assert.deepEqual(after[i], before[i], `${f} was changed`));
  assert.equal([...Deno.readDirSync(folder)].length, 0);
  assert.ok([...Deno.readDirSync(seed0)].every((e) => e.name !== "pred.csv"));
});

Deno.test("predict refuses an --out inside a member run reached through a link, before any work", async () => {
  // an ensemble folder whose member is a symbolic link to a run elsewhere
  const linked = join(tmp, "linked_ensemble");
  await Deno.mkdir(linked, { recursive: true });
  await Deno.symlink(seed0, join(linked, "seed0"));
  for (const flag of ["--out", "--report"]) {
    const target = join(seed0, flag === "--out" ? "pred.csv" : "report.json");
    const args = flag === "--out"
      ? ["--out", target]
      : ["--out", join(tmp, "out", "linked.csv"), "--report", target];
    const r = await predictTask(
      ["--data", data, "--sites", sites, "--monthly", monthly, ...args],
      linked,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${flag} \\S+ lies inside the input folder \\S+seed0`));
    assert.doesNotMatch(r.stderr, /backend|days predicted/, "refused before any work");
    assert.ok(
      [...Deno.readDirSync(seed0)].every((e) => e.name !== basename(target)),
      `${target} was written`,
    );
  }
});

Deno.test("a site with 0 % predicted is an error naming it and why, unless --allow-empty", async () => {
  const dir = await dataFolder("no_ta", mapColumn("FR-Pue", "TA_F", () => -9999));
  const out = join(tmp, "empty", "out.csv");
  const args = ["--data", dir, "--sites", sites, "--monthly", monthly, "--out", out];
  const refused = await predictTask(args);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /site FR-Pue \(\S+\.csv\): 0 of \d+ days predicted: missing driver on \d+ day/,
  );
  assert.doesNotMatch(refused.stderr, /site AU-Lox/);
  assert.throws(() => Deno.statSync(out), "nothing written");
  const allowed = await predictTask([...args, "--allow-empty"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stderr, /WARNING \(--allow-empty\): site FR-Pue .*0 of \d+ days predicted/);
  assert.ok(Deno.statSync(out).isFile);
});

Deno.test("NaN weights (valid checksum) are rejected at prediction naming the run and the site", async () => {
  const nanRun = await writeRun(join(tmp, "runs", "nan", "seed0"), "tamrl", 5, (weights) => {
    const head = weights.find((w) => w.name.includes("head"))!;
    head.data.fill(NaN);
  });
  await assert.rejects(
    () => predictSites(nanRun, base),
    /run \S+nan\/seed0: site (AU-Lox|FR-Pue) \(\S+\.csv\), \d{4}-\d\d-\d\d: the model predicts a non-finite GPP \(NaN\)/,
  );
  // a changed byte in a weight file is a checksum error naming the file
  const good = await writeRun(join(tmp, "runs", "corrupt", "seed0"), "tamrl", 6);
  const target = runPaths(good).weights("best");
  const corrupted = await Deno.readFile(target);
  corrupted[corrupted.length - 2] ^= 0x40;
  await Deno.writeFile(target, corrupted);
  await assert.rejects(
    () => predictSites(good, base),
    /corrupt\/seed0\/weights\/best\S*\).*checksum mismatch/,
  );
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch {
    // already gone
  }
});
