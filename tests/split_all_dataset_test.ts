/**
 * buildDataset with a split of kind `all` (the production split): no test site, training sites
 * train on their whole record, the held-out validation sites are validation data whole (early
 * stopping on unseen sites), and the scaler sees training sites' rows only. The two fixture
 * site-years.
 */
import assert from "node:assert/strict";
import pl from "polars";
import { disposeBatch } from "../lib/data/batches.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import { SplitSchema, SplitSpecSchema } from "../lib/data/splits.ts";
import { fixtureModis, loadFixtures } from "./_dataset_fixtures.ts";

Deno.test("split all: validation on held-out sites, whole records, no test windows", async () => {
  const loaded = await loadFixtures();
  const split = SplitSchema.parse({
    kind: "all",
    seed: 0,
    spec: SplitSpecSchema.parse({ kind: "all" }),
    train: ["FR-Pue"],
    test: [],
    val: ["AU-Lox"],
    strata: {},
  });
  const config = { featureSet: "minimal" as const, window: 30, stride: 15, supportK: 2 };
  const ds = await buildDataset(config, {
    loaded: { frame: loaded.frame, sites: loaded.sites },
    modis: fixtureModis(),
    split,
  });
  assert.equal(ds.test.windows, 0);
  assert.ok(ds.train.windows > 0 && ds.val.windows > 0);
  const segments = (site: string) =>
    new Set(ds.table.filter(pl.col("site").eq(pl.lit(site))).getColumn("segment").toArray());
  assert.deepEqual([...segments("FR-Pue")], ["train"], "a training site trains on every day");
  assert.deepEqual([...segments("AU-Lox")], ["val"], "a validation site is validation whole");
  const sites = new Set<string>();
  for (const b of ds.val.batches({ batchSize: 64, shuffle: false, seed: 0 })) {
    for (const s of b.meta.site) sites.add(s);
    disposeBatch(b);
  }
  assert.deepEqual([...sites], ["AU-Lox"]);
  assert.equal(
    ds.val.supportStats().selfOnly,
    0,
    "validation windows draw support from their site",
  );
  // the scaler is fitted on training rows only: its TA_F mean is FR-Pue's
  const frPue = ds.table.filter(pl.col("site").eq(pl.lit("FR-Pue"))).getColumn("TA_F");
  const mean = frPue.dropNulls().mean();
  const column = ds.scaler.columns.find((c) => c.name === "TA_F")!;
  assert.ok(Math.abs(column.mean - mean) < 1e-6, `${column.mean} vs ${mean}`);
  // the same dataset with a time split validates on the last days of the training site instead
  const timeSplit = await buildDataset(config, {
    loaded: { frame: loaded.frame, sites: loaded.sites },
    modis: fixtureModis(),
    split: SplitSchema.parse({
      ...split,
      kind: "koppen",
      spec: SplitSpecSchema.parse({}),
      test: ["AU-Lox"],
      val: undefined,
    }),
  });
  assert.ok(timeSplit.test.windows > 0);
  assert.ok(timeSplit.train.windows < ds.train.windows);
});
