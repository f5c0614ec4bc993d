/**
 * The water drivers (lib/data/water.ts; issue 25, point 2): the bucket on hand-computed cases, the
 * P_F/P_ERA source rule, the trailing means of P by hand, the feature sets in buildFeatures and
 * the dataset, and the real site table / monthly files (default WHC, units of P).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { buildFeatures, DYNAMIC_COLUMNS, FEATURE_SETS } from "../lib/data/features.ts";
import { epochDay, type ModisMonthly, readModisMonthlyFile } from "../lib/data/modis.ts";
import { siteStandardizedColumns } from "../lib/data/preprocess.ts";
import { loadSites } from "../lib/data/sites.ts";
import { TRAILING_COLUMNS } from "../lib/data/trailing.ts";
import {
  dailyPrecipitation,
  DEFAULT_WHC,
  monthlyPrecipitation,
  P_SOURCE,
  precipitationCycle,
  priestleyTaylorPet,
  siteWater,
  soilWaterIndex,
  WATER_COLUMNS,
} from "../lib/data/water.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import {
  fixtureDataset,
  fixtureModis,
  handSplit,
  loadFixtures,
  paths,
} from "./_dataset_fixtures.ts";

const range = (n: number, from = 0) => Int32Array.from({ length: n }, (_, i) => from + i);

Deno.test("Priestley-Taylor PET: hand-computed values, zero without sun, NaN without input", () => {
  // 20 degC: es 2.3383 kPa, Delta 0.14474 kPa/K; Rn 0.6 * 250 * 0.0864 = 12.96 MJ m-2 d-1
  const es = 0.6108 * Math.exp((17.27 * 20) / 257.3);
  const delta = 4098 * es / 257.3 ** 2;
  const want = 1.26 * delta / (delta + 0.066) * 12.96 / 2.45;
  assert.ok(Math.abs(priestleyTaylorPet(20, 250) - want) < 1e-12);
  assert.ok(Math.abs(want - 4.577) < 0.001);
  assert.equal(priestleyTaylorPet(10, 0), 0);
  assert.equal(priestleyTaylorPet(10, -5), 0, "negative sensor offsets give no demand");
  assert.ok(priestleyTaylorPet(30, 300) > priestleyTaylorPet(0, 300), "warmer: more demand");
  assert.ok(Number.isNaN(priestleyTaylorPet(NaN, 100)));
  assert.ok(Number.isNaN(priestleyTaylorPet(10, NaN)));
});

Deno.test("bucket: a dry month with high demand empties it, by hand", () => {
  const whc = 50, n = 30;
  // P = 0, PET 5 mm/d, start full: W_t = W_{t-1} (1 - 5/50) = 50 * 0.9^t
  const swi = soilWaterIndex(new Float64Array(n), new Float64Array(n).fill(5), range(n), {
    whc,
    spinUpDays: 0,
  });
  for (let t = 0; t < n; t++) assert.ok(Math.abs(swi[t] - 0.9 ** (t + 1)) < 1e-12, `day ${t}`);
  assert.ok(swi[n - 1] < 0.05, "after a dry month the bucket holds under 5 %");
  // demand at least the capacity: empty on the first day, and it stays empty
  const empty = soilWaterIndex(new Float64Array(n), new Float64Array(n).fill(60), range(n), {
    whc,
    spinUpDays: 0,
  });
  assert.deepEqual([...empty], new Array(n).fill(0));
});

Deno.test("bucket: a wet month fills it to WHC and no further, by hand", () => {
  const whc = 100;
  // 10 dry days (PET 10 -> W = 100 * 0.9^10 = 34.87), then 20 days of P 20, PET 2
  const p = [...new Array(10).fill(0), ...new Array(20).fill(20)];
  const pet = [...new Array(10).fill(10), ...new Array(20).fill(2)];
  const swi = soilWaterIndex(p, pet, range(30), { whc, spinUpDays: 0 });
  let w = 100 * 0.9 ** 10;
  assert.ok(Math.abs(swi[9] - w / whc) < 1e-12);
  w = w + 20 - 2 * w / whc; // day 10 by hand: 34.87 + 20 - 0.70 = 54.17
  assert.ok(Math.abs(swi[10] - w / whc) < 1e-12);
  w = w + 20 - 2 * w / whc; // 73.09
  assert.ok(Math.abs(swi[11] - w / whc) < 1e-12);
  // 73.09 + 20 - 1.46 = 91.63, then 91.63 + 20 - 1.83 > 100: full from day 13 on, never above
  assert.ok(swi[12] < 1);
  for (let t = 13; t < 30; t++) assert.equal(swi[t], 1, `day ${t}`);
});

Deno.test("bucket: SWI stays in [0, 1] on random weather; missing days carry the state", () => {
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const whc of [20, 100, 230, 1000]) {
    const n = 2000;
    const p = Float64Array.from({ length: n }, () => (rnd() < 0.3 ? 60 * rnd() ** 3 : 0));
    const pet = Float64Array.from({ length: n }, () => 8 * rnd());
    const swi = soilWaterIndex(p, pet, range(n), { whc });
    for (const v of swi) assert.ok(v >= 0 && v <= 1, `whc ${whc}: ${v}`);
  }
  // a day without P: SWI null and the state unchanged, also over absent calendar days
  const swi = soilWaterIndex([0, NaN, 0], [10, 10, 10], [0, 1, 5], { whc: 100, spinUpDays: 0 });
  assert.ok(Math.abs(swi[0] - 0.9) < 1e-12);
  assert.ok(Number.isNaN(swi[1]));
  assert.ok(Math.abs(swi[2] - 0.81) < 1e-12);
  assert.throws(() => soilWaterIndex([1], [1], [0], { whc: 0 }), /WHC must be a positive/);
});

Deno.test("bucket: spin-up over the first year starts the record from the state at its end", () => {
  const n = 800;
  const p = Float64Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 25 : 0));
  const pet = Float64Array.from({ length: n }, (_, i) => 3 + 2 * Math.sin(i / 58));
  const days = range(n, 10000);
  const got = soilWaterIndex(p, pet, days, { whc: 150 });
  // by hand: run the first 365 days from full, then the record from that state
  let w = 150;
  for (let i = 0; i < 365; i++) w = Math.min(Math.max(w + p[i] - pet[i] * w / 150, 0), 150);
  for (let i = 0; i < n; i++) {
    w = Math.min(Math.max(w + p[i] - pet[i] * w / 150, 0), 150);
    assert.ok(Math.abs(got[i] - w / 150) < 1e-12, `row ${i}`);
  }
  // without spin-up the first days differ (start full)
  assert.notEqual(soilWaterIndex(p, pet, days, { whc: 150, spinUpDays: 0 })[0], got[0]);
});

const synthetic = (): ModisMonthly => ({
  site: "XX-Wet",
  months: [200101, 200102, 200103, 200104, 200201],
  LAI: [1, 1, 1, 1, 1],
  EVI: [0.3, 0.3, 0.3, 0.3, 0.3],
  P_F: [1, null, 0, null, 3],
  P_ERA: [9, 3, 9, null, 9],
});

Deno.test("precipitation source: P_F where the month has it, else P_ERA, else null", () => {
  const m = synthetic();
  const p = monthlyPrecipitation(m);
  assert.deepEqual(p.values, [1, 3, 0, null, 3]);
  assert.deepEqual(p.source, ["P_F", "P_ERA", "P_F", null, "P_F"]);
  // each day holds its month's value; April 2001 has none; 2001-05 is not in the file
  const days = [epochDay(2001, 1, 1), epochDay(2001, 2, 28), epochDay(2001, 4, 10), 11450];
  const d = dailyPrecipitation(m, days);
  assert.deepEqual([...d.values].slice(0, 2), [1, 3]);
  assert.ok(Number.isNaN(d.values[2]) && Number.isNaN(d.values[3]));
  assert.deepEqual([...d.source], [P_SOURCE.P_F, P_SOURCE.P_ERA, P_SOURCE.none, P_SOURCE.none]);
  // prediction's fill: the mean seasonal cycle (January: (1 + 3) / 2; April, no value in any
  // year: between March (0, 1 month before) and January (2, 9 months after): 0 + 2 * 1/10)
  const cycle = precipitationCycle(m)!;
  assert.equal(cycle[0], 2);
  assert.ok(Math.abs(cycle[3] - 0.2) < 1e-12);
  const f = dailyPrecipitation(m, days, { fill: "seasonalCycle" });
  assert.deepEqual([...f.values].slice(0, 3), [1, 3, cycle[3]]);
  assert.deepEqual([...f.source].slice(2), [P_SOURCE.seasonalCycle, P_SOURCE.seasonalCycle]);
  // a monthly file without precipitation columns: no P, no cycle
  assert.equal(precipitationCycle({ site: "X", months: [200101], LAI: [1], EVI: [1] }), null);
});

Deno.test("antecedent precipitation: 30- and 90-day trailing means by hand", () => {
  const m: ModisMonthly = {
    site: "XX-Ant",
    months: [200101, 200102, 200103],
    LAI: [],
    EVI: [],
    P_F: [1, 3, 0],
  };
  const days = range(90, epochDay(2001, 1, 1)); // 2001-01-01 .. 2001-03-31
  const ta = new Float64Array(90).fill(15), sw = new Float64Array(90).fill(200);
  const w = siteWater(m, { days, ta, swIn: sw }, { whc: 100 });
  // 2001-02-10 (row 40): the 30 days Jan 12 .. Feb 10 = 20 days of 1 + 10 days of 3
  assert.ok(Math.abs(w.columns.P_MEAN30[40] - 50 / 30) < 1e-12);
  // 2001-01-05 (row 4): only 5 days of record, all 1
  assert.equal(w.columns.P_MEAN30[4], 1);
  // 2001-03-31 (row 89): 90 days = 31 * 1 + 28 * 3 + 31 * 0 = 115
  assert.ok(Math.abs(w.columns.P_MEAN90[89] - 115 / 90) < 1e-12);
  assert.equal(w.columns.P[89], 0);
  assert.deepEqual(w.report.months, { P_F: 3, P_ERA: 0, seasonalCycle: 0, none: 0 });
  assert.equal(w.report.source, "P_F");
  assert.equal(w.report.whcDefault, false);
  // SWI is the bucket of P and PET with the site's WHC
  const pet = Float64Array.from(ta, (t, i) => priestleyTaylorPet(t, sw[i]));
  assert.deepEqual([...w.columns.SWI], [...soilWaterIndex(w.columns.P, pet, days, { whc: 100 })]);
  // no WHC: the default
  assert.equal(siteWater(m, { days, ta, swIn: sw }, { whc: null }).report.whc, DEFAULT_WHC);
});

Deno.test("feature sets: the water sets add the water columns; the old sets are unchanged", async () => {
  assert.deepEqual(WATER_COLUMNS, ["P", "P_MEAN30", "P_MEAN90", "SWI"]);
  assert.deepEqual(FEATURE_SETS.minimal_trailing_water, [
    ...DYNAMIC_COLUMNS,
    ...TRAILING_COLUMNS,
    ...WATER_COLUMNS,
  ]);
  assert.deepEqual(FEATURE_SETS.meteo_trailing_water, [
    ...FEATURE_SETS.meteo_trailing,
    ...WATER_COLUMNS,
  ]);
  for (const set of ["minimal", "meteo", "minimal_trailing", "meteo_trailing"] as const) {
    assert.ok(!FEATURE_SETS[set].some((c) => WATER_COLUMNS.includes(c)), set);
  }
  // the water columns are standardized globally, also with standardize "site"
  assert.deepEqual(siteStandardizedColumns(FEATURE_SETS.meteo_trailing_water), [
    "TA_F",
    "SW_IN_F",
    "VPD_F",
    ...TRAILING_COLUMNS,
  ]);
  const { frame, sites } = await loadFixtures();
  const modis = fixtureModis();
  const old = buildFeatures(frame, sites, { modis, trailing: true });
  assert.ok(!old.table.columns.includes("P") && !old.table.columns.includes("P_MISSING"));
  assert.equal(old.report.water, undefined);
  const { table, report } = buildFeatures(frame, sites, { modis, trailing: true, water: true });
  // the old columns are the same, value for value; the water columns come after them
  for (const c of old.table.columns) {
    assert.deepEqual(table.getColumn(c).toArray(), old.table.getColumn(c).toArray(), c);
  }
  const dyn = [...DYNAMIC_COLUMNS, ...TRAILING_COLUMNS, ...WATER_COLUMNS];
  assert.deepEqual(table.columns.slice(2, 2 + dyn.length), dyn);
  // fixtures: P_F in every month, no null; FR-Pue's WHC (260.35), AU-Lox's default
  for (const c of WATER_COLUMNS) assert.equal(report.nulls[c], 0, c);
  assert.equal(report.water!.sites["FR-Pue"].whc, 260.35);
  assert.deepEqual(report.water!.sitesWithDefaultWhc, ["AU-Lox"]);
  assert.deepEqual(report.water!.sites["AU-Lox"].months, {
    P_F: 12,
    P_ERA: 0,
    seasonalCycle: 0,
    none: 0,
  });
  // P of FR-Pue on 2012-07-20 is July 2012's P_F of the monthly file
  const fr = modis.get("FR-Pue")!;
  const july = fr.P_F![fr.months.indexOf(201207)];
  const row = table.filter(
    pl.col("site").eq(pl.lit("FR-Pue")).and(pl.col("date").eq(pl.lit(new Date("2012-07-20")))),
  );
  assert.equal(row.getColumn("P").toArray()[0], july);
  const swi = table.getColumn("SWI").toArray() as number[];
  assert.ok(swi.every((v) => v >= 0 && v <= 1));
  assert.deepEqual([...new Set(table.getColumn("P_MISSING").toArray())], [0]);
});

Deno.test("buildDataset with a water set: columns, scaler, and days without P dropped, counted", async () => {
  const ds = await fixtureDataset({ featureSet: "meteo_trailing_water", window: 30, stride: 15 });
  assert.deepEqual(ds.featureNames.dyn.slice(-4), [...WATER_COLUMNS]);
  for (const c of WATER_COLUMNS) assert.ok(ds.scaler.columns.some((s) => s.name === c), c);
  assert.ok(ds.report.features.water);
  // a monthly file without P in July 2012 at FR-Pue: its windows are dropped and counted
  const modis = fixtureModis();
  const fr = modis.get("FR-Pue")!;
  const k = fr.months.indexOf(201207);
  fr.P_F![k] = null;
  fr.P_ERA![k] = null;
  const loaded = await loadFixtures();
  const dropped = await buildDataset(
    { featureSet: "meteo_trailing_water", window: 30, stride: 15 },
    { loaded, modis, split: handSplit(["FR-Pue"], ["AU-Lox"]) },
  );
  assert.ok(dropped.train.windows + dropped.val.windows < ds.train.windows + ds.val.windows);
  const nulls = dropped.report.windows.train.dropped.nullDriver;
  assert.ok((nulls.P ?? 0) > 0, JSON.stringify(nulls));
  assert.equal(dropped.report.features.nulls.P, 31);
});

Deno.test("monthly reader: P_F/P_ERA read when present; implausible P names file, line, column", async () => {
  const m = readModisMonthlyFile(join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv"));
  for (const s of m) {
    assert.equal(s.P_F!.length, s.months.length);
    assert.equal(s.P_ERA!.length, s.months.length);
  }
  const tmp = await Deno.makeTempDir({ prefix: "tamflux_water_" });
  const path = join(tmp, "XX-Bad_MM.csv");
  await Deno.writeTextFile(
    path,
    "TIMESTAMP,LAI,EVI,P_F,P_ERA\n200101,1,0.3,2,2\n200102,1,0.3,-3,1\n",
  );
  assert.throws(
    () => readModisMonthlyFile(path, { site: "XX-Bad" }),
    /XX-Bad_MM\.csv, line 3, column P_F: month \d{6}: implausible value -3/,
  );
  await Deno.writeTextFile(path, "TIMESTAMP,LAI,EVI\n200101,1,0.3\n");
  assert.equal(readModisMonthlyFile(path, { site: "XX-Bad" })[0].P_F, undefined);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("real data: default WHC is the rounded median of sites.csv; monthly P in mm/d sums to MAP", async () => {
  const sites = await loadSites(paths.sitesCsv);
  const whc = sites.map((s) => s.WHC).filter((v): v is number => v !== null).sort((a, b) => a - b);
  const median = (whc[(whc.length - 1) >> 1] + whc[whc.length >> 1]) / 2;
  assert.ok(Math.abs(median - DEFAULT_WHC) / DEFAULT_WHC < 0.05, `median WHC ${median}`);
  assert.equal(sites.length - whc.length, 53, "sites that use the default WHC");
  // units: a year of the monthly means times the days of each month is close to MAP
  const ratios: number[] = [];
  for (const s of sites.filter((x) => x.MAP !== null && x.MAP > 0).slice(0, 40)) {
    const [m] = readModisMonthlyFile(join(paths.metafluxMonthly, `${s.SITE_ID}_MM.csv`), {
      site: s.SITE_ID,
    });
    const p = monthlyPrecipitation(m);
    let sum = 0, months = 0;
    p.months.forEach((ym, i) => {
      if (p.values[i] === null) return;
      sum += p.values[i]! * new Date(Date.UTC(Math.floor(ym / 100), ym % 100, 0)).getUTCDate();
      months++;
    });
    if (months >= 12) ratios.push((sum / months) * 12 / s.MAP!);
  }
  ratios.sort((a, b) => a - b);
  const mid = ratios[ratios.length >> 1];
  assert.ok(ratios.length > 20 && mid > 0.8 && mid < 1.2, `median annual P / MAP ${mid}`);
});
