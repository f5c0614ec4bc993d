/**
 * `deno task adapt --run <run or ensemble folder> --data <folder of FLUXNET2015-style DD files>
 *   --sites <sites.csv> (--months N | --until YYYY-MM) --out <new run folder> [--method z|film|linear]
 *   [--site ID] [--monthly <metaflux folder>] [--lr X] [--steps N] [--seed N] [--weights best]
 *   [--training-sites <sites.csv>] [--backend wasm|cpu]`
 *
 * Few-shot adaptation of a trained ensemble to a new tower from the first months of its measured
 * fluxes (lib/predict/adapt.ts): writes a run folder that `deno task predict --run` takes like any
 * other (it predicts only the adapted site), each member with an adaptation.json recording the
 * method, the months and days used, the source run and its weights' SHA-256, and the metrics on
 * the adaptation days before and after. Progress goes to stderr.
 */
import { cli, defineTask, errorLine, opt, usageError } from "../lib/cli/mod.ts";
import { useBackend } from "../lib/backend.ts";
import { ADAPT_METHODS, adaptRun, ensembleMembers } from "../lib/predict/mod.ts";
import { readJson } from "../lib/train/runs.ts";

const TASK = defineTask({
  name: "adapt",
  description: "few-shot adaptation of a trained ensemble to a new tower from its first months",
  options: {
    run: opt.string("the source run or ensemble folder", { arg: "folder", required: true }),
    data: opt.string("folder of FLUXNET2015-style DD files with the site's fluxes", {
      arg: "folder",
      required: true,
    }),
    sites: opt.string("site table of the site", { arg: "sites.csv", required: true }),
    out: opt.string("the adapted run folder (new or empty)", { arg: "folder", required: true }),
    site: opt.string("the site, when --data holds several files", { arg: "ID" }),
    months: opt.int("the first N calendar months with QC-good fluxes (0: no adaptation)", {
      min: 0,
    }),
    until: opt.string("every month with QC-good fluxes up to this one", { arg: "YYYY-MM" }),
    method: opt.choice(ADAPT_METHODS, "z only, z + FiLM and output layers, or a linear map", {
      default: "z",
    }),
    monthly: opt.string("folder of MetaFlux monthly files", { arg: "folder" }),
    lr: opt.number("Adam learning rate", { min: 0, defaultText: "0.05 (z), 0.003 (film)" }),
    steps: opt.int("full-batch gradient steps", { min: 0, defaultText: "200" }),
    seed: opt.int("seed of the support-window draws", { min: 0, default: 0 }),
    weights: opt.string("which weights of each source run", { arg: "label", defaultText: "best" }),
    "training-sites": opt.string("site table of the training sites", { arg: "sites.csv" }),
    backend: opt.choice(["wasm", "cpu"] as const, "TF.js backend", { defaultText: "the run's" }),
  },
  examples: [
    "deno task adapt --run runs/quick/tamrl --data new/daily --sites new/sites.csv --months 3 --out runs/adapted/FR-Pue",
    "deno task adapt --run runs/quick/tamrl --data new/daily --sites new/sites.csv --until 2012-06 --method linear --out runs/adapted/FR-Pue_linear",
  ],
  notes: [
    "The adapted run predicts only its site: deno task predict --run <out> --data ... --only <site>.",
  ],
});

const values = cli(TASK);
if ((values.months === undefined) === (values.until === undefined)) {
  usageError(TASK, "give exactly one of --months N and --until YYYY-MM");
}

async function main(): Promise<number> {
  const members = await ensembleMembers(values.run);
  const saved = await readJson(`${members[0]}/config.json`) as { backend?: string };
  const backend = await useBackend(
    (values.backend ?? (saved.backend === "cpu" ? "cpu" : "wasm")) as "wasm" | "cpu",
  );
  console.error(`adapt: backend ${backend}; ${members.length} source member(s) in ${values.run}`);
  const t0 = performance.now();
  const { result, dirs } = await adaptRun(values.run, {
    data: values.data,
    sites: values.sites,
    monthly: values.monthly,
    site: values.site,
    out: values.out,
    load: { weights: values.weights, trainingSites: values["training-sites"] },
    adapt: {
      method: values.method,
      months: values.months,
      until: values.until,
      lr: values.lr,
      steps: values.steps,
      seed: values.seed,
    },
  });
  const p = result.period;
  console.error(
    `adapt: site ${result.site}, method ${result.method}: ${
      p.months.length ? `months ${p.months[0]}..${p.months.at(-1)}` : "0 months (no adaptation)"
    }, ${p.qcGoodDays} QC-good days, ${result.windows} window(s)`,
  );
  if (result.metrics) {
    const m = result.metrics;
    const line = (k: "GPP" | "RECO" | "NEE") =>
      `${k} RMSE ${m.before.rmse[k].toFixed(3)} -> ${m.after.rmse[k].toFixed(3)}, bias ` +
      `${m.before.bias[k].toFixed(3)} -> ${m.after.bias[k].toFixed(3)}`;
    console.error(
      `adapt: on the adaptation days: ${(["GPP", "RECO", "NEE"] as const).map(line).join("; ")}`,
    );
  }
  console.error(
    `adapt: ${dirs.length} member(s) -> ${values.out}; ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
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
