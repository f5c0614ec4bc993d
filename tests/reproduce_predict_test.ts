/**
 * A reproduce unit's run folder is a full run folder: `deno task predict --run
 * results/<run>/units/<unit>/run` predicts a test site from a driver-only daily file, and `--run
 * results/<run>` (the TAM-RL seed ensemble of the whole reproduce run; `--model lstm` the LSTM's)
 * predicts the same as the unit folders it resolves to. Real data;
 * the smoke profile's sites and training settings (configs/profiles/smoke.json) with only the
 * LSTM and TAM-RL units, one epoch per stage. The LSTM unit's own test-site predictions
 * (predictions.parquet) are reproduced by predict day for day: same features, same scaling, same
 * windows. (TAM-RL's support sets are random draws from the same pool, in a different sequence:
 * training draws for all test sites from one stream, predict per site; so its values differ.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { loadSplit } from "../lib/data/splits.ts";
import { runPaths } from "../lib/train/runs.ts";
import { readReferenceSites } from "../lib/train/reference.ts";
import { reproduceUnits } from "./_reproduce_fixtures.ts";
import { runTask } from "./_tasks.ts";

Deno.test("predict runs on a reproduce unit's run folder and reproduces its test predictions", async () => {
  const data = resolveDataDir();
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-unit-predict-" });
  const smoke = JSON.parse(
    await Deno.readTextFile(join(PROJECT_ROOT, "configs", "profiles", "smoke.json")),
  );
  const profilePath = join(tmp, "smoke_tamrl.json");
  await Deno.writeTextFile(
    profilePath,
    JSON.stringify({ ...smoke, name: "smoke_tamrl", models: ["lstm", "tamrl"], ablations: {} }),
  );
  const name = `_test_unit_predict_${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  try {
    await reproduceUnits(profilePath, { run: name, jobs: 1 });
    const run = join(PROJECT_ROOT, "results", name, "units", "tamrl_koppen_s0", "run");
    const p = runPaths(run);
    for (const f of [p.config, p.split, p.scaler, p.staticEncoding, p.model, p.weights("best")]) {
      assert.ok((await Deno.stat(f)).isFile, `${f} is missing`);
    }
    // the unit's training sites, for predict's out-of-distribution warning
    const reference = await readReferenceSites(run);
    assert.deepEqual(
      reference?.sites.map((s) => s.site),
      [...(await loadSplit(p.split)).train].sort(),
    );

    // one test site of the unit's split, drivers only
    const split = await loadSplit(p.split);
    const site = [...split.test].sort()[0];
    const file = [...Deno.readDirSync(data.daily)].map((e) => e.name)
      .find((f) => f.startsWith(`FLX_${site}_`));
    assert.ok(file, `no daily file of ${site} in ${data.daily}`);
    const lines = (await Deno.readTextFile(join(data.daily, file))).trim().split("\n")
      .map((l) => l.replace(/\r$/, "").split(","));
    const keep = ["TIMESTAMP", "TA_F", "SW_IN_F", "VPD_F"].map((c) => lines[0].indexOf(c));
    assert.ok(keep.every((i) => i >= 0), `${file} lacks a driver column`);
    const drivers = join(tmp, "drivers");
    await Deno.mkdir(drivers);
    await Deno.writeTextFile(
      join(drivers, file),
      lines.map((r) => keep.map((i) => r[i]).join(",")).join("\n") + "\n",
    );

    /** `deno task predict` of a run folder on the driver-only file; the output CSV's path. */
    const predict = async (
      runDir: string,
      outName: string,
      extra: string[] = [],
    ): Promise<string> => {
      const out = join(tmp, outName);
      const pred = await runTask("predict", [
        ...["--run", runDir, ...extra, "--data", drivers, "--sites", data.sitesCsv],
        ...["--monthly", data.metafluxMonthly, "--out", out],
      ]);
      assert.ok(pred.success, `predict ${runDir} failed:\n${pred.text.slice(-3000)}`);
      logs.push(pred.text);
      return out;
    };
    const logs: string[] = [];
    const out = await predict(run, "predicted.csv");
    const table = pl.readCSV(out);
    assert.equal(table.height, lines.length - 1, "one output row per input day");
    const rows = table.toRecords() as Record<string, unknown>[];
    const ok = rows.filter((r) => r.status === "ok");
    assert.ok(ok.length > 365, `only ${ok.length} days predicted at ${site}`);
    // a test site: distances to the unit's training sites, constant over its rows
    for (const c of ["OOD", "OOD_Z_DIST", "OOD_STATIC_DIST", "NEAREST_SITES"]) {
      assert.equal(new Set(rows.map((r) => String(r[c]))).size, 1, c);
    }
    assert.ok(Number(rows[0].OOD_Z_DIST) > 0 && Number(rows[0].OOD_STATIC_DIST) > 0);
    assert.ok(typeof rows[0].OOD === "boolean", `OOD ${rows[0].OOD}`);
    for (const r of ok) {
      // the CSV reader may type a column that starts with empty cells as text
      const v = Object.fromEntries(["GPP", "RECO", "NEE"].map((k) => [k, Number(r[k])]));
      for (const [k, x] of Object.entries(v)) {
        assert.ok(r[k] !== null && r[k] !== "" && Number.isFinite(x), `${site} ${r.date} ${k}`);
      }
      assert.ok(v.GPP >= 0 && v.RECO >= 0, `${site} ${r.date}: GPP/RECO below 0`);
    }

    // the LSTM unit: predict reproduces the unit's own predictions of the site, day for day
    const lstmUnit = join(PROJECT_ROOT, "results", name, "units", "lstm_koppen_s0");
    const lstmOut = await predict(join(lstmUnit, "run"), "predicted_lstm.csv");
    const byDate = new Map(
      (pl.readCSV(lstmOut).withColumns(pl.col("date").cast(pl.Utf8)).toRecords() as Record<
        string,
        unknown
      >[]).map((r) => [String(r.date), r]),
    );
    const unitRows = pl.readParquet(join(lstmUnit, "predictions.parquet"))
      .filter(pl.col("site").eq(pl.lit(site))).toRecords() as Record<string, unknown>[];
    assert.ok(unitRows.length > 365, `only ${unitRows.length} unit predictions at ${site}`);
    let worst = 0;
    for (const u of unitRows) {
      const r = byDate.get(String(u.date));
      assert.ok(r && r.status === "ok", `${site} ${u.date}: not predicted (${r?.status})`);
      for (const k of ["GPP", "RECO", "NEE"]) {
        worst = Math.max(worst, Math.abs(Number(r[k]) - Number(u[k])));
      }
    }
    // float32 model outputs, written to CSV and parquet: equal within float tolerance
    assert.ok(worst < 1e-4, `${site}: predict differs from the unit's predictions by ${worst}`);

    // the whole reproduce run: its TAM-RL units (one seed here) and, with --model, its LSTM units
    const runRoot = join(PROJECT_ROOT, "results", name);
    const whole = await predict(runRoot, "predicted_run.csv");
    assert.match(logs.at(-1)!, /tamrl on split koppen, seeds 0/);
    assert.equal(await Deno.readTextFile(whole), await Deno.readTextFile(out));
    const wholeLstm = await predict(runRoot, "predicted_run_lstm.csv", ["--model", "lstm"]);
    assert.equal(await Deno.readTextFile(wholeLstm), await Deno.readTextFile(lstmOut));
    const trees = await runTask("predict", [
      ...["--run", runRoot, "--model", "trees", "--data", drivers, "--sites", data.sitesCsv],
      ...["--out", join(tmp, "trees.csv")],
    ]);
    assert.ok(!trees.success && /trees units have no neural run folder/.test(trees.text));
  } finally {
    await Deno.remove(join(PROJECT_ROOT, "results", name), { recursive: true }).catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});
