/**
 * `deno task predict --run <run or ensemble folder> --data <folder of FLUXNET2015-style DD files>
 *   --sites <sites.csv> --out <file.csv|.parquet> [--monthly <metaflux folder>] [--only A,B]
 *   [--seed N] [--report <file.json>] [--weights best] [--training-sites <sites.csv>]
 *   [--backend wasm|cpu]`
 *
 * Zero-shot daily GPP, RECO and NEE (ensemble mean, GPP/RECO clipped at 0) with ensemble standard
 * deviations and a status for every day of every input file (see lib/predict). Every input is
 * validated first; the output is written atomically at the end, so nothing partial is left on
 * error. Progress goes to stderr.
 */
import { cli, defineTask, errorLine, opt } from "../lib/cli/mod.ts";
import { useBackend } from "../lib/backend.ts";
import {
  ensembleMembers,
  loadEnsemble,
  outputFormat,
  predictSites,
  writePredictionTable,
} from "../lib/predict/mod.ts";
import { readJson, writeJson } from "../lib/train/runs.ts";

const TASK = defineTask({
  name: "predict",
  description: "zero-shot daily fluxes with ensemble spread for new sites",
  options: {
    run: opt.custom("a run folder, or an ensemble folder of runs (repeatable)", {
      multiple: true,
      required: true,
      arg: "folder",
      type: "folder",
      parse: (text) => [text],
    }),
    data: opt.string("folder of FLUXNET2015-style DD files", { arg: "folder", required: true }),
    sites: opt.string("site table of the new sites", { arg: "sites.csv", required: true }),
    out: opt.string("output table", { arg: "file.csv|file.parquet", required: true }),
    monthly: opt.string("folder of MetaFlux monthly files", { arg: "folder" }),
    only: opt.custom("only these sites", {
      arg: "SITE,SITE",
      type: "comma-separated site ids",
      parse: (text) => text.split(",").map((s) => s.trim()).filter(Boolean),
    }),
    seed: opt.int("seed of the support-window choice", { min: 0, default: 0 }),
    report: opt.string("write the per-site report here", { arg: "file.json" }),
    weights: opt.string("which weights of each run", { arg: "label", defaultText: "best" }),
    "training-sites": opt.string("site table of the training sites", { arg: "sites.csv" }),
    backend: opt.choice(["wasm", "cpu"] as const, "TF.js backend", {
      defaultText: "the run's",
    }),
  },
  examples: [
    "deno task predict --run runs/quick/tamrl --data new_sites/daily --sites new_sites/sites.csv --out predictions.csv",
  ],
  notes: [
    "Every input is validated first; the output is written atomically at the end. Progress goes to stderr.",
  ],
});

const values = cli(TASK);
const seed = values.seed;

try {
  const out = values.out;
  outputFormat(out); // fail on a bad extension before any work
  const t0 = performance.now();
  const members = await ensembleMembers(values.run);
  const saved = await readJson(`${members[0]}/config.json`) as { backend?: string };
  const backend = await useBackend(
    (values.backend ?? (saved.backend === "cpu" ? "cpu" : "wasm")) as "wasm" | "cpu",
  );
  const ensemble = await loadEnsemble(members, {
    weights: values.weights,
    trainingSites: values["training-sites"],
  });
  console.error(`predict: backend ${backend}; members ${members.join(", ")}`);
  try {
    const { frame, report } = await predictSites(ensemble, {
      data: values.data,
      sites: values.sites,
      monthly: values.monthly,
      only: values.only,
      seed,
      onProgress: (line) => console.error(line),
    });
    await writePredictionTable(frame, out);
    const seconds = (performance.now() - t0) / 1000;
    if (values.report) await writeJson(values.report, { ...report, wallSeconds: seconds });
    const t = report.total;
    console.error(
      `predict: ${t.predicted}/${t.days} days predicted (${(100 * t.share).toFixed(1)}%) at ` +
        `${report.sites.length} site(s) -> ${out}; ${seconds.toFixed(1)} s`,
    );
  } finally {
    ensemble.dispose();
  }
} catch (error) {
  console.error(errorLine(TASK.name, error));
  Deno.exit(1);
}
