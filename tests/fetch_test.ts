/**
 * Tests of lib/data/fetch: the fetch on the local three-site sample of the public FLUXNET2015
 * Zarr store must reproduce the bundled daily files, skip sites without chunks with a report
 * line, resume after an interruption, read the same store over HTTP, and fail clearly offline.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { cacheDir, resolveDataDir } from "../lib/data/paths.ts";
import { TEMP_MARKER } from "../lib/data/atomic.ts";
import {
  aggregateDaily,
  dailyCsv,
  decodeCfTime,
  fetchFluxnet,
  formatValue,
  listDailyFiles,
  siteTimeZone,
  StoreUnreachableError,
  utcOffsetMinutes,
} from "../lib/data/fetch/mod.ts";

const data = resolveDataDir();
const SAMPLE = join(data.root, "zarr_sample", "fluxnet.zarr");
const SITES = ["FR-Pue", "AU-Lox", "CH-Dav"];
/** In the store's site list, but without chunks in the sample. */
const ABSENT = "US-Ha1";
const COMPARED = [
  "TA_F",
  "SW_IN_F",
  "VPD_F",
  "NEE_VUT_REF",
  "GPP_NT_VUT_REF",
  "GPP_DT_VUT_REF",
  "NEE_VUT_REF_QC",
];

async function tempOut(name: string): Promise<string> {
  await Deno.mkdir(cacheDir(), { recursive: true });
  return await Deno.makeTempDir({ dir: cacheDir(), prefix: `fetch_test_${name}_` });
}

function readCsv(path: string): Record<string, string>[] {
  return parse(Deno.readTextFileSync(path), { columns: true }) as Record<string, string>[];
}

function decimalsOf(s: string): number {
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

Deno.test("utcOffsetMinutes and siteTimeZone follow the store README", () => {
  assert.equal(utcOffsetMinutes("Australia/Adelaide"), 630);
  assert.equal(utcOffsetMinutes("America/Godthab"), -180);
  assert.equal(utcOffsetMinutes("Europe/Zurich"), 60);
  assert.equal(utcOffsetMinutes("UTC"), 0);
  // AU-Lox's coordinates fall in Victoria; the README overrides it to Adelaide.
  assert.equal(siteTimeZone("AU-Lox", -34.4704, 140.6551), "Australia/Adelaide");
  assert.equal(siteTimeZone("XX-Lox", -34.4704, 140.6551), "Australia/Melbourne");
  assert.throws(() => siteTimeZone("XX-Abc", NaN, 3), /no coordinates/);
});

Deno.test("decodeCfTime reads CF units", () => {
  const t = decodeCfTime([0n, 30n], "minutes since 1991-01-01 06:00:00");
  assert.equal(t[0], Date.UTC(1991, 0, 1, 6) / 60_000);
  assert.equal(t[1] - t[0], 30);
  assert.equal(decodeCfTime([1], "days since 1970-01-01")[0], 1440);
  assert.throws(() => decodeCfTime([0], "fortnights since 1970-01-01"), /CF units/);
  assert.throws(() => decodeCfTime([0], "days since 1970-01-01", "noleap"), /calendar/);
});

Deno.test("aggregateDaily: day of the half-hour end, >= 46 half-hours, QC share", () => {
  // Two UTC days of half-hour end stamps: 00:30 of day 0 ... 00:00 of day 2.
  const n = 96;
  const time = Float64Array.from({ length: n }, (_, i) => 30 * (i + 1));
  const value = Float64Array.from({ length: n }, (_, i) => (i < 48 ? 1 : 3));
  value[50] = NaN;
  value[51] = NaN;
  value[52] = NaN; // day 1 keeps 45 half-hours: missing
  const flag = new Float64Array(n).fill(0);
  for (let i = 0; i < 12; i++) flag[i] = 2.4; // 12 of day 0's 48 half-hours have flag 2
  flag[20] = 1.4; // rounds to 1: good
  const table = aggregateDaily(time, [
    { column: "X", kind: "mean", values: value, factor: 2, decimals: 3 },
    { column: "X_QC", kind: "qc", values: flag, decimals: 4 },
  ], { offsetMinutes: 0 });
  assert.ok(table);
  assert.equal(table.firstYear, 1970);
  assert.equal(table.days.length, 365);
  assert.equal(table.columns[0].values[0], 2); // mean 1 x factor 2
  assert.ok(Number.isNaN(table.columns[0].values[1]));
  assert.equal(table.columns[1].values[0], 36 / 48);
  assert.equal(table.daysWithData, 1);
  // A +60 min offset: the half-hour ending 23:30 UTC ends at 00:30 local, so it is in day 1.
  const shifted = aggregateDaily(time, [
    { column: "X", kind: "mean", values: Float64Array.from(time, (t) => t), decimals: 1 },
  ], { offsetMinutes: 60, minHalfHours: 1 });
  assert.ok(shifted);
  // Day 0 local: ends 00:30..24:00 local = UTC -00:30..23:00 -> stamps 30..1380 (46 stamps).
  assert.equal(shifted.columns[0].values[0], (30 + 1380) / 2);
  assert.equal(dailyCsv(shifted).split("\n")[1], `19700101,${formatValue((30 + 1380) / 2, 1)}`);
  assert.equal(
    aggregateDaily(time, [
      { column: "X", kind: "mean", values: new Float64Array(n).fill(NaN), decimals: 1 },
    ], { offsetMinutes: 0 }),
    null,
  );
});

Deno.test("formatValue writes like the bundled files", () => {
  assert.equal(formatValue(0, 4), "0.0");
  assert.equal(formatValue(-0.000001, 3), "0.0");
  assert.equal(formatValue(1.2345678, 5), "1.23457");
  assert.equal(formatValue(NaN, 3), "-9999");
});

Deno.test("fetch of the local sample reproduces the bundled daily files", async () => {
  const out = await tempOut("sample");
  try {
    const lines: string[] = [];
    const t0 = performance.now();
    const report = await fetchFluxnet({
      store: SAMPLE,
      out,
      sites: [...SITES, ABSENT],
      metaflux: data.metafluxMonthly,
      log: (l) => lines.push(l),
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `three-site sample fetched in ${seconds.toFixed(2)} s, ` +
        `${(report.storeBytes / 1e6).toFixed(2)} MB read (load: ${Deno.loadavg().join(" ")})`,
    );
    assert.equal(report.ok, true, lines.join("\n"));
    assert.equal(report.interrupted, false);

    // The site without chunks: no file, a clear report line, not an error.
    const absent = report.sites.find((s) => s.site === ABSENT);
    assert.equal(absent?.status, "absent");
    assert.ok(lines.some((l) => l.includes(ABSENT) && l.includes("no chunks")), lines.join("\n"));
    const written = await listDailyFiles(join(out, "fluxnet2015", "daily"));
    assert.deepEqual([...written.keys()].sort(), [...SITES].sort());

    const bundled = await listDailyFiles(data.daily);
    for (const site of SITES) {
      const mine = written.get(site)!;
      const ref = bundled.get(site)!;
      assert.equal(mine.name, ref.name, `${site}: file name`);
      const a = readCsv(mine.path);
      const b = readCsv(ref.path);
      assert.deepEqual(Object.keys(a[0]), Object.keys(b[0]), `${site}: columns`);
      assert.deepEqual(a.map((r) => r.TIMESTAMP), b.map((r) => r.TIMESTAMP), `${site}: days`);
      let compared = 0;
      let lastDigit = 0;
      for (let r = 0; r < b.length; r++) {
        for (const col of COMPARED) {
          const x = Number(a[r][col]);
          const y = Number(b[r][col]);
          const where = `${site} ${b[r].TIMESTAMP} ${col}: ${a[r][col]} vs ${b[r][col]}`;
          assert.equal(x === -9999, y === -9999, where);
          if (y === -9999) continue;
          compared++;
          const diff = Math.abs(x - y);
          if (diff <= 1e-3 * Math.abs(y)) continue;
          // Values near zero: the bundled files are rounded, so allow one unit of their last
          // written decimal (and count how often that was needed).
          const unit = 10 ** -decimalsOf(b[r][col]);
          assert.ok(diff <= 1.0001 * Math.max(unit, 10 ** -decimalsOf(a[r][col])), where);
          lastDigit++;
        }
      }
      console.log(
        `${site}: ${b.length} days, ${compared} values compared, ` +
          `${lastDigit} within one unit of the last decimal only (near zero)`,
      );
      assert.ok(compared >= b.length * COMPARED.length * 0.99, `${site}: too few values`);
      assert.ok(
        lastDigit < compared * 0.01,
        `${site}: ${lastDigit} values needed the rounding floor`,
      );
    }

    // MetaFlux copied unchanged, sites table in the loader's layout.
    for (const site of SITES) {
      const copy = await Deno.readFile(join(out, "metaflux_monthly", `${site}_MM.csv`));
      const src = await Deno.readFile(join(data.metafluxMonthly, `${site}_MM.csv`));
      assert.deepEqual(copy, src, `${site}_MM.csv`);
    }
    assert.equal(report.metaflux?.written.length, SITES.length);
    assert.deepEqual(report.unclassified, []);
    const sites = readCsv(join(out, "fluxnet2015", "sites.csv"));
    const refSites = new Map(readCsv(data.sitesCsv).map((r) => [r.SITE_ID, r]));
    assert.deepEqual(Object.keys(sites[0]), Object.keys(refSites.get("FR-Pue")!));
    assert.deepEqual(sites.map((r) => r.SITE_ID), [...SITES].sort());
    for (const row of sites) {
      const ref = refSites.get(row.SITE_ID)!;
      assert.ok(Math.abs(Number(row.LAT) - Number(ref.LAT)) < 0.002, `${row.SITE_ID} LAT`);
      assert.ok(Math.abs(Number(row.LON) - Number(ref.LON)) < 0.005, `${row.SITE_ID} LON`);
      assert.equal(row.IGBP, ref.IGBP, `${row.SITE_ID} IGBP`);
      assert.equal(row.KOPPEN_MAIN, ref.KOPPEN_MAIN, `${row.SITE_ID} KOPPEN_MAIN`);
      assert.equal(row.COUNTRY, ref.COUNTRY, `${row.SITE_ID} COUNTRY`);
      assert.equal(row.FIRST_YEAR, ref.FIRST_YEAR);
      assert.equal(row.LAST_YEAR, ref.LAST_YEAR);
      assert.equal(row.DATA_POLICY, ref.DATA_POLICY);
    }
    const note = await Deno.readTextFile(join(out, "fluxnet2015", "README.md"));
    assert.match(note, /Pastorello/);
    assert.match(note, /CC-BY-4\.0/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("an interrupted fetch resumes without rewriting finished files", async () => {
  const out = await tempOut("resume");
  try {
    const controller = new AbortController();
    const first = await fetchFluxnet({
      store: SAMPLE,
      out,
      sites: SITES,
      metaflux: false,
      signal: controller.signal,
      log: () => {},
      onSite: (r) => {
        if (r.status === "written") controller.abort();
      },
    });
    assert.equal(first.interrupted, true);
    const dailyDir = join(out, "fluxnet2015", "daily");
    const after1 = await listDailyFiles(dailyDir);
    assert.deepEqual([...after1.keys()], [SITES[0]]);
    const finished = after1.get(SITES[0])!.path;
    const before = await Deno.stat(finished);
    // A killed run may leave a temporary file; the next run removes it.
    const stale = join(dailyDir, `.FLX_AU-Lox_x.csv${TEMP_MARKER}1-deadbeef`);
    await Deno.writeTextFile(stale, "partial");

    const second = await fetchFluxnet({
      store: SAMPLE,
      out,
      sites: SITES,
      metaflux: false,
      log: () => {},
    });
    assert.equal(second.ok, true);
    assert.deepEqual(second.sites.map((s) => s.status), ["skipped", "written", "written"]);
    const after2 = await listDailyFiles(dailyDir);
    assert.deepEqual([...after2.keys()].sort(), [...SITES].sort());
    const now = await Deno.stat(finished);
    assert.equal(now.ino, before.ino, "finished file was replaced");
    assert.equal(now.mtime?.getTime(), before.mtime?.getTime(), "finished file was rewritten");
    await assert.rejects(Deno.stat(stale), Deno.errors.NotFound);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/** Serves the sample store and a GitHub look-alike for MetaFlux; fails some requests first. */
function serveSample(failFirst: Map<string, number>) {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requests.push(path);
    const fails = failFirst.get(path) ?? 0;
    if (fails > 0) {
      failFirst.set(path, fails - 1);
      return new Response("busy", { status: 503 });
    }
    if (path.startsWith("/repos/leap-stc/metaflux/git/trees/")) {
      const tree = SITES.map((s) => ({
        path: `metaflux/data/sample/train/${s}_MM.csv`,
        type: "blob",
      }));
      return Response.json({ tree, truncated: false });
    }
    let file: string | null = null;
    if (path.startsWith("/zarr/")) file = join(data.root, "zarr_sample", path.slice(6));
    const raw = /^\/leap-stc\/metaflux\/HEAD\/metaflux\/data\/sample\/train\/(.+_MM\.csv)$/
      .exec(path);
    if (raw) file = join(data.metafluxMonthly, raw[1]);
    if (file) {
      try {
        return new Response(await Deno.readFile(file));
      } catch {
        // fall through to 404
      }
    }
    return new Response("not found", { status: 404 });
  });
  return { server, requests, base: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test({
  name: "the HTTP path reads the same store with retries and writes the same files",
  // zarrita's FetchStore does not read the body of 404 responses.
  sanitizeResources: false,
  async fn() {
    const chunk = "/zarr/fluxnet.zarr/nee/106.0";
    const { server, requests, base } = serveSample(new Map([[chunk, 2]]));
    const outHttp = await tempOut("http");
    const outLocal = await tempOut("local");
    try {
      const lines: string[] = [];
      const report = await fetchFluxnet({
        store: `${base}/zarr/fluxnet.zarr`,
        out: outHttp,
        sites: ["AU-Lox", ABSENT],
        githubApi: base,
        githubRaw: base,
        retryDelayMs: 1,
        log: (l) => lines.push(l),
      });
      assert.equal(report.ok, true, lines.join("\n"));
      assert.equal(requests.filter((p) => p === chunk).length, 3, "two failures, then success");
      assert.ok(lines.some((l) => l.includes("retry 2/3")), lines.join("\n"));
      assert.equal(report.sites.find((s) => s.site === ABSENT)?.status, "absent");
      assert.deepEqual(report.metaflux?.written, ["AU-Lox"]);
      await fetchFluxnet({
        store: SAMPLE,
        out: outLocal,
        sites: ["AU-Lox"],
        metaflux: data.metafluxMonthly,
        log: () => {},
      });
      for (
        const rel of [
          "fluxnet2015/daily/FLX_AU-Lox_FLUXNET2015_HH2DD_DD_2008-2009.csv",
          "fluxnet2015/sites.csv",
          "metaflux_monthly/AU-Lox_MM.csv",
        ]
      ) {
        assert.equal(
          await Deno.readTextFile(join(outHttp, rel)),
          await Deno.readTextFile(join(outLocal, rel)),
          rel,
        );
      }
    } finally {
      await server.shutdown();
      await Deno.remove(outHttp, { recursive: true });
      await Deno.remove(outLocal, { recursive: true });
    }
  },
});

Deno.test("an unreachable store fails with a clear message", async () => {
  const out = await tempOut("offline");
  try {
    // Port 9 on loopback: connection refused, as for a machine without network.
    const url = "http://127.0.0.1:9/fluxnet.zarr";
    await assert.rejects(
      fetchFluxnet({ store: url, out, retries: 1, retryDelayMs: 1, log: () => {} }),
      (error: unknown) => {
        assert.ok(error instanceof StoreUnreachableError);
        assert.match(error.message, /cannot open the FLUXNET2015 Zarr store/);
        assert.match(error.message, /127\.0\.0\.1:9\/fluxnet\.zarr\/\.zmetadata/);
        assert.match(error.message, /after 2 attempt/);
        assert.match(error.message, /--store <path to fluxnet\.zarr>/);
        return true;
      },
    );
    // MetaFlux unreachable: the daily files are still written, the report says what failed.
    const lines: string[] = [];
    const partial = await fetchFluxnet({
      store: SAMPLE,
      out,
      sites: ["AU-Lox"],
      githubApi: "http://127.0.0.1:9",
      retries: 0,
      log: (l) => lines.push(l),
    });
    assert.equal(partial.ok, false);
    assert.match(partial.metafluxError ?? "", /127\.0\.0\.1:9\/repos\/leap-stc\/metaflux/);
    assert.match(partial.metafluxError ?? "", /--metaflux <folder>/);
    assert.ok(lines.some((l) => l.startsWith("MetaFlux failed")));
    assert.equal(partial.sites[0].status, "written");
    assert.deepEqual(partial.unclassified, ["AU-Lox"]);
    assert.ok(lines.some((l) => l.startsWith("WARNING: no IGBP/KOPPEN_MAIN for AU-Lox")));
    await assert.rejects(
      fetchFluxnet({ store: join(out, "nowhere.zarr"), out, log: () => {} }),
      /nowhere\.zarr/,
    );
    await assert.rejects(
      fetchFluxnet({ store: SAMPLE, out, sites: ["XX-Nop"], log: () => {} }),
      /XX-Nop not in the store/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
