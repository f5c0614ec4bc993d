/**
 * The gradient-boosted trees baseline (the XGBoost / FLUXCOM-X-BASE row) on a site-holdout split,
 * and the X-BASE comparison at four towers.
 *
 * 1. builds the dataset (lib/data) for the split, optionally chooses hyper-parameters by k-fold
 *    site CV over the training sites (`--cv`), trains one booster per flux on every day of the
 *    training sites and predicts every day of the test sites;
 * 2. writes `results/trees/<run>/`: predictions.parquet (the predictions table of lib/eval),
 *    metrics.json / metrics_sites.csv (per-site R2, RMSE, ... at NEE QC >= 1.0 and >= 0.8),
 *    config.json, split.json, report.json (timings, rows, feature importance), models/<flux>.json,
 *    cv.json / cv.csv with `--cv`;
 * 3. with `--xbase`: the same split with the X-BASE towers (DE-Tha, DK-Sor, US-MMS, US-NR1) moved
 *    to test, trained again, and the monthly table of X-BASE, the trees and any `--with`
 *    predictions (e.g. TAM-RL, whose run must hold out the same towers) under
 *    `results/trees/<run>/xbase/`.
 *
 * Usage: deno task trees [--config FILE (default configs/trees.json, chosen by --cv on the Köppen split)] [--split koppen|igbp] [--seed 42] [--run NAME] [--cv]
 *        [--xbase] [--with LABEL=predictions.parquet]... [--feature-set minimal|meteo]
 *        [--min-days 15] [--month-qc 0.8]
 *
 * @module
 */
import { join } from "node:path";
import { cli, defineTask, opt, UsageError, usageError } from "../lib/cli/mod.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import { loadFluxnet } from "../lib/data/fluxnet.ts";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { type Split, SplitSchema } from "../lib/data/splits.ts";
import { TARGETS } from "../lib/data/targets.ts";
import { aggregateSites, siteMetrics } from "../lib/eval/aggregate.ts";
import { type PredictionRow, readPredictions, writePredictions } from "../lib/eval/predictions.ts";
import { siteCitations, writeTable } from "../lib/eval/tables.ts";
import { toPredictionRows } from "../lib/experiments/units.ts";
import {
  collectXbaseDays,
  compareXbase,
  readXbase,
  XBASE_SITES,
  type XbaseDay,
  xbaseTableRows,
} from "../lib/eval/xbase.ts";
import {
  crossValidateTrees,
  featureImportance,
  gbmToJson,
  targetConfig,
  trainPredictDataset,
  type TrainPredictResult,
  TreesConfigSchema,
  treeTable,
} from "../lib/models/trees/mod.ts";
import { atomicWrite, configHash, gitCommit, writeJson } from "../lib/train/runs.ts";

const TASK = defineTask({
  name: "trees",
  description: "the gradient-boosted trees baseline (the XGBoost row) and the X-BASE comparison",
  options: {
    config: opt.string("trees config (chosen by --cv on the Köppen split)", {
      arg: "file.json",
      default: "configs/trees.json",
    }),
    split: opt.choice(["koppen", "igbp"] as const, "site-holdout split", { default: "koppen" }),
    seed: opt.int("split seed", { default: 42 }),
    run: opt.name("the run folder under results/trees/", { defaultText: "<split>_s<seed>" }),
    cv: opt.flag("choose hyper-parameters by k-fold site CV over the training sites"),
    xbase: opt.flag("also hold out the X-BASE towers and compare with FLUXCOM-X-BASE"),
    with: opt.custom("with --xbase: another model's predictions to compare (repeatable)", {
      multiple: true,
      arg: "LABEL=predictions.parquet",
      type: "LABEL=file",
      default: [] as { label: string; path: string }[],
      defaultText: "none",
      parse: (text) => {
        const k = text.indexOf("=");
        if (k < 1) throw new Error(`expected LABEL=path, got "${text}"`);
        return [{ label: text.slice(0, k), path: text.slice(k + 1) }];
      },
    }),
    "feature-set": opt.choice(["minimal", "meteo"] as const, "feature set", {
      default: "minimal",
    }),
    "min-days": opt.int("X-BASE months: fewest valid days of a month", { min: 1, default: 15 }),
    "month-qc": opt.number("X-BASE months: NEE QC threshold of a valid day", {
      min: 0,
      max: 1,
      default: 0.8,
    }),
  },
  examples: [
    "deno task trees",
    "deno task trees --cv --split igbp",
    "deno task trees --xbase --with TAM-RL=tamrl_predictions.parquet",
  ],
});

const values = cli(TASK);
if (values.with.length > 0 && !values.xbase) {
  usageError(TASK, "--with goes with --xbase (it would be ignored)");
}
const splitKind = values.split;
const splitSeed = values.seed;
const featureSet = values["feature-set"];
const minValidDays = values["min-days"];
const monthQc = values["month-qc"];
const extra = values.with;

let config = TreesConfigSchema.parse({});
if (values.config) {
  const r = TreesConfigSchema.safeParse(JSON.parse(await Deno.readTextFile(values.config)));
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${values.config}: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  config = r.data;
}
const run = values.run ?? `${splitKind}_s${splitSeed}`;
const dir = join(PROJECT_ROOT, "results", "trees", run);
await Deno.mkdir(dir, { recursive: true });
const log = (m: string) => console.log(m);
const load = () => Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
const t0 = performance.now();

const loaded = await loadFluxnet();
const dataConfig = { featureSet, split: { kind: splitKind, seed: splitSeed } } as const;
const ds = await buildDataset(dataConfig, { loaded });
log(
  `dataset: ${ds.table.height} site-days, ${ds.split.train.length} training sites, ` +
    `${ds.split.test.length} test sites (${splitKind} split, seed ${splitSeed}), built in ` +
    `${ds.report.seconds.total.toFixed(1)} s`,
);

if (values.cv) {
  const table = treeTable(ds.table, [...ds.featureNames.dyn, ...ds.featureNames.static], {
    rolling: config.rolling,
  });
  const train = new Set(ds.split.train);
  const cv = crossValidateTrees(table, ds.sites.filter((s) => train.has(s.SITE_ID)), {
    config,
    siteWeights: ds.report.siteWeights,
    log,
  });
  config = cv.chosen;
  await writeJson(join(dir, "cv.json"), { ...cv, load: load() });
  const lines = ["target,maxDepth,learningRate,minSamplesLeaf,nTrees,rmse,foldRmse,seconds"];
  for (const r of cv.results) {
    lines.push(
      [
        r.target,
        r.maxDepth,
        r.learningRate,
        r.minSamplesLeaf,
        r.nTrees,
        r.rmse.toFixed(4),
        r.foldRmse.map((v) => v.toFixed(4)).join(" "),
        r.seconds.toFixed(1),
      ].join(","),
    );
  }
  await atomicWrite(join(dir, "cv.csv"), lines.join("\n") + "\n");
  for (const t of TARGETS) {
    const b = cv.best[t];
    log(
      `cv choice ${t}: depth ${b.maxDepth}, lr ${b.learningRate}, minLeaf ${b.minSamplesLeaf}, ` +
        `${b.nTrees} trees, fold-mean RMSE ${b.rmse.toFixed(3)} (${cv.seconds.toFixed(0)} s total)`,
    );
  }
}

interface Scored {
  rows: PredictionRow[];
  summary: Record<
    string,
    Record<string, { sites: number; r2: number; r2Median: number; r2Clipped: number; rmse: number }>
  >;
}

function score(rows: PredictionRow[]): Scored {
  const summary: Scored["summary"] = {};
  for (const qc of [1.0, 0.8]) {
    const { sites } = siteMetrics(rows, { qcThreshold: qc });
    const agg = aggregateSites(sites);
    summary[`qc${qc.toFixed(1)}`] = Object.fromEntries(agg.map((a) => [a.flux, {
      sites: a.sites,
      r2: a.metrics.r2.mean,
      r2Median: a.metrics.r2.median,
      r2Clipped: a.metrics.r2_clipped.mean,
      rmse: a.metrics.rmse.mean,
    }]));
  }
  return { rows, summary };
}

async function saveRun(sub: string, res: TrainPredictResult, split: Split): Promise<Scored> {
  const out = join(dir, sub);
  const rows = toPredictionRows(res.days, {
    label: "trees",
    seed: res.config.gbm.seed,
    sites: ds.sites,
  });
  await writePredictions(join(out, "predictions.parquet"), rows);
  const scored = score(rows);
  const { sites } = siteMetrics(rows, { qcThreshold: 1.0 });
  const header = "site,IGBP,KOPPEN_MAIN,flux,n,r2,rmse,bias";
  await atomicWrite(
    join(out, "metrics_sites.csv"),
    [
      header,
      ...sites.map((s) =>
        [s.site, s.IGBP, s.KOPPEN_MAIN, s.flux, s.n, s.r2, s.rmse, s.bias].join(",")
      ),
    ].join("\n") + "\n",
  );
  await writeJson(join(out, "metrics.json"), {
    rule: "site-mean over test sites of per-site metrics on days with NEE_QC >= threshold " +
      "(sites with < 10 such days excluded); r2Clipped = mean of per-site R2 clipped to [0, 1] " +
      "(the TAM-RL authors' code); r2Median = median over sites",
    ...scored.summary,
  });
  await writeJson(join(out, "config.json"), res.config);
  await writeJson(join(out, "split.json"), SplitSchema.parse(split));
  for (const t of TARGETS) {
    await writeJson(join(out, "models", `${t}.json`), gbmToJson(res.fitted.models[t]));
  }
  await writeJson(join(out, "report.json"), {
    fitSeconds: res.fitSeconds,
    predictSeconds: res.predictSeconds,
    load: load(),
    trainRows: res.fitted.rows,
    testDays: res.days.length,
    features: res.table.x.names,
    perTarget: Object.fromEntries(TARGETS.map((t) => [t, {
      config: targetConfig(res.config, t),
      rows: res.fitted.reports[t].rows,
      droppedMissingTarget: res.fitted.reports[t].droppedMissingTarget,
      droppedZeroWeight: res.fitted.reports[t].droppedZeroWeight,
      leaves: res.fitted.reports[t].leaves,
      seconds: res.fitted.reports[t].seconds,
      finalTrainRmse: res.fitted.reports[t].trainRmse.at(-1),
      importanceTop10: featureImportance(res.fitted.models[t]).slice(0, 10),
    }])),
  });
  return scored;
}

function printSummary(title: string, res: TrainPredictResult, s: Scored) {
  log(`\n${title}`);
  log(
    `fit ${res.fitSeconds.toFixed(1)} s (${res.fitted.rows} training days, 3 fluxes), predict ` +
      `${res.predictSeconds.toFixed(2)} s (${res.days.length} test days); load ${load()}`,
  );
  log("| NEE QC | flux | sites | site-mean R2 | median R2 | mean clipped R2 | site-mean RMSE |");
  log("|---|---|---|---|---|---|---|");
  for (const [qc, m] of Object.entries(s.summary)) {
    for (const f of TARGETS) {
      const v = m[f];
      if (v) {
        log(`| ${qc.slice(2)} | ${f} | ${v.sites} | ${v.r2.toFixed(3)} | ${v.rmse.toFixed(3)} |`);
      }
    }
  }
}

const main = trainPredictDataset(ds, { config, log });
const mainScored = await saveRun(".", main, ds.split);
printSummary(`trees on the ${splitKind} split (results/trees/${run}/)`, main, mainScored);

if (values.xbase) {
  const moved: string[] = XBASE_SITES.filter((s) => ds.split.train.includes(s));
  const split: Split = SplitSchema.parse({
    ...ds.split,
    train: ds.split.train.filter((s) => !moved.includes(s)),
    test: [...ds.split.test, ...moved].sort(),
  });
  log(`\nX-BASE run: ${moved.join(", ") || "no tower"} moved from train to test`);
  const dsX = await buildDataset(dataConfig, { loaded, split });
  const resX = trainPredictDataset(dsX, { config, log });
  const scoredX = await saveRun("xbase", resX, split);
  printSummary(`trees, ${splitKind} split + X-BASE towers held out`, resX, scoredX);

  const models = ["trees", ...extra.map((e) => e.label)];
  const byKey = new Map<string, XbaseDay>();
  const add = (label: string, rows: readonly PredictionRow[]) =>
    collectXbaseDays(rows, { sites: XBASE_SITES, label, into: byKey });
  add("trees", scoredX.rows);
  for (const e of extra) {
    const rows = readPredictions(e.path);
    const seeds = [...new Set(rows.map((r) => r.seed))];
    if (seeds.length > 1) {
      throw new UsageError(
        `${e.path} has several seeds (${seeds.join(", ")}); pass an ensemble (seed -1) file`,
      );
    }
    add(e.label, rows);
  }
  const days = [...byKey.values()].sort((a, b) =>
    a.site.localeCompare(b.site) || a.date.localeCompare(b.date)
  );
  const xbase = readXbase(resolveDataDir().xbaseMonthly);
  const cmp = compareXbase(days, xbase, { models, minValidDays, qcThreshold: monthQc });
  const { columns, rows } = xbaseTableRows(cmp.scores, models);
  const xdir = join(dir, "xbase");
  const provenance = {
    gitCommit: await gitCommit(PROJECT_ROOT),
    configHash: await configHash(config),
    seeds: [config.gbm.seed],
    backend: "JavaScript (trees, no TF.js)",
    dataSummary:
      `FLUXNET2015 daily, ${dsX.split.train.length} training / ${dsX.split.test.length} ` +
      `test sites (${splitKind} split seed ${splitSeed}, X-BASE towers held out)`,
    wallTimeSeconds: (performance.now() - t0) / 1000,
    run,
    generatedAt: new Date().toISOString(),
  };
  const files = await writeTable({
    name: "xbase_monthly",
    title: "Monthly GPP and NEE at four towers: FLUXCOM-X-BASE and the project's models",
    columns,
    rows,
    notes: [
      ...cmp.notes,
      ...cmp.reports.map((r) =>
        `${r.site} ${r.flux}: ${r.report.months} months with data, ${r.report.monthsDropped} ` +
        `below the valid-day rule, ${r.xbaseMissing} without X-BASE value`
      ),
    ],
    provenance,
    sites: siteCitations(XBASE_SITES, dsX.sites, { role: "test" }),
  }, xdir);
  const mlines = ["site,flux,month,validDays,obs," + ["X-BASE", ...models].join(",")];
  for (const m of cmp.months) {
    mlines.push(
      [
        m.site,
        m.flux,
        m.month,
        m.validDays,
        m.obs,
        ...["X-BASE", ...models].map((s) => m.values[s]),
      ]
        .join(","),
    );
  }
  await atomicWrite(join(xdir, "xbase_months.csv"), mlines.join("\n") + "\n");
  log(`\nX-BASE comparison (${files.join(", ")})`);
  log(`| ${columns.join(" | ")} |`);
  log(`|${columns.map(() => "---").join("|")}|`);
  for (const r of rows) log(`| ${r.map((c) => (c === null ? "" : String(c))).join(" | ")} |`);
}
log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
