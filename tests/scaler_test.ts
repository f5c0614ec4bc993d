import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "polars";
import {
  fitScaler,
  loadScaler,
  saveScaler,
  scalerColumn,
  standardize,
  unstandardize,
} from "../lib/data/scaler.ts";
import { useBackend } from "../lib/backend.ts";
import { disposeBatch } from "../lib/data/batches.ts";
import { fixtureDataset } from "./_dataset_fixtures.ts";

Deno.test("fitScaler uses training-site rows only; nulls ignored; identity and constant columns", () => {
  const df = pl.DataFrame({
    site: ["a", "a", "a", "b", "b"],
    TA_F: [1, 3, null, 1000, 2000],
    FLAG: [0, 1, 1, 0, 0],
    C: [5, 5, 5, 1, 2],
  });
  const s = fitScaler(df, ["TA_F", "FLAG", "C"], { trainSites: ["a"], identity: ["FLAG"] });
  assert.deepEqual(s.fittedOn, ["a"]);
  assert.equal(s.rows, 3);
  assert.deepEqual(scalerColumn(s, "TA_F"), {
    name: "TA_F",
    kind: "standard",
    mean: 2,
    std: 1,
    count: 2,
  });
  assert.deepEqual(scalerColumn(s, "FLAG"), {
    name: "FLAG",
    kind: "identity",
    mean: 0,
    std: 1,
    count: 3,
  });
  assert.equal(scalerColumn(s, "C").std, 1); // constant on training rows
  assert.deepEqual([...standardize(s, "TA_F", [1, 3, NaN])].slice(0, 2), [-1, 1]);
  assert.deepEqual([...unstandardize(s, "TA_F", [-1, 1])], [1, 3]);
  assert.throws(() => scalerColumn(s, "nope"), /nope/);
});

Deno.test("scaler JSON round trip (atomic write) and a clear error for a bad file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const df = pl.DataFrame({ site: ["a", "a"], X: [1, 2] });
    const s = fitScaler(df, ["X"], { trainSites: ["a"] });
    await saveScaler(join(dir, "scaler.json"), s);
    assert.deepEqual(await loadScaler(join(dir, "scaler.json")), s);
    await Deno.writeTextFile(
      join(dir, "bad.json"),
      JSON.stringify({ ...s, columns: [{ name: "X" }] }),
    );
    await assert.rejects(
      () => loadScaler(join(dir, "bad.json")),
      /bad\.json: invalid scaler at columns/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the dataset's scaler never sees test sites (fixtures: train FR-Pue, test AU-Lox)", async () => {
  const ds = await fixtureDataset({});
  assert.deepEqual(ds.scaler.fittedOn, ["FR-Pue"]);
  assert.deepEqual(ds.staticEncoding.fittedOn, ["FR-Pue"]);
  // the mean equals the mean over FR-Pue's 293 training rows only (not its val rows, not AU-Lox)
  const rows = ds.table.filter(pl.col("segment").eq(pl.lit("train")));
  assert.equal(rows.height, 293);
  assert.deepEqual(rows.getColumn("site").unique().toArray(), ["FR-Pue"]);
  const ta = rows.getColumn("TA_F").toArray() as number[];
  const mean = ta.reduce((a, b) => a + b, 0) / ta.length;
  assert.ok(Math.abs(scalerColumn(ds.scaler, "TA_F").mean - mean) < 1e-9);
  assert.equal(scalerColumn(ds.scaler, "TA_F").count, 293);
  // changing every value of the test site leaves the scaler unchanged
  const shifted = await fixtureDataset({}, {
    edit: (f) =>
      f.withColumns(
        ...["TA_F", "SW_IN_F", "VPD_F", "GPP", "RECO", "NEE"].map((c) =>
          pl.when(pl.col("site").eq(pl.lit("AU-Lox"))).then(pl.col(c).mul(100).add(1000)).otherwise(
            pl.col(c),
          ).alias(c)
        ),
      ),
  });
  assert.deepEqual(shifted.scaler, ds.scaler);
  assert.deepEqual(shifted.targetScale, ds.targetScale);
  // while the test site's standardized data do change: the scaler was applied, not refitted
  await useBackend("cpu");
  const first = (source: typeof ds.test) => {
    const batch = source.batches({ batchSize: 4, shuffle: false, seed: 0 }).next().value!;
    const x = batch.xDyn.arraySync();
    disposeBatch(batch);
    return x[0][0][0]; // TA_F of the first day of the first test window
  };
  const z0 = first(ds.test), z1 = first(shifted.test);
  const { std } = scalerColumn(ds.scaler, "TA_F");
  const ta0 =
    (ds.table.filter(pl.col("site").eq(pl.lit("AU-Lox"))).getColumn("TA_F").toArray() as number[])[
      0
    ];
  assert.ok(Math.abs((z1 - z0) * std - (ta0 * 99 + 1000)) < 1e-2 * (ta0 * 99 + 1000));
});
