import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import {
  FLUXNET_COLUMNS,
  FluxnetInputError,
  listFluxnetFiles,
  loadFluxnet,
  resolveDataDir,
  SitesError,
} from "../lib/data/mod.ts";

const SITES_HEADER =
  "SITE_ID,COUNTRY,LAT,LON,ELEV,IGBP,KOPPEN_MAIN,KOPPEN,MAT,MAP,P_OVER_PET,CANOPY_HEIGHT,WHC," +
  "FIRST_YEAR,LAST_YEAR,DAILY_SOURCE,DOI,DATA_POLICY";
const SITE_ROWS = [
  "FR-Pue,France,43.7413,3.5957,270,EBF,C,Csa,,,,,,2012,2012,x,10.18140/FLX/1440164,CCBY4.0",
  "AU-Lox,Australia,-34.4704,140.6551,,DBF,B,,,,,,,2009,2009,x,,CCBY4.0",
];
const DD_HEADER = "TIMESTAMP,TA_F,TA_F_QC,SW_IN_F,SW_IN_F_QC,VPD_F,VPD_F_QC,NEE_VUT_REF," +
  "NEE_VUT_REF_QC,GPP_NT_VUT_REF,GPP_DT_VUT_REF";
const PUE = "FLX_FR-Pue_FLUXNET2015_HH2DD_DD_2012-2012.csv";
const LOX = "FLX_AU-Lox_FLUXNET2015_SUBSET_DD_2009-2009_1-4.csv";

/** A temp folder with sites.csv and the given files; returns the folder. */
function fixture(files: Record<string, string>, sitesRows: string[] = SITE_ROWS): string {
  const dir = Deno.makeTempDirSync({ prefix: "tamflux_loader_" });
  Deno.writeTextFileSync(join(dir, "sites.csv"), [SITES_HEADER, ...sitesRows, ""].join("\n"));
  for (const [name, text] of Object.entries(files)) Deno.writeTextFileSync(join(dir, name), text);
  return dir;
}

const GOOD_PUE = [
  DD_HEADER,
  // out of order on purpose: the table must come back sorted
  "20120102,6.5,1,120,1,4,1,-2,0.5,3,3.5",
  "20120101,5,1,100,1,3,1,-1,0.9,2,2.5",
  "20120103,7,0.5,-9999,-9999,5,1,-9999,-9999,-9999,4",
  "",
].join("\n");
// An official-style file with extra columns in another order and RECO_NT_VUT_REF.
const GOOD_LOX = [
  "TIMESTAMP,P_F,NEE_VUT_REF,NEE_VUT_REF_QC,TA_F,TA_F_QC,SW_IN_F,SW_IN_F_QC,VPD_F,VPD_F_QC," +
  "RECO_NT_VUT_REF,GPP_NT_VUT_REF,GPP_DT_VUT_REF",
  "20090101,0,1.5,1,20,1,300,1,10,1,4.25,2,2.2",
  "20090102,0,0.5,1,21,1,310,1,11,1,,3,3.1",
  "",
].join("\r\n");

async function load(dir: string, extra: Record<string, unknown> = {}) {
  return await loadFluxnet({ dir, sitesCsv: join(dir, "sites.csv"), cache: false, ...extra });
}

async function expectInputError(
  dir: string,
  where: { file: string; column?: string; line?: number },
  pattern: RegExp,
) {
  await assert.rejects(load(dir), (err: unknown) => {
    assert.ok(err instanceof FluxnetInputError, `expected FluxnetInputError, got ${err}`);
    assert.ok(err.file.endsWith(where.file), `${err.file} should end with ${where.file}`);
    assert.equal(err.column, where.column);
    assert.equal(err.line, where.line);
    assert.ok(err.message.includes(where.file), "the message names the file");
    if (where.column) assert.ok(err.message.includes(`column ${where.column}`));
    if (where.line) assert.ok(err.message.includes(`line ${where.line}`));
    assert.match(err.message, pattern);
    return true;
  });
  Deno.removeSync(dir, { recursive: true });
}

Deno.test("loader: reads both file kinds into the documented table", async () => {
  const dir = fixture({ [PUE]: GOOD_PUE, [LOX]: GOOD_LOX, "notes.txt": "not a flux file" });
  const { frame, sites, report } = await load(dir);
  assert.deepEqual(frame.columns, [...FLUXNET_COLUMNS]);
  const types = Object.fromEntries(frame.columns.map((c) => [c, String(frame.getColumn(c).dtype)]));
  assert.equal(types.site, String(pl.String));
  assert.equal(types.date, String(pl.Date));
  assert.equal(types.IGBP, String(pl.String));
  assert.equal(types.KOPPEN_MAIN, String(pl.String));
  for (const c of FLUXNET_COLUMNS.slice(2, 13)) assert.equal(types[c], String(pl.Float64), c);
  const rows = frame.toRecords() as Record<string, unknown>[];
  assert.deepEqual(rows.map((r) => r.site), ["AU-Lox", "AU-Lox", "FR-Pue", "FR-Pue", "FR-Pue"]);
  const iso = frame.select(pl.col("date").cast(pl.Utf8)).getColumn("date").toArray();
  assert.deepEqual(iso, ["2009-01-01", "2009-01-02", "2012-01-01", "2012-01-02", "2012-01-03"]);
  // official file: RECO from RECO_NT_VUT_REF, empty cell -> null
  assert.equal(rows[0].RECO, 4.25);
  assert.equal(rows[0].NEE, 1.5);
  assert.equal(rows[1].RECO, null);
  // HH2DD file: RECO = GPP_NT + NEE, -9999 -> null
  assert.equal(rows[2].RECO, 1);
  assert.equal(rows[3].RECO, 1);
  assert.equal(rows[4].SW_IN_F, null);
  assert.equal(rows[4].SW_IN_F_QC, null);
  assert.equal(rows[4].NEE, null);
  assert.equal(rows[4].GPP, null);
  assert.equal(rows[4].RECO, null);
  assert.equal(rows[4].GPP_DT, 4);
  assert.equal(rows[4].TA_F_QC, 0.5);
  assert.equal(rows[2].IGBP, "EBF");
  assert.equal(rows[2].KOPPEN_MAIN, "C");
  assert.equal(rows[0].IGBP, "DBF");
  assert.deepEqual(sites.map((s) => s.SITE_ID), ["AU-Lox", "FR-Pue"]);
  // report
  assert.equal(report.filesRead, 2);
  assert.equal(report.rowsRead, 5);
  assert.equal(report.rows, 5);
  assert.deepEqual(report.dropped, []);
  assert.deepEqual(report.daysPerSite, { "AU-Lox": 2, "FR-Pue": 3 });
  assert.equal(report.nulls.NEE, 1);
  assert.equal(report.nulls.RECO, 2);
  assert.equal(report.nulls.SW_IN_F, 1);
  assert.equal(report.nulls.TA_F, 0);
  const lox = report.files.find((f) => f.site === "AU-Lox")!;
  assert.equal(lox.recoSource, "RECO_NT_VUT_REF");
  assert.equal(lox.emptyCells, 1);
  assert.equal(lox.firstDate, "2009-01-01");
  const pue = report.files.find((f) => f.site === "FR-Pue")!;
  assert.equal(pue.recoSource, "GPP_NT_VUT_REF+NEE_VUT_REF");
  assert.equal(pue.lastDate, "2012-01-03");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("loader: site subset, and an unknown site in the subset is an error", async () => {
  const dir = fixture({ [PUE]: GOOD_PUE, [LOX]: GOOD_LOX });
  const { frame, sites } = await load(dir, { sites: ["FR-Pue"] });
  assert.equal(frame.height, 3);
  assert.deepEqual(sites.map((s) => s.SITE_ID), ["FR-Pue"]);
  await assert.rejects(load(dir, { sites: ["FR-Pue", "XX-Abc"] }), /no daily file.*XX-Abc/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("loader: dropped empty days are counted in the report", async () => {
  const text = GOOD_PUE + "20120104,-9999,-9999,-9999,-9999,-9999,-9999,-9999,-9999,-9999,-9999\n";
  const dir = fixture({ [PUE]: text });
  const kept = await load(dir);
  assert.equal(kept.frame.height, 4);
  assert.deepEqual(kept.report.dropped, []);
  const { frame, report } = await load(dir, { dropEmptyDays: true });
  assert.equal(frame.height, 3);
  assert.equal(report.rowsRead, 4);
  assert.equal(report.rows, 3);
  assert.equal(report.dropped.length, 1);
  assert.equal(report.dropped[0].rows, 1);
  assert.deepEqual(report.dropped[0].bySite, { "FR-Pue": 1 });
  assert.equal(report.files[0].kept, 3);
  Deno.removeSync(dir, { recursive: true });
});

/** Remove one column (by header name) from a CSV text. */
function dropColumn(text: string, name: string): string {
  const lines = text.split("\n");
  const k = lines[0].split(",").indexOf(name);
  return lines.map((l) => l === "" ? l : l.split(",").filter((_, i) => i !== k).join(",")).join(
    "\n",
  );
}

Deno.test("bad input: missing required column", async () => {
  await expectInputError(
    fixture({ [PUE]: dropColumn(GOOD_PUE, "NEE_VUT_REF_QC") }),
    { file: PUE, column: "NEE_VUT_REF_QC", line: 1 },
    /required column is missing/,
  );
});

Deno.test("bad input: malformed TIMESTAMP", async () => {
  await expectInputError(
    fixture({ [PUE]: GOOD_PUE.replace("20120101", "2012-01-01") }),
    { file: PUE, column: "TIMESTAMP", line: 3 },
    /malformed TIMESTAMP "2012-01-01"/,
  );
  await expectInputError(
    fixture({ [PUE]: GOOD_PUE.replace("20120103", "20120230") }),
    { file: PUE, column: "TIMESTAMP", line: 4 },
    /malformed TIMESTAMP "20120230"/,
  );
});

Deno.test("bad input: non-numeric value", async () => {
  await expectInputError(
    fixture({ [PUE]: GOOD_PUE.replace("6.5,1,120", "6.5,1,12O") }),
    { file: PUE, column: "SW_IN_F", line: 2 },
    /non-numeric value "12O"/,
  );
  await expectInputError(
    fixture({ [LOX]: GOOD_LOX.replace("4.25", "NaN") }),
    { file: LOX, column: "RECO_NT_VUT_REF", line: 2 },
    /non-numeric value "NaN"/,
  );
});

Deno.test("bad input: duplicated day", async () => {
  await expectInputError(
    fixture({ [PUE]: GOOD_PUE + "20120102,1,1,1,1,1,1,1,1,1,1\n" }),
    { file: PUE, column: "TIMESTAMP", line: 5 },
    /duplicated day 20120102: it is already on line 2/,
  );
});

Deno.test("bad input: site missing from sites.csv", async () => {
  await expectInputError(
    fixture({ [PUE]: GOOD_PUE, [LOX]: GOOD_LOX }, [SITE_ROWS[0]]),
    { file: LOX, column: "SITE_ID" },
    /site AU-Lox .*not in the site table/,
  );
});

Deno.test("bad input: unknown IGBP code in sites.csv", async () => {
  const dir = fixture({ [PUE]: GOOD_PUE }, [SITE_ROWS[0].replace(",EBF,", ",RAINFOREST,")]);
  await assert.rejects(load(dir), (err: unknown) => {
    assert.ok(err instanceof SitesError);
    assert.ok(err.file.endsWith("sites.csv"));
    assert.equal(err.column, "IGBP");
    assert.equal(err.line, 2);
    assert.match(err.message, /sites\.csv, column IGBP, line 2: site FR-Pue: unknown IGBP code/);
    return true;
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("bad input: empty file", async () => {
  await expectInputError(fixture({ [PUE]: "" }), { file: PUE }, /the file is empty/);
  await expectInputError(
    fixture({ [PUE]: DD_HEADER + "\n" }),
    { file: PUE },
    /header but no data rows/,
  );
});

Deno.test("bad input: folder with no FLUXNET files", async () => {
  const dir = fixture({ "FLX_FR-Pue_FLUXNET2015_SUBSET_HH_2012-2012_1-4.csv": GOOD_PUE });
  await assert.rejects(load(dir), (err: unknown) => {
    assert.ok(err instanceof FluxnetInputError);
    assert.equal(err.file, dir);
    assert.match(err.message, /no FLUXNET2015 daily files/);
    assert.match(err.message, /fluxnet\.org/); // says what to download
    return true;
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("bad input: a row with a missing cell, two files for one site", async () => {
  await expectInputError(
    fixture({ [PUE]: GOOD_PUE.replace("20120101,5,1,", "20120101,5,") }),
    { file: PUE, line: 3 },
    /10 cells but the header has 11/,
  );
  const dir = fixture({ [PUE]: GOOD_PUE, [PUE.replace("HH2DD", "FULLSET")]: GOOD_PUE });
  await assert.rejects(load(dir), /two daily files for site FR-Pue/);
  Deno.removeSync(dir, { recursive: true });
});

function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

Deno.test("real data: all 183 daily sites have a file and a sites.csv row", () => {
  const paths = resolveDataDir();
  const files = listFluxnetFiles(paths.daily);
  assert.equal(files.length, 183);
  const sitesText = Deno.readTextFileSync(paths.sitesCsv);
  for (const f of files) assert.ok(sitesText.includes(`\n${f.site},`), f.site);
});

Deno.test("real data: official DD and HH2DD files agree (r >= 0.99) at the 24 official sites", async () => {
  const official = await loadFluxnet({ source: "official_dd", cache: false });
  assert.equal(official.report.filesRead, 24);
  assert.ok(official.report.files.every((f) => f.recoSource === "RECO_NT_VUT_REF"));
  const ids = official.sites.map((s) => s.SITE_ID);
  const derived = await loadFluxnet({ source: "daily", sites: ids, cache: false });
  assert.equal(derived.report.filesRead, 24);
  const vars = ["TA_F", "SW_IN_F", "VPD_F", "NEE", "GPP", "RECO"] as const;
  const joined = official.frame.select("site", "date", ...vars).join(
    derived.frame.select("site", "date", ...vars),
    { on: ["site", "date"], how: "inner", suffix: "_hh" },
  );
  const lines: string[] = [];
  const failures: string[] = [];
  for (const v of vars) {
    let min = Infinity, minSite = "";
    for (const site of ids) {
      const both = joined.filter(
        pl.col("site").eq(pl.lit(site)).and(pl.col(v).isNotNull()).and(
          pl.col(`${v}_hh`).isNotNull(),
        ),
      );
      assert.ok(both.height > 300, `${site} ${v}: only ${both.height} common days`);
      const r = pearson(
        both.getColumn(v).toArray() as number[],
        both.getColumn(`${v}_hh`).toArray() as number[],
      );
      if (r < min) [min, minSite] = [r, site];
      // RECO: official RECO_NT_VUT_REF vs derived GPP_NT + NEE; reported, not asserted
      if (v !== "RECO" && !(r >= 0.99)) failures.push(`${site} ${v} r=${r.toFixed(4)}`);
    }
    lines.push(`  ${v.padEnd(8)} min r = ${min.toFixed(4)} (${minSite})`);
  }
  console.log(`official vs HH2DD, ${ids.length} sites, per-site Pearson r:\n${lines.join("\n")}`);
  assert.deepEqual(failures, []);
});

Deno.test("real data: in official files RECO_NT_VUT_REF is close to GPP_NT_VUT_REF + NEE_VUT_REF", async () => {
  // The rule the loader uses for files without RECO (data README). In the official daily files
  // the REF variants of RECO, GPP and NEE are selected separately, so the rule is close, not exact.
  const { frame, sites } = await loadFluxnet({ source: "official_dd", cache: false });
  const d = frame.filter(pl.col("RECO").isNotNull().and(pl.col("GPP").isNotNull()))
    .withColumns(pl.col("GPP").plus(pl.col("NEE")).alias("SUM"));
  const pooled = pearson(
    d.getColumn("RECO").toArray() as number[],
    d.getColumn("SUM").toArray() as number[],
  );
  let min = Infinity, minSite = "";
  for (const { SITE_ID } of sites) {
    const s = d.filter(pl.col("site").eq(pl.lit(SITE_ID)));
    const r = pearson(
      s.getColumn("RECO").toArray() as number[],
      s.getColumn("SUM").toArray() as number[],
    );
    if (r < min) [min, minSite] = [r, SITE_ID];
  }
  console.log(
    `official files: r(RECO_NT, GPP_NT + NEE) pooled ${pooled.toFixed(4)}, ` +
      `per-site min ${min.toFixed(4)} (${minSite})`,
  );
  assert.ok(pooled >= 0.99, `pooled r ${pooled}`);
  assert.ok(min >= 0.9, `${minSite}: r ${min}`);
});
