/**
 * Implausible inputs never pass silently (issue 27): MODIS LAI/EVI outside their ranges, drivers
 * that contradict each other (VPD above saturation at TA) or the site (SW_IN above the potential
 * radiation, a record inconsistent with LAT) are errors naming file, column and line, in the
 * training loader, in predict's input checks and through `deno task predict` (exit 1, one line,
 * nothing written). The last test runs every check on the 183 real sites and asserts no alarm.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dayOfYear } from "../lib/data/features.ts";
import { listFluxnetFiles, loadFluxnet, parseFluxnetDaily } from "../lib/data/fluxnet.ts";
import { loadModisMonthly, readModisMonthlyFile } from "../lib/data/modis.ts";
import {
  checkLatitude,
  DRIVER_CONSISTENCY,
  findInconsistentDriver,
  PLAUSIBLE_RANGES,
  saturationVapourPressure,
} from "../lib/data/ranges.ts";
import { loadSites } from "../lib/data/sites.ts";
import { potentialShortwave } from "../lib/data/solar.ts";
import {
  checkDriverConsistency,
  checkDriverLatitude,
  checkDriverUnits,
  parseDriverDaily,
  parsePredictionSites,
} from "../lib/predict/inputs.ts";
import { fixtureDataset, paths } from "./_dataset_fixtures.ts";
import { writeFixtureRun } from "./_run_fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "tamflux_plausibility_" });
const PUE = "FLX_FR-Pue_FLUXNET2015_SUBSET_DD_2000-2014_2-4_only2012.csv";
const MONTHLY = join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv");
const FR_PUE_LAT = (await loadSites(paths.sitesCsv)).find((s) => s.SITE_ID === "FR-Pue")!.LAT;

/** The fixture's rows as cells; `edit` may change them (row 0 is the header). */
async function edited(
  file: string,
  edit: (header: string[], rows: string[][]) => void,
): Promise<string> {
  const text = await Deno.readTextFile(file);
  const lines = text.trim().split("\n").map((l) => l.replace(/\r$/, "").split(","));
  edit(lines[0], lines.slice(1));
  return lines.map((r) => r.join(",")).join("\n") + "\n";
}

/** Set cells of the row whose TIMESTAMP is `ts`; returns that row's 1-based line. */
function setCells(cells: Record<string, string | ((v: number) => string)>, ts: string) {
  return (header: string[], rows: string[][]) => {
    const iTs = header.indexOf("TIMESTAMP");
    const row = rows.find((r) => r[iTs] === ts);
    assert.ok(row, `no row ${ts}`);
    for (const [c, v] of Object.entries(cells)) {
      const i = header.indexOf(c);
      row[i] = typeof v === "string" ? v : v(Number(row[i]));
    }
  };
}

/** Twice the potential radiation at FR-Pue on 2012-03-01 (below SW_IN_F's range maximum 600). */
const { doy: doyMar1, daysInYear: y2012 } = dayOfYear(Math.round(Date.UTC(2012, 2, 1) / 864e5));
const SW_2X = 2 * potentialShortwave(FR_PUE_LAT, doyMar1, { daysInYear: y2012 });

// ---- MODIS -------------------------------------------------------------------------------------

Deno.test("MODIS: LAI = 999 in one month, LAI x 10 and EVI = 1.5 are errors naming file, line, column, month", async () => {
  const file = join(tmp, "FR-Pue_MM.csv");
  const read = async (edit: (header: string[], rows: string[][]) => void) => {
    await Deno.writeTextFile(file, await edited(MONTHLY, edit));
    return () => readModisMonthlyFile(file);
  };
  // unchanged: reads
  assert.equal((await read(() => {}))().length, 2);
  // the line of FR-Pue's 2012-06 row
  const lines = (await Deno.readTextFile(MONTHLY)).split("\n");
  const line = lines.findIndex((l) => l.includes(",201206,FR-Pue,")) + 1;
  assert.ok(line > 1);
  const fr = (h: string[], r: string[][]) => r.filter((c) => c[h.indexOf("Site")] === "FR-Pue");
  assert.throws(
    await read((h, r) => setCells({ LAI: "999" }, "201206")(h, fr(h, r))),
    new RegExp(
      `FR-Pue_MM\\.csv, line ${line}, column LAI: month 201206: implausible value 999: ` +
        `outside the plausible range \\[0, 10\\] m2 m-2`,
    ),
  );
  // LAI x 10 for a site (FR-Pue's LAI peaks at 2.8 in MetaFlux): the first month above 10 fails
  assert.throws(
    await read((h, r) => {
      const i = h.indexOf("LAI");
      for (const c of fr(h, r)) if (c[i] !== "") c[i] = String(10 * Number(c[i]));
    }),
    /FR-Pue_MM\.csv, line \d+, column LAI: month 20\d{4}: implausible value \d+\.?\d*: outside/,
  );
  assert.throws(
    await read((h, r) => setCells({ EVI: "1.5" }, "201206")(h, fr(h, r))),
    new RegExp(`line ${line}, column EVI: month 201206: implausible value 1\\.5: .*\\[-1, 1\\]`),
  );
  // missing stays missing; the bounds themselves are plausible
  assert.doesNotThrow(await read((h, r) => setCells({ LAI: "", EVI: "-9999" }, "201206")(h, r)));
  assert.doesNotThrow(await read((h, r) => setCells({ LAI: "10", EVI: "-1" }, "201206")(h, r)));
  assert.deepEqual([PLAUSIBLE_RANGES.LAI.max, PLAUSIBLE_RANGES.EVI.min], [10, -1]);
});

// ---- driver consistency: the functions -----------------------------------------------------------

Deno.test("consistency: VPD = 60 hPa at TA = 0 fails, real-looking days pass; counts failing days", () => {
  const days = [15500, 15501, 15502];
  const ok = findInconsistentDriver({ days, TA_F: [0, 20, -5], VPD_F: [5, 35, 9] }, { lat: 45 });
  assert.equal(ok, null);
  const bad = findInconsistentDriver(
    { days, TA_F: [0, 0, 20], VPD_F: [60, 61, 10] },
    { lat: 45 },
  );
  assert.equal(bad?.column, "VPD_F");
  assert.equal(bad?.index, 0);
  assert.equal(bad?.days, 2);
  assert.match(bad!.message, /VPD_F 60 hPa above saturation at TA_F 0 degC \(e_sat 6\.1 hPa/);
  // the threshold is factor * e_sat + offset, and e_sat is the Magnus formula
  const { factor, offset } = DRIVER_CONSISTENCY.vpdSaturation;
  const limit = factor * saturationVapourPressure(10) + offset;
  assert.equal(
    findInconsistentDriver({ days: [0], TA_F: [10], VPD_F: [limit] }, { lat: 0 }),
    null,
  );
  assert.ok(findInconsistentDriver({ days: [0], TA_F: [10], VPD_F: [limit + 1e-9] }, { lat: 0 }));
  assert.ok(Math.abs(saturationVapourPressure(20) - 23.39) < 0.1); // tables: 23.39 hPa
  // e_sat increases with TA
  for (let t = -40; t < 50; t += 5) {
    assert.ok(saturationVapourPressure(t + 5) > saturationVapourPressure(t));
  }
});

Deno.test("consistency: SW_IN twice the potential fails, at the potential passes; a flipped LAT is flagged", () => {
  const day = Math.round(Date.UTC(2012, 2, 1) / 864e5);
  const drivers = (sw: number) => ({ days: [day], SW_IN_F: [sw] });
  assert.equal(findInconsistentDriver(drivers(SW_2X / 2), { lat: FR_PUE_LAT }), null);
  const bad = findInconsistentDriver(drivers(SW_2X), { lat: FR_PUE_LAT });
  assert.equal(bad?.column, "SW_IN_F");
  assert.match(bad!.message, /above the potential radiation at LAT 43\.7\d*, day of year 61/);
  // a whole year at FR-Pue: consistent with its latitude, not with the flipped one
  const days = Array.from({ length: 366 }, (_, i) => day - 60 + i);
  const sw = days.map((d) => {
    const { doy, daysInYear } = dayOfYear(d);
    return 0.6 * potentialShortwave(FR_PUE_LAT, doy, { daysInYear });
  });
  const right = checkLatitude({ days, SW_IN_F: sw }, { lat: FR_PUE_LAT });
  assert.ok(right.checked && right.correlation > 0.99 && right.message === null);
  const flipped = checkLatitude({ days, SW_IN_F: sw }, { lat: -FR_PUE_LAT });
  assert.ok(flipped.checked && flipped.correlation < -0.9);
  assert.match(flipped.message!, /LAT -43\.7\d* is inconsistent with SW_IN_F: .* sign of LAT/);
  // near the equator or over a month the potential radiation hardly varies: not checked
  assert.equal(checkLatitude({ days, SW_IN_F: sw }, { lat: 2 }).checked, false);
  assert.equal(
    checkLatitude({ days: days.slice(0, 30), SW_IN_F: sw.slice(0, 30) }, { lat: -43 }).checked,
    false,
  );
});

// ---- the training loader ---------------------------------------------------------------------------

/** A folder with FR-Pue's fixture (edited) and a sites.csv (edited); returns what loadFluxnet does. */
async function trainLoad(
  name: string,
  edit: (header: string[], rows: string[][]) => void,
  editSites: (text: string) => string = (t) => t,
) {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, PUE), await edited(join(paths.fixtures, PUE), edit));
  const sitesCsv = join(dir, "sites.csv");
  await Deno.writeTextFile(sitesCsv, editSites(await Deno.readTextFile(paths.sitesCsv)));
  return () => loadFluxnet({ dir, sitesCsv, cache: false });
}

/** sites.csv with FR-Pue's LAT negated. */
function flipLat(text: string): string {
  const lines = text.split("\n");
  const iLat = lines[0].split(",").indexOf("LAT");
  return lines.map((l) => {
    if (!l.startsWith("FR-Pue,")) return l;
    const c = l.split(",");
    c[iLat] = String(-Number(c[iLat]));
    return c.join(",");
  }).join("\n");
}

/** The 1-based line of TIMESTAMP `ts` in a fixture. */
async function lineOf(file: string, ts: string): Promise<number> {
  return (await Deno.readTextFile(join(paths.fixtures, file))).split("\n")
    .findIndex((l) => l.startsWith(`${ts},`)) + 1;
}

Deno.test("training load: VPD 60 at TA 0, SW_IN 2x potential, a flipped LAT are errors naming file, column, line", async () => {
  const ok = await (await trainLoad("train_ok", () => {}))();
  assert.equal(ok.report.rowsRead, 366);
  const line = await lineOf(PUE, "20120301");
  await assert.rejects(
    await trainLoad("train_vpd", setCells({ TA_F: "0", VPD_F: "60" }, "20120301")),
    new RegExp(`${PUE}, column VPD_F, line ${line}: implausible VPD_F 60 hPa above saturation`),
  );
  await assert.rejects(
    await trainLoad("train_sw", setCells({ SW_IN_F: String(SW_2X) }, "20120301")),
    new RegExp(`${PUE}, column SW_IN_F, line ${line}: implausible SW_IN_F \\S+ W m-2 above`),
  );
  await assert.rejects(
    await trainLoad("train_lat", () => {}, flipLat),
    /sites\.csv, column LAT: site FR-Pue: LAT -43\.7\d* is inconsistent with SW_IN_F: over 366 days SW_IN_F correlates -0\.\d+/,
  );
});

// ---- predict's input checks -------------------------------------------------------------------------

const SITES_HEADER = "SITE_ID,LAT,LON,IGBP,KOPPEN_MAIN,ELEV,MAT,MAP,P_OVER_PET";
const siteRow = (lat: number) => `FR-Pue,${lat},3.5958,EBF,C,270,,,`;

Deno.test("predict inputs: the same checks; a flipped LAT names the site table's line, before the unit checks", async () => {
  const drivers = ["TA_F", "SW_IN_F", "VPD_F"] as const;
  const check = async (edit: (h: string[], r: string[][]) => void, lat = FR_PUE_LAT) => {
    const text = await edited(join(paths.fixtures, PUE), edit);
    const daily = parseDriverDaily(text, { file: PUE, site: "FR-Pue", drivers });
    const [site] = parsePredictionSites(`${SITES_HEADER}\n${siteRow(lat)}\n`, { file: "s.csv" });
    return () => {
      checkDriverLatitude(daily, { site, sitesFile: "s.csv" });
      checkDriverUnits(daily, { lat: site.LAT });
      checkDriverConsistency(daily, { lat: site.LAT });
    };
  };
  (await check(() => {}))();
  const line = await lineOf(PUE, "20120301");
  assert.throws(
    await check(setCells({ TA_F: "0", VPD_F: "60" }, "20120301")),
    new RegExp(`${PUE}, column VPD_F, line ${line}: implausible VPD_F 60 hPa`),
  );
  assert.throws(
    await check(setCells({ SW_IN_F: String(SW_2X) }, "20120301")),
    new RegExp(`${PUE}, column SW_IN_F, line ${line}: implausible SW_IN_F`),
  );
  assert.throws(
    await check(() => {}, -FR_PUE_LAT),
    /^FluxnetInputError: s\.csv, column LAT, line 2: site FR-Pue: LAT -43\.7\d* is inconsistent/,
  );
});

// ---- through `deno task predict` ----------------------------------------------------------------------

const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 });
const run = await writeFixtureRun(join(tmp, "run"), { name: "tamrl", seed: 0, dataset: ds });

Deno.test("deno task predict: implausible MODIS or drivers exit 1 with one line naming file/column/row, nothing written", async () => {
  const sites = join(tmp, "p_sites.csv");
  const write = async (
    dir: string,
    edit: (h: string[], r: string[][]) => void = () => {},
    editMonthly: (h: string[], r: string[][]) => void = () => {},
  ) => {
    await Deno.mkdir(join(dir, "data"), { recursive: true });
    await Deno.mkdir(join(dir, "monthly"), { recursive: true });
    await Deno.writeTextFile(join(dir, "data", PUE), await edited(join(paths.fixtures, PUE), edit));
    await Deno.writeTextFile(
      join(dir, "monthly", "FR-Pue_MM.csv"),
      await edited(MONTHLY, editMonthly),
    );
    return { data: join(dir, "data"), monthly: join(dir, "monthly") };
  };
  await Deno.writeTextFile(sites, `${SITES_HEADER}\n${siteRow(FR_PUE_LAT)}\n`);
  const flipped = join(tmp, "p_sites_flipped.csv");
  await Deno.writeTextFile(flipped, `${SITES_HEADER}\n${siteRow(-FR_PUE_LAT)}\n`);
  const frOnly = (f: (h: string[], r: string[][]) => void) => (h: string[], r: string[][]) =>
    f(h, r.filter((c) => c[h.indexOf("Site")] === "FR-Pue"));
  const line = await lineOf(PUE, "20120301");
  const cases: {
    name: string;
    files: { data: string; monthly: string };
    sites: string;
    re: RegExp;
  }[] = [
    {
      name: "lai",
      files: await write(join(tmp, "p_lai"), undefined, frOnly(setCells({ LAI: "999" }, "201206"))),
      sites: sites,
      re: /FR-Pue_MM\.csv, line \d+, column LAI: month 201206: implausible value 999/,
    },
    {
      name: "vpd",
      files: await write(join(tmp, "p_vpd"), setCells({ TA_F: "0", VPD_F: "60" }, "20120301")),
      sites: sites,
      re: new RegExp(`${PUE}, column VPD_F, line ${line}: implausible VPD_F 60 hPa`),
    },
    {
      name: "lat",
      files: await write(join(tmp, "p_lat")),
      sites: flipped,
      re: /p_sites_flipped\.csv, column LAT, line 2: site FR-Pue: LAT -43\.7\d* is inconsistent/,
    },
  ];
  const outDir = join(tmp, "p_out");
  await Deno.mkdir(outDir);
  for (const c of cases) {
    const out = join(outDir, `${c.name}.csv`);
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "predict",
        "--run",
        run,
        "--backend",
        "cpu",
        "--data",
        c.files.data,
        "--sites",
        c.sites,
        "--monthly",
        c.files.monthly,
        "--out",
        out,
        "--report",
        join(outDir, `${c.name}.json`),
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 1, stderr);
    // beside the progress lines and TF.js's banner, exactly one line: the error
    const errors = stderr.split("\n").filter((l) =>
      l.trim() !== "" && !/^(=+|Hi, looks like|predict: (\d+ member|backend))/.test(l)
    );
    assert.equal(errors.length, 1, stderr);
    assert.match(errors[0], c.re);
  }
  assert.deepEqual([...Deno.readDirSync(outDir)], [], "nothing written");
});

// ---- the real data: no false alarm ----------------------------------------------------------------------

Deno.test("real data: every check passes on the 183 daily files, the official DD files, MetaFlux and sites.csv", async () => {
  const sites = new Map((await loadSites(paths.sitesCsv)).map((s) => [s.SITE_ID, s]));
  const v = DRIVER_CONSISTENCY.vpdSaturation, s = DRIVER_CONSISTENCY.swPotential;
  let vpdUse = 0, swUse = 0, vpdWorst = "", swWorst = "", minR = Infinity, minRSite = "";
  let maxRFlipped = -Infinity, checked = 0, files = 0;
  for (const folder of [paths.daily, paths.officialDd]) {
    for (const f of listFluxnetFiles(folder)) {
      files++;
      const p = parseFluxnetDaily(await Deno.readTextFile(f.path), { file: f.path, site: f.site });
      const lat = sites.get(f.site)!.LAT;
      const drivers = { days: p.days, ...p.values };
      assert.equal(findInconsistentDriver(drivers, { lat }), null, f.path);
      const c = checkLatitude(drivers, { lat });
      assert.equal(c.message, null, f.path);
      if (c.checked) {
        checked++;
        if (c.correlation < minR) [minR, minRSite] = [c.correlation, f.site];
        maxRFlipped = Math.max(maxRFlipped, checkLatitude(drivers, { lat: -lat }).correlation);
      }
      // how close the real days come to the thresholds (1 = alarm)
      for (let i = 0; i < p.rows; i++) {
        const ta = p.values.TA_F[i], vpd = p.values.VPD_F[i], sw = p.values.SW_IN_F[i];
        const uv = vpd / (v.factor * saturationVapourPressure(ta) + v.offset);
        if (uv > vpdUse) [vpdUse, vpdWorst] = [uv, `${f.site} line ${p.lines[i]}`];
        const { doy, daysInYear } = dayOfYear(p.days[i]);
        const us = sw / (s.factor * potentialShortwave(lat, doy, { daysInYear }) + s.offset);
        if (us > swUse) [swUse, swWorst] = [us, `${f.site} line ${p.lines[i]}`];
      }
    }
  }
  // end to end: the training loader (no cache) and predict's input checks on every real site
  for (const source of ["daily", "official_dd"] as const) {
    const { report } = await loadFluxnet({ source, cache: false });
    assert.equal(report.filesRead, source === "daily" ? 183 : 24);
  }
  const table = parsePredictionSites(await Deno.readTextFile(paths.sitesCsv), {
    file: paths.sitesCsv,
  });
  for (const f of listFluxnetFiles(paths.daily)) {
    const site = table.find((t) => t.SITE_ID === f.site)!;
    const daily = parseDriverDaily(await Deno.readTextFile(f.path), {
      file: f.path,
      site: f.site,
      drivers: ["TA_F", "SW_IN_F", "VPD_F"],
    });
    checkDriverLatitude(daily, { site, sitesFile: paths.sitesCsv });
    checkDriverUnits(daily, { lat: site.LAT });
    checkDriverConsistency(daily, { lat: site.LAT });
  }
  const ids = [...Deno.readDirSync(paths.metafluxMonthly)].map((e) => e.name)
    .filter((n) => n.endsWith("_MM.csv")).map((n) => n.slice(0, -7));
  const { monthly } = loadModisMonthly(paths.metafluxMonthly, ids); // throws on an implausible value
  let maxLai = 0, maxEvi = -1, minEvi = 1;
  for (const m of monthly.values()) {
    for (const x of m.LAI) if (x !== null) maxLai = Math.max(maxLai, x);
    for (const x of m.EVI) {
      if (x !== null) [maxEvi, minEvi] = [Math.max(maxEvi, x), Math.min(minEvi, x)];
    }
  }
  console.log(
    `plausibility on real data: ${files} daily files; VPD / (${v.factor} e_sat + ${v.offset}) max ` +
      `${vpdUse.toFixed(3)} (${vpdWorst}); SW_IN / (${s.factor} SW_POT + ${s.offset}) max ` +
      `${swUse.toFixed(3)} (${swWorst}); LAT check on ${checked} files, min r ${minR.toFixed(3)} ` +
      `(${minRSite}), max r with LAT flipped ${maxRFlipped.toFixed(3)}; ${monthly.size} MetaFlux ` +
      `files, LAI max ${maxLai.toFixed(2)}, EVI ${minEvi.toFixed(2)} .. ${maxEvi.toFixed(2)}`,
  );
  assert.ok(files >= 183 + 24 && monthly.size >= 183);
  // a margin: the real extremes stay well inside the thresholds
  assert.ok(vpdUse < 0.75 && swUse < 0.85, `${vpdUse} ${swUse}`);
  assert.ok(minR > 0.4 && maxRFlipped < -0.4 && checked > 100, `${minR} ${maxRFlipped} ${checked}`);
  assert.ok(maxLai < 0.8 * PLAUSIBLE_RANGES.LAI.max && maxEvi < 1 && minEvi >= 0);
});
