/**
 * `deno task adapt:curve --cv results/<cv run> [--months 0,1,3,6,12] [--methods z,film,linear]
 *   [--shard i/n] [--out results/<cv run>/adapt_curve] [--data <daily folder>] [--sites <sites.csv>]
 *   [--monthly <folder>] [--steps N] [--lr X] [--resamples N] [--backend wasm|cpu] [--tables-only]`
 *
 * The few-shot adaptation curve over a site-level CV (lib/experiments/adapt_curve.ts): each fold's
 * TAM-RL ensemble adapted to each of its test sites with each method and each N months, scored on
 * the same days after the largest N's period; one result file per (fold, site) under
 * `<out>/sites/` (existing ones skipped: a rerun resumes), then the table `adapt_curve` and the
 * figure `adapt_curve` in `<out>`. With `--shard i/n` only every n-th (fold, site) is run and no
 * table is written (run the shards as parallel processes, then `--tables-only`).
 */
import { join } from "node:path";
import { useBackend } from "../lib/backend.ts";
import { cli, defineTask, errorLine, opt, usageError } from "../lib/cli/mod.ts";
import { resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import {
  CURVE_MONTHS,
  runAdaptCurve,
  SHARD_OPTION,
  writeAdaptCurveReport,
} from "../lib/experiments/mod.ts";
import { ADAPT_METHODS, type AdaptMethod } from "../lib/predict/mod.ts";

const TASK = defineTask({
  name: "adapt:curve",
  description: "few-shot adaptation curve (months vs RMSE/R2) over a site-level CV run",
  options: {
    cv: opt.string("the CV run folder", { arg: "results/<run>", required: true }),
    months: opt.string("months of the curve, comma-separated (0: zero-shot, always added)", {
      arg: "list",
      defaultText: CURVE_MONTHS.join(","),
    }),
    methods: opt.string("adaptation methods, comma-separated", {
      arg: "list",
      defaultText: ADAPT_METHODS.join(","),
    }),
    shard: SHARD_OPTION,
    out: opt.string("folder of the results", { arg: "folder", defaultText: "<cv>/adapt_curve" }),
    data: opt.string("daily FLUXNET2015-style files of the sites", {
      arg: "folder",
      defaultText: "the data folder's daily/",
    }),
    sites: opt.string("site table", { arg: "sites.csv", defaultText: "the data folder's" }),
    monthly: opt.string("MetaFlux monthly files", {
      arg: "folder",
      defaultText: "the data folder's metaflux_monthly/",
    }),
    steps: opt.int("adaptation steps (z, film)", { min: 0, defaultText: "200" }),
    lr: opt.number("adaptation learning rate", { min: 0, defaultText: "0.05 (z), 0.003 (film)" }),
    "qc-threshold": opt.number("NEE_QC of a scoring day", { min: 0, max: 1, defaultText: "1.0" }),
    "min-days": opt.int("scoring days a site and flux need", { min: 1, defaultText: "10" }),
    resamples: opt.int("bootstrap resamples of the table", { min: 100, default: 10_000 }),
    backend: opt.choice(["wasm", "cpu"] as const, "TF.js backend", { default: "wasm" }),
    "tables-only": opt.flag("only write the table and figure from the finished result files"),
  },
  examples: [
    "deno task adapt:curve --cv results/cv_final",
    "deno task adapt:curve --cv results/cv_final --months 0,1,3 --methods z,linear --shard 0/2",
    "deno task adapt:curve --cv results/cv_final --tables-only",
  ],
  notes: [
    "Result files of finished (fold, site) jobs are skipped, so running again resumes.",
  ],
});

const values = cli(TASK);
if (values.shard && values["tables-only"]) {
  usageError(TASK, "--shard and --tables-only exclude each other");
}
const list = (text: string | undefined) =>
  text === undefined ? undefined : text.split(",").map((s) => s.trim()).filter((s) => s);
const months = list(values.months)?.map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) {
    usageError(TASK, `--months: "${s}" is not a whole number >= 0`);
  }
  return n;
});
const methods = list(values.methods)?.map((s) => {
  if (!(ADAPT_METHODS as readonly string[]).includes(s)) {
    usageError(TASK, `--methods: "${s}" is not one of ${ADAPT_METHODS.join(", ")}`);
  }
  return s as AdaptMethod;
});

async function main(): Promise<number> {
  const paths = resolveDataDir();
  const out = values.out ?? join(values.cv, "adapt_curve");
  const sites = values.sites ?? paths.sitesCsv;
  if (!values["tables-only"]) {
    const backend = await useBackend(values.backend);
    console.error(`adapt:curve: backend ${backend}; ${values.cv} -> ${out}`);
    const r = await runAdaptCurve(values.cv, {
      out,
      shard: values.shard,
      months,
      methods,
      data: values.data ?? paths.daily,
      sites,
      monthly: values.monthly ?? paths.metafluxMonthly,
      steps: values.steps,
      lr: values.lr,
      qcThreshold: values["qc-threshold"],
      minDays: values["min-days"],
      log: (line) => console.error(line),
    });
    console.error(
      `adapt:curve: ${r.ran.length} (fold, site) result(s) written, ${r.skipped.length} skipped ` +
        `(already done)`,
    );
    if (values.shard) return 0;
  }
  const siteTable = values.sites ? [] : await loadSites(paths.sitesCsv);
  const report = await writeAdaptCurveReport(out, {
    resamples: values.resamples,
    siteTable,
    run: values.cv.split("/").filter(Boolean).pop(),
  });
  console.error(`adapt:curve: wrote ${report.files.join(", ")}`);
  console.log(await Deno.readTextFile(join(out, "adapt_curve.md")));
  return 0;
}

let code: number;
try {
  code = await main();
} catch (error) {
  console.error(errorLine(TASK.name, error));
  code = 1;
}
Deno.exit(code);
