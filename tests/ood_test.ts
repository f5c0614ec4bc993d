/**
 * Out-of-distribution warning (lib/train/reference.ts, lib/predict/ood.ts): the distance math and
 * thresholds by hand, reference_sites.json of a run (both fixture sites as training sites,
 * untrained TAM-RL and LSTM models), and predict's columns: a training site is at static distance
 * 0 from itself and not flagged, a site with extreme static descriptors is flagged, an old run
 * folder without the file still predicts, with the warning.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { loadSites } from "../lib/data/sites.ts";
import {
  oodWarning,
  PREDICT_OUTPUT_COLUMNS,
  PREDICTION_SITE_COLUMNS,
  predictSites,
  type PredictSitesOptions,
  writePredictionTable,
} from "../lib/predict/mod.ts";
import {
  euclidean,
  looNearestDistances,
  nearestPoints,
  oodThreshold,
  percentile,
  readReferenceSites,
  REFERENCE_FILE,
  writeJson,
  writeReferenceSites,
} from "../lib/train/mod.ts";
import { fixtureDataset, paths } from "./_dataset_fixtures.ts";
import { writeFixtureRun } from "./_run_fixtures.ts";

await tf.setBackend("cpu");

const tmp = await Deno.makeTempDir({ prefix: "tamflux_ood_" });
const TRAIN = ["AU-Lox", "FR-Pue"];
const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 }, {
  train: TRAIN,
  test: [],
});

/** A run folder with untrained weights of `seed`; with `reference`, its reference_sites.json. */
function writeRun(dir: string, name: "tamrl" | "lstm", seed: number, reference = true) {
  return writeFixtureRun(dir, {
    name,
    seed,
    dataset: ds,
    withModel: reference
      ? (model) => writeReferenceSites(dir, { model, data: ds }).then()
      : undefined,
  });
}

const seed0 = await writeRun(join(tmp, "tamrl", "seed0"), "tamrl", 0);
const seed1 = await writeRun(join(tmp, "tamrl", "seed1"), "tamrl", 1);
const lstm = await writeRun(join(tmp, "lstm", "seed0"), "lstm", 2);
const old = await writeRun(join(tmp, "old", "seed0"), "tamrl", 0, false);

const monthly = join(tmp, "monthly");
await Deno.mkdir(monthly);
for (const site of TRAIN) {
  await Deno.copyFile(
    join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv"),
    join(monthly, `${site}_MM.csv`),
  );
}
const SITE_COLS = PREDICTION_SITE_COLUMNS;
const allSites = await loadSites(paths.sitesCsv);
/** The fixture sites' table, AU-Lox's cells edited by `edit`. */
async function siteTable(name: string, edit: (row: Record<string, string>) => void = () => {}) {
  const rows = allSites.filter((s) => TRAIN.includes(s.SITE_ID)).map((s) => {
    const r = Object.fromEntries(
      SITE_COLS.map((c) => [c, String((s as Record<string, unknown>)[c] ?? "")]),
    );
    if (r.SITE_ID === "AU-Lox") edit(r);
    return SITE_COLS.map((c) => r[c]).join(",");
  });
  const path = join(tmp, `${name}.csv`);
  await Deno.writeTextFile(path, [SITE_COLS.join(","), ...rows].join("\n") + "\n");
  return path;
}
const base: PredictSitesOptions = {
  data: paths.fixtures,
  sites: await siteTable("sites"),
  monthly,
};

/** One row per site: the OOD columns (constant per site). */
function oodColumns(frame: pl.DataFrame): Map<string, Record<string, unknown>> {
  const per = frame.select("site", "OOD", "OOD_Z_DIST", "OOD_STATIC_DIST", "NEAREST_SITES")
    .unique({ maintainOrder: true });
  const rows = per.toRecords() as Record<string, unknown>[];
  assert.equal(rows.length, new Set(rows.map((r) => r.site)).size, "constant per site");
  return new Map(rows.map((r) => [r.site as string, r]));
}

Deno.test("thresholds: the 95th percentile of leave-one-out nearest-neighbour distances", () => {
  assert.equal(euclidean([0, 0], [3, 4]), 5);
  // points on a line: nearest other point at 1, 1, 2, 4, 8
  const line = [[0], [1], [3], [7], [15]];
  assert.deepEqual(looNearestDistances(line), [1, 1, 2, 4, 8]);
  // rank (5 - 1) * 0.95 = 3.8 between 4 and 8: 4 + 0.8 * 4
  assert.ok(Math.abs(oodThreshold(line)! - 7.2) < 1e-12);
  assert.equal(percentile([1, 1, 2, 4, 8], 50), 2);
  assert.equal(percentile([5], 95), 5);
  assert.equal(percentile([], 95), null);
  // the unit square and a far corner: 1, 1, 1, 1, sqrt(50) - ... nearest (1, 1) at dist |(6,6)-(1,1)|
  const square = [[0, 0], [1, 0], [0, 1], [1, 1], [6, 6]];
  const loo = looNearestDistances(square);
  assert.deepEqual(loo.slice(0, 4), [1, 1, 1, 1]);
  assert.ok(Math.abs(loo[4] - Math.sqrt(50)) < 1e-12);
  assert.ok(Math.abs(oodThreshold(square, 50)! - 1) < 1e-12);
  assert.equal(oodThreshold([[1, 2]]), null, "one point: no threshold");
  assert.deepEqual(
    nearestPoints([0.9, 0], square.map((v, i) => ({ site: `S${i}`, v })), 2).map((n) => n.site),
    ["S1", "S0"],
  );
});

Deno.test("reference_sites.json: training sites' static vectors, mean z, thresholds, checksum", async () => {
  const ref = (await readReferenceSites(seed0))!;
  assert.ok(ref);
  assert.deepEqual(ref.sites.map((s) => s.site), TRAIN);
  assert.equal(ref.zDim, 4);
  assert.equal(ref.percentile, 95);
  assert.deepEqual(ref.staticFeatures, ds.featureNames.static);
  for (const s of ref.sites) {
    assert.deepEqual(s.static, Array.from(ds.train.siteInputs(s.site)!.statics));
    assert.equal(s.z!.length, 4);
    assert.equal(s.windows, ds.train.siteInputs(s.site)!.pool.length);
  }
  // two sites: each one's nearest other is the other, so the threshold is their distance
  const [a, b] = ref.sites;
  assert.ok(Math.abs(ref.thresholds.static! - euclidean(a.static, b.static)) < 1e-12);
  assert.ok(Math.abs(ref.thresholds.z! - euclidean(a.z!, b.z!)) < 1e-12);
  // no task encoder: no z
  const lstmRef = (await readReferenceSites(lstm))!;
  assert.equal(lstmRef.zDim, null);
  assert.ok(lstmRef.sites.every((s) => s.z === null));
  assert.equal(lstmRef.thresholds.z, null);
  // no file: null; an edited file: a checksum error naming it
  assert.equal(await readReferenceSites(old), null);
  const edited = join(tmp, "edited");
  await Deno.mkdir(edited);
  await writeJson(join(edited, REFERENCE_FILE), {
    ...ref,
    thresholds: { ...ref.thresholds, static: 1e9 },
  });
  await assert.rejects(
    () => readReferenceSites(edited),
    /reference_sites\.json: checksum mismatch/,
  );
});

Deno.test("a training site predicted with its own run: static distance 0 to itself, not OOD", async () => {
  const lines: string[] = [];
  const { frame, report } = await predictSites([seed0, seed1], {
    ...base,
    onProgress: (l) => lines.push(l),
  });
  assert.deepEqual(frame.columns, [...PREDICT_OUTPUT_COLUMNS]);
  const cols = oodColumns(frame);
  for (const site of TRAIN) {
    const r = cols.get(site)!;
    assert.equal(r.OOD_STATIC_DIST, 0, `${site} static distance to itself`);
    assert.equal((r.NEAREST_SITES as string).split(";")[0], site, `${site} nearest is itself`);
    assert.equal(r.OOD, false, `${site} not OOD`);
    const ood = report.sites.find((s) => s.site === site)!.ood;
    assert.equal(ood.zMembers, 2, "z of both members");
    assert.ok(ood.zDistance! < ood.zThreshold!, `${site} z ${ood.zDistance} < ${ood.zThreshold}`);
    assert.equal(r.OOD_Z_DIST, ood.zDistance);
    assert.deepEqual(ood.nearestStatic, [site, ...TRAIN.filter((s) => s !== site)]);
  }
  assert.deepEqual(report.ood, { flagged: [], warnings: [] });
  assert.ok(!lines.some((l) => l.includes("WARNING")), lines.join("\n"));
});

Deno.test("a site with extreme static descriptors is flagged OOD, with columns and a warning", async () => {
  const far = await siteTable("far", (r) => {
    r.MAT = String(Number(r.MAT) + 40);
    r.ELEV = String(Number(r.ELEV) + 4000);
  });
  const lines: string[] = [];
  const { frame, report } = await predictSites(seed0, {
    ...base,
    sites: far,
    onProgress: (l) => lines.push(l),
  });
  const r = oodColumns(frame).get("AU-Lox")!;
  const ood = report.sites.find((s) => s.site === "AU-Lox")!.ood;
  assert.equal(r.OOD, true);
  assert.ok(ood.staticDistance! > ood.staticThreshold!);
  assert.equal(r.OOD_STATIC_DIST, ood.staticDistance);
  assert.equal((r.NEAREST_SITES as string).split(";")[0], "AU-Lox");
  assert.deepEqual(report.ood.flagged, ["AU-Lox"]);
  assert.equal(oodColumns(frame).get("FR-Pue")!.OOD, false);
  const warning = lines.find((l) => l.includes("WARNING: site AU-Lox"));
  assert.ok(warning?.includes("static descriptors"), lines.join("\n"));
  assert.equal(oodWarning("FR-Pue", report.sites.find((s) => s.site === "FR-Pue")!.ood), null);
  // the columns reach the written table
  const out = join(tmp, "far.csv");
  await writePredictionTable(frame, out);
  const table = pl.readCSV(out);
  assert.deepEqual(table.columns, [...PREDICT_OUTPUT_COLUMNS]);
  const flagged = table.filter(pl.col("site").eq(pl.lit("AU-Lox"))).getColumn("OOD").toArray();
  assert.ok(flagged.length > 0 && flagged.every((v) => v === true));
});

Deno.test("an old run folder without reference_sites.json still predicts, with one warning", async () => {
  const lines: string[] = [];
  const { frame, report } = await predictSites(old, { ...base, onProgress: (l) => lines.push(l) });
  const warnings = lines.filter((l) => l.includes(REFERENCE_FILE));
  assert.equal(warnings.length, 1, lines.join("\n"));
  assert.ok(warnings[0].includes(old) && warnings[0].includes("retrain"), warnings[0]);
  assert.equal(report.ood.warnings.length, 1);
  const cols = oodColumns(frame);
  for (const site of TRAIN) {
    const r = cols.get(site)!;
    assert.equal(r.OOD_Z_DIST, null, "no z without the file");
    // the static reference rebuilt from split.json's training sites in the --sites table
    assert.equal(r.OOD_STATIC_DIST, 0);
    assert.equal(r.OOD, false);
    assert.equal(report.sites.find((s) => s.site === site)!.ood.staticReference, "site table");
  }
  assert.equal(frame.filter(pl.col("GPP").isNull()).height, 0, "every day predicted");
});
