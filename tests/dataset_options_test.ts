/**
 * The dataset options of lib/data/dataset.ts, each defaulting to the behaviour of before:
 * trailing driver means as neural inputs (`minimal_trailing`, `meteo_trailing`), extra static
 * descriptors (`staticExtra`), per-site standardization of drivers (`standardize: "site"`) and
 * held-out validation sites inside k-fold CV (`split.valSites`). The two fixture site-years and
 * the real site table.
 */
import assert from "node:assert/strict";
import pl from "polars";
import { DatasetConfigSchema } from "../lib/data/dataset.ts";
import { FEATURE_SETS } from "../lib/data/features.ts";
import { siteStandardizedColumns } from "../lib/data/preprocess.ts";
import { columnAsFloat64, finiteMeanStd } from "../lib/data/scaler.ts";
import { loadSites } from "../lib/data/sites.ts";
import { makeSplit, type Split, SplitSchema, SplitSpecSchema } from "../lib/data/splits.ts";
import { TRAILING_COLUMNS, trailingMean } from "../lib/data/trailing.ts";
import { treeTable } from "../lib/models/trees/features.ts";
import { fixtureDataset, fixtureModis, loadFixtures, paths } from "./_dataset_fixtures.ts";
import { buildDataset } from "../lib/data/dataset.ts";

const geometry = { window: 30, stride: 15, supportK: 2 } as const;
const IDS = ["FR-Pue", "AU-Lox"];

/** Every site's standardized series and statics, from the dataset's sources. */
function siteSeries(ds: Awaited<ReturnType<typeof fixtureDataset>>) {
  return IDS.map((id) => (ds.train.siteInputs(id) ?? ds.test.siteInputs(id))!);
}

Deno.test("defaults: no new key in the resolved config, the dataset of an explicit default is bit-identical", async () => {
  const cfg = DatasetConfigSchema.parse({});
  for (const key of ["staticExtra", "standardize"]) assert.ok(!(key in cfg), key);
  assert.ok(!("valSites" in cfg.split));
  const plain = await fixtureDataset(geometry);
  const explicit = await fixtureDataset({ ...geometry, staticExtra: [], standardize: "global" });
  assert.deepEqual(plain.featureNames, explicit.featureNames);
  assert.deepEqual(plain.featureNames.dyn, [...FEATURE_SETS.minimal]);
  assert.ok(!plain.table.columns.some((c) => c.includes("_MEAN")), "no trailing column by default");
  assert.ok(plain.table.frameEqual(explicit.table));
  assert.deepEqual(plain.scaler, explicit.scaler);
  siteSeries(plain).forEach((a, k) => {
    const b = siteSeries(explicit)[k];
    assert.deepEqual([...a.series.dyn], [...b.series.dyn]);
    assert.deepEqual([...a.statics], [...b.statics]);
  });
});

Deno.test("trailing feature sets: the set plus six trailing means, the trees' values, past days only", async () => {
  const ds = await fixtureDataset({ ...geometry, featureSet: "minimal_trailing" });
  assert.deepEqual(ds.featureNames.dyn, [...FEATURE_SETS.minimal, ...TRAILING_COLUMNS]);
  assert.deepEqual(FEATURE_SETS.meteo_trailing, [...FEATURE_SETS.meteo, ...TRAILING_COLUMNS]);
  // the trees' features of the default dataset are the same numbers (one definition)
  const plain = await fixtureDataset(geometry);
  const trees = treeTable(plain.table, ["TA_F"]);
  const names = trees.x.names;
  for (const c of TRAILING_COLUMNS) {
    const j = names.indexOf(c);
    const got = columnAsFloat64(ds.table, c);
    for (let i = 0; i < trees.x.nRows; i++) {
      assert.equal(Math.fround(got[i]), trees.x.data[i * names.length + j], `${c} row ${i}`);
    }
  }
  // brute force: the mean of the site's values on calendar days [d - w + 1, d]
  const site = ds.table.getColumn("site").toArray() as string[];
  const day = ds.table.getColumn("date").cast(pl.Int32).toArray() as number[];
  const ta = columnAsFloat64(ds.table, "TA_F");
  const m30 = columnAsFloat64(ds.table, "TA_F_MEAN30");
  for (let i = 0; i < ta.length; i += 37) {
    const vals: number[] = [];
    for (let r = 0; r < ta.length; r++) {
      if (site[r] === site[i] && day[r] <= day[i] && day[r] > day[i] - 30 && !Number.isNaN(ta[r])) {
        vals.push(ta[r]);
      }
    }
    const want = vals.reduce((a, b) => a + b, 0) / vals.length;
    assert.ok(Math.abs(m30[i] - want) < 1e-9, `row ${i}: ${m30[i]} vs ${want}`);
  }
  // trailing means never read another site: the series restarts at each site's first day
  const first = site.indexOf("FR-Pue");
  assert.equal(m30[first], ta[first]);
  assert.deepEqual(
    [...trailingMean(Float64Array.from([1, 3]), Int32Array.from([0, 1]), ["a", "b"], 7)],
    [1, 3],
  );
});

Deno.test("staticExtra: CANOPY_HEIGHT and WHC after the six numerics, imputed from training sites, flagged", async () => {
  const ds = await fixtureDataset({ ...geometry, staticExtra: ["WHC", "CANOPY_HEIGHT"] });
  const names = ds.featureNames.static;
  const base = ["LAT", "LON", "ELEV", "MAT", "MAP", "P_OVER_PET"];
  // STATIC_EXTRA order whatever the config's order
  assert.deepEqual(names.slice(0, 8), [...base, "CANOPY_HEIGHT", "WHC"]);
  assert.ok(names.includes("CANOPY_HEIGHT_MISSING") && names.includes("WHC_MISSING"));
  const plain = await fixtureDataset(geometry);
  assert.deepEqual(
    names.filter((n) => !n.startsWith("CANOPY_HEIGHT") && !n.startsWith("WHC")),
    plain.featureNames.static,
    "the rest of the vector is unchanged",
  );
  // AU-Lox (test) has no value: imputed with the median over training sites (FR-Pue only)
  const row = (id: string) => ds.table.filter(pl.col("site").eq(pl.lit(id))).row(0);
  const col = (id: string, c: string) => row(id)[ds.table.columns.indexOf(c)];
  const frPue = ds.sites.find((s) => s.SITE_ID === "FR-Pue")!;
  for (const c of ["CANOPY_HEIGHT", "WHC"] as const) {
    assert.equal(col("AU-Lox", c), frPue[c]);
    assert.equal(col("AU-Lox", `${c}_MISSING`), 1);
    assert.equal(col("FR-Pue", `${c}_MISSING`), 0);
  }
  assert.throws(() => DatasetConfigSchema.parse({ staticExtra: ["WHC", "WHC"] }), /twice/);
  assert.throws(() => DatasetConfigSchema.parse({ staticExtra: ["LAI"] }));
});

Deno.test("standardize site: every site's driver columns have mean 0 and std 1, the rest global", async () => {
  for (const featureSet of ["minimal", "meteo_trailing"] as const) {
    const ds = await fixtureDataset({ ...geometry, featureSet, standardize: "site" });
    const plain = await fixtureDataset({ ...geometry, featureSet });
    const dyn = ds.featureNames.dyn;
    const perSite = siteStandardizedColumns(dyn);
    assert.deepEqual(
      dyn.filter((n) => !perSite.includes(n)),
      ["SW_POT", "DAY_LENGTH", "DOY_SIN", "DOY_COS"],
    );
    siteSeries(ds).forEach(({ series }, k) => {
      const F = series.nDyn, n = series.days.length;
      const other = siteSeries(plain)[k].series;
      dyn.forEach((name, f) => {
        const v = Float64Array.from({ length: n }, (_, i) => series.dyn[i * F + f]);
        if (perSite.includes(name)) {
          const { mean, std, count } = finiteMeanStd(v);
          assert.ok(count > 0);
          assert.ok(Math.abs(mean) < 1e-5, `${series.site} ${name} mean ${mean}`);
          assert.ok(Math.abs(std - 1) < 1e-5, `${series.site} ${name} std ${std}`);
        } else {
          for (let i = 0; i < n; i++) {
            assert.ok(Object.is(series.dyn[i * F + f], other.dyn[i * F + f]), `${name} ${i}`);
          }
        }
      });
      // targets stay global
      assert.deepEqual([...series.y], [...other.y]);
    });
  }
});

Deno.test("kfold valSites: val sites from the fold's training sites per class, disjoint from train and test", async () => {
  const sites = await loadSites(paths.sitesCsv);
  for (const seed of [0, 7]) {
    for (const fold of [0, 3]) {
      for (const stratify of ["koppen", "igbp"] as const) {
        const spec = { kind: "kfold" as const, seed, fold, stratify };
        const before = makeSplit(sites, spec);
        const split = makeSplit(sites, { ...spec, valSites: 0.2 });
        assert.deepEqual(split.test, before.test, "the test fold is unchanged");
        const val = new Set(split.val);
        assert.ok(val.size > 0);
        for (const s of split.train) assert.ok(!val.has(s) && !split.test.includes(s), s);
        for (const s of split.val!) assert.ok(!split.test.includes(s), `val ${s} in test`);
        assert.deepEqual([...split.train, ...split.val!].sort(), before.train);
        // per class: round(n * 0.2) of its n training sites, 1..n-1 when n >= 2
        const key = stratify === "igbp" ? "IGBP" : "KOPPEN_MAIN";
        const classOf = new Map(sites.map((s) => [s.SITE_ID, s[key]]));
        for (const cls of new Set(classOf.values())) {
          const n = before.train.filter((s) => classOf.get(s) === cls).length;
          const nVal = split.val!.filter((s) => classOf.get(s) === cls).length;
          const want = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * 0.2)));
          assert.equal(nVal, want, `class ${cls}`);
        }
        assert.deepEqual(makeSplit(sites, { ...spec, valSites: 0.2 }), split, "deterministic");
        // valSites 0 is today's split, with no val list
        assert.deepEqual(makeSplit(sites, { ...spec, valSites: 0 }).train, before.train);
        assert.equal(before.val, undefined);
      }
    }
  }
  // forceTest sites are never validation sites
  const forced = makeSplit(sites, { kind: "kfold", valSites: 0.5, forceTest: ["FR-Pue"] });
  assert.ok(forced.test.includes("FR-Pue") && !forced.val!.includes("FR-Pue"));
  assert.throws(() => SplitSpecSchema.parse({ kind: "koppen", valSites: 0.2 }), /kfold/);
  assert.throws(() => SplitSpecSchema.parse({ kind: "kfold", valSites: 1 }));
});

Deno.test("kfold valSites in buildDataset: validation sites val whole, training sites train whole", async () => {
  const loaded = await loadFixtures();
  const split: Split = SplitSchema.parse({
    kind: "kfold",
    seed: 0,
    spec: SplitSpecSchema.parse({ kind: "kfold", valSites: 0.5 }),
    train: ["FR-Pue"],
    test: [],
    val: ["AU-Lox"],
    strata: {},
  });
  const ds = await buildDataset(geometry, {
    loaded: { frame: loaded.frame, sites: loaded.sites },
    modis: fixtureModis(),
    split,
  });
  const segments = (
    id: string,
  ) => [...new Set(ds.table.filter(pl.col("site").eq(pl.lit(id))).getColumn("segment").toArray())];
  assert.deepEqual(segments("FR-Pue"), ["train"]);
  assert.deepEqual(segments("AU-Lox"), ["val"]);
  assert.ok(ds.train.windows > 0 && ds.val.windows > 0);
  assert.deepEqual(Object.keys(ds.report.siteWeights), ["FR-Pue"], "val sites are not weighted");
  // a kfold split without valSites may not list val sites
  assert.throws(() =>
    SplitSchema.parse({ ...split, spec: SplitSpecSchema.parse({ kind: "kfold" }) })
  );
});
