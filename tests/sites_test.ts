import assert from "node:assert/strict";
import { IGBP_CODES, KOPPEN_GROUPS, loadSites, parseSites, SitesError } from "../lib/data/sites.ts";
import { resolveDataDir } from "../lib/data/paths.ts";

const HEADER =
  "SITE_ID,COUNTRY,LAT,LON,ELEV,IGBP,KOPPEN_MAIN,KOPPEN,MAT,MAP,P_OVER_PET,CANOPY_HEIGHT,WHC," +
  "FIRST_YEAR,LAST_YEAR,DAILY_SOURCE,DOI,DATA_POLICY";
const FR_PUE =
  "FR-Pue,France,43.7413,3.5957,270,EBF,C,Csa,13.5,,0.8,,,2000,2014,x,10.18140/FLX/1440164,CCBY4.0";
const AU_LOX = "AU-Lox,Australia,-34.4704,140.6551,,DBF,B,,,,,,,2008,2009,x,,CCBY4.0";

function expectError(text: string, where: { column?: string; line?: number }, pattern: RegExp) {
  assert.throws(() => parseSites(text, { file: "my_sites.csv" }), (err: unknown) => {
    assert.ok(err instanceof SitesError, `expected a SitesError, got ${err}`);
    assert.equal(err.file, "my_sites.csv");
    assert.equal(err.column, where.column);
    assert.equal(err.line, where.line);
    assert.match(err.message, /^my_sites\.csv/);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("sites: parses numbers, empty cells as null, and text", () => {
  const sites = parseSites([HEADER, FR_PUE, AU_LOX, ""].join("\n"));
  assert.equal(sites.length, 2);
  const [pue, lox] = sites;
  assert.equal(pue.SITE_ID, "FR-Pue");
  assert.equal(pue.LAT, 43.7413);
  assert.equal(pue.ELEV, 270);
  assert.equal(pue.MAP, null);
  assert.equal(pue.MAT, 13.5);
  assert.equal(pue.FIRST_YEAR, 2000);
  assert.equal(pue.KOPPEN, "Csa");
  assert.equal(lox.ELEV, null);
  assert.equal(lox.KOPPEN, null);
  assert.equal(lox.DOI, null);
  assert.equal(lox.IGBP, "DBF");
  assert.equal(lox.KOPPEN_MAIN, "B");
});

Deno.test("sites: unknown IGBP code names file, column, line and site", () => {
  const text = [HEADER, FR_PUE, AU_LOX.replace(",DBF,", ",FOREST,")].join("\n");
  expectError(
    text,
    { column: "IGBP", line: 3 },
    /unknown IGBP code "FOREST".*AU-Lox|AU-Lox.*FOREST/,
  );
});

Deno.test("sites: Köppen main group outside A-E is an error", () => {
  const text = [HEADER, FR_PUE.replace(",EBF,C,", ",EBF,F,")].join("\n");
  expectError(text, { column: "KOPPEN_MAIN", line: 2 }, /A-E/);
});

Deno.test("sites: non-numeric number cell is an error", () => {
  const text = [HEADER, FR_PUE.replace(",13.5,", ",warm,")].join("\n");
  expectError(text, { column: "MAT", line: 2 }, /not a number: "warm"/);
});

Deno.test("sites: empty latitude is an error (required)", () => {
  const text = [HEADER, FR_PUE.replace(",43.7413,", ",,")].join("\n");
  expectError(text, { column: "LAT", line: 2 }, /required/);
});

Deno.test("sites: missing column is an error", () => {
  const text = [HEADER.replace(",IGBP", ""), FR_PUE.replace(",EBF", "")].join("\n");
  expectError(text, { column: "IGBP", line: 1 }, /missing/);
});

Deno.test("sites: a site listed twice is an error", () => {
  const text = [HEADER, FR_PUE, AU_LOX, FR_PUE].join("\n");
  expectError(text, { column: "SITE_ID", line: 4 }, /twice.*line 2/);
});

Deno.test("sites: empty file is an error", () => {
  expectError("", {}, /empty/);
});

Deno.test("sites: the real sites.csv has 183 valid sites", async () => {
  const sites = await loadSites(resolveDataDir().sitesCsv);
  assert.equal(sites.length, 183);
  for (const s of sites) {
    assert.ok((IGBP_CODES as readonly string[]).includes(s.IGBP));
    assert.ok((KOPPEN_GROUPS as readonly string[]).includes(s.KOPPEN_MAIN));
    assert.ok(s.LAT >= -90 && s.LAT <= 90 && s.LON >= -180 && s.LON <= 180);
  }
});
