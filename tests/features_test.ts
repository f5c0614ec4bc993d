import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { buildFeatures, dayOfYear } from "../lib/data/features.ts";
import { loadFluxnet } from "../lib/data/fluxnet.ts";
import {
  emptyModisReport,
  epochDay,
  interpolateModis,
  type ModisMonthly,
  readModisMonthlyFile,
} from "../lib/data/modis.ts";
import { resolveDataDir } from "../lib/data/paths.ts";
import { dayLength, potentialShortwave } from "../lib/data/solar.ts";
import { encodeStatic, fitStaticEncoding, type StaticSite } from "../lib/data/static.ts";

const paths = resolveDataDir();
const MONTHLY_FIXTURE = join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv");

function isoToDay(iso: string): number {
  return epochDay(+iso.slice(0, 4), +iso.slice(5, 7), +iso.slice(8, 10));
}

Deno.test("dayOfYear agrees with Date over 1990-2030", () => {
  for (let d = epochDay(1990, 1, 1); d <= epochDay(2030, 12, 31); d += 7) {
    const date = new Date(d * 86400000);
    const y = date.getUTCFullYear();
    const expected = Math.round((d * 86400000 - Date.UTC(y, 0, 1)) / 86400000) + 1;
    const got = dayOfYear(d);
    assert.equal(got.doy, expected);
    assert.equal(got.daysInYear, new Date(Date.UTC(y, 1, 29)).getUTCMonth() === 1 ? 366 : 365);
  }
});

Deno.test("potential shortwave matches FLUXNET SW_IN_POT of the fixtures within 5 W m-2", () => {
  const cases: [string, number][] = [
    ["FLX_AU-Lox_FLUXNET2015_SUBSET_DD_2008-2009_1-4_only2009.csv", -34.4704],
    ["FLX_FR-Pue_FLUXNET2015_SUBSET_DD_2000-2014_2-4_only2012.csv", 43.7414],
  ];
  for (const [file, lat] of cases) {
    const lines = Deno.readTextFileSync(join(paths.fixtures, file)).trim().split("\n");
    const header = lines[0].split(",");
    const its = header.indexOf("TIMESTAMP"), ipot = header.indexOf("SW_IN_POT");
    assert.ok(ipot > 0);
    let worst = 0;
    for (const line of lines.slice(1)) {
      const cells = line.split(",");
      const ts = cells[its];
      const { doy, daysInYear } = dayOfYear(
        epochDay(+ts.slice(0, 4), +ts.slice(4, 6), +ts.slice(6, 8)),
      );
      const diff = Math.abs(potentialShortwave(lat, doy, { daysInYear }) - Number(cells[ipot]));
      worst = Math.max(worst, diff);
    }
    assert.ok(worst < 5, `${file}: worst difference ${worst} W m-2`);
  }
});

Deno.test("day length: equinox ~12 h, polar night 0 h, polar day 24 h, summer longer in the north", () => {
  assert.ok(Math.abs(dayLength(0, 80) - 12) < 0.1);
  assert.equal(dayLength(80, 355), 0);
  assert.equal(dayLength(80, 172), 24);
  assert.equal(potentialShortwave(80, 355), 0);
  assert.ok(dayLength(50, 172) > 16 && dayLength(-50, 172) < 8.5);
});

Deno.test("MODIS interpolation is exact on the 15th of every month (real MetaFlux fixture)", () => {
  const monthly = readModisMonthlyFile(MONTHLY_FIXTURE);
  assert.deepEqual(monthly.map((m) => m.site).sort(), ["AU-Lox", "FR-Pue"]);
  for (const m of monthly) {
    for (const v of ["LAI", "EVI"] as const) {
      const days = m.months.map((ym) => epochDay(Math.floor(ym / 100), ym % 100, 15));
      const report = emptyModisReport();
      const out = interpolateModis(m, v, days, { report });
      let checked = 0;
      m.months.forEach((_, i) => {
        const expected = m[v][i];
        if (expected === null) return;
        assert.equal(out[i], expected, `${m.site} ${v} ${m.months[i]}`);
        checked++;
      });
      assert.ok(checked > 10);
      assert.equal(report[v].exact, checked);
    }
  }
});

Deno.test("MODIS interpolation: linear between mid-months, held at the edges, null before, gaps", () => {
  const m: ModisMonthly = {
    site: "XX-Xxx",
    months: [200012, 200101, 200102, 200103, 200104, 200105, 200106, 200107],
    LAI: [null, 1, 3, null, null, null, 7, null],
    EVI: [null, 0.1, null, null, 0.4, null, null, null],
  };
  const day = (iso: string) => isoToDay(iso);
  const report = emptyModisReport();
  const days = [
    day("2000-12-20"), // before the first LAI month: null
    day("2001-01-01"), // first month, before its 15th: held
    day("2001-01-15"), // exact
    day("2001-02-01"), // 17 of 31 days from Jan 15 to Feb 15
    day("2001-03-15"), // Feb 15 -> Jun 15: 3 missing months > 2: gap
    day("2001-06-30"), // last month: held
    day("2001-07-01"), // after the last month: null
  ];
  const lai = interpolateModis(m, "LAI", days, { report });
  assert.ok(Number.isNaN(lai[0]));
  assert.equal(lai[1], 1);
  assert.equal(lai[2], 1);
  assert.ok(Math.abs(lai[3] - (1 + 2 * 17 / 31)) < 1e-12);
  assert.ok(Number.isNaN(lai[4]));
  assert.equal(lai[5], 7);
  assert.ok(Number.isNaN(lai[6]));
  assert.deepEqual(report.LAI, {
    exact: 1,
    interpolated: 1,
    held: 2,
    gap: 1,
    beforeFirst: 1,
    afterLast: 1,
    noData: 0,
  });
  // EVI: Jan 15 -> Apr 15 misses 2 months, bridged (default maxGapMonths 2)
  const evi = interpolateModis(m, "EVI", [day("2001-03-01")], { report });
  const expected = 0.1 +
    (0.3 * (day("2001-03-01") - day("2001-01-15"))) / (day("2001-04-15") - day("2001-01-15"));
  assert.ok(Math.abs(evi[0] - expected) < 1e-12);
  const strict = interpolateModis(m, "EVI", [day("2001-03-01")], { maxGapMonths: 1 });
  assert.ok(Number.isNaN(strict[0]));
  assert.ok(Number.isNaN(interpolateModis(undefined, "LAI", [day("2001-03-01")], { report })[0]));
  assert.equal(report.LAI.noData, 1);
});

Deno.test("buildFeatures on the fixtures: rows kept, LAI exact at mid-month, flags, calendar", async () => {
  const { frame, sites } = await loadFluxnet({ dir: paths.fixtures, cache: false });
  const monthly = new Map(readModisMonthlyFile(MONTHLY_FIXTURE).map((m) => [m.site, m]));
  const { table, report } = buildFeatures(frame, sites, { modis: monthly });
  assert.equal(table.height, frame.height);
  assert.equal(report.rows, 731);
  const pue = table.filter(pl.col("site").eq(pl.lit("FR-Pue")));
  const dates = pue.getColumn("date").cast(pl.Int32).toArray() as number[];
  const lai = pue.getColumn("LAI").toArray() as number[];
  const m = monthly.get("FR-Pue")!;
  for (let month = 1; month <= 12; month++) {
    const i = dates.indexOf(epochDay(2012, month, 15));
    const k = m.months.indexOf(201200 + month);
    assert.equal(lai[i], m.LAI[k]);
  }
  assert.equal(pue.getColumn("LAI_MISSING").sum(), 0);
  const s = pue.getColumn("DOY_SIN").toArray() as number[];
  const c = pue.getColumn("DOY_COS").toArray() as number[];
  for (let i = 0; i < s.length; i++) assert.ok(Math.abs(s[i] ** 2 + c[i] ** 2 - 1) < 1e-9);
  // with no MODIS at all, every LAI day is null, flagged and counted
  const none = buildFeatures(frame, sites, { modis: new Map() });
  assert.equal(none.table.getColumn("LAI_MISSING").sum(), 731);
  assert.equal(none.report.modis.LAI.noData, 731);
  assert.equal(none.report.nulls.LAI, 731);
});

Deno.test("statics: one-hot over all classes, imputation from training sites only, flags", () => {
  const site = (id: string, igbp: string, k: string, elev: number | null, mat: number | null) => ({
    SITE_ID: id,
    IGBP: igbp,
    KOPPEN_MAIN: k,
    LAT: 10,
    LON: 20,
    ELEV: elev,
    MAT: mat,
    MAP: 500,
    P_OVER_PET: 1,
  } satisfies StaticSite);
  const sites = [
    site("AA-Aaa", "ENF", "D", 100, 5),
    site("BB-Bbb", "GRA", "C", 300, null),
    site("CC-Ccc", "ENF", "D", null, 7),
    site("DD-Ddd", "WET", "E", 10000, 50), // test site with extreme values
  ];
  const enc = fitStaticEncoding(sites, ["AA-Aaa", "BB-Bbb", "CC-Ccc"], { igbpClasses: ["SNO"] });
  assert.deepEqual(enc.igbpClasses, ["ENF", "GRA", "SNO", "WET"]);
  assert.deepEqual(enc.flagged, ["ELEV", "MAT"]);
  assert.equal(enc.fill.ELEV, 200); // median of 100, 300 (training only; the test site's 10000 unused)
  assert.equal(enc.fill.MAT, 6);
  assert.deepEqual(enc.fittedOn, ["AA-Aaa", "BB-Bbb", "CC-Ccc"]);
  const v = encodeStatic(sites[2], enc);
  const at = (name: string) => v[enc.names.indexOf(name)];
  assert.equal(at("ELEV"), 200);
  assert.equal(at("ELEV_MISSING"), 1);
  assert.equal(at("MAT_MISSING"), 0);
  assert.equal(at("IGBP_ENF"), 1);
  assert.equal(at("KOPPEN_D"), 1);
  assert.equal(enc.names.filter((n) => n.startsWith("KOPPEN_")).length, 5);
  assert.equal(v.length, enc.names.length);
});
