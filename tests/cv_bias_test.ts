/**
 * The per-site bias table of the site-level CV (lib/experiments/cv_bias.ts, via buildCvReport) on
 * synthetic unit folders: bias, RMSE and R2 of a site by hand, the sort order, the nearest
 * training sites and the out-of-distribution flag by hand on a tiny static reference, the worst
 * sites' summary, and the static assessment of lib/train/reference.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../lib/data/checksum.ts";
import { resolveDataDir } from "../lib/data/paths.ts";
import { saveScaler } from "../lib/data/scaler.ts";
import { loadSites } from "../lib/data/sites.ts";
import type { StaticEncoding } from "../lib/data/static.ts";
import { type PredictionRow, writePredictions } from "../lib/eval/predictions.ts";
import { buildCvReport, CvConfigSchema, cvFolds } from "../lib/experiments/cv.ts";
import { cvBiasWorst } from "../lib/experiments/cv_bias.ts";
import { runPlan, type Unit } from "../lib/experiments/plan.ts";
import {
  assessStatic,
  readStaticReference,
  REFERENCE_FILE,
  referenceStaticVector,
} from "../lib/train/reference.ts";
import { canonicalJson, writeJson } from "../lib/train/runs.ts";
import { day, row, SITES } from "./eval_fixtures.ts";

const DAYS = 40;
/** Per model and site: the RECO offset of the predictions (GPP and NEE get a fixed one). */
const OFFSET: Record<string, Record<string, number>> = {
  tamrl: { "DE-Tha": 0.5, "AU-Cum": -2.0, "AU-Ade": 1.0, "AR-SLu": -0.1 },
  trees: { "DE-Tha": -3.0, "AU-Cum": 0.2, "AU-Ade": 0.1, "AR-SLu": 2.5 },
};
const obsOf = (d: number) => 6 + 2 * Math.sin((2 * Math.PI * d) / 20);
const errOf = (model: string, site: string, d: number) =>
  OFFSET[model][site] + 0.3 * Math.sin(d + (model === "trees" ? 1 : 0));

function predictions(model: string, sites: readonly string[]): PredictionRow[] {
  const out: PredictionRow[] = [];
  for (const site of sites) {
    for (let d = 0; d < DAYS; d++) {
      const o = obsOf(d);
      out.push(row({
        model,
        seed: 0,
        site,
        date: day(d),
        GPP: o + 1 + 0.1 * Math.cos(d),
        GPP_obs: o + 1,
        RECO: o + errOf(model, site, d),
        RECO_obs: o,
        NEE: -1 + 0.2 * Math.cos(d),
        NEE_obs: -1,
        NEE_QC: 1,
      }));
    }
  }
  return out;
}

/** The tiny static reference: LAT and LON scaled by 1/10; two real training sites and XX-Mid. */
const ENCODING: StaticEncoding = {
  names: ["LAT", "LON"],
  numeric: ["LAT", "LON"],
  igbpClasses: [],
  koppenClasses: [],
  flagged: [],
  fill: {},
  fittedOn: ["AR-SLu", "AU-Cum"],
  noTrainValue: [],
};
const SCALER = {
  version: 1 as const,
  columns: ["LAT", "LON"].map((name) => ({
    name,
    kind: "standard" as const,
    mean: 0,
    std: 10,
    count: 2,
  })),
  fittedOn: ["AR-SLu", "AU-Cum"],
  rows: 2,
};
const COORDS: Record<string, [number, number]> = {
  "DE-Tha": [50.9636, 13.5669],
  "AU-Cum": [-33.6133, 150.7225],
  "AU-Ade": [-13.0769, 131.1178],
  "AR-SLu": [-33.4648, -66.4598],
};
const THRESHOLD = 3.0;

async function writeReference(dir: string, names = ENCODING.names): Promise<void> {
  const v = (s: string) => COORDS[s].map((x) => x / 10);
  const body = {
    version: 1 as const,
    weights: "best" as const,
    percentile: 95,
    staticFeatures: names,
    zDim: null,
    sites: [
      { site: "AR-SLu", static: v("AR-SLu"), z: null, windows: 0 },
      { site: "AU-Cum", static: v("AU-Cum"), z: null, windows: 0 },
      { site: "XX-Mid", static: [0, 0], z: null, windows: 0 },
    ],
    thresholds: { static: THRESHOLD, z: null },
  };
  await writeJson(join(dir, REFERENCE_FILE), { ...body, sha256: sha256Hex(canonicalJson(body)) });
  await writeJson(join(dir, "static_encoding.json"), ENCODING);
  await saveScaler(join(dir, "scaler.json"), SCALER);
}

Deno.test("cv_bias: per-site bias, RMSE, R2, order, nearest sites and OOD flag by hand", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_cv_bias_" });
  try {
    const folds = cvFolds(2);
    const testOf = (fold: number) => SITES.filter((_, i) => i % 2 === fold).map((s) => s.site);
    assert.deepEqual(testOf(0), ["DE-Tha", "AU-Ade"]);
    const units: Unit[] = [];
    for (const label of ["trees", "tamrl"]) {
      for (const [f, split] of folds.entries()) {
        units.push({
          id: `${label}_${split}_s0`,
          model: label as Unit["model"],
          split,
          seed: 0,
          variant: null,
          label,
          overrides: { fold: f },
        });
      }
    }
    await runPlan(units, {
      runDir,
      log: () => {},
      runner: async (unit, { dir }) => {
        const fold = unit.overrides.fold as number;
        const test = testOf(fold);
        await writePredictions(join(dir, "predictions.parquet"), predictions(unit.label, test));
        // fold 0's TAM-RL run has a static reference; fold 1's has none (an older run)
        if (unit.label === "tamrl" && fold === 0) {
          await Deno.mkdir(join(dir, "run"), { recursive: true });
          await writeReference(join(dir, "run"));
        }
        return {
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "h",
          dataSummary: "synthetic",
          testSites: test,
          extra: {},
        };
      },
    });
    const config = CvConfigSchema.parse({
      name: "syn",
      trainConfig: "configs/quick.json",
      models: ["trees", "tamrl"],
      seeds: [0],
      eval: { resamples: 200, minDays: 5 },
    });
    const out = await buildCvReport(runDir, {
      sites: await loadSites(resolveDataDir().sitesCsv),
      config,
      log: () => {},
    });
    const names = out.tables.map((p) => p.split("/").pop());
    for (const n of ["cv_bias.md", "cv_bias.csv", "cv_bias.json", "cv_bias_worst.md"]) {
      assert.ok(names.includes(n), `missing ${n}`);
    }
    assert.deepEqual(out.figures.map((p) => p.split("/").pop()), [
      "cv_bias_map.vl.json",
      "cv_bias_map.svg",
      "cv_bias_map.png",
    ]);
    // 4 sites x 3 fluxes x 2 models
    assert.equal(out.bias.length, 24);

    // bias, RMSE and R2 of DE-Tha's RECO by hand
    const e = Array.from({ length: DAYS }, (_, d) => errOf("tamrl", "DE-Tha", d));
    const o = Array.from({ length: DAYS }, (_, d) => obsOf(d));
    const bias = e.reduce((a, b) => a + b, 0) / DAYS;
    const rmse = Math.sqrt(e.reduce((a, b) => a + b * b, 0) / DAYS);
    const om = o.reduce((a, b) => a + b, 0) / DAYS;
    const r2 = 1 - e.reduce((a, b) => a + b * b, 0) / o.reduce((a, b) => a + (b - om) ** 2, 0);
    const r = out.bias.find((x) =>
      x.site === "DE-Tha" && x.flux === "RECO" && x.model === "tamrl"
    )!;
    assert.equal(r.days, DAYS);
    assert.equal(r.fold, "cv0of2");
    assert.ok(Math.abs(r.bias - bias) < 1e-4, `${r.bias} vs ${bias}`);
    assert.ok(Math.abs(r.rmse - rmse) < 1e-4, `${r.rmse} vs ${rmse}`);
    assert.ok(Math.abs(r.r2 - r2) < 1e-4, `${r.r2} vs ${r2}`);
    assert.equal(r.IGBP, "ENF");
    assert.equal(r.KOPPEN_MAIN, "D");
    assert.equal(r.doi, "10.18140/FLX/1440152");

    // sites ordered by TAM-RL's RECO |bias| (not the trees'), each site's rows together
    const order = [...new Set(out.bias.map((x) => x.site))];
    assert.deepEqual(order, ["AU-Cum", "AU-Ade", "DE-Tha", "AR-SLu"]);
    assert.deepEqual(
      out.bias.slice(0, 6).map((x) => `${x.flux}/${x.model}`),
      ["GPP/tamrl", "GPP/trees", "RECO/tamrl", "RECO/trees", "NEE/tamrl", "NEE/trees"],
    );

    // nearest training sites by hand: standardized = coordinates / 10
    const dist = (a: string, b: [number, number]) =>
      Math.hypot(COORDS[a][0] / 10 - b[0], COORDS[a][1] / 10 - b[1]);
    const ref = (s: string) => [COORDS[s][0] / 10, COORDS[s][1] / 10] as [number, number];
    const tha = out.bias.find((x) => x.site === "DE-Tha")!;
    assert.deepEqual(tha.nearest.map((n) => n.site), ["XX-Mid", "AR-SLu", "AU-Cum"]);
    assert.ok(Math.abs(tha.nearest[0].distance - dist("DE-Tha", [0, 0])) < 1e-5);
    assert.ok(Math.abs(tha.nearest[2].distance - dist("DE-Tha", ref("AU-Cum"))) < 1e-5);
    assert.equal(tha.staticDistance, tha.nearest[0].distance);
    assert.equal(tha.staticThreshold, THRESHOLD);
    assert.ok(tha.staticDistance! > THRESHOLD);
    assert.equal(tha.ood, true); // 5.27 > 3
    const ade = out.bias.find((x) => x.site === "AU-Ade")!;
    assert.deepEqual(ade.nearest.map((n) => n.site), ["AU-Cum", "XX-Mid", "AR-SLu"]);
    assert.ok(Math.abs(ade.staticDistance! - dist("AU-Ade", ref("AU-Cum"))) < 1e-5);
    assert.ok(ade.staticDistance! < THRESHOLD);
    assert.equal(ade.ood, false); // 2.84 < 3
    // fold 1 has no reference: empty, not tested
    const cum = out.bias.find((x) => x.site === "AU-Cum")!;
    assert.deepEqual([cum.nearest, cum.staticDistance, cum.ood], [[], null, null]);
    // the same placement on the trees' rows of a site
    assert.ok(out.bias.filter((x) => x.site === "DE-Tha").every((x) => x.ood === true));

    const md = await Deno.readTextFile(join(runDir, "tables", "cv_bias.md"));
    assert.match(md, /XX-Mid \(5\.27\)/);
    assert.match(md, /No static reference .* for cv1of2/);
    assert.match(md, /doi:10\.18140/);
    const spec = JSON.parse(
      await Deno.readTextFile(join(runDir, "figures", "cv_bias_map.vl.json")),
    );
    const points = spec.layer[1].data.values as { site: string; value: number }[];
    assert.equal(points.length, 4);
    assert.ok(Math.abs(points.find((p) => p.site === "DE-Tha")!.value - bias) < 1e-4);
    // diverging, centred at 0, symmetric domain
    const scale = spec.layer[1].encoding.color.scale;
    assert.equal(scale.domainMid, 0);
    assert.equal(scale.domain[0], -scale.domain[1]);
    assert.ok(Math.abs(scale.domain[1] - 2.0) < 0.1); // AU-Cum's |bias|

    // the worst sites' summary
    const worst = cvBiasWorst(out.bias, { count: 2 });
    assert.equal(worst.model, "tamrl");
    assert.deepEqual(worst.worst.map((x) => x.site), ["AU-Cum", "AU-Ade"]);
    assert.equal(worst.all, 4);
    // AU-Ade tested (in distribution), AU-Cum not; of all, DE-Tha is out of distribution
    assert.deepEqual(worst.ood, { worst: 0, worstTested: 1, all: 1, allTested: 2 });
    assert.ok(Math.abs(worst.meanStaticDistance.worst! - ade.staticDistance!) < 1e-12);
    assert.ok(
      Math.abs(
        worst.meanStaticDistance.all! - (ade.staticDistance! + tha.staticDistance!) / 2,
      ) < 1e-12,
    );
    const koppen = worst.groups.filter((g) => g.feature === "KOPPEN_MAIN");
    assert.equal(koppen.reduce((a, g) => a + g.worst, 0), 2);
    assert.equal(koppen.reduce((a, g) => a + g.all, 0), 4);
    assert.deepEqual(koppen.find((g) => g.value === "C"), {
      feature: "KOPPEN_MAIN",
      value: "C",
      worst: 1,
      all: 1,
    });
    const worstMd = await Deno.readTextFile(join(runDir, "tables", "cv_bias_worst.md"));
    assert.match(
      worstMd,
      /Worst sites \(RECO mean bias, gC m-2 d-1\): AU-Cum -1\.99, AU-Ade \+1\.01, DE-Tha \+0\.51, AR-SLu -0\.09\./,
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("static assessment: predict's vector, strict threshold, names checked", async () => {
  const v = referenceStaticVector(
    { SITE_ID: "X", IGBP: "ENF", KOPPEN_MAIN: "D", LAT: 30, LON: -40 } as never,
    { encoding: ENCODING, scaler: SCALER },
  );
  assert.deepEqual(Array.from(v), [3, -4]);
  const points = [{ site: "B", v: [0, 0] }, { site: "A", v: [6, -8] }];
  // distance 5 exactly at the threshold: not out of distribution; above it: out
  assert.equal(assessStatic(v, { points, threshold: 5 }).ood, false);
  assert.equal(assessStatic(v, { points, threshold: 4.999 }).ood, true);
  assert.equal(assessStatic(v, { points, threshold: null }).ood, null);
  // ties by name: A and B are both at 5
  assert.deepEqual(assessStatic(v, { points, threshold: 5 }).nearest.map((n) => n.site), [
    "A",
    "B",
  ]);
  assert.deepEqual(assessStatic(v, { points: [], threshold: 1 }), {
    nearest: [],
    distance: null,
    threshold: 1,
    ood: null,
  });
  const dir = await Deno.makeTempDir({ prefix: "tamflux_static_ref_" });
  try {
    assert.equal(await readStaticReference(dir), null);
    await writeReference(dir, ["LAT", "ELEV"]);
    await assert.rejects(() => readStaticReference(dir), /names differ from the static features/);
    await writeReference(dir);
    const ref = await readStaticReference(dir);
    assert.equal(ref?.reference.sites.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
