import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import {
  LOADER_VERSION,
  loadFluxnet,
  readFrameCache,
  stampInputs,
  writeFrameCache,
} from "../lib/data/mod.ts";

const SITES = [
  "SITE_ID,COUNTRY,LAT,LON,ELEV,IGBP,KOPPEN_MAIN,KOPPEN,MAT,MAP,P_OVER_PET,CANOPY_HEIGHT,WHC," +
  "FIRST_YEAR,LAST_YEAR,DAILY_SOURCE,DOI,DATA_POLICY",
  "FR-Pue,France,43.7413,3.5957,270,EBF,C,Csa,,,,,,2012,2012,x,,CCBY4.0",
  "AU-Lox,Australia,-34.4704,140.6551,,DBF,B,,,,,,,2009,2009,x,,CCBY4.0",
  "",
].join("\n");
const HEADER = "TIMESTAMP,TA_F,TA_F_QC,SW_IN_F,SW_IN_F_QC,VPD_F,VPD_F_QC,NEE_VUT_REF," +
  "NEE_VUT_REF_QC,GPP_NT_VUT_REF,GPP_DT_VUT_REF";
const PUE = "FLX_FR-Pue_FLUXNET2015_HH2DD_DD_2012-2012.csv";
const LOX = "FLX_AU-Lox_FLUXNET2015_HH2DD_DD_2009-2009.csv";

function daily(first: string, n: number, ta = 5): string {
  const rows = [HEADER];
  const start = Date.UTC(+first.slice(0, 4), +first.slice(4, 6) - 1, +first.slice(6, 8));
  for (let i = 0; i < n; i++) {
    const ts = new Date(start + i * 86_400_000).toISOString().slice(0, 10).replaceAll("-", "");
    rows.push(`${ts},${ta + i},1,${100 + i},1,3,1,${-1 - i / 10},0.9,${2 + i / 10},2.5`);
  }
  return rows.join("\n") + "\n";
}

function setup() {
  const root = Deno.makeTempDirSync({ prefix: "tamflux_cache_" });
  const data = join(root, "dd");
  Deno.mkdirSync(data);
  Deno.writeTextFileSync(join(root, "sites.csv"), SITES);
  Deno.writeTextFileSync(join(data, PUE), daily("20120101", 10));
  Deno.writeTextFileSync(join(data, LOX), daily("20090101", 7));
  const cache = join(root, "cache");
  const load = () =>
    loadFluxnet({ dir: data, sitesCsv: join(root, "sites.csv"), cacheDir: cache, cache: true });
  return { root, data, cache, load };
}

function parquetIn(cache: string): string {
  const files = [...Deno.readDirSync(cache)].map((e) => e.name);
  const parquet = files.filter((f) => f.endsWith(".parquet"));
  assert.equal(parquet.length, 1, `files: ${files.join(", ")}`);
  return join(cache, parquet[0]);
}

Deno.test("cache: first load builds, second load hits with the same table", async () => {
  const { root, cache, load } = setup();
  const first = await load();
  assert.equal(first.report.cache.status, "built");
  assert.equal(first.report.cache.lookup, "missing");
  const second = await load();
  assert.equal(second.report.cache.status, "hit");
  assert.ok(second.frame.frameEqual(first.frame, true), "cached table equals the built one");
  assert.deepEqual(second.frame.schema, first.frame.schema);
  assert.equal(second.report.rows, 17);
  assert.deepEqual(second.report.daysPerSite, { "AU-Lox": 7, "FR-Pue": 10 });
  assert.deepEqual(second.sites.map((s) => s.SITE_ID), ["AU-Lox", "FR-Pue"]);
  // atomic writes leave no temp files behind
  const names = [...Deno.readDirSync(cache)].map((e) => e.name).sort();
  assert.equal(names.length, 2);
  assert.ok(names.every((n) => !n.endsWith(".tmp")), names.join(", "));
  Deno.removeSync(root, { recursive: true });
});

Deno.test("cache: a stale cache (input changed) is rebuilt with the new data", async () => {
  const { root, data, load } = setup();
  await load();
  // new content, new size
  Deno.writeTextFileSync(join(data, PUE), daily("20120101", 12, 40));
  const changed = await load();
  assert.equal(changed.report.cache.status, "built");
  assert.equal(changed.report.cache.lookup, "stale");
  assert.match(changed.report.cache.reason!, /FR-Pue.*changed size/);
  assert.equal(changed.report.daysPerSite["FR-Pue"], 12);
  const ta = changed.frame.filter(pl.col("site").eq(pl.lit("FR-Pue"))).getColumn("TA_F");
  assert.equal(ta.toArray()[0], 40);
  assert.equal((await load()).report.cache.status, "hit");
  // same size, only the mtime changes
  const path = join(data, LOX);
  Deno.utimeSync(path, new Date(), new Date(Date.now() + 60_000));
  const touched = await load();
  assert.equal(touched.report.cache.lookup, "stale");
  assert.match(touched.report.cache.reason!, /modified/);
  // a new site file appears
  Deno.copyFileSync(path, join(data, "FLX_FR-Pu2_FLUXNET2015_HH2DD_DD_2009-2009.csv"));
  const sites = Deno.readTextFileSync(join(root, "sites.csv"));
  Deno.writeTextFileSync(
    join(root, "sites.csv"),
    sites + "FR-Pu2,France,43,3,,EBF,C,,,,,,,2009,2009,x,,CCBY4.0\n",
  );
  const added = await load();
  assert.equal(added.report.cache.lookup, "stale");
  assert.equal(added.report.filesRead, 3);
  assert.equal(added.frame.height, 12 + 7 + 7);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("cache: a same-size edit with the mtime restored is not served from the cache", async () => {
  const { root, data, load } = setup();
  const path = join(data, PUE);
  const before = Deno.statSync(path);
  assert.equal((await load()).report.cache.lookup, "missing");
  assert.equal((await load()).report.cache.status, "hit");
  const text = Deno.readTextFileSync(path);
  const edited = text.replace("20120101,5,", "20120101,7,"); // TA_F 5 -> 7, same size
  assert.equal(edited.length, text.length);
  assert.notEqual(edited, text);
  Deno.writeTextFileSync(path, edited);
  Deno.utimeSync(path, before.atime!, before.mtime!);
  const after = Deno.statSync(path);
  assert.equal(after.size, before.size);
  assert.equal(after.mtime!.getTime(), before.mtime!.getTime());
  const reloaded = await load();
  assert.equal(reloaded.report.cache.status, "built");
  assert.equal(reloaded.report.cache.lookup, "stale");
  assert.match(reloaded.report.cache.reason!, /FR-Pue.*other contents/);
  const ta = reloaded.frame.filter(pl.col("site").eq(pl.lit("FR-Pue"))).getColumn("TA_F");
  assert.equal(ta.toArray()[0], 7);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("cache: a corrupt Parquet file is rebuilt, never trusted", async () => {
  const { root, cache, load } = setup();
  const built = await load();
  const path = parquetIn(cache);
  const bytes = Deno.readFileSync(path);
  // 1) garbage
  Deno.writeFileSync(path, new TextEncoder().encode("not parquet at all"));
  const r1 = await load();
  assert.equal(r1.report.cache.status, "built");
  assert.equal(r1.report.cache.lookup, "corrupt");
  assert.ok(r1.frame.frameEqual(built.frame, true));
  // 2) one flipped byte in the middle, same size (a valid-looking file with wrong content)
  const flipped = bytes.slice();
  flipped[Math.floor(flipped.length / 2)] ^= 0xff;
  Deno.writeFileSync(path, flipped);
  const r2 = await load();
  assert.equal(r2.report.cache.lookup, "corrupt");
  assert.ok(r2.frame.frameEqual(built.frame, true));
  // 3) truncated
  Deno.writeFileSync(path, bytes.slice(0, 100));
  assert.equal((await load()).report.cache.lookup, "corrupt");
  // 4) deleted Parquet, metadata left
  Deno.removeSync(path);
  assert.equal((await load()).report.cache.lookup, "corrupt");
  // 5) corrupt metadata
  const meta = path.replace(/\.parquet$/, ".json");
  Deno.writeTextFileSync(meta, "{ broken");
  assert.equal((await load()).report.cache.lookup, "corrupt");
  // and after each rebuild the entry is good again
  const final = await load();
  assert.equal(final.report.cache.status, "hit");
  assert.ok(final.frame.frameEqual(built.frame, true));
  Deno.removeSync(root, { recursive: true });
});

Deno.test("cache: another loader version makes the entry stale", () => {
  const root = Deno.makeTempDirSync({ prefix: "tamflux_cache_" });
  const input = join(root, "in.txt");
  Deno.writeTextFileSync(input, "x");
  const frame = pl.DataFrame({ a: [1, 2, 3] });
  const inputs = stampInputs([input]);
  writeFrameCache("t", frame, { dir: root, version: LOADER_VERSION, inputs, extra: { k: 1 } });
  const hit = readFrameCache("t", { dir: root, version: LOADER_VERSION, inputs });
  assert.equal(hit.status, "hit");
  if (hit.status === "hit") assert.deepEqual(hit.extra, { k: 1 });
  const old = readFrameCache("t", { dir: root, version: LOADER_VERSION + 1, inputs });
  assert.equal(old.status, "stale");
  Deno.removeSync(root, { recursive: true });
});

Deno.test("cache: cache: false neither reads nor writes", async () => {
  const { root, data, cache } = setup();
  const { report } = await loadFluxnet({
    dir: data,
    sitesCsv: join(root, "sites.csv"),
    cacheDir: cache,
    cache: false,
  });
  assert.equal(report.cache.status, "off");
  assert.throws(() => Deno.statSync(cache));
  Deno.removeSync(root, { recursive: true });
});
